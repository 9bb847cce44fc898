#include "faceid/train/trainer.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>

#include <fmt/format.h>

#include "core/device.hpp"
#include "faceid/data/batch_loader.hpp"
#include "faceid/data/frame_store.hpp"
#include "faceid/data/split.hpp"
#include "faceid/error.hpp"
#include "faceid/eval/distances.hpp"
#include "faceid/eval/metrics.hpp"
#include "faceid/eval/plot.hpp"
#include "faceid/fs.hpp"
#include "faceid/infer/unlock_sim.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/model/loss.hpp"
#include "faceid/model/model.hpp"
#include "faceid/train/checkpoint.hpp"
#include "infer/embed_batch.hpp"
#include "train/amp.hpp"
#include "train/communicator.hpp"
#include "train/train_step.hpp"

namespace faceid {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::filesystem::path resolve_root(const std::string& root) { return std::filesystem::path(root); }

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

std::string split_yaml(const Split& split, const std::string& root) {
  YAML::Emitter e;
  e << YAML::BeginMap;
  e << YAML::Key << "root" << YAML::Value << root;
  e << YAML::Key << "train" << YAML::Value << YAML::Flow << split.train;
  e << YAML::Key << "val" << YAML::Value << YAML::Flow << split.val;
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

// Appends one line to a file, creating it with `header` first when new.
void append_line(const std::filesystem::path& path, const std::string& header,
                 const std::string& line) {
  const bool fresh = !std::filesystem::exists(path);
  std::ofstream out(path, std::ios::app);
  if (!out) throw_io(fmt::format("{}: cannot open for appending", path.string()));
  if (fresh) out << header << '\n';
  out << line << '\n';
  out.flush();
  if (!out) throw_io(fmt::format("{}: write failed", path.string()));
}

// Temporaries that a killed process left behind in the run folder (write_file_atomic's
// "<file>.tmp.<pid>.<n>", of last.pt, best.pt, config.yaml, metrics.csv, ...): never a finished
// file, safe to delete before this run writes its own.
void remove_stale_temporaries(const std::filesystem::path& run_dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(run_dir, ec)) {
    const std::string name = e.path().filename().string();
    const auto at = name.rfind(".tmp.");
    if (at == std::string::npos || at == 0) continue;
    const std::string tail = name.substr(at + 5);  // "<pid>.<n>"
    const auto dot = tail.find('.');
    const auto digits = [](const std::string& t) {
      return !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
    };
    if (dot != std::string::npos && digits(tail.substr(0, dot)) && digits(tail.substr(dot + 1))) {
      std::filesystem::remove(e.path(), ec);
    }
  }
}

// On resume: keeps the header and the rows of epochs <= `epoch` (rows that a killed run appended
// after its last checkpoint, and any partial last line, would otherwise be duplicated).
void trim_metrics(const std::filesystem::path& path, int64_t epoch) {
  std::ifstream in(path);
  if (!in) return;
  std::string line, kept;
  bool changed = false;
  for (bool header = true; std::getline(in, line); header = false) {
    const bool complete = !in.eof();  // a line without its newline was cut short
    const int64_t row_epoch = header ? 0 : std::strtoll(line.c_str(), nullptr, 10);
    if (complete && (header || (row_epoch >= 1 && row_epoch <= epoch))) {
      kept += line + '\n';
    } else {
      changed = true;
    }
  }
  if (changed) write_file_atomic(path, kept);
}

struct Validation {
  RocSummary roc;
  OperatingPoint operating;  // unlock attempts at unlock.target_far
};

// Validation: embed every held-out frame, all pairs, exact ROC, and the operating threshold of
// unlock attempts at unlock.target_far. Data-parallel: each rank embeds its contiguous share of
// the frames, the shares are gathered, rank 0 computes the ROC (the other ranks return an empty
// summary: they write nothing).
Validation validate(EmbeddingNet& model, const FrameStore& store, torch::Device device,
                    int embedding_dim, const UnlockConfig& unlock, Communicator* comm) {
  std::vector<std::vector<float>> owned;
  const std::vector<const float*> crops = crop_pointers(store, owned);
  std::vector<int> labels;
  for (const auto& f : store.frames()) labels.push_back(f.person);
  Embeddings emb;
  if (comm == nullptr) {
    emb = embed_crops(model, crops, store.crop_size(), device);
  } else {
    const size_t n = crops.size();
    const size_t w = static_cast<size_t>(comm->world_size());
    const size_t r = static_cast<size_t>(comm->rank());
    const auto lo = static_cast<std::ptrdiff_t>(n * r / w);
    const auto hi = static_cast<std::ptrdiff_t>(n * (r + 1) / w);
    const std::vector<const float*> mine(crops.begin() + lo, crops.begin() + hi);
    const Embeddings part = mine.empty() ? Embeddings(0, embedding_dim)
                                         : embed_crops(model, mine, store.crop_size(), device);
    emb = comm->all_gather_rows(part);
    if (comm->rank() != 0) return Validation{};
  }
  std::vector<FrameRef> refs;
  refs.reserve(store.size());
  for (const auto& f : store.frames()) refs.push_back(f.ref);
  Validation v;
  v.operating = calibrate_operating_point(emb, labels, refs, store.persons().size(), unlock,
                                          unlock.target_far);
  PairDistances pd = all_pair_distances_exact(emb, labels, 1);
  ExactRoc roc(std::move(pd.genuine), std::move(pd.impostor));
  v.roc = roc.summary({1e-3});
  return v;
}

class Progress {
 public:
  Progress(bool bar, std::function<void(const std::string&)> log) : bar_(bar), log_(std::move(log)) {}
  void step(int64_t epoch, int64_t epochs, int64_t i, int64_t steps, double loss, double pps) {
    if (bar_) {
      const int width = 30;
      const int filled = static_cast<int>(width * (i + 1) / steps);
      std::fprintf(stderr, "\repoch %lld/%lld [%s%s] %lld/%lld loss %.4f %.0f pairs/s ",
                   static_cast<long long>(epoch), static_cast<long long>(epochs),
                   std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                   static_cast<long long>(i + 1), static_cast<long long>(steps), loss, pps);
      std::fflush(stderr);
    } else {
      const int64_t every = std::max<int64_t>(1, steps / 4);
      if ((i + 1) % every == 0 || i + 1 == steps) {
        log_(fmt::format("epoch {}/{} step {}/{} loss {:.4f} {:.0f} pairs/s", epoch, epochs, i + 1,
                         steps, loss, pps));
      }
    }
  }
  void end_epoch() {
    if (bar_) std::fprintf(stderr, "\n");
  }

 private:
  bool bar_;
  std::function<void(const std::string&)> log_;
};

// Training curves from the whole metrics.csv (resumed runs included): loss and validation EER.
void plot_curves(const std::filesystem::path& metrics_csv, const std::filesystem::path& png) {
  std::ifstream in(metrics_csv);
  std::string line;
  std::getline(in, line);  // header
  LineSeries loss{"train loss", {}, {}}, eer{"validation EER", {}, {}}, gen{"val genuine mean", {}, {}},
      imp{"val impostor mean", {}, {}};
  while (std::getline(in, line)) {
    std::vector<double> v;
    size_t start = 0;
    while (start <= line.size()) {
      const size_t comma = std::min(line.find(',', start), line.size());
      v.push_back(std::strtod(line.substr(start, comma - start).c_str(), nullptr));
      start = comma + 1;
    }
    if (v.size() < 8) continue;
    loss.x.push_back(v[0]);
    loss.y.push_back(v[3]);
    gen.x.push_back(v[0]);
    gen.y.push_back(v[4]);
    imp.x.push_back(v[0]);
    imp.y.push_back(v[5]);
    eer.x.push_back(v[0]);
    eer.y.push_back(v[7]);
  }
  if (loss.x.empty()) return;
  LinePlotOptions o;
  o.title = "training curves";
  o.x_label = "epoch";
  o.y_label = "loss / EER / distance";
  plot_lines(png, {loss, eer, gen, imp}, o);
}

// BatchNorm layers to eval mode (running statistics, no update): train.freeze_batch_norm.
void freeze_batch_norm(EmbeddingNet& model) {
  for (const auto& m : model->modules(/*include_self=*/false)) {
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) bn->eval();
  }
}

// Floating-point buffers (BatchNorm running mean and variance): averaged over the ranks.
std::vector<torch::Tensor> float_buffers(EmbeddingNet& model) {
  std::vector<torch::Tensor> out;
  for (const auto& b : model->buffers()) {
    if (b.is_floating_point()) out.push_back(b);
  }
  return out;
}

}  // namespace

double learning_rate_at(const TrainConfig& t, int64_t step) {
  const double total = static_cast<double>(t.epochs) * t.steps_per_epoch;
  const double warmup = t.warmup_epochs * t.steps_per_epoch;
  const double s = static_cast<double>(step);
  if (warmup > 0 && s < warmup) return t.lr * (s + 1.0) / warmup;
  if (t.schedule == "constant") return t.lr;
  if (t.schedule == "step") {
    const int64_t epoch = step / t.steps_per_epoch;
    return t.lr * std::pow(t.step_gamma, static_cast<double>(epoch / t.step_epochs));
  }
  const double span = std::max(1.0, total - warmup);
  const double progress = std::min(1.0, (s - warmup) / span);
  return 0.5 * t.lr * (1.0 + std::cos(M_PI * progress));
}

std::string metrics_csv_header() {
  return "epoch,step,lr,train_loss,val_genuine_mean,val_impostor_mean,val_auc,val_eer,"
         "val_eer_threshold,val_tar_at_far_1e-3,pairs_per_second,data_wait_fraction,seconds";
}

std::string metrics_csv_row(const EpochMetrics& m) {
  return fmt::format("{},{},{:.6g},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.1f},{:.4f},{:.2f}",
                     m.epoch, m.step, m.lr, m.train_loss, m.genuine_mean, m.impostor_mean, m.auc,
                     m.eer, m.eer_threshold, m.tar_at_far_1e3, m.pairs_per_second,
                     m.data_wait_fraction, m.seconds);
}

std::filesystem::path default_run_dir(const Config& config, const std::string& config_path) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  const std::string stem =
      config_path.empty() ? "run" : std::filesystem::path(config_path).stem().string();
  return std::filesystem::path(config.train.out_dir) / fmt::format("{}-{}", stem, stamp);
}

namespace {

// Frames without a face are skipped and reported; a data set where many are is refused (a
// locator that cannot find the heads of this capture setup would train on nothing).
void check_faces_found(const DataConfig& data, std::initializer_list<const FrameStore*> stores,
                       const std::function<void(const std::string&)>& log) {
  constexpr size_t kListed = 10;
  size_t frames = 0, no_face = 0;
  const SkippedFrame* first = nullptr;
  for (const FrameStore* store : stores) {
    frames += store->size() + store->skipped().size();
    for (const auto& s : store->skipped()) {
      if (no_face++ < kListed) log(fmt::format("no face: {}: {}", s.ref.depth_path.string(), s.reason));
      if (first == nullptr) first = &s;
    }
  }
  if (no_face == 0) return;
  const double fraction = static_cast<double>(no_face) / static_cast<double>(frames);
  log(fmt::format("no face found in {} of {} frames ({:.1f}%){}", no_face, frames, 100 * fraction,
                  no_face > kListed ? fmt::format(", the first {} listed", kListed) : ""));
  if (fraction > data.max_no_face_fraction) {
    throw_bad_input(fmt::format(
        "{}: no face found in {} of {} frames ({:.1f}%, more than data.max_no_face_fraction = "
        "{:.1f}%), e.g. {}: {}; look at the crops with `inspect_data --root {} --preview "
        "sheet.png`",
        data.root, no_face, frames, 100 * fraction, 100 * data.max_no_face_fraction,
        first->ref.depth_path.string(), first->reason, data.root));
  }
}

}  // namespace

TrainResult run_training(const Config& config, const TrainOptions& options) {
  const DistEnv& dist = options.distributed;
  const bool rank0 = dist.rank == 0;
  // Ranks other than 0 keep quiet: rank 0 speaks for the run; their errors still reach stderr.
  auto log = !rank0        ? std::function<void(const std::string&)>([](const std::string&) {})
             : options.log ? options.log
                           : std::function<void(const std::string&)>([](const std::string& s) {
                               std::fprintf(stderr, "%s\n", s.c_str());
                             });
  const TrainConfig& t = config.train;
  if (options.run_dir.empty()) throw_internal("run_training: no run folder given");
  const auto run_dir = options.run_dir;
  const auto last_path = run_dir / "last.pt";
  const auto best_path = run_dir / "best.pt";
  if (options.resume.empty() && !options.overwrite && std::filesystem::exists(last_path)) {
    throw_bad_input(fmt::format(
        "{}: run folder already holds a run (last.pt); use --resume {} or --overwrite or another "
        "--out", run_dir.string(), last_path.string()));
  }

  // ---- device, threads, seed ----
  torch::Device device = resolve_device(t.device);
  if (dist.distributed() && device.is_cuda()) device = torch::Device(torch::kCUDA, dist.local_rank);
  const int threads = configure_cpu_threads(t.threads, dist.local_world_size);
  const torch::ScalarType amp = amp_dtype(t.amp, device);  // fp16 on a CPU: refused here
  configure_cuda(device, t.cudnn_benchmark, t.allow_tf32);
  torch::manual_seed(static_cast<uint64_t>(t.seed));
  log(fmt::format("device {} · {} CPU thread(s){}", device.str(), threads,
                  amp == torch::kFloat ? "" : fmt::format(" · amp {}", t.amp)));

  // ---- data ----
  const Dataset dataset = scan_dataset(resolve_root(config.data.root), /*strict=*/true);
  const Split split = split_persons(dataset, config.data);
  log(fmt::format("dataset {}: {} persons, {} frames; split {} train / {} validation persons",
                  config.data.root, dataset.persons.size(), dataset.frame_count(),
                  split.train.size(), split.val.size()));
  auto load_progress = [&](const char* what) {
    return [&, what](size_t done, size_t total) {
      if (options.progress_bar) {
        std::fprintf(stderr, "\rloading %s frames %zu/%zu ", what, done, total);
        if (done == total) std::fprintf(stderr, "\n");
      }
    };
  };
  const FrameStore train_store =
      FrameStore::load(dataset, split.train, config.data, config.preprocess, load_progress("train"));
  DataConfig val_data = config.data;
  val_data.max_frames_per_person = t.val_max_frames_per_person;
  const FrameStore val_store =
      FrameStore::load(dataset, split.val, val_data, config.preprocess, load_progress("validation"));
  check_faces_found(config.data, {&train_store, &val_store}, log);
  log(fmt::format("frames: {} train ({} from cache), {} validation, {:.1f} s; crops take {:.2f} GiB "
                  "in memory{}",
                  train_store.size(), train_store.stats().cache_hits, val_store.size(),
                  train_store.stats().seconds + val_store.stats().seconds,
                  (train_store.memory_bytes() + val_store.memory_bytes()) / 1073741824.0,
                  train_store.compact() ? " (compact: 8-bit colour, 16-bit float depth)" : ""));
  if (val_store.size() < 2) {
    throw_bad_input(fmt::format("{}: fewer than 2 usable validation frames", config.data.root));
  }

  // ---- model and optimiser ----
  EmbeddingNet model(config.model, config.preprocess.input_size);
  model->to(device);
  // --init-from overrides train.init_from; a resumed run takes its weights from the checkpoint.
  const std::filesystem::path init_from =
      !options.init_from.empty() ? options.init_from : std::filesystem::path(t.init_from);
  if (!init_from.empty() && options.resume.empty()) {
    load_weights_into(init_from, model);
    log(fmt::format("initialised weights from {}", init_from.string()));
  }
  // The margin losses' classifier: one row per training identity, in training checkpoints only.
  torch::Tensor classifier;
  if (config.loss.type != "contrastive") {
    const auto classes = static_cast<int64_t>(train_store.persons().size());
    classifier = options.resume.empty() ? init_margin_classifier(classes, config.model.embedding_dim)
                                        : load_classifier(options.resume);
    if (!classifier.defined() || classifier.size(0) != classes) {
      throw_bad_input(fmt::format(
          "{}: {} needs the classifier of the run's {} training identities, the checkpoint has {}",
          options.resume.string(), config.loss.type, classes,
          classifier.defined() ? fmt::format("{} rows", classifier.size(0)) : std::string("none")));
    }
    classifier = classifier.to(device).set_requires_grad(true);
    log(fmt::format("{} loss (scale {:g}, margin {:g}) over {} training identities",
                    config.loss.type, config.loss.scale, config.loss.margin, classes));
  }
  auto optimizer = make_optimizer(model, t, classifier);
  int64_t start_epoch = 0;
  int64_t step = 0;
  double best_eer = std::numeric_limits<double>::infinity();
  if (!options.resume.empty()) {
    const CheckpointMeta meta = read_checkpoint_meta(options.resume);
    load_weights_into(options.resume, model);
    load_optimizer_state(options.resume, *optimizer);
    restore_torch_rng_state(meta);
    restore_cuda_rng_state(meta, device);
    start_epoch = meta.epoch;
    step = meta.step;
    if (std::filesystem::exists(best_path)) {
      const CheckpointMeta best = read_checkpoint_meta(best_path);
      auto it = best.metrics.find("val_eer");
      if (it != best.metrics.end()) best_eer = it->second;
    }
    log(fmt::format("resumed from {} at epoch {}, step {}", options.resume.string(), start_epoch,
                    step));
  }
  // ---- data-parallel: join the run, start from rank 0's weights ----
  std::unique_ptr<Communicator> comm;
  if (dist.distributed()) {
    comm = std::make_unique<Communicator>(dist, device,
                                          std::chrono::seconds(options.dist_timeout_s));
    std::vector<torch::Tensor> state = model->parameters();
    for (const auto& b : model->buffers()) state.push_back(b);
    if (classifier.defined()) state.push_back(classifier);
    comm->broadcast(state);
    log(fmt::format("data-parallel: {} ranks via {}:{}, global batch {} pairs ({} a rank)",
                    dist.world_size, dist.master_addr, dist.master_port,
                    t.batch_pairs * dist.world_size, t.batch_pairs));
  }
  const int world = dist.world_size;
  TrainResult result;
  result.run_dir = run_dir;
  result.parameter_count = model->parameter_count();
  result.train_persons = split.train;
  result.val_persons = split.val;
  log(fmt::format("model {} · input {}x{} · embedding {} · {} parameters", config.model.variant,
                  config.preprocess.input_size, config.preprocess.input_size,
                  config.model.embedding_dim, result.parameter_count));

  // ---- run folder (rank 0 only) ----
  std::error_code ec;
  const std::string config_yaml = to_yaml(config);
  const auto metrics_path = run_dir / "metrics.csv";
  if (rank0) {
    std::filesystem::create_directories(run_dir, ec);
    if (ec) {
      throw_io(fmt::format("{}: cannot create run folder: {}", run_dir.string(), ec.message()));
    }
    remove_stale_temporaries(run_dir);
    write_file_atomic(run_dir / "config.yaml", config_yaml);
    write_file_atomic(run_dir / "split.yaml", split_yaml(split, config.data.root));
    if (options.resume.empty() && options.overwrite) std::filesystem::remove(metrics_path, ec);
    if (!options.resume.empty()) trim_metrics(metrics_path, start_epoch);
  }

  // ---- loop ----
  PairSampler sampler(train_store, t);
  sampler.shard(dist.rank, world);
  Augmenter augmenter(config.augment, config.preprocess, t.seed);
  BatchLoader loader(train_store, sampler, augmenter, config.data, t);
  Progress progress(options.progress_bar, log);
  const int64_t last_epoch =
      options.stop_after_epochs > 0
          ? std::min<int64_t>(t.epochs, start_epoch + options.stop_after_epochs)
          : t.epochs;
  LossScaler scaler(amp == torch::kHalf);
  // Host batches go to a GPU from pinned memory, asynchronously; on the CPU they are used as is.
  auto to_device = [&](const torch::Tensor& x) {
    return device.is_cuda() ? x.pin_memory().to(device, /*non_blocking=*/true) : x;
  };
  for (int64_t epoch = start_epoch; epoch < last_epoch; ++epoch) {
    const auto epoch_t0 = Clock::now();
    model->train();
    if (t.freeze_batch_norm) freeze_batch_norm(model);
    loader.start_epoch(epoch);
    const double wait0 = loader.wait_seconds();
    double loss_sum = 0;
    int64_t steps = 0;
    Batch batch;
    double lr = 0;
    while (loader.next(batch)) {
      lr = learning_rate_at(t, step);
      set_lr(*optimizer, lr);
      const double loss =
          train_step(model, *optimizer, to_device(torch::cat({batch.a, batch.b})),
                     to_device(batch.same), to_device(batch.person_a), to_device(batch.person_b),
                     config.loss, t, comm.get(), classifier, &scaler);
      if (!std::isfinite(loss)) {
        throw_internal(fmt::format("training diverged at step {}: loss is {} (lower train.lr?)",
                                   step, loss));
      }
      result.step_losses.push_back(loss);
      loss_sum += loss;
      ++step;
      ++steps;
      const double elapsed = seconds_since(epoch_t0);
      progress.step(epoch + 1, t.epochs, steps - 1, loader.steps_per_epoch(), loss,
                    steps * t.batch_pairs * world / std::max(elapsed, 1e-9));
    }
    progress.end_epoch();
    if (scaler.enabled() && scaler.skipped_steps() > 0) {
      log(fmt::format("fp16 loss scale {:g}; {} step(s) skipped so far for inf/NaN gradients",
                      scaler.scale(), scaler.skipped_steps()));
    }
    const double train_seconds = seconds_since(epoch_t0);

    EpochMetrics m;
    m.epoch = epoch + 1;
    m.step = step;
    m.lr = lr;
    if (comm) {
      // The global mean loss; running statistics averaged (an EMA is linear in the batch
      // statistics, so averaging once an epoch equals averaging every step).
      loss_sum = comm->sum(loss_sum) / world;
      comm->average(float_buffers(model));
    }
    m.train_loss = loss_sum / std::max<int64_t>(1, steps);
    m.pairs_per_second = steps * t.batch_pairs * world / std::max(train_seconds, 1e-9);
    m.data_wait_fraction = (loader.wait_seconds() - wait0) / std::max(train_seconds, 1e-9);
    const Validation val = validate(model, val_store, device, config.model.embedding_dim,
                                    config.unlock, comm.get());
    const RocSummary& roc = val.roc;
    const OperatingPoint& op = val.operating;
    if (!rank0) {
      result.epochs.push_back(m);
      continue;
    }
    m.genuine_mean = roc.genuine_mean;
    m.impostor_mean = roc.impostor_mean;
    m.auc = roc.auc;
    m.eer = roc.eer;
    m.eer_threshold = roc.eer_threshold;
    m.tar_at_far_1e3 = roc.at_far.empty() ? 0.0 : roc.at_far.front().tar;
    m.seconds = seconds_since(epoch_t0);
    log(fmt::format("epoch {}/{} loss {:.4f} · val genuine {:.3f} impostor {:.3f} · AUC {:.4f} "
                    "EER {:.2f}% @ {:.3f} · TAR@FAR1e-3 {:.3f} · {:.0f} pairs/s · data wait {:.1f}% "
                    "· {:.1f} s",
                    m.epoch, t.epochs, m.train_loss, m.genuine_mean, m.impostor_mean, m.auc,
                    100 * m.eer, m.eer_threshold, m.tar_at_far_1e3, m.pairs_per_second,
                    100 * m.data_wait_fraction, m.seconds));
    if (!op.why_none.empty()) {
      log(fmt::format("no operating threshold at unlock FAR {:g}: {}", op.target_far, op.why_none));
    } else {
      log(fmt::format(
          "operating threshold {:.4f} at unlock FAR {:g}: validation FRR {:.2f}% over {} genuine "
          "attempts; {} impostor attempts resolve FAR down to {:.2g} (rule of three){}",
          op.threshold, op.target_far, 100 * op.frr, op.genuine_attempts, op.impostor_attempts,
          op.resolvable_far,
          op.resolvable_far > op.target_far
              ? ": fewer than the target needs, so the threshold only bounds FAR by that"
              : ""));
    }
    append_line(metrics_path, metrics_csv_header(), metrics_csv_row(m));
    result.epochs.push_back(m);

    CheckpointMeta meta;
    meta.epoch = m.epoch;
    meta.step = step;
    meta.sampler_state = static_cast<uint64_t>(t.seed);
    meta.cuda_rng_state = capture_cuda_rng_state(device);
    meta.config_yaml = config_yaml;
    meta.metrics = {{"train_loss", m.train_loss},       {"val_genuine_mean", m.genuine_mean},
                    {"val_impostor_mean", m.impostor_mean}, {"val_auc", m.auc},
                    {"val_eer", m.eer},                 {"val_tar_at_far_1e-3", m.tar_at_far_1e3}};
    meta.eer_threshold = m.eer_threshold;
    meta.operating_threshold = op.threshold;
    meta.target_far = op.target_far;
    meta.resolvable_far = op.resolvable_far;
    meta.operating_frr = op.frr;
    meta.metrics["val_frr_at_target_far"] = op.frr;
    // best.pt first: once last.pt says epoch N, best.pt accounts for every epoch up to N, so a
    // kill between the two writes loses nothing on resume.
    if (m.eer < best_eer) {
      best_eer = m.eer;
      save_checkpoint(best_path, model, optimizer.get(), meta, classifier);
      log(fmt::format("new best validation EER {:.2f}% -> {}", 100 * m.eer, best_path.string()));
    }
    if (m.epoch % t.save_every == 0 || epoch + 1 == last_epoch) {
      save_checkpoint(last_path, model, optimizer.get(), meta, classifier);
      result.last_checkpoint = last_path;
    }
  }
  if (rank0) {
    try {
      plot_curves(metrics_path, run_dir / "curves.png");
    } catch (const Error& e) {
      log(fmt::format("warning: no training-curve plot: {}", e.what()));
    }
  }
  // No rank leaves before rank 0 has written the run folder.
  if (comm) comm->barrier();
  if (!rank0) return result;
  if (std::filesystem::exists(best_path)) {
    result.best_checkpoint = best_path;
    // The shippable model: best.pt without the optimiser state and the classifier.
    const size_t bytes = export_model(best_path, run_dir / "model.pt");
    log(fmt::format("model file (best epoch, weights and thresholds only, {:.1f} MiB) -> {}",
                    bytes / 1048576.0, (run_dir / "model.pt").string()));
  }
  if (std::filesystem::exists(last_path)) result.last_checkpoint = last_path;
  return result;
}

}  // namespace faceid
