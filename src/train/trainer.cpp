#include "faceid/train/trainer.hpp"

#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>

#include <fmt/format.h>

#include "faceid/core/csv.hpp"
#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/data/augment.hpp"
#include "faceid/data/frame_store.hpp"
#include "faceid/data/pair_sampler.hpp"
#include "faceid/data/split.hpp"
#include "faceid/eval/distances.hpp"
#include "faceid/eval/metrics.hpp"
#include "faceid/eval/plot.hpp"
#include "faceid/eval/unlock_sim.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/model/checkpoint.hpp"
#include "faceid/model/device.hpp"
#include "faceid/model/embed_batch.hpp"
#include "faceid/model/loss.hpp"
#include "faceid/model/model.hpp"
#include "faceid/train/batch_loader.hpp"
#include "faceid/train/train_step.hpp"
#include "train/amp.hpp"
#include "train/communicator.hpp"
#include "train/progress.hpp"

namespace faceid {

double learning_rate_at(const TrainConfig& t, int64_t step) {
  const double total = static_cast<double>(t.epochs) * t.steps_per_epoch;
  const double warmup = t.warmup_epochs * t.steps_per_epoch;
  const double s = static_cast<double>(step);
  if (warmup > 0 && s < warmup) return t.lr * (s + 1.0) / warmup;
  switch (t.schedule) {
    case Schedule::constant:
      return t.lr;
    case Schedule::step: {
      const int64_t epoch = step / t.steps_per_epoch;
      return t.lr * std::pow(t.step_gamma, static_cast<double>(epoch / t.step_epochs));
    }
    case Schedule::cosine: {
      const double span = std::max(1.0, total - warmup);
      const double progress = std::min(1.0, (s - warmup) / span);
      return 0.5 * t.lr * (1.0 + std::cos(M_PI * progress));
    }
  }
  throw_internal(fmt::format("learning_rate_at: train.schedule has no rule for value {}",
                             static_cast<int>(t.schedule)));
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

using Clock = std::chrono::steady_clock;
using Log = std::function<void(const std::string&)>;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ---- the run folder ---------------------------------------------------------------------------

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
// after its last checkpoint, and any partial last line, would otherwise be duplicated). Works on
// lines, not fields: a line cut short by the kill is exactly what it drops.
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

// Training curves from the whole metrics.csv (resumed runs included): loss, validation EER and
// the mean validation distances, columns looked up by name. No file (no epoch yet): no plot.
void plot_curves(const std::filesystem::path& metrics_csv, const std::filesystem::path& png) {
  if (!std::filesystem::exists(metrics_csv)) return;
  const CsvTable csv = CsvTable::read(metrics_csv);
  const size_t epoch = csv.column("epoch");
  LineSeries loss{"train loss", {}, {}}, eer{"validation EER", {}, {}},
      gen{"val genuine mean", {}, {}}, imp{"val impostor mean", {}, {}};
  const std::pair<LineSeries*, size_t> series[] = {{&loss, csv.column("train_loss")},
                                                   {&gen, csv.column("val_genuine_mean")},
                                                   {&imp, csv.column("val_impostor_mean")},
                                                   {&eer, csv.column("val_eer")}};
  for (size_t row = 0; row < csv.rows(); ++row) {
    const double x = csv.number(row, epoch);
    for (const auto& [s, column] : series) {
      s->x.push_back(x);
      s->y.push_back(csv.number(row, column));
    }
  }
  if (loss.x.empty()) return;
  LinePlotOptions o;
  o.title = "training curves";
  o.x_label = "epoch";
  o.y_label = "loss / EER / distance";
  plot_lines(png, {loss, eer, gen, imp}, o);
}

// ---- the run's state, handed from stage to stage ----------------------------------------------

// Fixed once set up: who speaks, where the files go, the device, the ranks.
struct Run {
  Run(const Config& c, const TrainOptions& o) : config(c), options(o) {}
  const Config& config;
  const TrainOptions& options;
  Log log;      // rank 0's log; the other ranks keep quiet
  bool rank0 = true;
  std::filesystem::path dir, last_path, best_path, metrics_path;
  std::string config_yaml;  // the resolved config: config.yaml and every checkpoint
  torch::Device device = torch::kCPU;
  torch::ScalarType amp = torch::kFloat;  // autocast dtype of the step (kFloat: none)
  std::unique_ptr<Communicator> comm;     // data-parallel: set by join_ranks
};

// The person split and the loaded frames.
struct RunData {
  Split split;
  FrameStore train;
  FrameStore val;
};

// What the loop changes and a checkpoint carries: weights, the margin losses' classifier, the
// optimiser, and the position in the schedule.
struct TrainState {
  EmbeddingNet model{nullptr};
  torch::Tensor classifier;  // defined for the margin losses only
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  int64_t start_epoch = 0;  // epochs done before this invocation
  int64_t step = 0;         // optimiser steps done
  double best_eer = std::numeric_limits<double>::infinity();
};

// ---- set up -----------------------------------------------------------------------------------

// Validates the config, refuses to train over a finished run, picks the device, threads and
// autocast, seeds torch.
Run set_up(const Config& config, const TrainOptions& options) {
  validate(config, "run_training");
  const DistEnv& dist = options.distributed;
  const TrainConfig& t = config.train;
  Run run(config, options);
  run.rank0 = dist.rank == 0;
  // Ranks other than 0 keep quiet: rank 0 speaks for the run; their errors still reach stderr.
  run.log = !run.rank0   ? Log([](const std::string&) {})
            : options.log ? options.log
                          : Log([](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); });
  if (options.run_dir.empty()) throw_internal("run_training: no run folder given");
  run.dir = options.run_dir;
  run.last_path = run.dir / "last.pt";
  run.best_path = run.dir / "best.pt";
  run.metrics_path = run.dir / "metrics.csv";
  if (options.resume.empty() && !options.overwrite && std::filesystem::exists(run.last_path)) {
    throw_bad_input(fmt::format(
        "{}: run folder already holds a run (last.pt); use --resume {} or --overwrite or another "
        "--out", run.dir.string(), run.last_path.string()));
  }
  run.config_yaml = to_yaml(config);

  run.device = resolve_device(t.device);
  if (dist.distributed() && run.device.is_cuda()) {
    run.device = torch::Device(torch::kCUDA, dist.local_rank);
  }
  const int threads = configure_cpu_threads(t.threads, dist.local_world_size);
  run.amp = amp_dtype(t.amp, run.device);  // fp16 on a CPU: refused here
  configure_cuda(run.device, t.cudnn_benchmark, t.allow_tf32);
  torch::manual_seed(static_cast<uint64_t>(t.seed));
  run.log(fmt::format("device {} · {} CPU thread(s){}", run.device.str(), threads,
                      run.amp == torch::kFloat ? "" : fmt::format(" · amp {}", to_string(t.amp))));
  return run;
}

// ---- data -------------------------------------------------------------------------------------

// Frames without a face are skipped and reported; a data set where many are is refused (a
// locator that cannot find the heads of this capture setup would train on nothing).
void check_faces_found(const DataConfig& data, std::initializer_list<const FrameStore*> stores,
                       const Log& log) {
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

// Scans data.root, splits the persons, loads the training and validation frames (validation at
// most train.val_max_frames_per_person a person).
RunData load_data(const Run& run) {
  const Config& config = run.config;
  const Dataset dataset = scan_dataset(std::filesystem::path(config.data.root), /*strict=*/true);
  RunData data;
  data.split = split_persons(dataset, config.data);
  run.log(fmt::format("dataset {}: {} persons, {} frames; split {} train / {} validation persons",
                      config.data.root, dataset.persons.size(), dataset.frame_count(),
                      data.split.train.size(), data.split.val.size()));
  const bool bar = run.options.progress_bar;
  data.train = FrameStore::load(dataset, data.split.train, config.data, config.preprocess,
                                frame_load_progress(bar, "train"));
  DataConfig val_data = config.data;
  val_data.max_frames_per_person = config.train.val_max_frames_per_person;
  data.val = FrameStore::load(dataset, data.split.val, val_data, config.preprocess,
                              frame_load_progress(bar, "validation"));
  check_faces_found(config.data, {&data.train, &data.val}, run.log);
  run.log(fmt::format("frames: {} train ({} from cache), {} validation, {:.1f} s; crops take "
                      "{:.2f} GiB in memory{}",
                      data.train.size(), data.train.stats().cache_hits, data.val.size(),
                      data.train.stats().seconds + data.val.stats().seconds,
                      (data.train.memory_bytes() + data.val.memory_bytes()) / 1073741824.0,
                      data.train.compact() ? " (compact: 8-bit colour, 16-bit float depth)" : ""));
  if (data.val.size() < 2) {
    throw_bad_input(fmt::format("{}: fewer than 2 usable validation frames", config.data.root));
  }
  return data;
}

// ---- model ------------------------------------------------------------------------------------

// The network on the device (from --init-from / train.init_from unless resuming), the margin
// losses' classifier (fresh, or the resumed run's), and the optimiser over both.
TrainState build_model(const Run& run, const RunData& data) {
  const Config& config = run.config;
  const TrainOptions& options = run.options;
  TrainState state;
  state.model = EmbeddingNet(config.model, config.preprocess.input_size);
  state.model->to(run.device);
  // --init-from overrides train.init_from; a resumed run takes its weights from the checkpoint.
  const std::filesystem::path init_from = !options.init_from.empty()
                                              ? options.init_from
                                              : std::filesystem::path(config.train.init_from);
  if (!init_from.empty() && options.resume.empty()) {
    load_weights_into(init_from, state.model);
    run.log(fmt::format("initialised weights from {}", init_from.string()));
  }
  // The margin losses' classifier: one row per training identity, in training checkpoints only.
  if (config.loss.type != LossType::contrastive) {
    const auto classes = static_cast<int64_t>(data.train.persons().size());
    torch::Tensor classifier = options.resume.empty()
                                   ? init_margin_classifier(classes, config.model.embedding_dim)
                                   : load_classifier(options.resume);
    if (!classifier.defined() || classifier.size(0) != classes) {
      throw_bad_input(fmt::format(
          "{}: {} needs the classifier of the run's {} training identities, the checkpoint has {}",
          options.resume.string(), to_string(config.loss.type), classes,
          classifier.defined() ? fmt::format("{} rows", classifier.size(0)) : std::string("none")));
    }
    state.classifier = classifier.to(run.device).set_requires_grad(true);
    run.log(fmt::format("{} loss (scale {:g}, margin {:g}) over {} training identities",
                        to_string(config.loss.type), config.loss.scale, config.loss.margin,
                        classes));
  }
  state.optimizer = make_optimizer(state.model, config.train, state.classifier);
  return state;
}

// ---- resume -----------------------------------------------------------------------------------

// Continues exactly from options.resume: weights, optimiser state, torch (and CUDA) RNG state,
// epoch and step; the best EER so far from best.pt.
void resume(const Run& run, TrainState& state) {
  const std::filesystem::path& from = run.options.resume;
  if (from.empty()) return;
  const CheckpointMeta meta = read_checkpoint_meta(from);
  load_weights_into(from, state.model);
  load_optimizer_state(from, *state.optimizer);
  restore_torch_rng_state(meta);
  restore_cuda_rng_state(meta, run.device);
  state.start_epoch = meta.epoch;
  state.step = meta.step;
  if (std::filesystem::exists(run.best_path)) {
    const CheckpointMeta best = read_checkpoint_meta(run.best_path);
    auto it = best.metrics.find("val_eer");
    if (it != best.metrics.end()) state.best_eer = it->second;
  }
  run.log(fmt::format("resumed from {} at epoch {}, step {}", from.string(), state.start_epoch,
                      state.step));
}

// Data-parallel: joins the run and starts from rank 0's weights (and classifier).
void join_ranks(Run& run, TrainState& state) {
  const DistEnv& dist = run.options.distributed;
  if (!dist.distributed()) return;
  run.comm = std::make_unique<Communicator>(dist, run.device,
                                            std::chrono::seconds(run.options.dist_timeout_s));
  std::vector<torch::Tensor> tensors = state.model->parameters();
  for (const auto& b : state.model->buffers()) tensors.push_back(b);
  if (state.classifier.defined()) tensors.push_back(state.classifier);
  run.comm->broadcast(tensors);
  const int batch_pairs = run.config.train.batch_pairs;
  run.log(fmt::format("data-parallel: {} ranks via {}:{}, global batch {} pairs ({} a rank)",
                      dist.world_size, dist.master_addr, dist.master_port,
                      batch_pairs * dist.world_size, batch_pairs));
}

// Rank 0 writes config.yaml and split.yaml; metrics.csv starts anew (--overwrite) or loses the
// rows after the resumed checkpoint.
void prepare_run_folder(const Run& run, const RunData& data, int64_t start_epoch) {
  if (!run.rank0) return;
  std::error_code ec;
  std::filesystem::create_directories(run.dir, ec);
  if (ec) throw_io(fmt::format("{}: cannot create run folder: {}", run.dir.string(), ec.message()));
  remove_stale_temporaries(run.dir);
  write_file_atomic(run.dir / "config.yaml", run.config_yaml);
  write_file_atomic(run.dir / "split.yaml", split_yaml(data.split, run.config.data.root));
  if (run.options.resume.empty() && run.options.overwrite) {
    std::filesystem::remove(run.metrics_path, ec);
  }
  if (!run.options.resume.empty()) trim_metrics(run.metrics_path, start_epoch);
}

// ---- loop -------------------------------------------------------------------------------------

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
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

// Host batches go to a GPU from pinned memory, asynchronously; on the CPU they are used as is.
torch::Tensor to_device(const torch::Tensor& x, torch::Device device) {
  return device.is_cuda() ? x.pin_memory().to(device, /*non_blocking=*/true) : x;
}

// What the epochs share: the batches, the progress line, the fp16 loss scale.
struct EpochLoop {
  BatchLoader& loader;
  EpochProgress& progress;
  LossScaler& scaler;
};

// The optimiser steps of epoch `epoch` (0-based): the training half of its metrics (loss, lr,
// throughput; over all ranks), every step's loss appended to `step_losses`.
EpochMetrics train_epoch(const Run& run, TrainState& state, EpochLoop& loop, int64_t epoch,
                         std::vector<double>& step_losses) {
  const TrainConfig& t = run.config.train;
  const int world = run.options.distributed.world_size;
  const auto t0 = Clock::now();
  state.model->train();
  if (t.freeze_batch_norm) freeze_batch_norm(state.model);
  loop.loader.start_epoch(epoch);
  const double wait0 = loop.loader.wait_seconds();
  double loss_sum = 0;
  int64_t steps = 0;
  Batch batch;
  double lr = 0;
  while (loop.loader.next(batch)) {
    lr = learning_rate_at(t, state.step);
    set_lr(*state.optimizer, lr);
    const double loss = train_step(
        state.model, *state.optimizer, to_device(torch::cat({batch.a, batch.b}), run.device),
        to_device(batch.same, run.device), to_device(batch.person_a, run.device),
        to_device(batch.person_b, run.device), run.config.loss, t, run.comm.get(),
        state.classifier, &loop.scaler);
    if (!std::isfinite(loss)) {
      throw_internal(fmt::format("training diverged at step {}: loss is {} (lower train.lr?)",
                                 state.step, loss));
    }
    step_losses.push_back(loss);
    loss_sum += loss;
    ++state.step;
    ++steps;
    loop.progress.step(epoch + 1, t.epochs, steps - 1, loop.loader.steps_per_epoch(), loss,
                       steps * t.batch_pairs * world / std::max(seconds_since(t0), 1e-9));
  }
  loop.progress.end_epoch();
  if (loop.scaler.enabled() && loop.scaler.skipped_steps() > 0) {
    run.log(fmt::format("fp16 loss scale {:g}; {} step(s) skipped so far for inf/NaN gradients",
                        loop.scaler.scale(), loop.scaler.skipped_steps()));
  }
  const double train_seconds = seconds_since(t0);
  EpochMetrics m;
  m.epoch = epoch + 1;
  m.step = state.step;
  m.lr = lr;
  if (run.comm) {
    // The global mean loss; running statistics averaged (an EMA is linear in the batch
    // statistics, so averaging once an epoch equals averaging every step).
    loss_sum = run.comm->sum(loss_sum) / world;
    run.comm->average(float_buffers(state.model));
  }
  m.train_loss = loss_sum / std::max<int64_t>(1, steps);
  m.pairs_per_second = steps * t.batch_pairs * world / std::max(train_seconds, 1e-9);
  m.data_wait_fraction = (loop.loader.wait_seconds() - wait0) / std::max(train_seconds, 1e-9);
  return m;
}

// ---- validate ---------------------------------------------------------------------------------

struct Validation {
  RocSummary roc;
  OperatingPoint operating;  // unlock attempts at unlock.target_far
};

// Embeds every held-out frame, all pairs, exact ROC, and the operating threshold of unlock
// attempts at unlock.target_far. Data-parallel: each rank embeds its contiguous share of the
// frames, the shares are gathered, rank 0 computes the ROC (the other ranks return an empty
// summary: they write nothing).
Validation validate_model(const Run& run, TrainState& state, const FrameStore& store) {
  const UnlockConfig& unlock = run.config.unlock;
  Communicator* comm = run.comm.get();
  std::vector<std::vector<float>> owned;
  const std::vector<const float*> crops = crop_pointers(store, owned);
  std::vector<int> labels;
  for (const auto& f : store.frames()) labels.push_back(f.person);
  Embeddings emb;
  if (comm == nullptr) {
    emb = embed_crops(state.model, crops, store.crop_size(), run.device);
  } else {
    const size_t n = crops.size();
    const size_t w = static_cast<size_t>(comm->world_size());
    const size_t r = static_cast<size_t>(comm->rank());
    const auto lo = static_cast<std::ptrdiff_t>(n * r / w);
    const auto hi = static_cast<std::ptrdiff_t>(n * (r + 1) / w);
    const std::vector<const float*> mine(crops.begin() + lo, crops.begin() + hi);
    const Embeddings part =
        mine.empty() ? Embeddings(0, run.config.model.embedding_dim)
                     : embed_crops(state.model, mine, store.crop_size(), run.device);
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

// Rank 0: the validation half of the epoch's metrics, and its log lines.
void report_validation(const Run& run, const Validation& val, EpochMetrics& m,
                       Clock::time_point epoch_t0) {
  const RocSummary& roc = val.roc;
  const OperatingPoint& op = val.operating;
  m.genuine_mean = roc.genuine_mean;
  m.impostor_mean = roc.impostor_mean;
  m.auc = roc.auc;
  m.eer = roc.eer;
  m.eer_threshold = roc.eer_threshold;
  m.tar_at_far_1e3 = roc.at_far.empty() ? 0.0 : roc.at_far.front().tar;
  m.seconds = seconds_since(epoch_t0);
  run.log(fmt::format("epoch {}/{} loss {:.4f} · val genuine {:.3f} impostor {:.3f} · AUC {:.4f} "
                      "EER {:.2f}% @ {:.3f} · TAR@FAR1e-3 {:.3f} · {:.0f} pairs/s · data wait "
                      "{:.1f}% · {:.1f} s",
                      m.epoch, run.config.train.epochs, m.train_loss, m.genuine_mean,
                      m.impostor_mean, m.auc, 100 * m.eer, m.eer_threshold, m.tar_at_far_1e3,
                      m.pairs_per_second, 100 * m.data_wait_fraction, m.seconds));
  if (!op.why_none.empty()) {
    run.log(fmt::format("no operating threshold at unlock FAR {:g}: {}", op.target_far,
                        op.why_none));
    return;
  }
  run.log(fmt::format(
      "operating threshold {:.4f} at unlock FAR {:g}: validation FRR {:.2f}% over {} genuine "
      "attempts; {} impostor attempts resolve FAR down to {:.2g} (rule of three){}",
      op.threshold, op.target_far, 100 * op.frr, op.genuine_attempts, op.impostor_attempts,
      op.resolvable_far,
      op.resolvable_far > op.target_far
          ? ": fewer than the target needs, so the threshold only bounds FAR by that"
          : ""));
}

// ---- save -------------------------------------------------------------------------------------

// Rank 0, after each epoch: the metrics.csv row, best.pt when the EER improved, last.pt every
// train.save_every epochs and after the last one.
void save_epoch(const Run& run, TrainState& state, const EpochMetrics& m, const Validation& val,
                bool last_epoch, TrainResult& result) {
  append_line(run.metrics_path, metrics_csv_header(), metrics_csv_row(m));
  const OperatingPoint& op = val.operating;
  CheckpointMeta meta;
  meta.epoch = m.epoch;
  meta.step = state.step;
  meta.sampler_state = static_cast<uint64_t>(run.config.train.seed);
  meta.cuda_rng_state = capture_cuda_rng_state(run.device);
  meta.config_yaml = run.config_yaml;
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
  if (m.eer < state.best_eer) {
    state.best_eer = m.eer;
    save_checkpoint(run.best_path, state.model, state.optimizer.get(), meta, state.classifier);
    run.log(fmt::format("new best validation EER {:.2f}% -> {}", 100 * m.eer,
                        run.best_path.string()));
  }
  if (m.epoch % run.config.train.save_every == 0 || last_epoch) {
    save_checkpoint(run.last_path, state.model, state.optimizer.get(), meta, state.classifier);
    result.last_checkpoint = run.last_path;
  }
}

// The epochs of this invocation (to train.epochs, or options.stop_after_epochs of them): train,
// validate, save.
void run_epochs(const Run& run, const RunData& data, TrainState& state, TrainResult& result) {
  const TrainConfig& t = run.config.train;
  const DistEnv& dist = run.options.distributed;
  PairSampler sampler(data.train, t);
  sampler.shard(dist.rank, dist.world_size);
  Augmenter augmenter(run.config.augment, run.config.preprocess, t.seed);
  BatchLoader loader(data.train, sampler, augmenter, run.config.data, t);
  EpochProgress progress(run.options.progress_bar, run.log);
  LossScaler scaler(run.amp == torch::kHalf);
  EpochLoop loop{loader, progress, scaler};
  const int64_t stop = run.options.stop_after_epochs;
  const int64_t last_epoch =
      stop > 0 ? std::min<int64_t>(t.epochs, state.start_epoch + stop) : t.epochs;
  for (int64_t epoch = state.start_epoch; epoch < last_epoch; ++epoch) {
    const auto epoch_t0 = Clock::now();
    EpochMetrics m = train_epoch(run, state, loop, epoch, result.step_losses);
    const Validation val = validate_model(run, state, data.val);
    if (run.rank0) {
      report_validation(run, val, m, epoch_t0);
      save_epoch(run, state, m, val, epoch + 1 == last_epoch, result);
    }
    result.epochs.push_back(m);
  }
}

// The training curves, then (rank 0, once every rank is done) the shippable model.pt from best.pt.
void finish_run(const Run& run, TrainResult& result) {
  if (run.rank0) {
    try {
      plot_curves(run.metrics_path, run.dir / "curves.png");
    } catch (const Error& e) {
      run.log(fmt::format("warning: no training-curve plot: {}", e.what()));
    }
  }
  // No rank leaves before rank 0 has written the run folder.
  if (run.comm) run.comm->barrier();
  if (!run.rank0) return;
  if (std::filesystem::exists(run.best_path)) {
    result.best_checkpoint = run.best_path;
    // The shippable model: best.pt without the optimiser state and the classifier.
    const size_t bytes = export_model(run.best_path, run.dir / "model.pt");
    run.log(fmt::format("model file (best epoch, weights and thresholds only, {:.1f} MiB) -> {}",
                        bytes / 1048576.0, (run.dir / "model.pt").string()));
  }
  if (std::filesystem::exists(run.last_path)) result.last_checkpoint = run.last_path;
}

}  // namespace

TrainResult run_training(const Config& config, const TrainOptions& options) {
  Run run = set_up(config, options);
  const RunData data = load_data(run);
  TrainState state = build_model(run, data);
  resume(run, state);
  join_ranks(run, state);
  TrainResult result;
  result.run_dir = run.dir;
  result.parameter_count = state.model->parameter_count();
  result.train_persons = data.split.train;
  result.val_persons = data.split.val;
  run.log(fmt::format("model {} · input {}x{} · embedding {} · {} parameters",
                      to_string(config.model.variant), config.preprocess.input_size,
                      config.preprocess.input_size, config.model.embedding_dim,
                      result.parameter_count));
  prepare_run_folder(run, data, state.start_epoch);
  run_epochs(run, data, state, result);
  finish_run(run, result);
  return result;
}

}  // namespace faceid
