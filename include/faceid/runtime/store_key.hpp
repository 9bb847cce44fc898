// The template store's key and its encryption at rest (libsodium XChaCha20-Poly1305, random nonce
// per write). Torch- and libsodium-free header.
//
// Sealed file layout (what DIR/store.bin holds), little-endian:
//   0  8 bytes   magic "FACEIDSE"
//   8  u32       envelope version (1)
//  12  16 bytes  key id: BLAKE2b-128 of a fixed label keyed with the store key (tells a wrong key
//                from a damaged file; it reveals nothing about the key)
//  28  24 bytes  nonce, fresh from the system RNG on every write
//  52  ciphertext of TemplateStore::serialize() followed by the 16-byte Poly1305 tag
// Bytes 0..12 (magic, version) are authenticated as associated data; the nonce and the ciphertext
// are authenticated by the AEAD itself; the key id is compared after decryption. So any flipped bit
// is refused: a wrong key is reported as such, everything else as a corrupt store.
//
// The key: 32 random bytes, written as 64 hex digits plus a newline into a key file of mode 0600
// (a key file that group or others may read or write is refused), or given as 64 hex digits in the
// environment variable FACEID_STORE_KEY. The key itself never appears in a message.
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "faceid/core/binary.hpp"  // wipe(): callers wipe what open_sealed_store_bytes returns

namespace faceid {

class StoreKey {
 public:
  static constexpr size_t kSize = 32;
  static constexpr const char* kEnvVar = "FACEID_STORE_KEY";
  static constexpr const char* kDefaultFileName = "store.key";  // inside the store folder

  // A fresh random key (libsodium's CSPRNG).
  static StoreKey generate();
  // 64 hex digits (surrounding whitespace ignored). Errc::bad_input naming `source` otherwise.
  static StoreKey from_hex(std::string_view hex, const std::string& source);
  // Reads a key file. Errc::bad_input naming the file when it is missing, malformed, not a regular
  // file, or has any group/other permission bit ("chmod 600 FILE").
  static StoreKey read_file(const std::filesystem::path& file);
  // Writes the key as hex to a new file with mode 0600, atomically. Errc::bad_input when the file
  // already exists (a key is never overwritten: that would orphan the store), Errc::io when it
  // cannot be written.
  void write_file(const std::filesystem::path& file) const;

  // The key the apps use for the store in `store_dir`: `key_file` when not empty; else
  // $FACEID_STORE_KEY when set; else store_dir/store.key. With `create`, a missing key file (in
  // the first or third case) is made with a fresh key; without, it is Errc::bad_input.
  static StoreKey resolve(const std::filesystem::path& store_dir,
                          const std::filesystem::path& key_file, bool create);

  // 32 hex digits identifying the key (the key id of the sealed layout); safe to print.
  std::string id() const;
  // Where the key came from, for messages: a file path or "$FACEID_STORE_KEY".
  const std::string& source() const { return source_; }
  const unsigned char* data() const { return bytes_.data(); }

  StoreKey(const StoreKey&) = default;
  StoreKey& operator=(const StoreKey&) = default;
  ~StoreKey();  // wipes the key bytes

 private:
  StoreKey() = default;
  std::array<unsigned char, kSize> bytes_{};
  std::string source_;
};

// Encrypts `plaintext` into the sealed layout above.
std::string seal_store_bytes(std::string_view plaintext, const StoreKey& key);
// Decrypts a sealed buffer; the plaintext returned is the caller's to wipe (it is wiped on every
// error path here). Errc::bad_input naming `source`: bad magic or version, truncated,
// "wrong key" (naming both key ids and the key's source), or "corrupt template store:
// authentication failed". An unencrypted store of the old layout is refused (accepting one would
// let anyone swap in forged templates).
std::string open_sealed_store_bytes(std::string_view sealed, const StoreKey& key,
                                    const std::string& source);

// A 32-byte MAC of `bytes` under `key`: keyed BLAKE2b-256 of `label` (domain separation: one key,
// several uses) followed by `bytes`. mac_matches compares in constant time.
std::string mac_bytes(std::string_view label, std::string_view bytes, const StoreKey& key);
bool mac_matches(std::string_view mac, std::string_view label, std::string_view bytes,
                 const StoreKey& key);

}  // namespace faceid
