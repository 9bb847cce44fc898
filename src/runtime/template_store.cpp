#include "faceid/runtime/template_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <system_error>

#include "faceid/core/binary.hpp"
#include "faceid/core/error.hpp"
#include "faceid/core/file_lock.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/runtime/store_key.hpp"

namespace faceid {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'F', 'A', 'C', 'E', 'I', 'D', 'T', 'S'};
constexpr size_t kMaxName = 256;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the store's f32 values are copied as raw little-endian bytes");

// A user's embeddings: the f32 values in the matrix's storage order (row by row).
void put_rows(ByteWriter& out, const Embeddings& m) {
  out.put_bytes(m.data(), static_cast<size_t>(m.size()) * sizeof(float));
}

void read_rows(ByteReader& in, Embeddings& m, uint32_t rows, Eigen::Index dim) {
  const std::string_view values = in.array(
      static_cast<uint64_t>(rows) * static_cast<uint64_t>(dim), sizeof(float), "embedding values");
  m.resize(rows, dim);
  if (!values.empty()) std::memcpy(m.data(), values.data(), values.size());
}

[[noreturn]] void corrupt(const std::string& source, const ByteReader& in, const std::string& what) {
  throw_bad_input(
      fmt::format("{}: corrupt template store: {} (payload byte {})", source, what, in.offset()));
}

// The length of the UTF-8 sequence at text[at] when it is well-formed and encodes a printable
// code point (not C0/C1 control, not DEL), else 0.
size_t printable_utf8_at(std::string_view text, size_t at) {
  const auto c = static_cast<unsigned char>(text[at]);
  if (c < 0x80) return c >= 0x20 && c != 0x7f ? 1 : 0;
  size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (len == 0 || at + len > text.size()) return 0;
  uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(text[at + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;  // overlong, surrogate
  if (cp < 0xa0) return 0;                                                    // C1 controls
  return len;
}

std::vector<UserTemplates>::const_iterator find_user(const std::vector<UserTemplates>& users,
                                                     const std::string& user) {
  auto it =
      std::lower_bound(users.begin(), users.end(), user,
                       [](const UserTemplates& u, const std::string& n) { return u.user < n; });
  return it != users.end() && it->user == user ? it : users.end();
}

fs::path generation_file_of(const fs::path& dir, const StoreAccess& access) {
  return access.generation_file.empty() ? dir / TemplateStore::kGenerationFileName
                                        : access.generation_file;
}

// ---- the generation record: "FACEIDGN", u32 version 1, u64 generation, 32-byte MAC ----

constexpr char kGenMagic[8] = {'F', 'A', 'C', 'E', 'I', 'D', 'G', 'N'};
constexpr size_t kGenBody = 8 + 4 + 8;
constexpr std::string_view kGenLabel = "faceid template store generation";

// The recorded generation; 0 when there is no record. Errc::bad_input when it is damaged or has a
// MAC of another key (unless `lenient`: then 0, and the next save rewrites it).
uint64_t read_generation_record(const fs::path& file, const StoreKey& key, bool lenient) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return 0;
  const std::string bytes = read_file(file);
  ByteReader in(bytes, file.string());
  const bool ok = bytes.size() == kGenBody + 32 &&
                  in.bytes(sizeof kGenMagic, "the magic") ==
                      std::string_view(kGenMagic, sizeof kGenMagic) &&
                  in.u32("the version") == 1 &&
                  mac_matches(std::string_view(bytes).substr(kGenBody), kGenLabel,
                              std::string_view(bytes).substr(0, kGenBody), key);
  if (!ok) {
    if (lenient) return 0;
    throw_bad_input(fmt::format(
        "{}: the template store's generation record is damaged or was not written with this "
        "store's key (accept with --accept-rollback to rewrite it)",
        file.string()));
  }
  return in.u64("the generation");
}

void write_generation_record(const fs::path& file, uint64_t generation, const StoreKey& key) {
  ByteWriter out;
  out.put_bytes(kGenMagic, sizeof kGenMagic);
  out.put_u32(1);
  out.put_u64(generation);
  out.put_bytes(mac_bytes(kGenLabel, out.view(), key));
  write_file_atomic(file, out.take(), 0600);
}

}  // namespace

std::string escape_for_message(std::string_view text) {
  std::string out;
  for (size_t at = 0; at < text.size();) {
    const size_t len = text[at] == '\\' ? 0 : printable_utf8_at(text, at);
    if (len == 0) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[at]));
      ++at;
    } else {
      out.append(text.substr(at, len));
      at += len;
    }
  }
  return out;
}

void TemplateStore::check_user_name(const std::string& user, const std::string& source) {
  if (user.empty() || user.size() > kMaxName) {
    throw_bad_input(fmt::format("{}: user name must have 1 to {} bytes, got {}", source, kMaxName,
                                user.size()));
  }
  for (size_t at = 0; at < user.size();) {
    const size_t len = printable_utf8_at(user, at);
    if (len == 0) {
      throw_bad_input(fmt::format(
          "{}: user name '{}' holds a control character or invalid UTF-8 at byte {} (printable "
          "characters only)",
          source, escape_for_message(user), at));
    }
    at += len;
  }
}

void TemplateStore::require_folder(const fs::path& dir) {
  std::error_code ec;
  const auto status = fs::status(dir, ec);
  if (fs::exists(status) && !fs::is_directory(status)) {
    throw_bad_input(fmt::format(
        "{}: not a folder (a template store is a folder holding {})", dir.string(), kFileName));
  }
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void UserTemplates::push_adaptive(EmbeddingRef embedding, size_t capacity) {
  if (capacity == 0) return;
  if (embedding.size() != enrolled.cols()) {
    throw_bad_input(fmt::format("adaptive template of width {} for user '{}' with width {}",
                                embedding.size(), escape_for_message(user), enrolled.cols()));
  }
  const auto cap = static_cast<Eigen::Index>(capacity);
  if (adaptive.rows() >= cap) {  // evict the oldest, keep the newest cap - 1
    const Eigen::Index keep = cap - 1;
    Embeddings newest = adaptive.bottomRows(keep);
    adaptive.resize(cap, enrolled.cols());
    adaptive.topRows(keep) = newest;
  } else {
    adaptive.conservativeResize(adaptive.rows() + 1, enrolled.cols());
  }
  adaptive.row(adaptive.rows() - 1) = embedding;
}

// ---- store -----------------------------------------------------------------------------------

TemplateStore TemplateStore::load(const fs::path& dir, const StoreKey& key,
                                  const StoreAccess& access) {
  require_folder(dir);
  const fs::path file = dir / kFileName;
  std::error_code ec;
  if (!fs::exists(file, ec)) throw_bad_input(fmt::format("{}: cannot open file", file.string()));
  const FileLock lock(dir / kLockFileName, FileLock::Mode::shared, access.lock_timeout_s,
                      fmt::format("template store {}", dir.string()));
  return open_locked(dir, key, access);
}

TemplateStore TemplateStore::open(const fs::path& dir, const StoreKey& key,
                                  const StoreAccess& access) {
  require_folder(dir);
  std::error_code ec;
  if (!fs::exists(dir, ec)) {  // nothing to lock yet: a new store
    TemplateStore store;
    store.source_ = dir.string();
    return store;
  }
  const FileLock lock(dir / kLockFileName, FileLock::Mode::shared, access.lock_timeout_s,
                      fmt::format("template store {}", dir.string()));
  return open_locked(dir, key, access);
}

// Reads DIR/store.bin (an empty store when missing) and checks it against the generation record.
// The caller holds the lock.
TemplateStore TemplateStore::open_locked(const fs::path& dir, const StoreKey& key,
                                         const StoreAccess& access) {
  const fs::path file = dir / kFileName;
  const fs::path record_file = generation_file_of(dir, access);
  std::error_code ec;
  TemplateStore store;
  if (fs::exists(fs::symlink_status(file, ec))) {
    std::string plain = open_sealed_store_bytes(read_file(file), key, file.string());
    try {
      store = deserialize(plain, file.string());
      wipe(plain);
    } catch (...) {
      wipe(plain);
      throw;
    }
  }
  store.source_ = dir.string();
  // The record after the store: a wrong key is reported for the store, the better diagnosis.
  const uint64_t recorded = read_generation_record(record_file, key, access.accept_rollback);
  if (access.accept_rollback) return store;
  const bool exists = fs::exists(file, ec);
  if (recorded > store.generation_) {
    throw_bad_input(
        exists ? fmt::format("{}: store rolled back: it is generation {}, but generation {} was "
                             "accepted before ({}); an older copy of the store was put back "
                             "(--accept-rollback accepts it)",
                             file.string(), store.generation_, recorded, record_file.string())
               : fmt::format("{}: store rolled back: the store is missing, but generation {} was "
                             "accepted before ({}); it was deleted or moved (--accept-rollback "
                             "starts a new one)",
                             file.string(), recorded, record_file.string()));
  }
  if (exists && store.generation_ > 1 && !fs::exists(record_file, ec)) {
    throw_bad_input(fmt::format(
        "{}: store rolled back? it is generation {}, but its generation record {} is missing "
        "(--accept-rollback accepts the store and writes a new record)",
        file.string(), store.generation_, record_file.string()));
  }
  return store;
}

namespace {

// The store's folder (created private when missing) and its exclusive lock: every change of a
// store happens while this is held.
FileLock lock_for_writing(const fs::path& dir, const StoreAccess& access) {
  TemplateStore::require_folder(dir);
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (!ec) fs::permissions(dir, fs::perms::owner_all, ec);
    if (ec) throw_io(fmt::format("{}: cannot create folder: {}", dir.string(), ec.message()));
  }
  return FileLock(dir / TemplateStore::kLockFileName, FileLock::Mode::exclusive, access.lock_timeout_s,
                  fmt::format("template store {}", dir.string()));
}

}  // namespace

void TemplateStore::save(const fs::path& dir, const StoreKey& key, const StoreAccess& access) {
  const FileLock lock = lock_for_writing(dir, access);
  // Not a transaction by itself: refuse to overwrite what another process saved meanwhile.
  StoreAccess lenient = access;
  lenient.accept_rollback = true;
  const TemplateStore on_disk = open_locked(dir, key, lenient);
  std::error_code ec;
  if (on_disk.generation_ != generation_ && fs::exists(dir / kFileName, ec)) {
    throw_bad_input(fmt::format(
        "template store {} changed since it was read (generation {} on disk, {} read): reload it "
        "and apply the change again",
        dir.string(), on_disk.generation_, generation_));
  }
  save_locked(dir, key, access);
}

// Writes the next generation: store.bin first, then the record. A crash between the two leaves a
// store newer than its record, which loads fine (the reverse order would refuse it as rolled back).
void TemplateStore::save_locked(const fs::path& dir, const StoreKey& key,
                                const StoreAccess& access) {
  const fs::path record_file = generation_file_of(dir, access);
  const uint64_t recorded = read_generation_record(record_file, key, true);
  const uint64_t next = std::max(generation_, recorded) + 1;
  const uint64_t previous = generation_;
  generation_ = next;
  std::string plain = serialize();
  generation_ = previous;
  std::string sealed;
  try {
    sealed = seal_store_bytes(plain, key);
  } catch (...) {
    wipe(plain);
    throw;
  }
  wipe(plain);
  write_file_atomic(dir / kFileName, sealed, 0600);
  generation_ = next;
  write_generation_record(record_file, next, key);
}

bool TemplateStore::update(const fs::path& dir, const StoreKey& key,
                           const std::function<bool(TemplateStore&)>& change,
                           const StoreAccess& access) {
  const FileLock lock = lock_for_writing(dir, access);
  TemplateStore store = open_locked(dir, key, access);
  if (!change(store)) return false;
  store.save_locked(dir, key, access);
  return true;
}

std::string TemplateStore::serialize() const {
  // Plaintext templates: both buffers are sensitive writers, so no copy survives in freed memory.
  ByteWriter payload(ByteWriter::Mode::sensitive);
  payload.put_str(fingerprint_, LengthPrefix::u32);
  payload.put_str(created_utc_, LengthPrefix::u32);
  payload.put_u32(static_cast<uint32_t>(dim_));
  payload.put_u32(static_cast<uint32_t>(users_.size()));
  for (const auto& u : users_) {
    payload.put_str(u.user, LengthPrefix::u32);
    payload.put_str(u.created_utc, LengthPrefix::u32);
    payload.put_str(u.liveness_model, LengthPrefix::u32);
    payload.put_u32(static_cast<uint32_t>(u.enrolled.rows()));
    payload.put_u32(static_cast<uint32_t>(u.adaptive.rows()));
    put_rows(payload, u.enrolled);
    put_rows(payload, u.adaptive);
  }
  payload.put_u32(lockout_.consecutive_failures);
  payload.put_u32(lockout_.locked ? 1u : 0u);
  payload.put_u64(generation_);
  ByteWriter file(ByteWriter::Mode::sensitive);
  file.reserve(kSealedHeaderSize + payload.size());
  write_sealed(file, kMagic, kFormatVersion, payload.view());
  return file.take();
}

TemplateStore TemplateStore::deserialize(std::string_view bytes, const std::string& source) {
  using Fault = SealedView::Fault;
  const SealedView sealed = inspect_sealed(bytes, kMagic, 1, kFormatVersion);
  switch (sealed.fault) {
    case Fault::none: break;
    case Fault::bad_magic:
      throw_bad_input(fmt::format("{}: not a faceid template store (bad magic)", source));
    case Fault::short_header:
      throw_bad_input(fmt::format("{}: truncated template store: {} bytes, the header alone has {}",
                                  source, bytes.size(), kSealedHeaderSize));
    case Fault::bad_version:
      throw_bad_input(fmt::format(
          "{}: unsupported template store format version {} (this build reads versions 1 to {})",
          source, sealed.version, kFormatVersion));
    case Fault::short_payload:
      throw_bad_input(fmt::format(
          "{}: truncated template store: the header promises {} payload bytes, the file holds {}",
          source, sealed.payload_size, sealed.payload.size()));
    case Fault::long_payload:
      throw_bad_input(fmt::format(
          "{}: corrupt template store: {} bytes after the {}-byte payload the header promises",
          source, sealed.payload.size() - sealed.payload_size, sealed.payload_size));
    case Fault::bad_checksum:
      throw_bad_input(fmt::format("{}: corrupt template store: checksum mismatch", source));
  }
  const uint32_t version = sealed.version;
  ByteReader in(sealed.payload, source + ": truncated template store");
  TemplateStore store;
  store.source_ = source;
  store.fingerprint_ = in.str(LengthPrefix::u32, "the fingerprint");
  store.created_utc_ = in.str(LengthPrefix::u32, "the creation time");
  store.dim_ = in.u32("the embedding width");
  const uint32_t users = in.u32("the user count");
  if (users > 0 && store.dim_ == 0) corrupt(source, in, "users with embeddings of width 0");
  for (uint32_t k = 0; k < users; ++k) {
    UserTemplates u;
    u.user = in.str(LengthPrefix::u32, "a user name");
    u.created_utc = in.str(LengthPrefix::u32, "a creation time");
    if (version >= 4) u.liveness_model = in.str(LengthPrefix::u32, "a liveness model");
    const uint32_t enrolled = in.u32("an enrolled row count");
    const uint32_t adaptive = in.u32("an adaptive row count");
    if (enrolled == 0) {
      corrupt(source, in,
              fmt::format("user '{}' has no enrollment embedding", escape_for_message(u.user)));
    }
    read_rows(in, u.enrolled, enrolled, store.dim_);
    read_rows(in, u.adaptive, adaptive, store.dim_);
    if (!store.users_.empty() && !(store.users_.back().user < u.user)) {
      corrupt(source, in, "users out of order");
    }
    store.users_.push_back(std::move(u));
  }
  if (version >= 2) {
    store.lockout_.consecutive_failures = in.u32("the lockout failure count");
    const uint32_t locked = in.u32("the lockout flag");
    if (locked > 1) corrupt(source, in, fmt::format("lockout flag {} (expected 0 or 1)", locked));
    store.lockout_.locked = locked == 1;
  }
  if (version >= 3) store.generation_ = in.u64("the generation");
  if (!in.done()) {
    corrupt(source, in,
            version >= 3   ? "bytes after the generation"
            : version == 2 ? "bytes after the lockout state"
                           : "bytes after the last user");
  }
  return store;
}

void TemplateStore::require_fingerprint(const std::string& fingerprint) const {
  if (!fingerprint_.empty() && fingerprint != fingerprint_) {
    throw_bad_input(fmt::format("template store {} was made by model {}, this checkpoint is {}",
                                source_, fingerprint_, fingerprint));
  }
}

void TemplateStore::add(const std::string& user, const Embeddings& embeddings,
                        const std::string& fingerprint, bool replace,
                        const std::string& liveness_model) {
  check_user_name(user, source_);
  if (fingerprint.empty()) {
    throw_bad_input(fmt::format("{}: enrolling '{}' without a model fingerprint", source_,
                                escape_for_message(user)));
  }
  require_fingerprint(fingerprint);
  if (embeddings.rows() == 0 || embeddings.cols() == 0) {
    throw_bad_input(fmt::format("{}: enrolling '{}' with no embedding", source_,
                                escape_for_message(user)));
  }
  if (dim_ != 0 && embeddings.cols() != dim_) {
    throw_bad_input(
        fmt::format("{}: enrolling '{}' with embeddings of width {}, the store holds {}", source_,
                    escape_for_message(user), embeddings.cols(), dim_));
  }
  if (!embeddings.allFinite()) {
    throw_bad_input(
        fmt::format("{}: enrolling '{}': embeddings hold NaN or infinity", source_,
                    escape_for_message(user)));
  }
  auto it =
      std::lower_bound(users_.begin(), users_.end(), user,
                       [](const UserTemplates& u, const std::string& n) { return u.user < n; });
  if (it != users_.end() && it->user == user) {
    if (!replace) {
      throw_bad_input(
          fmt::format("{}: user '{}' is already enrolled (remove it first)", source_,
                      escape_for_message(user)));
    }
  } else {
    it = users_.insert(it, UserTemplates{});
  }
  it->user = user;
  it->enrolled = embeddings;
  it->adaptive.resize(0, embeddings.cols());
  it->created_utc = utc_now_iso8601();
  it->liveness_model = liveness_model;
  if (fingerprint_.empty()) {
    fingerprint_ = fingerprint;
    created_utc_ = it->created_utc;
  }
  dim_ = embeddings.cols();
}

bool TemplateStore::remove(const std::string& user) {
  const auto it = find_user(users_, user);
  if (it == users_.end()) return false;
  users_.erase(it);
  return true;
}

std::vector<std::string> TemplateStore::list() const {
  std::vector<std::string> names;
  names.reserve(users_.size());
  for (const auto& u : users_) names.push_back(u.user);
  return names;
}

bool TemplateStore::contains(const std::string& user) const {
  return find_user(users_, user) != users_.end();
}

const UserTemplates& TemplateStore::get(const std::string& user) const {
  const auto it = find_user(users_, user);
  if (it == users_.end()) {
    std::string enrolled;
    for (size_t k = 0; k < users_.size() && k < 10; ++k) {
      enrolled += (k ? ", " : "") + escape_for_message(users_[k].user);
    }
    if (users_.size() > 10) enrolled += fmt::format(" and {} more", users_.size() - 10);
    throw_bad_input(fmt::format("template store {}: no user '{}' (enrolled: {})", source_,
                                escape_for_message(user),
                                users_.empty() ? "nobody" : enrolled));
  }
  return *it;
}

UserTemplates& TemplateStore::get(const std::string& user) {
  return const_cast<UserTemplates&>(static_cast<const TemplateStore&>(*this).get(user));
}

std::vector<Match> TemplateStore::identify(EmbeddingRef embedding, size_t top_k) const {
  std::vector<Match> matches;
  matches.reserve(users_.size());
  for (const auto& u : users_) {
    matches.push_back({u.user, template_distance(u, embedding, TemplateDistance::min, 1)});
  }
  std::stable_sort(matches.begin(), matches.end(),
                   [](const Match& a, const Match& b) { return a.distance < b.distance; });
  if (matches.size() > top_k) matches.resize(top_k);
  return matches;
}

}  // namespace faceid
