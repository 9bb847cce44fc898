#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "store_test_util.hpp"
#include "test_util.hpp"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/runtime/store_key.hpp"
#include "faceid/runtime/template_store.hpp"
#include "faceid/runtime/unlock.hpp"
#include "faceid/runtime/unlock_policy.hpp"

namespace fs = std::filesystem;
using faceid::Embeddings;
using faceid::test::unit_rows;
using faceid::StoreKey;
using faceid::TemplateStore;

namespace {
const auto& message_of = faceid::test::bad_input_message;

// A fixed key for the tests (and its hex form).
const std::string kHexKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const StoreKey& test_key() {
  static const StoreKey key = StoreKey::from_hex(kHexKey, "test key");
  return key;
}

unsigned file_mode(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}


// A folder of its own under /tmp (pid in the name: parallel runs do not collide), removed at
// the end of the test.
struct TempDir {
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / fmt::format("faceid_test_store_{}_{}", ::getpid(), name)) {
    fs::remove_all(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

}  // namespace

TEST_CASE("template store: save and load round trip bit-exactly", "[template_store]") {
  const TempDir tmp("roundtrip");
  const fs::path& dir = tmp.path;
  TemplateStore store = TemplateStore::open(dir, test_key());
  CHECK(store.size() == 0);
  store.add("bob", unit_rows(5, 128, 1), "a1b2c3");
  store.add("alice", unit_rows(4, 128, 2), "a1b2c3");
  store.get("alice").push_adaptive(unit_rows(1, 128, 3).row(0), 10);
  store.save(dir, test_key());

  const fs::path file = dir / TemplateStore::kFileName;
  REQUIRE(fs::exists(file));
  CHECK(file_mode(file) == 0600);
  CHECK(fs::status(dir).permissions() == fs::perms::owner_all);

  const TemplateStore back = TemplateStore::load(dir, test_key());
  CHECK(back.serialize() == store.serialize());
  // Encrypted: the file is the plaintext plus a 52-byte header and a 16-byte tag, and a second
  // save of the same store differs everywhere after the header (a fresh nonce).
  const std::string sealed = faceid::read_file(file);
  CHECK(sealed.size() == store.serialize().size() + 52 + 16);
  CHECK(sealed.substr(0, 8) == "FACEIDSE");
  store.save(dir, test_key());
  const std::string resealed = faceid::read_file(file);
  CHECK(resealed.substr(0, 28) == sealed.substr(0, 28));
  CHECK(resealed.substr(28, 24) != sealed.substr(28, 24));
  CHECK(resealed.substr(52) != sealed.substr(52));
  CHECK(back.list() == std::vector<std::string>{"alice", "bob"});
  CHECK(back.fingerprint() == "a1b2c3");
  CHECK(back.dim() == 128);
  CHECK(back.source() == dir.string());
  CHECK(back.created_utc() == store.created_utc());
  CHECK(back.created_utc().size() == 20);  // 2024-05-01T12:00:00Z
  CHECK(back.created_utc().back() == 'Z');
  const auto& a = back.get("alice");
  CHECK(a.enrolled == store.get("alice").enrolled);  // bit-exact floats
  CHECK(a.adaptive == store.get("alice").adaptive);
  CHECK(a.adaptive.rows() == 1);
  CHECK(a.created_utc == store.get("alice").created_utc);
  CHECK(back.get("bob").enrolled == store.get("bob").enrolled);
}

TEST_CASE("template store: fingerprint, duplicates, widths and names are checked",
          "[template_store]") {
  const TempDir tmp("checks");
  TemplateStore store = TemplateStore::open(tmp.path, test_key());
  store.add("alice", unit_rows(3, 16, 1), "fp-one");
  const std::string dir = store.source();
  CHECK(message_of([&] { store.add("bob", unit_rows(3, 16, 2), "fp-two"); }) ==
        "template store " + dir + " was made by model fp-one, this checkpoint is fp-two");
  CHECK(message_of([&] { store.require_fingerprint("fp-two"); }) ==
        "template store " + dir + " was made by model fp-one, this checkpoint is fp-two");
  store.require_fingerprint("fp-one");
  CHECK_THAT(message_of([&] { store.add("alice", unit_rows(3, 16, 2), "fp-one"); }),
             Catch::Contains("user 'alice' is already enrolled"));
  CHECK_THAT(message_of([&] { store.add("carol", unit_rows(3, 8, 2), "fp-one"); }),
             Catch::Contains("width 8, the store holds 16"));
  CHECK_THAT(message_of([&] { store.add("", unit_rows(3, 16, 2), "fp-one"); }),
             Catch::Contains("user name"));
  CHECK_THAT(message_of([&] { store.add("x\ny", unit_rows(3, 16, 2), "fp-one"); }),
             Catch::Contains("control character"));
  CHECK_THAT(message_of([&] { store.add("dave", Embeddings(0, 16), "fp-one"); }),
             Catch::Contains("no embedding"));
  CHECK_THAT(message_of([&] { (void)store.get("zed"); }),
             Catch::Contains("no user 'zed' (enrolled: alice)"));
  // Replacing re-enrolls and clears the adaptive templates.
  store.get("alice").push_adaptive(unit_rows(1, 16, 9).row(0), 4);
  const Embeddings fresh = unit_rows(2, 16, 5);
  store.add("alice", fresh, "fp-one", true);
  CHECK(store.get("alice").enrolled == fresh);
  CHECK(store.get("alice").adaptive.rows() == 0);
}

TEST_CASE("template store: remove and identify", "[template_store]") {
  TemplateStore store;
  const Embeddings base = Embeddings::Identity(4, 32);
  // User k's templates sit at and near the unit vector e_k.
  for (int k = 0; k < 4; ++k) {
    Embeddings e(2, 32);
    e.row(0) = base.row(k);
    e.row(1) = (base.row(k) + 0.1f * unit_rows(1, 32, 100 + k)).normalized();
    store.add(fmt::format("user{}", k), e, "fp");
  }
  const Eigen::RowVectorXf probe = (base.row(2) + 0.3f * base.row(1)).normalized();
  const auto top = store.identify(probe, 3);
  REQUIRE(top.size() == 3);
  CHECK(top[0].user == "user2");
  CHECK(top[1].user == "user1");
  CHECK(top[0].distance < top[1].distance);
  CHECK(top[1].distance <= top[2].distance);
  // The nearest of user2's two templates; e2 itself is sqrt(2 - 2 / sqrt(1.09)) away.
  const Embeddings probe_row = probe;
  const auto d2 = faceid::cross_distances(store.get("user2").enrolled, probe_row);
  CHECK(top[0].distance == Approx(d2.minCoeff()).epsilon(1e-5));
  CHECK(d2(0, 0) == Approx(std::sqrt(2.0 - 2.0 / std::sqrt(1.09))).epsilon(1e-5));
  CHECK(store.identify(probe, 10).size() == 4);
  CHECK(store.remove("user2"));
  CHECK_FALSE(store.remove("user2"));
  CHECK_FALSE(store.contains("user2"));
  CHECK(store.list() == std::vector<std::string>{"user0", "user1", "user3"});
  CHECK(store.identify(probe, 1)[0].user == "user1");
}

TEST_CASE("template store: corrupt, truncated and foreign plaintext is refused by name",
          "[template_store]") {
  TemplateStore store;
  store.add("alice", unit_rows(3, 8, 1), "fp");
  const std::string good = store.serialize();
  auto load_with = [&](const std::string& bytes) {
    return message_of([&] { TemplateStore::deserialize(bytes, "blob"); });
  };
  CHECK(load_with(good.substr(0, good.size() - 5)) ==
        fmt::format("blob: truncated template store: the header promises {} payload bytes, the "
                    "file holds {}",
                    good.size() - 28, good.size() - 33));
  CHECK(load_with(good.substr(0, 20)) ==
        "blob: truncated template store: 20 bytes, the header alone has 28");
  std::string flipped = good;
  flipped[good.size() - 11] ^= 0x10;  // one bit of a float
  CHECK(load_with(flipped) == "blob: corrupt template store: checksum mismatch");
  std::string version = good;
  version[8] = 7;
  CHECK(load_with(version) ==
        "blob: unsupported template store format version 7 (this build reads versions 1 to 4)");
  CHECK(load_with("PK\x03\x04 something else entirely") ==
        "blob: not a faceid template store (bad magic)");
  CHECK_THAT(load_with(good + "x"), Catch::Contains("1 bytes after the"));
  CHECK(TemplateStore::deserialize(good, "blob").serialize() == good);
}

TEST_CASE("template store: every flipped bit of the encrypted file is refused, naming the file",
          "[template_store]") {
  const TempDir tmp("tamper");
  const fs::path& dir = tmp.path;
  TemplateStore store;
  store.add("alice", unit_rows(3, 8, 1), "fp");
  store.save(dir, test_key());
  const fs::path file = dir / TemplateStore::kFileName;
  const std::string good = faceid::read_file(file);
  const std::string name = file.string() + ": ";
  const std::string corrupt =
      name + "corrupt template store: authentication failed (the file was altered or damaged)";

  // Every bit of every byte (in memory, as load() does after reading the file).
  size_t refused = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      const std::string msg =
          message_of([&] { faceid::open_sealed_store_bytes(bad, test_key(), file.string()); });
      if (msg.rfind(name, 0) == 0) ++refused;
      if (i >= 12) {
        INFO("byte " << i << " bit " << bit);
        REQUIRE(msg == corrupt);  // past magic and version: the AEAD or the key id catches it
      }
    }
  }
  CHECK(refused == 8 * good.size());

  // Through the file, as the apps see it.
  auto load_with = [&](const std::string& bytes) {
    faceid::write_file_atomic(file, bytes, 0600);
    return message_of([&] { TemplateStore::load(dir, test_key()); });
  };
  std::string flipped = good;
  flipped[good.size() - 30] ^= 0x04;  // a bit of the ciphertext
  CHECK(load_with(flipped) == corrupt);
  std::string id = good;
  id[15] ^= 0x01;  // the key id only: decryption succeeds, the id does not match
  CHECK(load_with(id) == corrupt);
  CHECK(load_with(good.substr(0, 40)) ==
        name + "truncated template store: 40 bytes, an encrypted store has at least 68");
  std::string version = good;
  version[8] = 3;
  CHECK(load_with(version) ==
        name + "unsupported template store format version 3 (this build reads version 1)");
  CHECK(load_with("PK\x03\x04 something else entirely") ==
        name + "not a faceid template store (bad magic)");
  CHECK(load_with(store.serialize()) ==
        name + "unencrypted template store (written by an older faceid); this build reads only "
               "encrypted stores: re-enroll the users");
  CHECK_THAT(message_of([&] { TemplateStore::load(TempDir("missing").path, test_key()); }),
             Catch::Contains("store.bin: cannot open file"));
  // The intact file still loads.
  faceid::write_file_atomic(file, good, 0600);
  CHECK(TemplateStore::load(dir, test_key()).list() == std::vector<std::string>{"alice"});
}

TEST_CASE("template store: a wrong key is refused with a clear message", "[template_store]") {
  const TempDir tmp("wrongkey");
  TemplateStore store;
  store.add("alice", unit_rows(3, 8, 1), "fp");
  store.save(tmp.path, test_key());
  const StoreKey other = StoreKey::generate();
  CHECK(other.id() != test_key().id());
  CHECK(test_key().id().size() == 32);
  const fs::path file = tmp.path / TemplateStore::kFileName;
  CHECK(message_of([&] { TemplateStore::load(tmp.path, other); }) ==
        file.string() + ": wrong key for the template store: it was encrypted with key id " +
            test_key().id() + ", the key from (new key) has id " + other.id());
  // The same key from its hex form opens it.
  const StoreKey again = StoreKey::from_hex(" " + kHexKey + "\n", "again");
  CHECK(TemplateStore::load(tmp.path, again).list() == std::vector<std::string>{"alice"});
}

TEST_CASE("store key: key files are 0600 and never overwritten, loose modes and bad hex refused",
          "[template_store]") {
  const TempDir tmp("keyfile");
  ::unsetenv(StoreKey::kEnvVar);
  const fs::path store_dir = tmp.path / "store";
  const fs::path key_file = store_dir / StoreKey::kDefaultFileName;
  // Without create, a missing key is an error naming the file and the variable.
  CHECK(message_of([&] { StoreKey::resolve(store_dir, {}, false); }) ==
        key_file.string() + ": no key for the template store " + store_dir.string() +
            " (the key file is missing and $FACEID_STORE_KEY is not set)");
  const StoreKey made = StoreKey::resolve(store_dir, {}, true);
  CHECK(made.source() == key_file.string());
  CHECK(file_mode(key_file) == 0600);
  CHECK(fs::status(store_dir).permissions() == fs::perms::owner_all);
  const std::string hex = faceid::read_file(key_file);
  CHECK(hex.size() == 65);
  CHECK(StoreKey::resolve(store_dir, {}, true).id() == made.id());  // reused, not replaced
  CHECK(message_of([&] { made.write_file(key_file); }) ==
        key_file.string() + ": key file already exists; not overwriting it");
  CHECK(faceid::read_file(key_file) == hex);

  // A key file that group or others can read is refused.
  fs::permissions(key_file, fs::perms::owner_read | fs::perms::owner_write |
                                fs::perms::group_read | fs::perms::others_read);
  CHECK(message_of([&] { StoreKey::resolve(store_dir, {}, false); }) ==
        key_file.string() + ": the key file is accessible by group or others (mode 0644); run "
                            "chmod 600 " + key_file.string());
  fs::permissions(key_file, fs::perms::owner_read | fs::perms::owner_write);
  CHECK(StoreKey::read_file(key_file).id() == made.id());

  // An explicit --key-file wins; a malformed one is refused without echoing it.
  const fs::path bad = tmp.path / "bad.key";
  faceid::write_file_atomic(bad, "not a key\n", 0600);
  CHECK(message_of([&] { StoreKey::resolve(store_dir, bad, false); }) ==
        bad.string() + ": expected a key of 64 hex digits, got 9 characters");
  faceid::write_file_atomic(bad, std::string(64, 'g'), 0600);
  CHECK(message_of([&] { StoreKey::read_file(bad); }) ==
        bad.string() + ": expected a key of 64 hex digits, got 64 characters that are not all "
                       "hex digits");

  // $FACEID_STORE_KEY replaces the default key file (and none is created).
  ::setenv(StoreKey::kEnvVar, kHexKey.c_str(), 1);
  const fs::path env_store = tmp.path / "env_store";
  const StoreKey from_env = StoreKey::resolve(env_store, {}, true);
  CHECK(from_env.id() == test_key().id());
  CHECK(from_env.source() == "$FACEID_STORE_KEY");
  CHECK_FALSE(fs::exists(env_store / StoreKey::kDefaultFileName));
  CHECK(StoreKey::resolve(env_store, key_file, false).id() == made.id());  // the file wins
  ::setenv(StoreKey::kEnvVar, "abc", 1);
  CHECK(message_of([&] { StoreKey::resolve(env_store, {}, false); }) ==
        "$FACEID_STORE_KEY: expected a key of 64 hex digits, got 3 characters");
  ::unsetenv(StoreKey::kEnvVar);
}

TEST_CASE("template store: no plaintext embedding reaches the disk", "[template_store]") {
  const TempDir tmp("noplain");
  ::unsetenv(StoreKey::kEnvVar);
  const StoreKey key = StoreKey::resolve(tmp.path, {}, true);
  TemplateStore store = TemplateStore::open(tmp.path, key);
  const Embeddings enrolled = unit_rows(5, 128, 21);
  const Embeddings adaptive = unit_rows(2, 128, 22);
  store.add("alice", enrolled, "fp");
  for (Eigen::Index r = 0; r < adaptive.rows(); ++r) {
    store.get("alice").push_adaptive(adaptive.row(r), 10);
  }
  store.save(tmp.path, key);
  store.save(tmp.path, key);  // a rewrite leaves no temporary behind either

  // Every pair of consecutive floats of every template, as the bytes a plaintext writer would
  // emit; none may occur in any file of the folder (the key file included).
  std::vector<std::string> needles;
  for (const Embeddings* m : {&enrolled, &adaptive}) {
    for (Eigen::Index r = 0; r < m->rows(); ++r) {
      const Eigen::RowVectorXf row = m->row(r);
      for (Eigen::Index k = 0; k + 1 < row.size(); ++k) {
        needles.emplace_back(reinterpret_cast<const char*>(row.data() + k), 8);
      }
    }
  }
  REQUIRE(needles.size() == 7 * 127);
  // The check itself finds them in the plaintext.
  const std::string plain = store.serialize();
  CHECK(std::all_of(needles.begin(), needles.end(),
                    [&](const std::string& n) { return plain.find(n) != std::string::npos; }));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(tmp.path)) {
    names.push_back(e.path().filename().string());
    const std::string bytes = faceid::read_file(e.path());
    for (const auto& n : needles) REQUIRE(bytes.find(n) == std::string::npos);
    CHECK(file_mode(e.path()) == 0600);
  }
  std::sort(names.begin(), names.end());
  // Beside the store: its generation record and the (empty) lock file, no temporary file.
  CHECK(names ==
        std::vector<std::string>{"store.bin", "store.generation", "store.key", "store.lock"});
}

TEST_CASE("template store: the lockout survives reopening the store", "[template_store]") {
  const TempDir tmp("lockout");
  const Embeddings alice = Embeddings::Identity(2, 8);
  const Eigen::RowVectorXf genuine = alice.row(0);
  const Eigen::RowVectorXf impostor = -alice.row(1);
  const faceid::UnlockConfig config;  // lockout after 5 consecutive failures
  REQUIRE(config.lockout_failures == 5);
  {
    TemplateStore store;
    store.add("alice", alice, "fp");
    faceid::UnlockPolicy policy(config, 0.5, false);
    for (int k = 0; k < 4; ++k) {
      CHECK(faceid::unlock_attempt(store, "alice", impostor, policy).outcome == faceid::UnlockOutcome::rejected);
    }
    store.save(tmp.path, test_key());  // a restart after 4 failures keeps the count
  }
  {
    TemplateStore store = TemplateStore::load(tmp.path, test_key());
    CHECK(store.lockout().consecutive_failures == 4);
    CHECK_FALSE(store.lockout().locked);
    faceid::UnlockPolicy policy(config, 0.5, false);  // a fresh process: a fresh policy
    const auto fifth = faceid::unlock_attempt(store, "alice", impostor, policy);
    CHECK(fifth.outcome == faceid::UnlockOutcome::rejected);
    CHECK(fifth.consecutive_failures == 5);
    CHECK(fifth.locked);
    store.save(tmp.path, test_key());
  }
  {
    TemplateStore store = TemplateStore::load(tmp.path, test_key());
    CHECK(store.lockout().locked);
    CHECK(store.lockout().consecutive_failures == 5);
    faceid::UnlockPolicy policy(config, 0.5, false);
    CHECK_FALSE(policy.locked());
    // Still locked out: even the enrolled face is refused, without matching.
    const auto d = faceid::unlock_attempt(store, "alice", genuine, policy);
    CHECK(d.outcome == faceid::UnlockOutcome::locked_out);
    CHECK(std::isnan(d.distance));
    // The passcode clears it, and that too is persisted.
    store.reset_lockout();
    store.save(tmp.path, test_key());
  }
  TemplateStore store = TemplateStore::load(tmp.path, test_key());
  CHECK_FALSE(store.lockout().locked);
  CHECK(store.lockout().consecutive_failures == 0);
  // A stored count at the limit locks even without the flag.
  faceid::UnlockPolicy restored(config, 0.5, false);
  restored.restore_lockout_state({5, false});
  CHECK(restored.locked());
  CHECK(restored.lockout_state().consecutive_failures == 5);
  faceid::UnlockPolicy policy(config, 0.5, false);
  CHECK(faceid::unlock_attempt(store, "alice", genuine, policy).outcome == faceid::UnlockOutcome::accepted);
}

TEST_CASE("template store: format version 1 (no lockout fields) is still read",
          "[template_store]") {
  TemplateStore store;
  store.add("alice", unit_rows(3, 8, 1), "fp", false, "pad.bin:00000000000000aa");
  // A version-1 buffer: no liveness model, lockout fields or generation.
  const std::string v1 = faceid::test::store_plaintext_as_version(store, 1);
  const TemplateStore back = TemplateStore::deserialize(v1, "v1");
  CHECK(back.get("alice").enrolled == store.get("alice").enrolled);
  CHECK(back.get("alice").liveness_model.empty());
  CHECK(back.lockout().consecutive_failures == 0);
  CHECK_FALSE(back.lockout().locked);
}

TEST_CASE("template store: the liveness model of each user round trips", "[template_store][store]") {
  const TempDir tmp("liveness");
  TemplateStore store;
  store.add("alice", unit_rows(3, 8, 1), "fp", false, "pad.bin:0123456789abcdef");
  store.add("bob", unit_rows(2, 8, 2), "fp");  // enrolled without a liveness check
  CHECK(store.get("alice").liveness_model == "pad.bin:0123456789abcdef");
  CHECK(store.get("bob").liveness_model.empty());
  store.save(tmp.path, test_key());
  TemplateStore back = TemplateStore::load(tmp.path, test_key());
  CHECK(back.get("alice").liveness_model == "pad.bin:0123456789abcdef");
  CHECK(back.get("bob").liveness_model.empty());
  // The plaintext is the layout written field by field (template_store.hpp), version 4.
  CHECK(back.serialize() == faceid::test::store_plaintext_as_version(back, 4));
  CHECK(static_cast<uint8_t>(back.serialize()[8]) == TemplateStore::kFormatVersion);
  CHECK(TemplateStore::kFormatVersion == 4);
  // A re-enrollment records the model of that enrollment (here: none).
  back.add("alice", unit_rows(3, 8, 3), "fp", true);
  CHECK(back.get("alice").liveness_model.empty());
  back.add("bob", unit_rows(3, 8, 4), "fp", true, "other.bin:00000000000000ff");
  CHECK(TemplateStore::deserialize(back.serialize(), "blob").get("bob").liveness_model ==
        "other.bin:00000000000000ff");
}

TEST_CASE("template store: a version-4 store written byte by byte loads and writes back the same",
          "[template_store][store]") {
  auto le = [](uint64_t value, int bytes) {
    std::string out;
    for (int k = 0; k < bytes; ++k) out += static_cast<char>((value >> (8 * k)) & 0xff);
    return out;
  };
  auto le_str = [&](const std::string& text) { return le(text.size(), 4) + text; };
  auto le_f32 = [&](float value) {
    uint32_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    return le(bits, 4);
  };
  const std::string created = "2024-05-01T12:00:00Z";
  const std::string payload = le_str("fp123") + le_str(created) + le(2, 4) + le(1, 4) +
                              le_str("alice") + le_str(created) + le_str("pad.bin:0a") +
                              le(1, 4) + le(0, 4) + le_f32(0.6f) + le_f32(0.8f) + le(0, 4) +
                              le(0, 4) + le(9, 8);
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : payload) hash = (hash ^ c) * 0x100000001b3ull;
  const std::string bytes = "FACEIDTS" + le(4, 4) + le(payload.size(), 8) + le(hash, 8) + payload;
  const TemplateStore store = TemplateStore::deserialize(bytes, "golden");
  CHECK(store.get("alice").liveness_model == "pad.bin:0a");
  CHECK(store.get("alice").enrolled(0, 1) == 0.8f);
  CHECK(store.generation() == 9);
  CHECK(store.serialize() == bytes);
  // Cut inside the liveness model: the message names the field.
  const std::string cut = le_str("fp123") + le_str(created) + le(2, 4) + le(1, 4) +
                          le_str("alice") + le_str(created) + le(10, 4) + "pad";
  uint64_t h2 = 0xcbf29ce484222325ull;
  for (unsigned char c : cut) h2 = (h2 ^ c) * 0x100000001b3ull;
  CHECK_THAT(message_of([&] {
               TemplateStore::deserialize("FACEIDTS" + le(4, 4) + le(cut.size(), 8) + le(h2, 8) +
                                              cut, "golden");
             }),
             Catch::Contains("a liveness model"));
}

TEST_CASE("template store: a version-3 store loads with no liveness model and is rewritten as 4",
          "[template_store][store]") {
  const TempDir tmp("v3");
  TemplateStore store;
  store.add("alice", unit_rows(3, 8, 1), "fp", false, "ignored-by-v3");
  store.add("bob", unit_rows(2, 8, 2), "fp");
  const std::string v3 = faceid::test::store_plaintext_as_version(store, 3);
  REQUIRE(static_cast<uint8_t>(v3[8]) == 3);
  fs::create_directories(tmp.path);
  faceid::write_file_atomic(tmp.path / TemplateStore::kFileName,
                            faceid::seal_store_bytes(v3, test_key()), 0600);
  TemplateStore back = TemplateStore::load(tmp.path, test_key());
  CHECK(back.list() == std::vector<std::string>{"alice", "bob"});
  CHECK(back.get("alice").liveness_model.empty());
  CHECK(back.get("bob").liveness_model.empty());
  CHECK(back.get("alice").enrolled == store.get("alice").enrolled);
  CHECK(back.get("alice").created_utc == store.get("alice").created_utc);
  back.save(tmp.path, test_key());
  // On disk now: version 4, the same users, still no liveness model.
  std::string plain = faceid::open_sealed_store_bytes(
      faceid::read_file(tmp.path / TemplateStore::kFileName), test_key(), "store.bin");
  CHECK(static_cast<uint8_t>(plain[8]) == 4);
  const TemplateStore v4 = TemplateStore::deserialize(plain, "v4");
  CHECK(v4.generation() == 1);
  CHECK(v4.get("alice").liveness_model.empty());
  CHECK(v4.get("bob").enrolled == store.get("bob").enrolled);
}
