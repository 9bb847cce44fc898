#include "data/crop_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/core/rng.hpp"

namespace faceid {
namespace {

constexpr char kMagic[8] = {'F', 'I', 'D', 'C', 'R', 'O', 'P', '\n'};
constexpr size_t kHeaderBytes = 96;
constexpr size_t kChecksumBytes = 8;
constexpr uint32_t kMaxReasonBytes = 1u << 16;
constexpr int kMaxCropSize = 4096;

template <typename T>
void put(char* base, size_t offset, T value) {
  std::memcpy(base + offset, &value, sizeof(T));
}

template <typename T>
T get(const char* base, size_t offset) {
  T value;
  std::memcpy(&value, base + offset, sizeof(T));
  return value;
}

bool stat_file(const std::filesystem::path& path, uint64_t& size, int64_t& mtime_ns) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  size = static_cast<uint64_t>(st.st_size);
  mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return true;
}

// Reads exactly `bytes` at `offset`; false on a short read or error.
bool read_exact(int fd, void* dst, size_t bytes, off_t offset) {
  auto* p = static_cast<char*>(dst);
  while (bytes > 0) {
    const ssize_t n = ::pread(fd, p, bytes, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    offset += n;
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

class Fd {
 public:
  explicit Fd(const std::filesystem::path& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

size_t payload_bytes(uint32_t status, int size, int channels, uint32_t reason_bytes) {
  return status == 1 ? static_cast<size_t>(channels) * size * size * sizeof(float) : reason_bytes;
}

// Reads and checks the header: magic, version, sane fields and the file length. The checksum is
// the caller's (it needs the payload).
bool read_header(int fd, char* header, uint32_t& status, int& size, uint32_t& reason_bytes) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  if (!read_exact(fd, header, kHeaderBytes, 0)) return false;
  if (std::memcmp(header, kMagic, sizeof kMagic) != 0) return false;
  if (get<uint32_t>(header, 8) != kCropCacheVersion) return false;
  status = get<uint32_t>(header, 12);
  size = get<int32_t>(header, 56);
  const int channels = get<int32_t>(header, 60);
  reason_bytes = get<uint32_t>(header, 88);
  if (status > 1 || channels != kChannels || size < 0 || size > kMaxCropSize ||
      reason_bytes > kMaxReasonBytes || (status == 1 && size == 0)) {
    return false;
  }
  const size_t expected = kHeaderBytes + payload_bytes(status, size, channels, reason_bytes) +
                          kChecksumBytes;
  return static_cast<size_t>(st.st_size) == expected;
}

}  // namespace

void Checksum64::block(const unsigned char* p) {
  for (int l = 0; l < 4; ++l) {
    uint64_t w;
    std::memcpy(&w, p + 8 * l, 8);
    uint64_t h = (lanes_[l] ^ w) * 0xFF51AFD7ED558CCDULL;
    lanes_[l] = h ^ (h >> 32);
  }
}

void Checksum64::update(const void* data, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  total_ += bytes;
  if (pending_bytes_ > 0) {
    const size_t take = std::min(bytes, sizeof pending_ - pending_bytes_);
    std::memcpy(pending_ + pending_bytes_, p, take);
    pending_bytes_ += take;
    p += take;
    bytes -= take;
    if (pending_bytes_ < sizeof pending_) return;
    block(pending_);
    pending_bytes_ = 0;
  }
  for (; bytes >= 32; bytes -= 32, p += 32) block(p);
  std::memcpy(pending_, p, bytes);
  pending_bytes_ = bytes;
}

uint64_t Checksum64::finish() const {
  Checksum64 copy = *this;
  if (copy.pending_bytes_ > 0) {
    std::memset(copy.pending_ + copy.pending_bytes_, 0, sizeof pending_ - copy.pending_bytes_);
    copy.block(copy.pending_);
  }
  uint64_t h = total_;
  for (const uint64_t lane : copy.lanes_) h = mix64(h ^ mix64(lane));
  return h;
}

bool crop_cache_key(const FrameRef& ref, uint64_t fingerprint, CropCacheKey& key) {
  key.fingerprint = fingerprint;
  return stat_file(ref.depth_path, key.depth_size, key.depth_mtime_ns) &&
         stat_file(ref.color_path, key.color_size, key.color_mtime_ns);
}

std::filesystem::path crop_cache_path(const std::filesystem::path& root, uint64_t fingerprint,
                                      const FrameRef& ref) {
  return root / fmt::format("pp-{:016x}", fingerprint) / ref.identity /
         (ref.depth_path.stem().string() + ".crop");
}

std::string encode_crop_cache(const CropCacheKey& key, const PreprocessResult& result) {
  const FaceCrop& crop = result.crop;
  const uint32_t status = result.ok ? 1 : 0;
  const int size = result.ok ? crop.size : 0;
  const size_t floats = static_cast<size_t>(kChannels) * size * size;
  if (result.ok && crop.chw.size() != floats) {
    throw_internal(fmt::format("crop cache: crop of side {} has {} floats, expected {}", size,
                               crop.chw.size(), floats));
  }
  const std::string reason =
      result.ok ? std::string() : result.no_face_reason.substr(0, kMaxReasonBytes);
  const size_t payload = result.ok ? floats * sizeof(float) : reason.size();
  std::string bytes(kHeaderBytes + payload + kChecksumBytes, '\0');
  char* b = bytes.data();
  std::memcpy(b, kMagic, sizeof kMagic);
  put<uint32_t>(b, 8, kCropCacheVersion);
  put<uint32_t>(b, 12, status);
  put<uint64_t>(b, 16, key.fingerprint);
  put<uint64_t>(b, 24, key.depth_size);
  put<int64_t>(b, 32, key.depth_mtime_ns);
  put<uint64_t>(b, 40, key.color_size);
  put<int64_t>(b, 48, key.color_mtime_ns);
  put<int32_t>(b, 56, size);
  put<int32_t>(b, 60, kChannels);
  const float meta[6] = {crop.box.x, crop.box.y, crop.box.width, crop.box.height, crop.head_z_mm,
                         crop.valid_fraction};
  std::memcpy(b + 64, meta, sizeof meta);
  put<uint32_t>(b, 88, static_cast<uint32_t>(reason.size()));
  if (result.ok) {
    std::memcpy(b + kHeaderBytes, crop.chw.data(), payload);
  } else {
    std::memcpy(b + kHeaderBytes, reason.data(), payload);
  }
  Checksum64 sum;
  sum.update(b, kHeaderBytes + payload);
  put<uint64_t>(b, kHeaderBytes + payload, sum.finish());
  return bytes;
}

CacheLookup read_crop_cache(const std::filesystem::path& path, const CropCacheKey& key,
                            PreprocessResult& out) {
  Fd fd(path);
  if (fd.get() < 0) return CacheLookup::missing;
  char header[kHeaderBytes];
  uint32_t status = 0;
  uint32_t reason_bytes = 0;
  int size = 0;
  if (!read_header(fd.get(), header, status, size, reason_bytes)) return CacheLookup::corrupt;
  const CropCacheKey found{get<uint64_t>(header, 16), get<uint64_t>(header, 24),
                           get<int64_t>(header, 32), get<uint64_t>(header, 40),
                           get<int64_t>(header, 48)};
  if (!(found == key)) return CacheLookup::stale;

  Checksum64 sum;
  sum.update(header, kHeaderBytes);
  const size_t payload = payload_bytes(status, size, kChannels, reason_bytes);
  std::string reason;
  void* dst = nullptr;
  if (status == 1) {
    out.crop.chw.resize(payload / sizeof(float));
    dst = out.crop.chw.data();
  } else {
    reason.resize(payload);
    dst = reason.data();
  }
  uint64_t stored = 0;
  if (!read_exact(fd.get(), dst, payload, kHeaderBytes) ||
      !read_exact(fd.get(), &stored, sizeof stored, static_cast<off_t>(kHeaderBytes + payload))) {
    return CacheLookup::corrupt;
  }
  sum.update(dst, payload);
  if (sum.finish() != stored) return CacheLookup::corrupt;

  out.ok = status == 1;
  out.no_face_reason = std::move(reason);
  float meta[6];
  std::memcpy(meta, header + 64, sizeof meta);
  out.crop.size = size;
  out.crop.box = cv::Rect2f(meta[0], meta[1], meta[2], meta[3]);
  out.crop.head_z_mm = meta[4];
  out.crop.valid_fraction = meta[5];
  if (!out.ok) out.crop.chw.clear();
  return CacheLookup::hit;
}

bool read_crop_cache_pixels(const std::filesystem::path& path, int size, float* pixels) {
  Fd fd(path);
  if (fd.get() < 0) return false;
  char header[kHeaderBytes];
  uint32_t status = 0;
  uint32_t reason_bytes = 0;
  int found_size = 0;
  if (!read_header(fd.get(), header, status, found_size, reason_bytes)) return false;
  if (status != 1 || found_size != size) return false;
  const size_t payload = payload_bytes(status, size, kChannels, reason_bytes);
  uint64_t stored = 0;
  if (!read_exact(fd.get(), pixels, payload, kHeaderBytes) ||
      !read_exact(fd.get(), &stored, sizeof stored, static_cast<off_t>(kHeaderBytes + payload))) {
    return false;
  }
  Checksum64 sum;
  sum.update(header, kHeaderBytes);
  sum.update(pixels, payload);
  return sum.finish() == stored;
}

}  // namespace faceid
