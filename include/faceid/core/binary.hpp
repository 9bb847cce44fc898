// faceid's one binary container: a little-endian writer and a bounded reader, the sealed file
// around a payload (magic, version, size, checksum) and its FNV-1a checksum. Checkpoints and
// liveness models (faceid/model/record.hpp) and the template store's plaintext
// (faceid/runtime/template_store.hpp) are all written and read with these.
//
// Encoding: integers little-endian, two's complement; floats as the little-endian bytes of their
// IEEE-754 bits; a string as its length (u16, u32 or u64, LengthPrefix) followed by its bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory_resource>
#include <string>
#include <string_view>

namespace faceid {

// Overwrites memory that held secrets (plaintext templates, keys) in a way the compiler cannot
// elide as a dead store.
void wipe(void* data, size_t size);
// Wipes the string's bytes, then clears it (its capacity is kept).
void wipe(std::string& bytes);

enum class LengthPrefix { u16, u32, u64 };

// Appends little-endian values to a growing buffer.
//
// Sensitive mode: no byte written ever outlives the writer in memory it freed. Every buffer the
// writer held is wiped (all of its capacity) before it goes back to the memory resource: when the
// writer grows (it allocates the bigger buffer, copies, wipes and frees the old one; never
// realloc), when take() hands the bytes over, and when the writer is destroyed or assigned to.
// What take() returns, and what the caller copies out of view(), is the caller's to wipe. In
// plain mode buffers are freed without wiping.
//
// All buffers come from `memory` (default: the default resource, operator new): a caller may pass
// one that locks its pages in RAM (keeping secrets out of swap) or that checks what it gets back.
class ByteWriter {
 public:
  enum class Mode { plain, sensitive };

  explicit ByteWriter(Mode mode = Mode::plain,
                      std::pmr::memory_resource* memory = std::pmr::get_default_resource());
  ~ByteWriter();
  ByteWriter(ByteWriter&& other) noexcept;
  ByteWriter& operator=(ByteWriter&& other) noexcept;
  ByteWriter(const ByteWriter&) = delete;
  ByteWriter& operator=(const ByteWriter&) = delete;

  void put_u8(uint8_t value);
  void put_u16(uint16_t value);
  void put_u32(uint32_t value);
  void put_u64(uint64_t value);
  void put_f32(float value);
  void put_f64(double value);
  // Raw bytes; they must not point into this writer's own buffer (growing frees it).
  void put_bytes(const void* data, size_t size);
  void put_bytes(std::string_view bytes) { put_bytes(bytes.data(), bytes.size()); }
  // The length, then the bytes. Errc::internal when the length does not fit the prefix.
  void put_str(std::string_view text, LengthPrefix prefix);

  // Makes room for `size` bytes in all, so that writing up to that many allocates nothing more.
  void reserve(size_t size);
  size_t size() const { return size_; }
  // The bytes so far; valid until the next put, reserve or take.
  std::string_view view() const { return {data_, size_}; }
  // The bytes as a string allocated once at its final size; the writer is empty afterwards (and
  // in sensitive mode its buffer is wiped).
  std::string take();

 private:
  void grow(size_t needed);
  void release();  // wipes (sensitive) and frees the buffer
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  Mode mode_;
  std::pmr::memory_resource* memory_;
};

// Reads values front to back from a view; every read is checked against the bytes that remain.
// A read past the end is Errc::bad_input "<context>: <what> needs N bytes at offset O, L left",
// e.g. "truncated record: a key needs 12 bytes at offset 40, 3 left" (array(): "needs C x S
// bytes").
class ByteReader {
 public:
  // `bytes` is viewed, not copied: it must outlive the reader.
  ByteReader(std::string_view bytes, std::string context);

  uint8_t u8(const char* what);
  uint16_t u16(const char* what);
  uint32_t u32(const char* what);
  uint64_t u64(const char* what);
  float f32(const char* what);
  double f64(const char* what);
  // The next `size` bytes, a view into the input.
  std::string_view bytes(uint64_t size, const char* what);
  // The next `count` elements of `element_size` bytes; the check cannot overflow, so a forged
  // count is refused before anyone allocates for it.
  std::string_view array(uint64_t count, size_t element_size, const char* what);
  // A length-prefixed string; a missing length names "the length of <what>".
  std::string_view str(LengthPrefix prefix, const char* what);

  size_t offset() const { return at_; }
  size_t left() const { return bytes_.size() - at_; }
  bool done() const { return at_ == bytes_.size(); }

 private:
  // Checked reads; `of` prefixes `what` in the message ("the length of ").
  std::string_view take(uint64_t size, const char* of, const char* what);
  uint64_t le(size_t size, const char* of, const char* what);
  std::string_view bytes_;
  std::string context_;
  size_t at_ = 0;
};

// FNV-1a 64, the sealed files' checksum and the model fingerprint.
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

// The sealed file: magic (8 bytes), format version (u32), payload size (u64), FNV-1a 64 of the
// payload (u64), then the payload. The checksum catches damage, not forgery: what it admits is
// still parsed defensively.
constexpr size_t kSealedHeaderSize = 8 + 4 + 8 + 8;

// Appends the sealed file of `payload` to `out` (reserve kSealedHeaderSize + payload.size()
// first to seal without a reallocation).
void write_sealed(ByteWriter& out, const char* magic, uint32_t version, std::string_view payload);
// The sealed file of `payload`, from a plain writer (model files, not secrets).
std::string seal(const char* magic, uint32_t version, std::string_view payload);

// A sealed buffer taken apart, for readers that word their own errors (the template store).
struct SealedView {
  // The first fault found, checked in this order.
  enum class Fault {
    none,
    bad_magic,      // the bytes present differ from the magic (also when fewer than 8)
    short_header,   // fewer than kSealedHeaderSize bytes
    bad_version,    // outside [min_version, max_version]
    short_payload,  // fewer payload bytes than the header says
    long_payload,   // more payload bytes than the header says
    bad_checksum,
  };
  Fault fault = Fault::none;
  uint32_t version = 0;       // from the header (once it is complete)
  uint64_t payload_size = 0;  // what the header says
  std::string_view payload;   // every byte after the header; the payload when fault == none
};
SealedView inspect_sealed(std::string_view bytes, const char* magic, uint32_t min_version,
                          uint32_t max_version);

// Checks a sealed file's bytes and returns its payload (a view into `bytes`). `what` names the
// kind of file in messages ("checkpoint", "liveness model"); `path` is only for messages.
// Errc::bad_input "<path>: not a faceid <what> (bad magic)", "<path>: <what> format version 1,
// expected 2", "<path>: corrupt <what> (truncated: ...|payload is N bytes, header says M|checksum
// mismatch)".
std::string_view unseal(std::string_view bytes, const char* magic, uint32_t version,
                        const std::filesystem::path& path, const char* what);

}  // namespace faceid
