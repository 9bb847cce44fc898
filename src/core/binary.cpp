#include "faceid/core/binary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "faceid/core/error.hpp"

namespace faceid {

void wipe(void* data, size_t size) {
  if (size != 0) explicit_bzero(data, size);
}

void wipe(std::string& bytes) {
  wipe(bytes.data(), bytes.size());
  bytes.clear();
}

// ---- ByteWriter ----------------------------------------------------------------------------

ByteWriter::ByteWriter(Mode mode, std::pmr::memory_resource* memory)
    : mode_(mode), memory_(memory) {}

ByteWriter::~ByteWriter() { release(); }

ByteWriter::ByteWriter(ByteWriter&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      mode_(other.mode_),
      memory_(other.memory_) {}

ByteWriter& ByteWriter::operator=(ByteWriter&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    mode_ = other.mode_;
    memory_ = other.memory_;
  }
  return *this;
}

void ByteWriter::release() {
  if (data_ == nullptr) return;
  if (mode_ == Mode::sensitive) wipe(data_, capacity_);
  memory_->deallocate(data_, capacity_, 1);
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
}

void ByteWriter::grow(size_t needed) {
  const size_t capacity = std::max({needed, 2 * capacity_, size_t{64}});
  auto* bigger = static_cast<char*>(memory_->allocate(capacity, 1));
  if (size_ != 0) std::memcpy(bigger, data_, size_);
  const size_t size = size_;
  release();
  data_ = bigger;
  size_ = size;
  capacity_ = capacity;
}

void ByteWriter::reserve(size_t size) {
  if (size > capacity_) grow(size);
}

void ByteWriter::put_bytes(const void* data, size_t size) {
  if (size == 0) return;
  if (size > capacity_ - size_) grow(size_ + size);
  std::memcpy(data_ + size_, data, size);
  size_ += size;
}

namespace {
template <typename T>
void put_le(ByteWriter& out, T value) {
  unsigned char bytes[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<unsigned char>(value >> (8 * i));
  out.put_bytes(bytes, sizeof bytes);
}
}  // namespace

void ByteWriter::put_u8(uint8_t value) { put_bytes(&value, 1); }
void ByteWriter::put_u16(uint16_t value) { put_le(*this, value); }
void ByteWriter::put_u32(uint32_t value) { put_le(*this, value); }
void ByteWriter::put_u64(uint64_t value) { put_le(*this, value); }

void ByteWriter::put_f32(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  put_u32(bits);
}

void ByteWriter::put_f64(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  put_u64(bits);
}

void ByteWriter::put_str(std::string_view text, LengthPrefix prefix) {
  const uint64_t max = prefix == LengthPrefix::u16   ? std::numeric_limits<uint16_t>::max()
                       : prefix == LengthPrefix::u32 ? std::numeric_limits<uint32_t>::max()
                                                     : std::numeric_limits<uint64_t>::max();
  if (text.size() > max) {
    throw_internal(fmt::format("ByteWriter: a string of {} bytes does not fit its length prefix",
                               text.size()));
  }
  switch (prefix) {
    case LengthPrefix::u16: put_u16(static_cast<uint16_t>(text.size())); break;
    case LengthPrefix::u32: put_u32(static_cast<uint32_t>(text.size())); break;
    case LengthPrefix::u64: put_u64(text.size()); break;
  }
  put_bytes(text);
}

std::string ByteWriter::take() {
  std::string out(data_ == nullptr ? "" : data_, size_);
  release();
  return out;
}

// ---- ByteReader ----------------------------------------------------------------------------

ByteReader::ByteReader(std::string_view bytes, std::string context)
    : bytes_(bytes), context_(std::move(context)) {}

std::string_view ByteReader::take(uint64_t size, const char* of, const char* what) {
  if (size > left()) {
    throw_bad_input(fmt::format("{}: {}{} needs {} bytes at offset {}, {} left", context_, of, what,
                                size, at_, left()));
  }
  const std::string_view out = bytes_.substr(at_, size);
  at_ += size;
  return out;
}

uint64_t ByteReader::le(size_t size, const char* of, const char* what) {
  const std::string_view b = take(size, of, what);
  uint64_t v = 0;
  for (size_t i = 0; i < size; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(b[i])) << (8 * i);
  }
  return v;
}

std::string_view ByteReader::bytes(uint64_t size, const char* what) { return take(size, "", what); }

std::string_view ByteReader::array(uint64_t count, size_t element_size, const char* what) {
  if (element_size != 0 && count > left() / element_size) {
    throw_bad_input(fmt::format("{}: {} needs {} x {} bytes at offset {}, {} left", context_, what,
                                count, element_size, at_, left()));
  }
  return take(count * element_size, "", what);
}

uint8_t ByteReader::u8(const char* what) { return static_cast<uint8_t>(le(1, "", what)); }
uint16_t ByteReader::u16(const char* what) { return static_cast<uint16_t>(le(2, "", what)); }
uint32_t ByteReader::u32(const char* what) { return static_cast<uint32_t>(le(4, "", what)); }
uint64_t ByteReader::u64(const char* what) { return le(8, "", what); }

float ByteReader::f32(const char* what) {
  const uint32_t bits = u32(what);
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

double ByteReader::f64(const char* what) {
  const uint64_t bits = u64(what);
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

std::string_view ByteReader::str(LengthPrefix prefix, const char* what) {
  const size_t width = prefix == LengthPrefix::u16 ? 2 : prefix == LengthPrefix::u32 ? 4 : 8;
  return take(le(width, "the length of ", what), "", what);
}

// ---- the sealed file -----------------------------------------------------------------------

void write_sealed(ByteWriter& out, const char* magic, uint32_t version, std::string_view payload) {
  Fnv1a64 hash;
  hash.update(payload.data(), payload.size());
  out.put_bytes(magic, 8);
  out.put_u32(version);
  out.put_u64(payload.size());
  out.put_u64(hash.digest());
  out.put_bytes(payload);
}

std::string seal(const char* magic, uint32_t version, std::string_view payload) {
  ByteWriter out;
  out.reserve(kSealedHeaderSize + payload.size());
  write_sealed(out, magic, version, payload);
  return out.take();
}

SealedView inspect_sealed(std::string_view bytes, const char* magic, uint32_t min_version,
                          uint32_t max_version) {
  using Fault = SealedView::Fault;
  SealedView out;
  if (bytes.compare(0, 8, magic, std::min<size_t>(bytes.size(), 8)) != 0) {
    out.fault = Fault::bad_magic;
    return out;
  }
  if (bytes.size() < kSealedHeaderSize) {
    out.fault = Fault::short_header;
    return out;
  }
  ByteReader header(bytes.substr(8, kSealedHeaderSize - 8), "sealed header");
  out.version = header.u32("the format version");
  out.payload_size = header.u64("the payload size");
  const uint64_t checksum = header.u64("the checksum");
  out.payload = bytes.substr(kSealedHeaderSize);
  if (out.version < min_version || out.version > max_version) {
    out.fault = Fault::bad_version;
  } else if (out.payload.size() < out.payload_size) {
    out.fault = Fault::short_payload;
  } else if (out.payload.size() > out.payload_size) {
    out.fault = Fault::long_payload;
  } else {
    Fnv1a64 hash;
    hash.update(out.payload.data(), out.payload.size());
    if (hash.digest() != checksum) out.fault = Fault::bad_checksum;
  }
  return out;
}

namespace {
[[noreturn]] void throw_truncated(const std::string& path, const char* what, size_t size) {
  throw_bad_input(fmt::format("{}: corrupt {} (truncated: {} bytes, the header alone is {})", path,
                              what, size, kSealedHeaderSize));
}
}  // namespace

std::string_view unseal(std::string_view bytes, const char* magic, uint32_t version,
                        const std::filesystem::path& path, const char* what) {
  const std::string p = path.string();
  // A short file is reported as truncated even when its few bytes are not the magic.
  if (bytes.size() < kSealedHeaderSize) throw_truncated(p, what, bytes.size());
  const SealedView sealed = inspect_sealed(bytes, magic, version, version);
  using Fault = SealedView::Fault;
  switch (sealed.fault) {
    case Fault::none: return sealed.payload;
    case Fault::bad_magic:
      throw_bad_input(fmt::format("{}: not a faceid {} (bad magic)", p, what));
    case Fault::short_header: throw_truncated(p, what, bytes.size());
    case Fault::bad_version:
      throw_bad_input(
          fmt::format("{}: {} format version {}, expected {}", p, what, sealed.version, version));
    case Fault::short_payload:
    case Fault::long_payload:
      throw_bad_input(fmt::format("{}: corrupt {} (payload is {} bytes, header says {})", p, what,
                                  sealed.payload.size(), sealed.payload_size));
    case Fault::bad_checksum:
      throw_bad_input(fmt::format("{}: corrupt {} (checksum mismatch)", p, what));
  }
  throw_internal("unseal: unknown fault");
}

}  // namespace faceid
