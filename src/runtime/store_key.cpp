#include "faceid/runtime/store_key.hpp"

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "faceid/core/binary.hpp"
#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"

namespace faceid {
namespace fs = std::filesystem;

namespace {

constexpr char kSealMagic[8] = {'F', 'A', 'C', 'E', 'I', 'D', 'S', 'E'};
constexpr char kPlainMagic[8] = {'F', 'A', 'C', 'E', 'I', 'D', 'T', 'S'};  // the old layout
constexpr uint32_t kSealVersion = 1;
constexpr size_t kAdSize = 12;  // magic + version
constexpr size_t kKeyIdSize = 16;
constexpr size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagSize = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr size_t kSealHeaderSize = kAdSize + kKeyIdSize + kNonceSize;
constexpr char kKeyIdLabel[] = "faceid template store key id";

static_assert(StoreKey::kSize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kNonceSize == 24 && kTagSize == 16);

void ensure_sodium() {
  static const int status = sodium_init();  // thread-safe, idempotent
  if (status < 0) throw_internal("libsodium failed to initialise");
}

std::array<unsigned char, kKeyIdSize> key_id_bytes(const unsigned char* key) {
  std::array<unsigned char, kKeyIdSize> id{};
  crypto_generichash(id.data(), id.size(), reinterpret_cast<const unsigned char*>(kKeyIdLabel),
                     sizeof kKeyIdLabel - 1, key, StoreKey::kSize);
  return id;
}

std::string to_hex(const unsigned char* bytes, size_t size) {
  std::string hex(size * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes, size);
  hex.pop_back();
  return hex;
}

const auto* uchars(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

StoreKey::~StoreKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

StoreKey StoreKey::generate() {
  ensure_sodium();
  StoreKey key;
  crypto_aead_xchacha20poly1305_ietf_keygen(key.bytes_.data());
  key.source_ = "(new key)";
  return key;
}

StoreKey StoreKey::from_hex(std::string_view hex, const std::string& source) {
  ensure_sodium();
  const auto first = hex.find_first_not_of(" \t\r\n");
  const auto last = hex.find_last_not_of(" \t\r\n");
  hex = first == std::string_view::npos ? std::string_view() : hex.substr(first, last - first + 1);
  StoreKey key;
  size_t len = 0;
  if (hex.size() != 2 * kSize ||
      sodium_hex2bin(key.bytes_.data(), kSize, hex.data(), hex.size(), nullptr, &len, nullptr) !=
          0 ||
      len != kSize) {
    throw_bad_input(fmt::format("{}: expected a key of {} hex digits, got {} characters{}", source,
                                2 * kSize, hex.size(),
                                hex.size() == 2 * kSize ? " that are not all hex digits" : ""));
  }
  key.source_ = source;
  return key;
}

StoreKey StoreKey::read_file(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    throw_bad_input(fmt::format("{}: cannot read the key file: {}", file.string(),
                                std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    throw_bad_input(fmt::format("{}: the key file is not a regular file", file.string()));
  }
  if ((st.st_mode & 077) != 0) {
    throw_bad_input(fmt::format(
        "{}: the key file is accessible by group or others (mode {:04o}); run chmod 600 {}",
        file.string(), st.st_mode & 07777, file.string()));
  }
  std::string text = faceid::read_file(file);
  try {
    StoreKey key = from_hex(text, file.string());
    wipe(text);
    return key;
  } catch (...) {
    wipe(text);
    throw;
  }
}

void StoreKey::write_file(const fs::path& file) const {
  std::string text = to_hex(bytes_.data(), kSize) + "\n";
  // Written beside the target, then hard-linked into place: link() never replaces an existing
  // file, so two enrollments racing to create the key cannot orphan a store.
  const fs::path tmp = temp_path_for(file);
  try {
    write_file_atomic(tmp, text, 0600);
  } catch (...) {
    wipe(text);
    throw;
  }
  wipe(text);
  const int rc = ::link(tmp.c_str(), file.c_str());
  const int err = errno;
  ::unlink(tmp.c_str());
  if (rc != 0 && err == EEXIST) {
    throw_bad_input(fmt::format("{}: key file already exists; not overwriting it", file.string()));
  }
  if (rc != 0) {
    throw_io(fmt::format("{}: cannot create the key file: {}", file.string(), std::strerror(err)));
  }
}

StoreKey StoreKey::resolve(const fs::path& store_dir, const fs::path& key_file, bool create) {
  fs::path file = key_file;
  if (file.empty()) {
    if (const char* env = std::getenv(kEnvVar); env != nullptr && *env != '\0') {
      return from_hex(env, fmt::format("${}", kEnvVar));
    }
    file = store_dir / kDefaultFileName;
  }
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    if (!create) {
      throw_bad_input(fmt::format("{}: no key for the template store {} (the key file is missing "
                                  "and ${} is not set)",
                                  file.string(), store_dir.string(), kEnvVar));
    }
    const fs::path parent = file.parent_path().empty() ? fs::path(".") : file.parent_path();
    if (!fs::exists(parent, ec)) {
      fs::create_directories(parent, ec);
      if (!ec) fs::permissions(parent, fs::perms::owner_all, ec);
      if (ec) throw_io(fmt::format("{}: cannot create folder: {}", parent.string(), ec.message()));
    }
    try {
      generate().write_file(file);
    } catch (const Error&) {
      // Another enrollment created it first (write_file never overwrites): use theirs.
      if (!fs::exists(file, ec)) throw;
    }
  }
  return read_file(file);
}

std::string mac_bytes(std::string_view label, std::string_view bytes, const StoreKey& key) {
  ensure_sodium();
  std::array<unsigned char, 32> mac{};
  crypto_generichash_state state;
  crypto_generichash_init(&state, key.data(), StoreKey::kSize, mac.size());
  crypto_generichash_update(&state, uchars(label), label.size());
  crypto_generichash_update(&state, uchars(bytes), bytes.size());
  crypto_generichash_final(&state, mac.data(), mac.size());
  return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

bool mac_matches(std::string_view mac, std::string_view label, std::string_view bytes,
                 const StoreKey& key) {
  const std::string want = mac_bytes(label, bytes, key);
  return mac.size() == want.size() && sodium_memcmp(mac.data(), want.data(), want.size()) == 0;
}

std::string StoreKey::id() const {
  const auto id = key_id_bytes(bytes_.data());
  return to_hex(id.data(), id.size());
}

std::string seal_store_bytes(std::string_view plaintext, const StoreKey& key) {
  ensure_sodium();
  std::string out(kSealMagic, sizeof kSealMagic);
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((kSealVersion >> (8 * k)) & 0xff));
  const auto id = key_id_bytes(key.data());
  out.append(reinterpret_cast<const char*>(id.data()), id.size());
  std::array<unsigned char, kNonceSize> nonce{};
  randombytes_buf(nonce.data(), nonce.size());
  out.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  out.resize(kSealHeaderSize + plaintext.size() + kTagSize);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out.data()) + kSealHeaderSize, &written, uchars(plaintext),
      plaintext.size(), uchars(out), kAdSize, nullptr, nonce.data(), key.data());
  if (written != plaintext.size() + kTagSize) throw_internal("template store encryption failed");
  return out;
}

std::string open_sealed_store_bytes(std::string_view sealed, const StoreKey& key,
                                    const std::string& source) {
  ensure_sodium();
  const size_t magic_len = std::min(sealed.size(), sizeof kSealMagic);
  if (sealed.size() >= sizeof kPlainMagic &&
      std::memcmp(sealed.data(), kPlainMagic, sizeof kPlainMagic) == 0) {
    throw_bad_input(fmt::format(
        "{}: unencrypted template store (written by an older faceid); this build reads only "
        "encrypted stores: re-enroll the users",
        source));
  }
  if (std::memcmp(sealed.data(), kSealMagic, magic_len) != 0) {
    throw_bad_input(fmt::format("{}: not a faceid template store (bad magic)", source));
  }
  if (sealed.size() < kSealHeaderSize + kTagSize) {
    throw_bad_input(fmt::format(
        "{}: truncated template store: {} bytes, an encrypted store has at least {}", source,
        sealed.size(), kSealHeaderSize + kTagSize));
  }
  uint32_t version = 0;
  for (int k = 0; k < 4; ++k) {
    version |= static_cast<uint32_t>(static_cast<unsigned char>(sealed[8 + k])) << (8 * k);
  }
  if (version != kSealVersion) {
    throw_bad_input(fmt::format(
        "{}: unsupported template store format version {} (this build reads version {})", source,
        version, kSealVersion));
  }
  const auto want_id = key_id_bytes(key.data());
  const bool same_key =
      std::memcmp(sealed.data() + kAdSize, want_id.data(), kKeyIdSize) == 0;
  const auto* nonce = uchars(sealed) + kAdSize + kKeyIdSize;
  const size_t cipher_size = sealed.size() - kSealHeaderSize;
  std::string plain(cipher_size - kTagSize, '\0');
  unsigned long long plain_size = 0;
  const int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      reinterpret_cast<unsigned char*>(plain.data()), &plain_size, nullptr,
      uchars(sealed) + kSealHeaderSize, cipher_size, uchars(sealed), kAdSize, nonce, key.data());
  if (rc != 0 && !same_key) {
    wipe(plain);
    throw_bad_input(fmt::format(
        "{}: wrong key for the template store: it was encrypted with key id {}, the key from {} "
        "has id {}",
        source, to_hex(uchars(sealed) + kAdSize, kKeyIdSize), key.source(), key.id()));
  }
  if (rc != 0 || !same_key) {
    wipe(plain);
    throw_bad_input(fmt::format(
        "{}: corrupt template store: authentication failed (the file was altered or damaged)",
        source));
  }
  return plain;
}

}  // namespace faceid
