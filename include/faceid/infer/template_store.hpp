// The template store: the enrolled users of one device (like SeetaFace2's FaceDatabase, a small
// object with add / remove / verify / identify / save / load). Torch-free.
//
// Per user: every enrollment embedding, the adaptive templates that successful unlocks added (a
// bounded FIFO managed by UnlockPolicy) and the enrollment time. Per store: the fingerprint of the
// model that made the embeddings (a hex hash of the checkpoint's weights + config, given by the
// caller): embeddings of another model are meaningless here, so add() and require_fingerprint()
// refuse a different one.
//
// On disk: DIR/store.bin, mode 0600 (biometric templates), written atomically and encrypted with
// the store key (store_key.hpp: XChaCha20-Poly1305, a fresh random nonce per write). No plaintext
// template ever reaches the disk: the plaintext buffers are wiped after sealing and opening.
// The plaintext inside is format version 2, little-endian:
//   0  8 bytes  magic "FACEIDTS"
//   8  u32      format version (2; version 1, without the lockout fields, is still read)
//  12  u64      payload size in bytes
//  20  u64      FNV-1a 64 checksum of the payload
//  28  payload: str fingerprint, str created_utc, u32 dim, u32 users, then per user:
//               str name, str created_utc, u32 enrolled rows, u32 adaptive rows,
//               f32 values (enrolled rows, then adaptive rows, row by row);
//               then (version 2) the device lockout: u32 consecutive failures, u32 locked (0|1)
//      (str = u32 byte length + bytes)
// serialize()/deserialize() produce and read exactly these (plaintext) bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "faceid/eval/distances.hpp"
#include "faceid/infer/store_key.hpp"

namespace faceid {

class UnlockPolicy;
struct UnlockDecision;

struct UserTemplates {
  std::string user;
  Embeddings enrolled;      // enrollment embeddings; never changed by unlocks
  Embeddings adaptive;      // templates added by successful unlocks, oldest first
  std::string created_utc;  // enrollment time, ISO-8601 UTC ("2024-05-01T12:00:00Z")

  Eigen::Index template_count() const { return enrolled.rows() + adaptive.rows(); }
  // Appends to the adaptive FIFO, evicting the oldest beyond `capacity` (0: nothing is kept).
  void push_adaptive(EmbeddingRef embedding, size_t capacity);
};

// The device's unlock lockout, persisted in the store so that restarting the unlock process does
// not reset it (see UnlockPolicy).
struct LockoutState {
  uint32_t consecutive_failures = 0;  // rejections since the last acceptance or passcode
  bool locked = false;                // every attempt is refused until the passcode is entered
};

// One answer of identify(): a user and the distance to their nearest template.
struct Match {
  std::string user;
  double distance = 0;
};

class TemplateStore {
 public:
  static constexpr const char* kFileName = "store.bin";
  static constexpr uint32_t kFormatVersion = 2;

  TemplateStore() = default;

  // Reads and decrypts DIR/store.bin. Throws Errc::bad_input naming the file when it is missing,
  // of another format version, truncated, tampered with (any flipped bit) or sealed with another
  // key ("wrong key for the template store").
  static TemplateStore load(const std::filesystem::path& dir, const StoreKey& key);
  // load() when DIR/store.bin exists, else an empty store that names DIR in its messages.
  static TemplateStore open(const std::filesystem::path& dir, const StoreKey& key);
  // Encrypts and writes DIR/store.bin atomically with mode 0600; creates DIR (mode 0700) when
  // missing.
  void save(const std::filesystem::path& dir, const StoreKey& key) const;

  std::string serialize() const;
  // `source` names the bytes in error messages (e.g. the file).
  static TemplateStore deserialize(std::string_view bytes, const std::string& source);

  // Enrolls `user` with one embedding per row. The first add fixes the store's fingerprint and
  // width; later ones must match (Errc::bad_input: "template store DIR was made by model FP1, this
  // checkpoint is FP2"). An existing user is refused unless `replace` (which also clears their
  // adaptive templates).
  void add(const std::string& user, const Embeddings& embeddings, const std::string& fingerprint,
           bool replace = false);
  bool remove(const std::string& user);   // false when there was no such user
  std::vector<std::string> list() const;  // sorted
  bool contains(const std::string& user) const;
  const UserTemplates& get(const std::string& user) const;  // Errc::bad_input when unknown
  UserTemplates& get(const std::string& user);

  // One unlock attempt of `user` through `policy` (which may add an adaptive template here; save
  // the store to keep it). The policy starts from the store's lockout state and the store keeps
  // the state the attempt leaves, so a locked device stays locked across save/load. See
  // UnlockPolicy::attempt.
  UnlockDecision verify(const std::string& user, EmbeddingRef embedding, UnlockPolicy& policy);
  // The persisted lockout; reset_lockout() is the passcode (clears failures and the lock).
  const LockoutState& lockout() const { return lockout_; }
  void reset_lockout() { lockout_ = {}; }
  // The `top_k` users nearest to `embedding` (distance to the nearest template, enrolled or
  // adaptive), nearest first; ties by name.
  std::vector<Match> identify(EmbeddingRef embedding, size_t top_k) const;

  // Throws Errc::bad_input when the store was made by another model.
  void require_fingerprint(const std::string& fingerprint) const;

  const std::string& fingerprint() const { return fingerprint_; }  // "" while empty
  Eigen::Index dim() const { return dim_; }                        // 0 while empty
  const std::string& created_utc() const { return created_utc_; }
  size_t size() const { return users_.size(); }
  const std::string& source() const { return source_; }  // the folder named in messages

 private:
  std::string source_ = "(new template store)";
  std::string fingerprint_;
  std::string created_utc_;
  Eigen::Index dim_ = 0;
  std::vector<UserTemplates> users_;  // sorted by name
  LockoutState lockout_;
};

// The current time as ISO-8601 UTC, e.g. "2024-05-01T12:00:00Z".
std::string utc_now_iso8601();

}  // namespace faceid
