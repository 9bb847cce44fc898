#include "faceid/model/checkpoint.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>
#include <string_view>
#include <type_traits>

#include "faceid/core/config.hpp"
#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/model/record.hpp"

namespace faceid {
namespace {

constexpr char kKind[] = "faceid.checkpoint";
constexpr char kWhat[] = "checkpoint";

std::string optimizer_kind(torch::optim::Optimizer& optimizer) {
  namespace optim = torch::optim;
  if (dynamic_cast<optim::AdamW*>(&optimizer)) return "adamw";
  if (dynamic_cast<optim::Adam*>(&optimizer)) return "adam";
  if (dynamic_cast<optim::SGD*>(&optimizer)) return "sgd";
  throw_internal("save_checkpoint: unsupported optimizer type (adam, adamw and sgd are saved)");
}

// A verified, opened checkpoint: its record and the metadata read from it.
struct Opened {
  std::filesystem::path path;
  Record record;
  CheckpointMeta meta;
};

[[noreturn]] void throw_corrupt(const std::filesystem::path& path, const std::string& why) {
  throw_bad_input(fmt::format("{}: corrupt checkpoint ({})", path.string(), why));
}

// Reads, verifies and opens `path`.
std::unique_ptr<Opened> open_checkpoint(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    if (std::filesystem::is_directory(path, ec)) {
      throw_bad_input(fmt::format(
          "{}: is a folder, expected a checkpoint file (e.g. runs/NAME/best.pt)", path.string()));
    }
    throw_bad_input(fmt::format("{}: checkpoint not found", path.string()));
  }
  const std::string bytes = read_file(path);
  const std::string_view payload =
      unseal(bytes, kCheckpointMagic, kCheckpointFormatVersion, path, kWhat);
  auto out = std::make_unique<Opened>();
  out->path = path;
  auto& m = out->meta;
  std::string variant;
  try {
    out->record = Record::parse(payload);
    const Record& r = out->record;
    if (r.get_string("kind") != kKind) {
      throw_bad_input(fmt::format("kind is '{}', expected '{}'", r.get_string("kind"), kKind));
    }
    m.format_version = kCheckpointFormatVersion;
    variant = r.get_string("model/variant");
    const int64_t dim = r.get_int("model/embedding_dim");
    const int64_t side = r.get_int("model/input_size");
    // Out-of-int range values are clamped so that the model's own range check names them.
    auto clamp_int = [](int64_t v) {
      return static_cast<int>(std::clamp<int64_t>(v, std::numeric_limits<int>::min(),
                                                  std::numeric_limits<int>::max()));
    };
    m.model.embedding_dim = clamp_int(dim);
    m.model.dropout = r.get_double("model/dropout");
    m.input_size = clamp_int(side);
    m.epoch = r.get_int("epoch");
    m.step = r.get_int("step");
    m.sampler_state = static_cast<uint64_t>(r.get_int("sampler_state"));
    m.torch_rng_state = r.get_tensor("torch_rng_state");
    if (r.has("torch_cuda_rng_state")) m.cuda_rng_state = r.get_tensor("torch_cuda_rng_state");
    m.config_yaml = r.get_string("config_yaml");
    for (const auto& name : r.keys_under("metric/")) m.metrics[name] = r.get_double("metric/" + name);
    m.eer_threshold = r.get_double("eer_threshold");
    m.optimizer = r.get_string("optimizer/kind");
    auto optional_double = [&r](const char* key) {
      return r.has(key) ? r.get_double(key) : std::numeric_limits<double>::quiet_NaN();
    };
    m.operating_threshold = optional_double("operating/threshold");
    m.target_far = optional_double("operating/target_far");
    m.resolvable_far = optional_double("operating/resolvable_far");
    m.operating_frr = optional_double("operating/frr");
    m.preprocess_version =
        r.has("preprocess_version") ? clamp_int(r.get_int("preprocess_version")) : 0;
  } catch (const Error& e) {
    if (e.code() != Errc::bad_input) throw;
    throw_corrupt(path, e.what());
  }
  // An unknown variant is named as such (a model of another build), not as corruption.
  m.model.variant = parse_choice<ModelVariant>(variant, path.string());
  return out;
}

void copy_weights(const Opened& ck, EmbeddingNet& model) {
  load_module_state(ck.record, *model, ck.path, kWhat);
}

EmbeddingNet build_model(const Opened& ck) {
  try {
    return EmbeddingNet(ck.meta.model, ck.meta.input_size);
  } catch (const Error& e) {
    throw_bad_input(fmt::format("{}: {}", ck.path.string(), e.what()));
  }
}

// The optimiser's per-parameter state lives under optimizer/<group>/<index>/<field>, the
// parameters numbered as param_groups() lists them. Hyperparameters (lr, betas, momentum) are
// not stored: they come from the config, and the trainer sets lr every step.
std::string state_prefix(size_t group, size_t index) {
  return fmt::format("optimizer/{}/{}/", group, index);
}

// The key of Optimizer::state(): LibTorch 1.x keys it by the TensorImpl address printed as a
// string, 2.x by the address itself. The type says which, so no version check is needed.
using OptimizerStateKey =
    std::remove_cvref_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;

template <typename Key>
Key make_state_key(c10::TensorImpl* impl) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream os;  // as c10::guts::to_string, which 1.x's optimisers use
    os << impl;
    return os.str();
  } else {
    return impl;
  }
}

OptimizerStateKey state_key(const torch::Tensor& p) {
  return make_state_key<OptimizerStateKey>(p.unsafeGetTensorImpl());
}

template <typename AdamState>
void put_adam_state(Record& r, const std::string& prefix, const AdamState& s) {
  r.put(prefix + "step", static_cast<int64_t>(s.step()));
  r.put(prefix + "exp_avg", s.exp_avg());
  r.put(prefix + "exp_avg_sq", s.exp_avg_sq());
  if (s.max_exp_avg_sq().defined()) r.put(prefix + "max_exp_avg_sq", s.max_exp_avg_sq());
}

void put_optimizer_state(Record& r, torch::optim::Optimizer& optimizer) {
  const auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t i = 0; i < groups[g].params().size(); ++i) {
      const auto it = optimizer.state().find(state_key(groups[g].params()[i]));
      if (it == optimizer.state().end()) continue;  // no step taken for this parameter yet
      const std::string prefix = state_prefix(g, i);
      if (const auto* s = dynamic_cast<const torch::optim::AdamWParamState*>(it->second.get())) {
        put_adam_state(r, prefix, *s);
      } else if (const auto* a = dynamic_cast<const torch::optim::AdamParamState*>(it->second.get())) {
        put_adam_state(r, prefix, *a);
      } else if (const auto* m = dynamic_cast<const torch::optim::SGDParamState*>(it->second.get())) {
        if (m->momentum_buffer().defined()) r.put(prefix + "momentum_buffer", m->momentum_buffer());
      } else {
        throw_internal("save_checkpoint: unsupported optimizer state");
      }
    }
  }
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, EmbeddingNet& model,
                     torch::optim::Optimizer* optimizer, const CheckpointMeta& meta,
                     const torch::Tensor& classifier) {
  Record r;
  const auto& mc = model->model_config();
  r.put("kind", std::string(kKind));
  r.put("model/variant", std::string(to_string(mc.variant)));
  r.put("model/embedding_dim", static_cast<int64_t>(mc.embedding_dim));
  r.put("model/dropout", mc.dropout);
  r.put("model/input_size", static_cast<int64_t>(model->input_size()));
  r.put("epoch", meta.epoch);
  r.put("step", meta.step);
  r.put("sampler_state", static_cast<int64_t>(meta.sampler_state));
  r.put("torch_rng_state",
        meta.torch_rng_state.defined() ? meta.torch_rng_state : capture_torch_rng_state());
  if (meta.cuda_rng_state.defined()) r.put("torch_cuda_rng_state", meta.cuda_rng_state);
  r.put("config_yaml", meta.config_yaml);
  for (const auto& [k, v] : meta.metrics) r.put("metric/" + k, v);
  r.put("eer_threshold", meta.eer_threshold);
  r.put("operating/threshold", meta.operating_threshold);
  r.put("operating/target_far", meta.target_far);
  r.put("operating/resolvable_far", meta.resolvable_far);
  r.put("operating/frr", meta.operating_frr);
  r.put("preprocess_version", static_cast<int64_t>(meta.preprocess_version));
  if (classifier.defined()) {
    r.put("classifier", classifier.detach().to(torch::kCPU).contiguous());
  }
  put_module_state(r, *model);
  r.put("optimizer/kind", optimizer != nullptr ? optimizer_kind(*optimizer) : std::string());
  if (optimizer != nullptr) put_optimizer_state(r, *optimizer);
  write_file_atomic(path, seal(kCheckpointMagic, kCheckpointFormatVersion, r.serialize()));
}

LoadedCheckpoint load_checkpoint(const std::filesystem::path& path, torch::Device device) {
  const auto ck = open_checkpoint(path);
  LoadedCheckpoint out{ck->meta, build_model(*ck)};
  copy_weights(*ck, out.model);
  out.model->to(device);
  out.model->eval();
  return out;
}

CheckpointMeta read_checkpoint_meta(const std::filesystem::path& path) {
  return open_checkpoint(path)->meta;
}

torch::Tensor load_classifier(const std::filesystem::path& path) {
  const auto ck = open_checkpoint(path);
  if (!ck->record.has("classifier")) return {};
  const torch::Tensor& c = ck->record.get_tensor("classifier");
  if (c.dim() != 2 || c.size(1) != ck->meta.model.embedding_dim ||
      c.scalar_type() != torch::kFloat) {
    throw_corrupt(path, fmt::format("classifier is {} {}, expected float [C, {}]",
                                    c10::toString(c.scalar_type()), c10::str(c.sizes()),
                                    ck->meta.model.embedding_dim));
  }
  return c.clone();
}

size_t export_model(const std::filesystem::path& in, const std::filesystem::path& out) {
  auto loaded = load_checkpoint(in, torch::kCPU);
  CheckpointMeta meta = loaded.meta;
  save_checkpoint(out, loaded.model, nullptr, meta);
  return static_cast<size_t>(std::filesystem::file_size(out));
}

void load_weights_into(const std::filesystem::path& path, EmbeddingNet& model) {
  const auto ck = open_checkpoint(path);
  const auto& stored = ck->meta.model;
  const auto& want = model->model_config();
  if (stored.variant != want.variant) {
    throw_bad_input(fmt::format("{}: model.variant is {}, expected {}", path.string(),
                                to_string(stored.variant), to_string(want.variant)));
  }
  if (stored.embedding_dim != want.embedding_dim) {
    throw_bad_input(fmt::format("{}: model.embedding_dim is {}, expected {}", path.string(),
                                stored.embedding_dim, want.embedding_dim));
  }
  copy_weights(*ck, model);
}

void load_optimizer_state(const std::filesystem::path& path, torch::optim::Optimizer& optimizer) {
  const auto ck = open_checkpoint(path);
  if (ck->meta.optimizer.empty()) {
    throw_bad_input(fmt::format("{}: checkpoint has no optimizer state", path.string()));
  }
  const auto kind = optimizer_kind(optimizer);
  if (ck->meta.optimizer != kind) {
    throw_bad_input(fmt::format("{}: optimizer state is {}, expected {}", path.string(),
                                ck->meta.optimizer, kind));
  }
  const Record& r = ck->record;
  const std::string p = path.string();
  // A state tensor must match its parameter's shape and dtype; it goes to the parameter's device.
  auto state_tensor = [&](const std::string& key, const torch::Tensor& param) {
    const torch::Tensor& t = r.get_tensor(key);
    if (t.sizes() != param.sizes() || t.scalar_type() != param.scalar_type()) {
      throw_bad_input(fmt::format("{} is {} {}, its parameter {} {}", key,
                                  c10::toString(t.scalar_type()), c10::str(t.sizes()),
                                  c10::toString(param.scalar_type()), c10::str(param.sizes())));
    }
    return t.to(param.device());
  };
  // Build every state first: a refused file leaves the optimiser untouched.
  std::vector<std::pair<OptimizerStateKey, std::unique_ptr<torch::optim::OptimizerParamState>>> states;
  std::set<std::string> used{"kind"};
  const auto& groups = optimizer.param_groups();
  try {
    for (size_t g = 0; g < groups.size(); ++g) {
      for (size_t i = 0; i < groups[g].params().size(); ++i) {
        const torch::Tensor& param = groups[g].params()[i];
        const std::string prefix = state_prefix(g, i);
        const std::string rel = prefix.substr(std::string("optimizer/").size());
        if (kind == "sgd") {
          if (!r.has(prefix + "momentum_buffer")) continue;
          auto s = std::make_unique<torch::optim::SGDParamState>();
          s->momentum_buffer(state_tensor(prefix + "momentum_buffer", param));
          used.insert(rel + "momentum_buffer");
          states.emplace_back(state_key(param), std::move(s));
          continue;
        }
        if (!r.has(prefix + "step")) continue;
        const int64_t step = r.get_int(prefix + "step");
        if (step < 0) throw_bad_input(fmt::format("'{}step' is {}", prefix, step));
        auto fill = [&](auto& s) {
          s.step(step);
          s.exp_avg(state_tensor(prefix + "exp_avg", param));
          s.exp_avg_sq(state_tensor(prefix + "exp_avg_sq", param));
          if (r.has(prefix + "max_exp_avg_sq")) {
            s.max_exp_avg_sq(state_tensor(prefix + "max_exp_avg_sq", param));
            used.insert(rel + "max_exp_avg_sq");
          }
          for (const char* f : {"step", "exp_avg", "exp_avg_sq"}) used.insert(rel + f);
        };
        if (kind == "adamw") {
          auto s = std::make_unique<torch::optim::AdamWParamState>();
          fill(*s);
          states.emplace_back(state_key(param), std::move(s));
        } else {
          auto s = std::make_unique<torch::optim::AdamParamState>();
          fill(*s);
          states.emplace_back(state_key(param), std::move(s));
        }
      }
    }
    for (const auto& key : r.keys_under("optimizer/")) {
      if (used.count(key) == 0) {
        throw_bad_input(fmt::format("optimizer state optimizer/{} belongs to no parameter", key));
      }
    }
  } catch (const Error& e) {
    if (e.code() != Errc::bad_input || std::string_view(e.what()).rfind(p, 0) == 0) throw;
    throw_bad_input(fmt::format("{}: optimizer state does not fit this optimizer ({})", p, e.what()));
  }
  optimizer.state().clear();
  for (auto& [key, s] : states) optimizer.state()[key] = std::move(s);
}

torch::Tensor capture_torch_rng_state() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void restore_torch_rng_state(const CheckpointMeta& meta) {
  if (!meta.torch_rng_state.defined()) return;
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(meta.torch_rng_state);
}

torch::Tensor capture_cuda_rng_state(torch::Device device) {
  if (!device.is_cuda()) return {};
  at::Generator gen = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void restore_cuda_rng_state(const CheckpointMeta& meta, torch::Device device) {
  if (!meta.cuda_rng_state.defined() || !device.is_cuda()) return;
  at::Generator gen = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(meta.cuda_rng_state);
}

std::string model_fingerprint(EmbeddingNet& model) {
  Fnv1a64 hash;
  const auto& mc = model->model_config();
  hash.update(
      fmt::format("{}\n{}\n{}", to_string(mc.variant), mc.embedding_dim, model->input_size()));
  auto add = [&hash](const torch::OrderedDict<std::string, torch::Tensor>& tensors) {
    for (const auto& item : tensors) {
      const auto t = item.value().detach().to(torch::kCPU).contiguous();
      hash.update(fmt::format("{}\n{}\n{}", item.key(), std::string(t.dtype().name()),
                              c10::str(t.sizes())));
      hash.update(t.data_ptr(), t.numel() * t.element_size());
    }
  };
  add(model->named_parameters());
  add(model->named_buffers());
  return fmt::format("{:016x}", hash.digest());
}

std::string model_fingerprint(const std::filesystem::path& checkpoint) {
  auto loaded = load_checkpoint(checkpoint, torch::kCPU);
  return model_fingerprint(loaded.model);
}

}  // namespace faceid
