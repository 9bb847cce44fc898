#include "faceid/model/record.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "faceid/core/error.hpp"

namespace faceid {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "Record writes tensors as raw little-endian bytes");

enum Type : uint8_t { kInt = 1, kDouble = 2, kString = 3, kTensor = 4 };
constexpr int kMaxRank = 8;
constexpr size_t kMaxKey = 4096;

uint8_t dtype_code(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return 1;
    case torch::kFloat64: return 2;
    case torch::kInt64: return 3;
    case torch::kUInt8: return 4;
    default: throw_internal(fmt::format("Record: unsupported tensor dtype {}", c10::toString(t)));
  }
}

const char* type_name(size_t index) {
  static const char* const names[] = {"an integer", "a double", "a string", "a tensor"};
  return names[index];
}

torch::Tensor read_tensor(ByteReader& in, const std::string& key) {
  const uint8_t code = in.u8("a tensor dtype");
  torch::ScalarType dtype;
  switch (code) {
    case 1: dtype = torch::kFloat32; break;
    case 2: dtype = torch::kFloat64; break;
    case 3: dtype = torch::kInt64; break;
    case 4: dtype = torch::kUInt8; break;
    default: throw_bad_input(fmt::format("'{}': unknown tensor dtype code {}", key, code));
  }
  const int rank = in.u8("a tensor rank");
  if (rank > kMaxRank) {
    throw_bad_input(fmt::format("'{}': tensor rank {}, at most {}", key, rank, kMaxRank));
  }
  const size_t element = c10::elementSize(dtype);
  std::vector<int64_t> dims(static_cast<size_t>(rank));
  uint64_t numel = 1;
  for (int i = 0; i < rank; ++i) {
    const auto d = static_cast<int64_t>(in.u64("a tensor dimension"));
    if (d < 0) throw_bad_input(fmt::format("'{}': negative tensor dimension {}", key, d));
    dims[static_cast<size_t>(i)] = d;
    // Bound the product by the bytes that remain before multiplying on (no overflow, no
    // allocation the data cannot fill).
    if (d != 0 && numel > in.left() / element / static_cast<uint64_t>(d)) {
      throw_bad_input(fmt::format("'{}': tensor dimension {} of size {} needs more than the {} bytes left",
                                  key, i, d, in.left()));
    }
    numel *= static_cast<uint64_t>(d);
  }
  const std::string_view data = in.bytes(numel * element, "tensor data");
  torch::Tensor t = torch::empty(dims, torch::TensorOptions().dtype(dtype));
  if (!data.empty()) std::memcpy(t.data_ptr(), data.data(), data.size());
  return t;
}

}  // namespace

void Record::put(const std::string& key, int64_t value) { values_[key] = value; }
void Record::put(const std::string& key, double value) { values_[key] = value; }
void Record::put(const std::string& key, std::string value) { values_[key] = std::move(value); }
void Record::put(const std::string& key, const torch::Tensor& value) {
  dtype_code(value.scalar_type());
  if (value.dim() > kMaxRank) throw_internal(fmt::format("Record: '{}' has rank {}", key, value.dim()));
  values_[key] = value.detach().to(torch::kCPU).contiguous().clone();
}

const Record::Value& Record::at(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end()) throw_bad_input(fmt::format("missing '{}'", key));
  return it->second;
}

namespace {
template <typename T>
const T& typed(const std::variant<int64_t, double, std::string, torch::Tensor>& v,
               const std::string& key, size_t want) {
  if (v.index() != want) {
    throw_bad_input(fmt::format("'{}' is {}, expected {}", key, type_name(v.index()), type_name(want)));
  }
  return std::get<T>(v);
}
}  // namespace

int64_t Record::get_int(const std::string& key) const { return typed<int64_t>(at(key), key, 0); }
double Record::get_double(const std::string& key) const { return typed<double>(at(key), key, 1); }
const std::string& Record::get_string(const std::string& key) const {
  return typed<std::string>(at(key), key, 2);
}
const torch::Tensor& Record::get_tensor(const std::string& key) const {
  return typed<torch::Tensor>(at(key), key, 3);
}

std::vector<std::string> Record::keys_under(const std::string& prefix) const {
  std::vector<std::string> out;
  for (auto it = values_.lower_bound(prefix); it != values_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back(it->first.substr(prefix.size()));
  }
  return out;
}

std::string Record::serialize() const {
  ByteWriter out;
  out.put_u32(static_cast<uint32_t>(values_.size()));
  for (const auto& [key, value] : values_) {
    if (key.size() > kMaxKey) throw_internal(fmt::format("Record: key of {} bytes", key.size()));
    out.put_str(key, LengthPrefix::u16);
    switch (value.index()) {
      case 0:
        out.put_u8(kInt);
        out.put_u64(static_cast<uint64_t>(std::get<int64_t>(value)));
        break;
      case 1:
        out.put_u8(kDouble);
        out.put_f64(std::get<double>(value));
        break;
      case 2:
        out.put_u8(kString);
        out.put_str(std::get<std::string>(value), LengthPrefix::u64);
        break;
      default: {
        const torch::Tensor& t = std::get<torch::Tensor>(value);
        out.put_u8(kTensor);
        out.put_u8(dtype_code(t.scalar_type()));
        out.put_u8(static_cast<uint8_t>(t.dim()));
        for (int64_t d : t.sizes()) out.put_u64(static_cast<uint64_t>(d));
        out.put_bytes(t.data_ptr(), t.numel() * t.element_size());
      }
    }
  }
  return out.take();
}

Record Record::parse(std::string_view bytes) {
  ByteReader in(bytes, "truncated record");
  Record out;
  const uint32_t count = in.u32("the entry count");
  for (uint32_t i = 0; i < count; ++i) {
    const size_t key_size = in.u16("a key length");
    if (key_size == 0 || key_size > kMaxKey) {
      throw_bad_input(fmt::format("entry {}: key of {} bytes", i, key_size));
    }
    std::string key(in.bytes(key_size, "a key"));
    if (out.values_.count(key) > 0) throw_bad_input(fmt::format("'{}' appears twice", key));
    const uint8_t type = in.u8("a value type");
    switch (type) {
      case kInt: out.values_[key] = static_cast<int64_t>(in.u64("an integer")); break;
      case kDouble: out.values_[key] = in.f64("a double"); break;
      case kString: {
        const uint64_t n = in.u64("a string length");
        if (n > in.left()) {
          throw_bad_input(fmt::format("'{}': string of {} bytes, {} left", key, n, in.left()));
        }
        out.values_[key] = std::string(in.bytes(n, "a string"));
        break;
      }
      case kTensor: out.values_[key] = read_tensor(in, key); break;
      default: throw_bad_input(fmt::format("'{}': unknown value type {}", key, type));
    }
  }
  if (in.left() != 0) {
    throw_bad_input(fmt::format("{} unexpected bytes after the last entry", in.left()));
  }
  return out;
}

namespace {

using Named = std::vector<std::pair<std::string, torch::Tensor>>;

Named named(const torch::OrderedDict<std::string, torch::Tensor>& d) {
  Named out;
  for (const auto& item : d) out.emplace_back(item.key(), item.value());
  return out;
}

void check_tensors(const Record& r, const std::string& prefix, const char* kind, const Named& expected,
                   const std::string& path, const char* what) {
  for (const auto& [name, t] : expected) {
    if (!r.has(prefix + name)) {
      throw_bad_input(fmt::format("{}: {} {} is missing from the {}", path, kind, name, what));
    }
    const torch::Tensor& stored = r.get_tensor(prefix + name);
    if (stored.sizes() != t.sizes()) {
      throw_bad_input(fmt::format("{}: {} {} has shape {} in the {}, expected {}", path, kind, name,
                                  c10::str(stored.sizes()), what, c10::str(t.sizes())));
    }
    if (stored.scalar_type() != t.scalar_type()) {
      throw_bad_input(fmt::format("{}: {} {} has dtype {} in the {}, expected {}", path, kind, name,
                                  c10::toString(stored.scalar_type()), what,
                                  c10::toString(t.scalar_type())));
    }
  }
  for (const auto& name : r.keys_under(prefix)) {
    const bool known = std::any_of(expected.begin(), expected.end(),
                                   [&](const auto& p) { return p.first == name; });
    if (!known) throw_bad_input(fmt::format("{}: unexpected {} {} in the {}", path, kind, name, what));
  }
}

}  // namespace

void put_module_state(Record& record, torch::nn::Module& module) {
  for (const auto& [name, t] : named(module.named_parameters())) record.put("parameter/" + name, t);
  for (const auto& [name, t] : named(module.named_buffers())) record.put("buffer/" + name, t);
}

void load_module_state(const Record& record, torch::nn::Module& module,
                       const std::filesystem::path& path, const char* what) {
  const Named params = named(module.named_parameters());
  const Named buffers = named(module.named_buffers());
  const std::string p = path.string();
  try {
    check_tensors(record, "parameter/", "parameter", params, p, what);
    check_tensors(record, "buffer/", "buffer", buffers, p, what);
  } catch (const Error& e) {
    // The record's own errors ("'parameter/x' is a string, ...") do not name the file yet.
    if (e.code() != Errc::bad_input || std::string_view(e.what()).rfind(p + ": ", 0) == 0) throw;
    throw_bad_input(fmt::format("{}: corrupt {} ({})", p, what, e.what()));
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : params) t.copy_(record.get_tensor("parameter/" + name));
  for (const auto& [name, t] : buffers) t.copy_(record.get_tensor("buffer/" + name));
}

}  // namespace faceid
