#include "faceid/model/record.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "faceid/error.hpp"

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

void put_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t get_le(std::string_view in, size_t offset, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[offset + i])) << (8 * i);
  }
  return v;
}

// Reads the payload front to back; every read is bounds-checked.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  size_t left() const { return s_.size() - at_; }
  size_t offset() const { return at_; }
  uint64_t le(int bytes, const char* what) {
    need(static_cast<size_t>(bytes), what);
    const uint64_t v = get_le(s_, at_, bytes);
    at_ += static_cast<size_t>(bytes);
    return v;
  }
  std::string_view take(size_t n, const char* what) {
    need(n, what);
    const auto out = s_.substr(at_, n);
    at_ += n;
    return out;
  }

 private:
  void need(size_t n, const char* what) const {
    if (left() < n) {
      throw_bad_input(fmt::format("truncated record: {} needs {} bytes at offset {}, {} left",
                                  what, n, at_, left()));
    }
  }
  std::string_view s_;
  size_t at_ = 0;
};

torch::Tensor read_tensor(Reader& in, const std::string& key) {
  const auto code = static_cast<uint8_t>(in.le(1, "a tensor dtype"));
  torch::ScalarType dtype;
  switch (code) {
    case 1: dtype = torch::kFloat32; break;
    case 2: dtype = torch::kFloat64; break;
    case 3: dtype = torch::kInt64; break;
    case 4: dtype = torch::kUInt8; break;
    default: throw_bad_input(fmt::format("'{}': unknown tensor dtype code {}", key, code));
  }
  const auto rank = static_cast<int>(in.le(1, "a tensor rank"));
  if (rank > kMaxRank) {
    throw_bad_input(fmt::format("'{}': tensor rank {}, at most {}", key, rank, kMaxRank));
  }
  const size_t element = c10::elementSize(dtype);
  std::vector<int64_t> dims(static_cast<size_t>(rank));
  uint64_t numel = 1;
  for (int i = 0; i < rank; ++i) {
    const auto d = static_cast<int64_t>(in.le(8, "a tensor dimension"));
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
  const std::string_view data = in.take(numel * element, "tensor data");
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
  std::string out;
  put_le(out, values_.size(), 4);
  for (const auto& [key, value] : values_) {
    if (key.size() > kMaxKey) throw_internal(fmt::format("Record: key of {} bytes", key.size()));
    put_le(out, key.size(), 2);
    out += key;
    switch (value.index()) {
      case 0:
        out.push_back(kInt);
        put_le(out, static_cast<uint64_t>(std::get<int64_t>(value)), 8);
        break;
      case 1: {
        out.push_back(kDouble);
        uint64_t bits;
        const double d = std::get<double>(value);
        std::memcpy(&bits, &d, sizeof bits);
        put_le(out, bits, 8);
        break;
      }
      case 2:
        out.push_back(kString);
        put_le(out, std::get<std::string>(value).size(), 8);
        out += std::get<std::string>(value);
        break;
      default: {
        const torch::Tensor& t = std::get<torch::Tensor>(value);
        out.push_back(kTensor);
        out.push_back(static_cast<char>(dtype_code(t.scalar_type())));
        out.push_back(static_cast<char>(t.dim()));
        for (int64_t d : t.sizes()) put_le(out, static_cast<uint64_t>(d), 8);
        out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
      }
    }
  }
  return out;
}

Record Record::parse(std::string_view bytes) {
  Reader in(bytes);
  Record out;
  const uint64_t count = in.le(4, "the entry count");
  for (uint64_t i = 0; i < count; ++i) {
    const size_t key_size = in.le(2, "a key length");
    if (key_size == 0 || key_size > kMaxKey) {
      throw_bad_input(fmt::format("entry {}: key of {} bytes", i, key_size));
    }
    std::string key(in.take(key_size, "a key"));
    if (out.values_.count(key) > 0) throw_bad_input(fmt::format("'{}' appears twice", key));
    const auto type = static_cast<uint8_t>(in.le(1, "a value type"));
    switch (type) {
      case kInt: out.values_[key] = static_cast<int64_t>(in.le(8, "an integer")); break;
      case kDouble: {
        const uint64_t bits = in.le(8, "a double");
        double d;
        std::memcpy(&d, &bits, sizeof d);
        out.values_[key] = d;
        break;
      }
      case kString: {
        const uint64_t n = in.le(8, "a string length");
        if (n > in.left()) {
          throw_bad_input(fmt::format("'{}': string of {} bytes, {} left", key, n, in.left()));
        }
        out.values_[key] = std::string(in.take(n, "a string"));
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

std::string seal(const char* magic, uint32_t version, std::string_view payload) {
  Fnv1a64 hash;
  hash.update(payload.data(), payload.size());
  std::string file(magic, 8);
  put_le(file, version, 4);
  put_le(file, payload.size(), 8);
  put_le(file, hash.digest(), 8);
  file += payload;
  return file;
}

std::string_view unseal(const std::string& bytes, const char* magic, uint32_t version,
                        const std::filesystem::path& path, const char* what) {
  const std::string p = path.string();
  if (bytes.size() < kSealedHeaderSize) {
    throw_bad_input(fmt::format("{}: corrupt {} (truncated: {} bytes, the header alone is {})", p,
                                what, bytes.size(), kSealedHeaderSize));
  }
  if (bytes.compare(0, 8, magic, 8) != 0) {
    throw_bad_input(fmt::format("{}: not a faceid {} (bad magic)", p, what));
  }
  const uint64_t file_version = get_le(bytes, 8, 4);
  if (file_version != version) {
    throw_bad_input(
        fmt::format("{}: {} format version {}, expected {}", p, what, file_version, version));
  }
  const uint64_t payload_size = get_le(bytes, 12, 8);
  const uint64_t checksum = get_le(bytes, 20, 8);
  if (bytes.size() - kSealedHeaderSize != payload_size) {
    throw_bad_input(fmt::format("{}: corrupt {} (payload is {} bytes, header says {})", p, what,
                                bytes.size() - kSealedHeaderSize, payload_size));
  }
  const std::string_view payload(bytes.data() + kSealedHeaderSize, payload_size);
  Fnv1a64 hash;
  hash.update(payload.data(), payload.size());
  if (hash.digest() != checksum) {
    throw_bad_input(fmt::format("{}: corrupt {} (checksum mismatch)", p, what));
  }
  return payload;
}

}  // namespace faceid
