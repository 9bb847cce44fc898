#include "faceid/train/checkpoint.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <cstring>
#include <mutex>
#include <sstream>

#include "faceid/error.hpp"
#include "faceid/fs.hpp"

namespace faceid {
namespace {

constexpr size_t kMagicSize = 8;
constexpr size_t kHeaderSize = kMagicSize + 4 + 8 + 8;  // magic, version, size, checksum
constexpr char kKind[] = "faceid.checkpoint";

using TensorDict = c10::Dict<std::string, torch::Tensor>;

// FNV-1a, 64 bit: the payload checksum and the model fingerprint.
class Fnv1a64 {
 public:
  void update(const void* data, size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    uint64_t h = hash_;
    for (size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
    hash_ = h;
  }
  void update(const std::string& s) { update(s.data(), s.size() + 1); }  // with its terminator
  uint64_t digest() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ULL;
};

void put_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t get_le(const std::string& in, size_t offset, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[offset + i])) << (8 * i);
  }
  return v;
}

// c10::Error messages carry a backtrace after the first line; keep the first non-blank line
// (torch::jit::ErrorReport starts with a newline).
std::string first_line(const char* what) {
  const std::string s(what);
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "no detail";
  const auto nl = s.find_first_of("\r\n", begin);
  return s.substr(begin, nl == std::string::npos ? std::string::npos : nl - begin);
}

std::string optimizer_kind(torch::optim::Optimizer& optimizer) {
  namespace optim = torch::optim;
  if (dynamic_cast<optim::AdamW*>(&optimizer)) return "adamw";
  if (dynamic_cast<optim::Adam*>(&optimizer)) return "adam";
  if (dynamic_cast<optim::SGD*>(&optimizer)) return "sgd";
  if (dynamic_cast<optim::RMSprop*>(&optimizer)) return "rmsprop";
  if (dynamic_cast<optim::Adagrad*>(&optimizer)) return "adagrad";
  if (dynamic_cast<optim::LBFGS*>(&optimizer)) return "lbfgs";
  throw_internal("save_checkpoint: unsupported optimizer type");
}

TensorDict tensor_dict(const std::vector<std::pair<std::string, torch::Tensor>>& items) {
  TensorDict dict;
  for (const auto& [name, t] : items) dict.insert(name, t.detach().to(torch::kCPU).clone());
  return dict;
}

std::vector<std::pair<std::string, torch::Tensor>> named_items(
    const torch::OrderedDict<std::string, torch::Tensor>& d) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : d) out.emplace_back(item.key(), item.value());
  return out;
}

// A verified, opened checkpoint: the payload archive and its metadata.
struct Opened {
  std::filesystem::path path;
  torch::serialize::InputArchive archive;
  CheckpointMeta meta;
  TensorDict parameters;
  TensorDict buffers;
};

[[noreturn]] void throw_corrupt(const std::filesystem::path& path, const std::string& why) {
  throw_bad_input(fmt::format("{}: corrupt checkpoint ({})", path.string(), why));
}

c10::IValue read_value(torch::serialize::InputArchive& ar, const std::string& key) {
  c10::IValue v;
  if (!ar.try_read(key, v)) throw c10::Error(fmt::format("missing '{}'", key), "");
  return v;
}

// Reads, verifies and opens `path`; archive tensors are mapped to `device`.
std::unique_ptr<Opened> open_checkpoint(const std::filesystem::path& path, torch::Device device) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw_bad_input(fmt::format("{}: checkpoint not found", path.string()));
  }
  const std::string bytes = read_file(path);
  if (bytes.size() < kHeaderSize) {
    throw_corrupt(path, fmt::format("truncated: {} bytes, the header alone is {}", bytes.size(),
                                    kHeaderSize));
  }
  if (bytes.compare(0, kMagicSize, kCheckpointMagic, kMagicSize) != 0) {
    throw_bad_input(fmt::format("{}: not a faceid checkpoint (bad magic)", path.string()));
  }
  const auto version = get_le(bytes, kMagicSize, 4);
  if (version != static_cast<uint64_t>(kCheckpointFormatVersion)) {
    throw_bad_input(fmt::format("{}: checkpoint format version {}, expected {}", path.string(),
                                version, kCheckpointFormatVersion));
  }
  const uint64_t payload_size = get_le(bytes, kMagicSize + 4, 8);
  const uint64_t checksum = get_le(bytes, kMagicSize + 12, 8);
  if (bytes.size() - kHeaderSize != payload_size) {
    throw_corrupt(path, fmt::format("payload is {} bytes, header says {}",
                                    bytes.size() - kHeaderSize, payload_size));
  }
  Fnv1a64 hash;
  hash.update(bytes.data() + kHeaderSize, payload_size);
  if (hash.digest() != checksum) throw_corrupt(path, "checksum mismatch");

  auto out = std::make_unique<Opened>();
  out->path = path;
  auto& ar = out->archive;
  auto& m = out->meta;
  try {
    ar.load_from(bytes.data() + kHeaderSize, payload_size, device);
    if (read_value(ar, "kind").toStringRef() != kKind) throw c10::Error("unexpected kind", "");
    m.format_version = static_cast<int>(version);
    m.model.variant = read_value(ar, "model_variant").toStringRef();
    m.model.embedding_dim = static_cast<int>(read_value(ar, "model_embedding_dim").toInt());
    m.model.dropout = read_value(ar, "model_dropout").toDouble();
    m.input_size = static_cast<int>(read_value(ar, "model_input_size").toInt());
    m.epoch = read_value(ar, "epoch").toInt();
    m.step = read_value(ar, "step").toInt();
    m.sampler_state = static_cast<uint64_t>(read_value(ar, "sampler_state").toInt());
    m.torch_rng_state = read_value(ar, "torch_rng_state").toTensor().to(torch::kCPU);
    m.config_yaml = read_value(ar, "config_yaml").toStringRef();
    for (const auto& e : read_value(ar, "metrics").toGenericDict()) {
      m.metrics[e.key().toStringRef()] = e.value().toDouble();
    }
    m.eer_threshold = read_value(ar, "eer_threshold").toDouble();
    m.optimizer = read_value(ar, "optimizer_kind").toStringRef();
    out->parameters = c10::impl::toTypedDict<std::string, torch::Tensor>(
        read_value(ar, "parameters").toGenericDict());
    out->buffers = c10::impl::toTypedDict<std::string, torch::Tensor>(
        read_value(ar, "buffers").toGenericDict());
  } catch (const c10::Error& e) {
    throw_corrupt(path, first_line(e.what_without_backtrace()));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // Damaged TorchScript inside a well-formed archive: the unpickler throws
    // torch::jit::ErrorReport or std::runtime_error, not c10::Error (fuzz_checkpoint finding).
    throw_corrupt(path, first_line(e.what()));
  }
  return out;
}

// Checks every name and shape of `expected` against `stored` (both ways), then copies.
void check_tensors(const Opened& ck, const char* what,
                   const std::vector<std::pair<std::string, torch::Tensor>>& expected,
                   const TensorDict& stored) {
  for (const auto& [name, t] : expected) {
    const auto it = stored.find(name);
    if (it == stored.end()) {
      throw_bad_input(
          fmt::format("{}: {} {} is missing from the checkpoint", ck.path.string(), what, name));
    }
    if (it->value().sizes() != t.sizes()) {
      throw_bad_input(fmt::format("{}: {} {} has shape {} in the checkpoint, expected {}",
                                  ck.path.string(), what, name, c10::str(it->value().sizes()),
                                  c10::str(t.sizes())));
    }
  }
  if (stored.size() != expected.size()) {
    for (const auto& e : stored) {
      const bool known = std::any_of(expected.begin(), expected.end(),
                                     [&](const auto& p) { return p.first == e.key(); });
      if (!known) {
        throw_bad_input(
            fmt::format("{}: unexpected {} {} in the checkpoint", ck.path.string(), what, e.key()));
      }
    }
  }
}

void copy_weights(const Opened& ck, EmbeddingNet& model) {
  const auto params = named_items(model->named_parameters());
  const auto buffers = named_items(model->named_buffers());
  check_tensors(ck, "parameter", params, ck.parameters);
  check_tensors(ck, "buffer", buffers, ck.buffers);
  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : params) t.copy_(ck.parameters.at(name));
  for (const auto& [name, t] : buffers) t.copy_(ck.buffers.at(name));
}

EmbeddingNet build_model(const Opened& ck) {
  try {
    return EmbeddingNet(ck.meta.model, ck.meta.input_size);
  } catch (const Error& e) {
    throw_bad_input(fmt::format("{}: {}", ck.path.string(), e.what()));
  }
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, EmbeddingNet& model,
                     torch::optim::Optimizer* optimizer, const CheckpointMeta& meta) {
  std::string payload;
  try {
    torch::serialize::OutputArchive ar;
    const auto& mc = model->model_config();
    ar.write("kind", c10::IValue(std::string(kKind)));
    ar.write("model_variant", c10::IValue(mc.variant));
    ar.write("model_embedding_dim", c10::IValue(static_cast<int64_t>(mc.embedding_dim)));
    ar.write("model_dropout", c10::IValue(mc.dropout));
    ar.write("model_input_size", c10::IValue(static_cast<int64_t>(model->input_size())));
    ar.write("epoch", c10::IValue(meta.epoch));
    ar.write("step", c10::IValue(meta.step));
    ar.write("sampler_state", c10::IValue(static_cast<int64_t>(meta.sampler_state)));
    ar.write("torch_rng_state",
             c10::IValue(meta.torch_rng_state.defined() ? meta.torch_rng_state.to(torch::kCPU)
                                                        : capture_torch_rng_state()));
    ar.write("config_yaml", c10::IValue(meta.config_yaml));
    c10::Dict<std::string, double> metrics;
    for (const auto& [k, v] : meta.metrics) metrics.insert(k, v);
    ar.write("metrics", c10::IValue(metrics));
    ar.write("eer_threshold", c10::IValue(meta.eer_threshold));
    ar.write("parameters", c10::IValue(tensor_dict(named_items(model->named_parameters()))));
    ar.write("buffers", c10::IValue(tensor_dict(named_items(model->named_buffers()))));
    ar.write("optimizer_kind",
             c10::IValue(optimizer != nullptr ? optimizer_kind(*optimizer) : std::string()));
    if (optimizer != nullptr) {
      torch::serialize::OutputArchive opt;
      optimizer->save(opt);
      ar.write("optimizer", opt);
    }
    std::ostringstream stream;
    ar.save_to(stream);
    payload = std::move(stream).str();
  } catch (const c10::Error& e) {
    throw_internal(fmt::format("{}: cannot serialize checkpoint: {}", path.string(),
                               first_line(e.what_without_backtrace())));
  }
  Fnv1a64 hash;
  hash.update(payload.data(), payload.size());
  std::string file(kCheckpointMagic, kMagicSize);
  put_le(file, kCheckpointFormatVersion, 4);
  put_le(file, payload.size(), 8);
  put_le(file, hash.digest(), 8);
  file += payload;
  write_file_atomic(path, file);
}

LoadedCheckpoint load_checkpoint(const std::filesystem::path& path, torch::Device device) {
  const auto ck = open_checkpoint(path, torch::kCPU);
  LoadedCheckpoint out{ck->meta, build_model(*ck)};
  copy_weights(*ck, out.model);
  out.model->to(device);
  out.model->eval();
  return out;
}

CheckpointMeta read_checkpoint_meta(const std::filesystem::path& path) {
  return open_checkpoint(path, torch::kCPU)->meta;
}

void load_weights_into(const std::filesystem::path& path, EmbeddingNet& model) {
  const auto ck = open_checkpoint(path, torch::kCPU);
  const auto& stored = ck->meta.model;
  const auto& want = model->model_config();
  if (stored.variant != want.variant) {
    throw_bad_input(fmt::format("{}: model.variant is {}, expected {}", path.string(),
                                stored.variant, want.variant));
  }
  if (stored.embedding_dim != want.embedding_dim) {
    throw_bad_input(fmt::format("{}: model.embedding_dim is {}, expected {}", path.string(),
                                stored.embedding_dim, want.embedding_dim));
  }
  copy_weights(*ck, model);
}

void load_optimizer_state(const std::filesystem::path& path, torch::optim::Optimizer& optimizer) {
  torch::Device device = torch::kCPU;
  for (const auto& group : optimizer.param_groups()) {
    if (!group.params().empty()) {
      device = group.params().front().device();
      break;
    }
  }
  const auto ck = open_checkpoint(path, device);
  if (ck->meta.optimizer.empty()) {
    throw_bad_input(fmt::format("{}: checkpoint has no optimizer state", path.string()));
  }
  const auto kind = optimizer_kind(optimizer);
  if (ck->meta.optimizer != kind) {
    throw_bad_input(fmt::format("{}: optimizer state is {}, expected {}", path.string(),
                                ck->meta.optimizer, kind));
  }
  try {
    torch::serialize::InputArchive opt;
    ck->archive.read("optimizer", opt);
    optimizer.load(opt);
  } catch (const c10::Error& e) {
    throw_bad_input(fmt::format("{}: optimizer state does not fit this optimizer ({})",
                                path.string(), first_line(e.what_without_backtrace())));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw_corrupt(path, first_line(e.what()));
  }
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

std::string model_fingerprint(EmbeddingNet& model) {
  Fnv1a64 hash;
  const auto& mc = model->model_config();
  hash.update(fmt::format("{}\n{}\n{}", mc.variant, mc.embedding_dim, model->input_size()));
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
