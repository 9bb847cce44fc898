// faceid's own container for model files: a flat record of named integers, doubles, strings and
// dense CPU tensors, written with the core binary container and sealed into a file by seal() /
// unseal() (faceid/core/binary.hpp: magic, version, size, checksum).
//
// Checkpoints and liveness models were torch archives (zip + pickle + TorchScript). A forged
// archive with a valid checksum crashed libtorch's importer (fuzz_checkpoint finding 5, a SEGV
// in ScriptTypeParser::parseClassConstant), which no try/catch can turn into an error. A Record
// is parsed by faceid alone: every count, length, rank, dimension and dtype is checked against
// the bytes that remain before anything is allocated, so bad bytes are an Errc::bad_input, never
// a crash or a huge allocation.
//
// Payload layout (little-endian): u32 entry count, then per entry: u16 key length, key bytes,
// u8 type (1 int64, 2 double, 3 string, 4 tensor) and the value -- int64/double: 8 bytes;
// string: u64 length + bytes; tensor: u8 dtype (1 float32, 2 float64, 3 int64, 4 uint8), u8
// rank (<= 8), rank x i64 dimensions, then numel x element-size raw bytes. Keys are unique;
// nothing may follow the last entry.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "faceid/core/binary.hpp"

namespace faceid {

class Record {
 public:
  // put: adds or replaces; tensors are copied to contiguous CPU memory (float32, float64, int64
  // or uint8; anything else is Errc::internal).
  void put(const std::string& key, int64_t value);
  void put(const std::string& key, double value);
  void put(const std::string& key, std::string value);
  void put(const std::string& key, const torch::Tensor& value);

  bool has(const std::string& key) const { return values_.count(key) > 0; }
  // get_*: Errc::bad_input "missing 'key'" or "'key' is a string, expected an integer".
  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  const torch::Tensor& get_tensor(const std::string& key) const;
  // The keys that start with `prefix`, in sorted order, with the prefix removed.
  std::vector<std::string> keys_under(const std::string& prefix) const;
  size_t size() const { return values_.size(); }

  std::string serialize() const;
  // Errc::bad_input with a message naming what is wrong (no file name: callers add it).
  static Record parse(std::string_view bytes);

 private:
  using Value = std::variant<int64_t, double, std::string, torch::Tensor>;
  const Value& at(const std::string& key) const;
  std::map<std::string, Value> values_;
};

// A module's parameters and buffers under parameter/<dotted name> and buffer/<dotted name>.
void put_module_state(Record& record, torch::nn::Module& module);

// Copies them back into `module` after checking every name, shape and dtype both ways; nothing is
// copied unless all match. Errc::bad_input "<path>: parameter head.1.weight has shape [512, 2048]
// in the <what>, expected [512, 4608]", "... is missing from the <what>", "unexpected buffer x in
// the <what>", "... has dtype Double in the <what>, expected Float".
void load_module_state(const Record& record, torch::nn::Module& module,
                       const std::filesystem::path& path, const char* what);

}  // namespace faceid
