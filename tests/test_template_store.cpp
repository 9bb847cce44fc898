#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "test_util.hpp"
#include <cmath>
#include <filesystem>
#include <random>

#include "faceid/error.hpp"
#include "faceid/fs.hpp"
#include "faceid/infer/template_store.hpp"
#include "faceid/infer/unlock_policy.hpp"

namespace fs = std::filesystem;
using faceid::Embeddings;
using faceid::TemplateStore;

namespace {
const auto& message_of = faceid::test::bad_input_message;

Embeddings unit_rows(int rows, int dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Embeddings X(rows, dim);
  for (int i = 0; i < rows; ++i) {
    for (int k = 0; k < dim; ++k) X(i, k) = normal(rng);
    X.row(i).normalize();
  }
  return X;
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
  TemplateStore store = TemplateStore::open(dir);
  CHECK(store.size() == 0);
  store.add("bob", unit_rows(5, 128, 1), "a1b2c3");
  store.add("alice", unit_rows(4, 128, 2), "a1b2c3");
  store.get("alice").push_adaptive(unit_rows(1, 128, 3).row(0), 10);
  store.save(dir);

  const fs::path file = dir / TemplateStore::kFileName;
  REQUIRE(fs::exists(file));
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(fs::status(dir).permissions() == fs::perms::owner_all);

  const TemplateStore back = TemplateStore::load(dir);
  CHECK(back.serialize() == store.serialize());
  CHECK(faceid::read_file(file) == store.serialize());
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
  TemplateStore store = TemplateStore::open(tmp.path);
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

TEST_CASE("template store: corrupt, truncated and foreign files are refused by name",
          "[template_store]") {
  const TempDir tmp("corrupt");
  const fs::path& dir = tmp.path;
  TemplateStore store;
  store.add("alice", unit_rows(3, 8, 1), "fp");
  store.save(dir);
  const fs::path file = dir / TemplateStore::kFileName;
  const std::string good = faceid::read_file(file);
  auto load_with = [&](const std::string& bytes) {
    faceid::write_file_atomic(file, bytes);
    return message_of([&] { TemplateStore::load(dir); });
  };
  const std::string name = file.string() + ": ";

  CHECK(load_with(good.substr(0, good.size() - 5)) ==
        name + fmt::format("truncated template store: the header promises {} payload bytes, the "
                           "file holds {}",
                           good.size() - 28, good.size() - 33));
  CHECK(load_with(good.substr(0, 20)) ==
        name + "truncated template store: 20 bytes, the header alone has 28");
  std::string flipped = good;
  flipped[good.size() - 3] ^= 0x10;  // one bit of a float
  CHECK(load_with(flipped) == name + "corrupt template store: checksum mismatch");
  std::string version = good;
  version[8] = 7;
  CHECK(load_with(version) ==
        name + "unsupported template store format version 7 (this build reads version 1)");
  CHECK(load_with("PK\x03\x04 something else entirely") ==
        name + "not a faceid template store (bad magic)");
  CHECK_THAT(load_with(good + "x"), Catch::Contains("1 bytes after the"));
  CHECK_THAT(message_of([&] { TemplateStore::load(TempDir("missing").path); }),
             Catch::Contains("store.bin: cannot open file"));
  // deserialize names its source too.
  CHECK_THAT(message_of([&] { TemplateStore::deserialize(flipped, "blob"); }),
             Catch::StartsWith("blob: corrupt template store"));
  CHECK(TemplateStore::deserialize(good, "blob").serialize() == good);
}
