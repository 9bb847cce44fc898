// The template store: the enrolled users of one device (like SeetaFace2's FaceDatabase, a small
// object with add / remove / verify / identify / save / load). Torch-free.
//
// Per user: every enrollment embedding, the adaptive templates that successful unlocks added (a
// bounded FIFO managed by UnlockPolicy), the enrollment time and the liveness model that screened
// the enrollment frames ("" when none did). Per store: the fingerprint of the
// model that made the embeddings (a hex hash of the checkpoint's weights + config, given by the
// caller): embeddings of another model are meaningless here, so add() and require_fingerprint()
// refuse a different one.
//
// On disk, in the folder DIR (mode 0700):
//   store.bin         mode 0600 (biometric templates), written atomically (temp file, fsync,
//                     rename, fsync of the folder) and encrypted with the store key (store_key.hpp:
//                     XChaCha20-Poly1305, a fresh random nonce per write). No plaintext template
//                     ever reaches the disk: the plaintext buffers are wiped after sealing/opening.
//   store.lock        empty; flock(2)ed exclusively by every write (update(), save()) and shared by
//                     every read (load(), open()), so a read-modify-write is one transaction and a
//                     reader sees either the store before or after it.
//   store.generation  the last generation accepted (see "Rollback" below), with a MAC under the
//                     store key; its path can be moved elsewhere (StoreAccess::generation_file).
// Rollback: every save writes generation g+1 into the store and then into store.generation. A load
// that finds a store older than the record (a copy of an old store.bin put back: deleted users
// return, the lockout counter resets) is refused, "store rolled back", unless
// StoreAccess::accept_rollback. Limit: the record is a file too; an attacker who can replace both
// files (or delete the record and put back a store of generation <= 1) still rolls back. Only
// secure hardware (a monotonic counter) closes that.
// The plaintext inside store.bin is format version 4, little-endian, in the core sealed layout
// (faceid/core/binary.hpp; serialize() writes it with sensitive ByteWriters, which wipe every
// buffer they free):
//   0  8 bytes  magic "FACEIDTS"
//   8  u32      format version (4; versions 1 to 3 are still read and rewritten as 4)
//  12  u64      payload size in bytes
//  20  u64      FNV-1a 64 checksum of the payload
//  28  payload: str fingerprint, str created_utc, u32 dim, u32 users, then per user:
//               str name, str created_utc,
//               (version >= 4) str liveness_model ("" = enrolled without a liveness check;
//               older versions read as ""),
//               u32 enrolled rows, u32 adaptive rows,
//               f32 values (enrolled rows, then adaptive rows, row by row);
//               then (version >= 2) the device lockout: u32 consecutive failures, u32 locked (0|1);
//               then (version >= 3) u64 generation (version 1 and 2 stores are generation 0)
//      (str = u32 byte length + bytes)
// serialize()/deserialize() produce and read exactly these (plaintext) bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "faceid/core/embeddings.hpp"
#include "faceid/runtime/store_key.hpp"
#include "faceid/runtime/templates.hpp"

namespace faceid {

// How load(), open(), save() and update() treat the files beside store.bin.
struct StoreAccess {
  double lock_timeout_s = 30;             // wait this long for another process's transaction
  bool accept_rollback = false;           // load a store older than its generation record
  std::filesystem::path generation_file;  // the generation record ("" = DIR/store.generation)
};

// One answer of identify(): a user and the distance to their nearest template.
struct Match {
  std::string user;
  double distance = 0;
};

class TemplateStore {
 public:
  static constexpr const char* kFileName = "store.bin";
  static constexpr const char* kLockFileName = "store.lock";
  static constexpr const char* kGenerationFileName = "store.generation";
  static constexpr uint32_t kFormatVersion = 4;

  TemplateStore() = default;

  // Reads and decrypts DIR/store.bin under a shared lock. Throws Errc::bad_input naming the file
  // when DIR is not a folder, store.bin is missing or not a regular file, of another format
  // version, truncated, tampered with (any flipped bit), sealed with another key ("wrong key for
  // the template store"), or older than the generation record ("store rolled back").
  static TemplateStore load(const std::filesystem::path& dir, const StoreKey& key,
                            const StoreAccess& access = {});
  // load() when DIR/store.bin exists, else an empty store that names DIR in its messages (refused
  // as a rollback when the record says a store was written before).
  static TemplateStore open(const std::filesystem::path& dir, const StoreKey& key,
                            const StoreAccess& access = {});
  // Encrypts and writes DIR/store.bin as the next generation, under an exclusive lock; creates DIR
  // (mode 0700) when missing. Refused (Errc::bad_input) when another process saved the store since
  // this object was loaded: use update() for read-modify-write.
  void save(const std::filesystem::path& dir, const StoreKey& key, const StoreAccess& access = {});
  // One transaction: under an exclusive lock, open() the store, run `change` on it, and save it
  // when `change` returns true. Returns what `change` returned; an exception from `change` leaves
  // the store untouched.
  static bool update(const std::filesystem::path& dir, const StoreKey& key,
                     const std::function<bool(TemplateStore&)>& change,
                     const StoreAccess& access = {});
  // Errc::bad_input when `dir` exists and is not a folder.
  static void require_folder(const std::filesystem::path& dir);
  // Errc::bad_input unless `user` has 1 to 256 bytes, all printable (no control character, no
  // escape sequence); the message shows the name escaped (escape_for_message).
  static void check_user_name(const std::string& user, const std::string& source);

  // The plaintext (templates in the clear): the caller wipes it (faceid::wipe) when done.
  std::string serialize() const;
  // `source` names the bytes in error messages (e.g. the file).
  static TemplateStore deserialize(std::string_view bytes, const std::string& source);

  // Enrolls `user` with one embedding per row. The first add fixes the store's fingerprint and
  // width; later ones must match (Errc::bad_input: "template store DIR was made by model FP1, this
  // checkpoint is FP2"). An existing user is refused unless `replace` (which also clears their
  // adaptive templates). `liveness_model`: the identity of the liveness model that screened the
  // enrollment frames ("" = none), recorded as UserTemplates::liveness_model.
  void add(const std::string& user, const Embeddings& embeddings, const std::string& fingerprint,
           bool replace = false, const std::string& liveness_model = "");
  bool remove(const std::string& user);   // false when there was no such user
  std::vector<std::string> list() const;  // sorted
  bool contains(const std::string& user) const;
  const UserTemplates& get(const std::string& user) const;  // Errc::bad_input when unknown
  UserTemplates& get(const std::string& user);

  // The persisted lockout; reset_lockout() is the passcode (clears failures and the lock).
  const LockoutState& lockout() const { return lockout_; }
  void reset_lockout() { lockout_ = {}; }
  // Keeps the state an unlock attempt left (see unlock_attempt in faceid/runtime/unlock.hpp).
  void set_lockout(const LockoutState& state) { lockout_ = state; }
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
  uint64_t generation() const { return generation_; }  // saves so far (0: never saved as v3+)

 private:
  static TemplateStore open_locked(const std::filesystem::path& dir, const StoreKey& key,
                                   const StoreAccess& access);
  void save_locked(const std::filesystem::path& dir, const StoreKey& key,
                   const StoreAccess& access);

  std::string source_ = "(new template store)";
  std::string fingerprint_;
  std::string created_utc_;
  Eigen::Index dim_ = 0;
  std::vector<UserTemplates> users_;  // sorted by name
  LockoutState lockout_;
  uint64_t generation_ = 0;
};

// The current time as ISO-8601 UTC, e.g. "2024-05-01T12:00:00Z".
std::string utc_now_iso8601();

// `text` safe to print in a message: control characters, DEL, backslash and bytes >= 0x80 as
// \xNN escapes, so that a name cannot move the cursor or recolour the terminal.
std::string escape_for_message(std::string_view text);

}  // namespace faceid
