// libFuzzer target: checkpoint loading (load_checkpoint of a file on disk).
//
// Input: byte 0 picks the mode (b % 3):
//   0  the rest is the whole file;
//   1  the rest is the payload (a Record), wrapped here in a valid header so that the mutations
//      reach the Record parser instead of stopping at the checksum;
//   2  structure-aware: the rest drives the building of a well-formed Record whose entries are
//      each missing, of the wrong type or given a fuzzed value, and whose weights are those of a
//      real model, of the other variant, with one tensor missing, reshaped, retyped or extra --
//      this reaches the metadata and weight checks behind the parser.
// A real checkpoint is megabytes, too big to commit as a seed: with FACEID_FUZZ_DUMP_SEEDS=DIR
// set, mode 2 also writes the file it built into DIR as a mode-0 and a mode-1 seed
// (scripts/fuzz.sh does this once from the committed mode-2 seeds).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <type_traits>
#include <string>
#include <string_view>
#include <vector>

#include <torch/torch.h>

#include "faceid/model/model.hpp"
#include "faceid/model/record.hpp"
#include "faceid/model/checkpoint.hpp"
#include "fuzz_util.hpp"

namespace {

using TensorDict = std::map<std::string, torch::Tensor>;

// Consumes the fuzz input from the front; zeros once it runs out.
class Bytes {
 public:
  explicit Bytes(std::string_view s) : s_(s) {}
  uint8_t u8() { return at_ < s_.size() ? static_cast<uint8_t>(s_[at_++]) : 0; }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(u8()) << (8 * i);
    return v;
  }
  uint64_t u64() { return u32() | static_cast<uint64_t>(u32()) << 32; }
  double f64() {
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits |= static_cast<uint64_t>(u8()) << (8 * i);
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  std::string str() {
    const size_t n = u8() % 24;
    std::string out;
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(u8()));
    return out;
  }

 private:
  std::string_view s_;
  size_t at_ = 0;
};

struct Reference {
  TensorDict parameters;
  TensorDict buffers;
};

// The input side of the reference models: faceid_beta's first dense layer grows with the square
// of the side (37 MB of weights at 128), so it is kept at its minimum, where it is 1 MB.
int reference_side(bool beta) { return beta ? 33 : 128; }

Reference reference_weights(faceid::ModelVariant variant) {
  faceid::ModelConfig mc;
  mc.variant = variant;
  faceid::EmbeddingNet net(mc, reference_side(variant == faceid::ModelVariant::faceid_beta));
  Reference r;
  for (const auto& p : net->named_parameters()) r.parameters.emplace(p.key(), p.value().detach());
  for (const auto& b : net->named_buffers()) r.buffers.emplace(b.key(), b.value().detach());
  return r;
}

const Reference& reference(bool beta) {
  static const Reference squeeze = reference_weights(faceid::ModelVariant::squeezenet1_1);
  static const Reference beta_ref = reference_weights(faceid::ModelVariant::faceid_beta);
  return beta ? beta_ref : squeeze;
}

// The weights of the reference, with one fuzzed change.
TensorDict fuzzed_tensors(const TensorDict& ref, Bytes& in) {
  TensorDict out = ref;
  const uint8_t op = in.u8() % 6;
  const size_t pick = ref.empty() ? 0 : in.u8() % ref.size();
  auto it = ref.begin();
  for (size_t i = 0; i < pick && it != ref.end(); ++i) ++it;
  if (it == ref.end()) return out;
  switch (op) {
    case 1: out.erase(it->first); break;
    case 2: out[it->first] = torch::zeros({1 + in.u8() % 7}); break;
    case 3: out[in.str() + "extra"] = torch::zeros({1}); break;
    case 4: out[it->first] = torch::zeros({}, torch::kInt64); break;
    case 5: out[it->first] = it->second.to(torch::kFloat64); break;
    default: break;
  }
  return out;
}

std::string structured_payload(Bytes& in) {
  faceid::Record r;
  // Each entry: 0 = missing, 1 = wrong type, otherwise a value.
  auto entry = [&](const std::string& key, auto good) {
    const uint8_t how = in.u8() % 8;
    if (how == 0) return;
    if (how == 1) {
      if constexpr (std::is_same_v<decltype(good), std::string>) {
        r.put(key, int64_t{7});
      } else {
        r.put(key, std::string("x"));
      }
      return;
    }
    r.put(key, good);
  };
  entry("kind", in.u8() % 4 == 0 ? in.str() : std::string("faceid.checkpoint"));
  const uint8_t v = in.u8() % 4;
  const bool beta = v == 1;
  entry("model/variant", v == 0   ? std::string("squeezenet1_1")
                         : v == 1 ? std::string("faceid_beta")
                                  : in.str());
  const uint8_t d = in.u8() % 4;
  entry("model/embedding_dim", d < 2 ? int64_t{128} : static_cast<int64_t>(in.u64()));
  entry("model/dropout", in.u8() % 2 == 0 ? 0.2 : in.f64());
  const uint8_t s = in.u8() % 4;
  entry("model/input_size",
        s < 2 ? static_cast<int64_t>(reference_side(beta)) : static_cast<int64_t>(in.u64()));
  entry("epoch", static_cast<int64_t>(in.u32()));
  entry("step", static_cast<int64_t>(in.u32()));
  entry("sampler_state", static_cast<int64_t>(in.u32()));
  entry("torch_rng_state",
        in.u8() % 2 == 0 ? faceid::capture_torch_rng_state() : torch::zeros({in.u8() % 9}));
  entry("config_yaml", in.str());
  for (int i = in.u8() % 3; i > 0; --i) r.put("metric/" + in.str(), in.f64());
  entry("eer_threshold", in.f64());
  entry("optimizer/kind", in.str());
  const bool other = in.u8() % 4 == 0;  // weights of the other variant
  const Reference& ref = reference(beta != other);
  for (const auto& [name, t] : fuzzed_tensors(ref.parameters, in)) r.put("parameter/" + name, t);
  for (const auto& [name, t] : fuzzed_tensors(ref.buffers, in)) r.put("buffer/" + name, t);
  return r.serialize();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string file;
  switch (data[0] % 3) {
    case 0: file.assign(rest); break;
    case 1: file = faceid::fuzz::with_header(faceid::kCheckpointMagic, faceid::kCheckpointFormatVersion, rest); break;
    default: {
      Bytes in(rest);
      const std::string payload = structured_payload(in);
      file = faceid::fuzz::with_header(faceid::kCheckpointMagic, faceid::kCheckpointFormatVersion,
                                       payload);
      static const char* const dump = std::getenv("FACEID_FUZZ_DUMP_SEEDS");
      if (dump != nullptr) {
        const std::string id = std::to_string(faceid::fuzz::fnv1a64(file));
        faceid::fuzz::write_bytes(std::filesystem::path(dump) / ("file-" + id), '\0' + file);
        faceid::fuzz::write_bytes(std::filesystem::path(dump) / ("payload-" + id), '\1' + payload);
      }
    }
  }
  static const std::filesystem::path path = faceid::fuzz::scratch_dir() / "fuzz.pt";
  faceid::fuzz::write_bytes(path, file);
  faceid::fuzz::expect_only_faceid_errors([&] {
    const faceid::LoadedCheckpoint ck = faceid::load_checkpoint(path);
    if (!ck.model) __builtin_trap();
  });
  return 0;
}
