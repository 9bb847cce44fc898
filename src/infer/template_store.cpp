#include "faceid/infer/template_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <system_error>

#include "faceid/error.hpp"
#include "faceid/fs.hpp"
#include "faceid/infer/store_key.hpp"
#include "faceid/infer/unlock_policy.hpp"

namespace faceid {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'F', 'A', 'C', 'E', 'I', 'D', 'T', 'S'};
constexpr size_t kHeaderSize = 28;
constexpr size_t kMaxName = 256;

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// ---- little-endian encoding ----

void put_u32(std::string& out, uint32_t v) {
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
  for (int k = 0; k < 8; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
}
void put_str(std::string& out, const std::string& s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out += s;
}
void put_rows(std::string& out, const Embeddings& m) {
  for (Eigen::Index k = 0; k < m.size(); ++k) {
    uint32_t bits;
    std::memcpy(&bits, m.data() + k, 4);
    put_u32(out, bits);
  }
}

uint64_t get_le(std::string_view bytes, size_t at, int n) {
  uint64_t v = 0;
  for (int k = 0; k < n; ++k) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[at + static_cast<size_t>(k)]))
         << (8 * k);
  }
  return v;
}

// Reads the payload; every read is bounds-checked (a forged file with a valid checksum must still
// fail cleanly).
class Reader {
 public:
  Reader(std::string_view bytes, const std::string& source) : bytes_(bytes), source_(source) {}
  uint32_t u32() {
    need(4, "a number");
    const auto v = static_cast<uint32_t>(get_le(bytes_, at_, 4));
    at_ += 4;
    return v;
  }
  std::string str(const char* what) {
    const uint32_t n = u32();
    need(n, what);
    std::string s(bytes_.substr(at_, n));
    at_ += n;
    return s;
  }
  void rows(Embeddings& m, uint32_t rows, Eigen::Index dim) {
    need(static_cast<uint64_t>(rows) * static_cast<uint64_t>(dim) * 4, "embedding values");
    m.resize(rows, dim);
    for (Eigen::Index k = 0; k < m.size(); ++k) {
      const auto bits = static_cast<uint32_t>(get_le(bytes_, at_, 4));
      std::memcpy(m.data() + k, &bits, 4);
      at_ += 4;
    }
  }
  bool done() const { return at_ == bytes_.size(); }
  [[noreturn]] void corrupt(const std::string& what) const {
    throw_bad_input(
        fmt::format("{}: corrupt template store: {} (payload byte {})", source_, what, at_));
  }

 private:
  void need(uint64_t n, const char* what) const {
    if (n > bytes_.size() - at_) corrupt(fmt::format("{} run past the end", what));
  }
  std::string_view bytes_;
  const std::string& source_;
  size_t at_ = 0;
};

void check_name(const std::string& user, const std::string& source) {
  if (user.empty() || user.size() > kMaxName) {
    throw_bad_input(fmt::format("{}: user name must have 1 to {} bytes, got {}", source, kMaxName,
                                user.size()));
  }
  for (unsigned char c : user) {
    if (c < 0x20 || c == 0x7f) {
      throw_bad_input(fmt::format("{}: user name '{}' holds a control character", source, user));
    }
  }
}

std::vector<UserTemplates>::const_iterator find_user(const std::vector<UserTemplates>& users,
                                                     const std::string& user) {
  auto it =
      std::lower_bound(users.begin(), users.end(), user,
                       [](const UserTemplates& u, const std::string& n) { return u.user < n; });
  return it != users.end() && it->user == user ? it : users.end();
}

}  // namespace

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
                                embedding.size(), user, enrolled.cols()));
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

TemplateStore TemplateStore::load(const fs::path& dir, const StoreKey& key) {
  const fs::path file = dir / kFileName;
  std::string plain = open_sealed_store_bytes(read_file(file), key, file.string());
  try {
    TemplateStore store = deserialize(plain, file.string());
    wipe(plain);
    store.source_ = dir.string();
    return store;
  } catch (...) {
    wipe(plain);
    throw;
  }
}

TemplateStore TemplateStore::open(const fs::path& dir, const StoreKey& key) {
  std::error_code ec;
  if (fs::exists(dir / kFileName, ec)) return load(dir, key);
  TemplateStore store;
  store.source_ = dir.string();
  return store;
}

void TemplateStore::save(const fs::path& dir, const StoreKey& key) const {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (!ec) fs::permissions(dir, fs::perms::owner_all, ec);
    if (ec) throw_io(fmt::format("{}: cannot create folder: {}", dir.string(), ec.message()));
  }
  std::string plain = serialize();
  const std::string sealed = seal_store_bytes(plain, key);
  wipe(plain);
  write_file_atomic(dir / kFileName, sealed, 0600);
}

std::string TemplateStore::serialize() const {
  std::string payload;
  put_str(payload, fingerprint_);
  put_str(payload, created_utc_);
  put_u32(payload, static_cast<uint32_t>(dim_));
  put_u32(payload, static_cast<uint32_t>(users_.size()));
  for (const auto& u : users_) {
    put_str(payload, u.user);
    put_str(payload, u.created_utc);
    put_u32(payload, static_cast<uint32_t>(u.enrolled.rows()));
    put_u32(payload, static_cast<uint32_t>(u.adaptive.rows()));
    put_rows(payload, u.enrolled);
    put_rows(payload, u.adaptive);
  }
  put_u32(payload, lockout_.consecutive_failures);
  put_u32(payload, lockout_.locked ? 1u : 0u);
  std::string out(kMagic, sizeof kMagic);
  out.reserve(kHeaderSize + payload.size());  // no reallocation leaves a plaintext copy behind
  put_u32(out, kFormatVersion);
  put_u64(out, payload.size());
  put_u64(out, fnv1a64(payload));
  out += payload;
  wipe(payload);
  return out;
}

TemplateStore TemplateStore::deserialize(std::string_view bytes, const std::string& source) {
  if (bytes.size() >= sizeof kMagic ? std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0
                                    : std::memcmp(bytes.data(), kMagic, bytes.size()) != 0) {
    throw_bad_input(fmt::format("{}: not a faceid template store (bad magic)", source));
  }
  if (bytes.size() < kHeaderSize) {
    throw_bad_input(fmt::format("{}: truncated template store: {} bytes, the header alone has {}",
                                source, bytes.size(), kHeaderSize));
  }
  const auto version = static_cast<uint32_t>(get_le(bytes, 8, 4));
  if (version != kFormatVersion && version != 1) {
    throw_bad_input(fmt::format(
        "{}: unsupported template store format version {} (this build reads versions 1 and {})",
        source, version, kFormatVersion));
  }
  const uint64_t size = get_le(bytes, 12, 8);
  const uint64_t checksum = get_le(bytes, 20, 8);
  const uint64_t have = bytes.size() - kHeaderSize;
  if (have < size) {
    throw_bad_input(fmt::format(
        "{}: truncated template store: the header promises {} payload bytes, the file holds {}",
        source, size, have));
  }
  if (have > size) {
    throw_bad_input(fmt::format(
        "{}: corrupt template store: {} bytes after the {}-byte payload the header promises",
        source, have - size, size));
  }
  const std::string_view payload = bytes.substr(kHeaderSize);
  if (fnv1a64(payload) != checksum) {
    throw_bad_input(fmt::format("{}: corrupt template store: checksum mismatch", source));
  }
  Reader in(payload, source);
  TemplateStore store;
  store.source_ = source;
  store.fingerprint_ = in.str("the fingerprint");
  store.created_utc_ = in.str("the creation time");
  store.dim_ = in.u32();
  const uint32_t users = in.u32();
  if (users > 0 && store.dim_ == 0) in.corrupt("users with embeddings of width 0");
  for (uint32_t k = 0; k < users; ++k) {
    UserTemplates u;
    u.user = in.str("a user name");
    u.created_utc = in.str("a creation time");
    const uint32_t enrolled = in.u32(), adaptive = in.u32();
    if (enrolled == 0) in.corrupt(fmt::format("user '{}' has no enrollment embedding", u.user));
    in.rows(u.enrolled, enrolled, store.dim_);
    in.rows(u.adaptive, adaptive, store.dim_);
    if (!store.users_.empty() && !(store.users_.back().user < u.user)) {
      in.corrupt("users out of order");
    }
    store.users_.push_back(std::move(u));
  }
  if (version >= 2) {
    store.lockout_.consecutive_failures = in.u32();
    const uint32_t locked = in.u32();
    if (locked > 1) in.corrupt(fmt::format("lockout flag {} (expected 0 or 1)", locked));
    store.lockout_.locked = locked == 1;
  }
  if (!in.done()) {
    in.corrupt(version >= 2 ? "bytes after the lockout state" : "bytes after the last user");
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
                        const std::string& fingerprint, bool replace) {
  check_name(user, source_);
  if (fingerprint.empty()) {
    throw_bad_input(fmt::format("{}: enrolling '{}' without a model fingerprint", source_, user));
  }
  require_fingerprint(fingerprint);
  if (embeddings.rows() == 0 || embeddings.cols() == 0) {
    throw_bad_input(fmt::format("{}: enrolling '{}' with no embedding", source_, user));
  }
  if (dim_ != 0 && embeddings.cols() != dim_) {
    throw_bad_input(
        fmt::format("{}: enrolling '{}' with embeddings of width {}, the store holds {}", source_,
                    user, embeddings.cols(), dim_));
  }
  if (!embeddings.allFinite()) {
    throw_bad_input(
        fmt::format("{}: enrolling '{}': embeddings hold NaN or infinity", source_, user));
  }
  auto it =
      std::lower_bound(users_.begin(), users_.end(), user,
                       [](const UserTemplates& u, const std::string& n) { return u.user < n; });
  if (it != users_.end() && it->user == user) {
    if (!replace) {
      throw_bad_input(
          fmt::format("{}: user '{}' is already enrolled (remove it first)", source_, user));
    }
  } else {
    it = users_.insert(it, UserTemplates{});
  }
  it->user = user;
  it->enrolled = embeddings;
  it->adaptive.resize(0, embeddings.cols());
  it->created_utc = utc_now_iso8601();
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
      enrolled += (k ? ", " : "") + users_[k].user;
    }
    if (users_.size() > 10) enrolled += fmt::format(" and {} more", users_.size() - 10);
    throw_bad_input(fmt::format("template store {}: no user '{}' (enrolled: {})", source_, user,
                                users_.empty() ? "nobody" : enrolled));
  }
  return *it;
}

UserTemplates& TemplateStore::get(const std::string& user) {
  return const_cast<UserTemplates&>(static_cast<const TemplateStore&>(*this).get(user));
}

UnlockDecision TemplateStore::verify(const std::string& user, EmbeddingRef embedding,
                                     UnlockPolicy& policy) {
  UserTemplates& templates = get(user);
  policy.restore_lockout_state(lockout_);
  const UnlockDecision d = policy.attempt(templates, embedding);
  lockout_ = policy.lockout_state();
  return d;
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
