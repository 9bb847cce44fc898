// The template store under concurrency and misuse (issue 16): the probes of an adversarial but
// realistic user, given to the real `enroll` and `unlock_sim` (build/bin/...), and the library
// guarantees behind them (transactions under a lock, the generation record against rollback).
#include "catch_torch.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "faceid/core/file_lock.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/runtime/enrollment.hpp"
#include "faceid/runtime/store_key.hpp"
#include "faceid/runtime/template_store.hpp"
#include "faceid/runtime/unlock.hpp"
#include "faceid/runtime/unlock_policy.hpp"
#include "faceid/eval/unlock_sim.hpp"
#include "faceid/model/checkpoint.hpp"
#include "synth_fixture.hpp"
#include "store_test_util.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using faceid::Embeddings;
using faceid::test::unit_rows;
using faceid::StoreKey;
using faceid::TemplateStore;
using faceid::test::run_app;

namespace {

const auto& message_of = faceid::test::bad_input_message;

const StoreKey& test_key() {
  static const StoreKey key = StoreKey::from_hex(
      "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f", "test key");
  return key;
}

// An untrained smoke checkpoint (enrollment only needs embeddings; no pose-spread rule, one
// loader thread). `eer_threshold`: the match threshold it carries (NaN: never validated).
fs::path tiny_checkpoint(const fs::path& dir,
                         double eer_threshold = std::numeric_limits<double>::quiet_NaN()) {
  const faceid::Config config =
      faceid::test::smoke_config({"unlock.min_pose_spread=0", "data.workers=1"});
  torch::manual_seed(3);
  faceid::EmbeddingNet net(config.model, config.preprocess.input_size);
  faceid::CheckpointMeta meta;
  meta.config_yaml = faceid::to_yaml(config);
  meta.eer_threshold = eer_threshold;
  const fs::path ckpt = dir / "model.pt";
  faceid::save_checkpoint(ckpt, net, nullptr, meta);
  return ckpt;
}

// Three frames (poses 1, 3, 5) of smoke person `person`: the cheapest enrollment.
std::string three_frames(int person) {
  const fs::path p = faceid::test::smoke_dataset() / fmt::format("synth_{:05d}", person);
  return fmt::format("'{}' '{}' '{}'", (p / "001_1_d.png").string(), (p / "003_1_d.png").string(),
                     (p / "005_1_d.png").string());
}

// The users `enroll --list` prints (lines "  NAME: ...").
std::set<std::string> listed_users(const std::string& out) {
  std::set<std::string> users;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("  ", 0) == 0 && line.find(": ") != std::string::npos) {
      users.insert(line.substr(2, line.find(": ") - 2));
    }
  }
  return users;
}

struct StoreFixture {
  explicit StoreFixture(const std::string& name)
      : dir(faceid::test::scratch_dir("store-misuse-" + name)),
        ckpt(tiny_checkpoint(dir)),
        store((dir / "store").string()) {
    ::unsetenv(StoreKey::kEnvVar);
  }
  int enroll(const std::string& user, const std::string& frames, std::string* out,
             const std::string& extra = "") const {
    return run_app("enroll", fmt::format("--device cpu --checkpoint '{}' --store '{}' --user '{}' "
                                         "--frames {} {}",
                                         ckpt.string(), store, user, frames, extra),
                   out);
  }
  int remove(const std::string& user, std::string* out, const std::string& extra = "") const {
    return run_app("enroll", fmt::format("--store '{}' --remove --user '{}' {}", store, user, extra),
                   out);
  }
  std::set<std::string> users(int* code = nullptr, const std::string& extra = "") const {
    std::string out;
    const int rc = run_app("enroll", fmt::format("--store '{}' --list {}", store, extra), &out);
    if (code) *code = rc;
    INFO(out);
    return listed_users(out);
  }
  fs::path dir;
  fs::path ckpt;
  std::string store;
};

}  // namespace

// ---- row 1 and 2: concurrency ------------------------------------------------------------------

TEST_CASE("store misuse: concurrent enroll/remove processes lose no update and report the truth",
          "[store][store_stress]") {
  const auto start = std::chrono::steady_clock::now();
  const StoreFixture fx("stress");
  std::string out;
  REQUIRE(fx.enroll("base", three_frames(0), &out) == 0);

  // Workers: each owns two users and enrolls or removes them at random (its own view of which
  // are enrolled is exact: nobody else touches them); a reader lists the store all along.
  constexpr int kWorkers = 3, kSteps = 4;
  std::mutex mu;
  std::vector<std::string> failures;
  std::set<std::string> expected = {"base"};
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> g(mu);
    failures.push_back(what);
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      std::mt19937 rng(static_cast<uint32_t>(17 + w));
      std::map<std::string, bool> enrolled = {{fmt::format("w{}a", w), false},
                                              {fmt::format("w{}b", w), false}};
      for (int step = 0; step < kSteps; ++step) {
        auto it = enrolled.begin();
        std::advance(it, static_cast<long>(rng() % enrolled.size()));
        const std::string& user = it->first;
        std::string o;
        if (it->second) {
          const int rc = fx.remove(user, &o);
          if (rc != 0 || o.find("removed " + user + " from") == std::string::npos) {
            fail(fmt::format("remove {}: exit {}: {}", user, rc, o));
          }
          it->second = false;
        } else {
          const int rc = fx.enroll(user, three_frames(1 + w), &o);
          if (rc != 0 || o.find("enrolled " + user + " with 3 templates") == std::string::npos) {
            fail(fmt::format("enroll {}: exit {}: {}", user, rc, o));
          }
          it->second = true;
        }
      }
      // A remove of a user that is not there says so (exit 2), whatever the others do.
      std::string o;
      const std::string ghost = fmt::format("w{}ghost", w);
      if (fx.remove(ghost, &o) != 2 || o.find("no user '" + ghost + "'") == std::string::npos) {
        fail("remove of an absent user: " + o);
      }
      std::lock_guard<std::mutex> g(mu);
      for (const auto& [user, in] : enrolled) {
        if (in) expected.insert(user);
      }
    });
  }
  std::atomic<bool> done{false};
  int lists = 0;
  std::thread reader([&] {
    while (!done) {
      std::string o;
      const int rc = run_app("enroll", fmt::format("--store '{}' --list", fx.store), &o);
      if (rc != 0 || o.find("template store ") != 0 || listed_users(o).count("base") != 1) {
        fail(fmt::format("list: exit {}: {}", rc, o));
      }
      ++lists;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  for (auto& t : workers) t.join();
  done = true;
  reader.join();
  for (const auto& f : failures) FAIL_CHECK(f);
  CHECK(lists > 0);
  CHECK(fx.users() == expected);
  // Every one of the commits moved the generation: 1 (base) + one per change.
  const StoreKey key = StoreKey::read_file(fs::path(fx.store) / StoreKey::kDefaultFileName);
  CHECK(TemplateStore::load(fx.store, key).generation() == 1 + kWorkers * kSteps);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "store stress: %d processes x %d changes + %d lists in %.1f s\n", kWorkers,
               kSteps, lists, seconds);
}

TEST_CASE("store misuse: a remove during a long enrollment stays removed", "[store]") {
  const StoreFixture fx("remove-during-enroll");
  std::string out;
  REQUIRE(fx.enroll("alice", three_frames(0), &out) == 0);
  std::string enroll_out;
  int enroll_rc = -1;
  const std::string person = (faceid::test::smoke_dataset() / "synth_00002").string();
  std::thread enroll([&] { enroll_rc = fx.enroll("newbie", "'" + person + "'", &enroll_out); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string remove_out;
  const int remove_rc = fx.remove("alice", &remove_out);
  enroll.join();
  INFO(enroll_out << remove_out);
  CHECK(enroll_rc == 0);
  CHECK(remove_rc == 0);
  CHECK_THAT(remove_out, Catch::Contains("removed alice"));
  CHECK(fx.users() == std::set<std::string>{"newbie"});
}

TEST_CASE("store misuse: a held lock times out with a clear message", "[store]") {
  const StoreFixture fx("lock-held");
  std::string out;
  REQUIRE(fx.enroll("alice", three_frames(0), &out) == 0);
  const fs::path lock_file = fs::path(fx.store) / TemplateStore::kLockFileName;
  {
    const faceid::FileLock held(lock_file, faceid::FileLock::Mode::exclusive, 1, "test");
    CHECK(fx.remove("alice", &out, "--lock-timeout 0.3") == 1);
    CHECK_THAT(out, Catch::Contains("enroll: error: template store " + fx.store +
                                    " is busy: another process has held " + lock_file.string() +
                                    " for more than 0.3 s; try again"));
    int rc = 0;
    fx.users(&rc, "--lock-timeout 0.3");  // a reader waits for a writer too
    CHECK(rc == 1);
  }
  CHECK(fx.users() == std::set<std::string>{"alice"});
  CHECK(fx.remove("alice", &out) == 0);
}

TEST_CASE("store misuse: save() refuses to overwrite a store changed since it was read",
          "[store]") {
  const auto dir = faceid::test::scratch_dir("store-misuse-stale-save");
  TemplateStore a;
  a.add("alice", unit_rows(3, 8, 1), "fp");
  a.save(dir, test_key());
  TemplateStore b = TemplateStore::load(dir, test_key());
  TemplateStore c = TemplateStore::load(dir, test_key());
  b.add("bob", unit_rows(3, 8, 2), "fp");
  b.save(dir, test_key());
  c.add("carol", unit_rows(3, 8, 3), "fp");
  CHECK_THAT(message_of([&] { c.save(dir, test_key()); }),
             Catch::Contains("changed since it was read (generation 2 on disk, 1 read)"));
  // update() is the read-modify-write that cannot lose bob.
  CHECK(TemplateStore::update(dir, test_key(), [](TemplateStore& s) {
    s.add("carol", unit_rows(3, 8, 3), "fp");
    return true;
  }));
  CHECK(TemplateStore::load(dir, test_key()).list() ==
        std::vector<std::string>{"alice", "bob", "carol"});
  // A change that throws leaves the store as it was.
  CHECK_THROWS(TemplateStore::update(dir, test_key(), [](TemplateStore& s) {
    s.remove("alice");
    faceid::throw_bad_input("no");
    return true;
  }));
  CHECK(TemplateStore::load(dir, test_key()).contains("alice"));
}

// ---- row 3: one person per enrollment, names first ---------------------------------------------

TEST_CASE("store misuse: a dataset root or frames of different people are not one user",
          "[store]") {
  const StoreFixture fx("one-person");
  std::string out;
  const fs::path data = faceid::test::smoke_dataset();
  CHECK(fx.enroll("mallory", "'" + data.string() + "'", &out) == 2);
  CHECK_THAT(out, Catch::Contains(data.string() + ": holds 6 person folders; an enrollment takes "
                                                  "the frames of one person"));
  CHECK_FALSE(fs::exists(fs::path(fx.store) / TemplateStore::kFileName));

  // A checkpoint whose match threshold no two frames meet: frames of two people are refused.
  const fs::path strict = fx.dir / "strict";
  fs::create_directories(strict);
  const fs::path ckpt = tiny_checkpoint(strict, 1e-6);
  const fs::path p1 = data / "synth_00001", p2 = data / "synth_00002";
  CHECK(run_app("enroll", fmt::format("--device cpu --checkpoint '{}' --store '{}' --user mallory "
                                      "--frames '{}' '{}' '{}' '{}'",
                                      ckpt.string(), fx.store, (p1 / "001_1_d.png").string(),
                                      (p1 / "004_1_d.png").string(), (p2 / "001_1_d.png").string(),
                                      (p2 / "004_1_d.png").string()),
                &out) == 2);
  CHECK_THAT(out, Catch::Contains("enrollment of mallory refused: these frames look like "
                                  "different people: 4 of 4 frame(s) are farther than the match "
                                  "threshold 0.000"));
  // Under a threshold they all meet, the same frames pass this check.
  const fs::path loose = fx.dir / "loose";
  fs::create_directories(loose);
  const fs::path ckpt2 = tiny_checkpoint(loose, 10.0);
  CHECK(run_app("enroll", fmt::format("--device cpu --checkpoint '{}' --store '{}' --user one "
                                      "--frames '{}'",
                                      ckpt2.string(), fx.store, p1.string()),
                &out) == 0);
}

TEST_CASE("store misuse: inconsistent_enrollment_rows refuses any mix of people", "[store]") {
  // Two tight clusters far apart: person A near e0, person B near e1 (distance ~1.41 apart).
  auto cluster = [](int rows, int axis, uint32_t seed) {
    Embeddings e = 0.05f * unit_rows(rows, 8, seed);
    e.col(axis).array() += 1.0f;
    e.rowwise().normalize();
    return e;
  };
  Embeddings a = cluster(5, 0, 1), b = cluster(2, 1, 2);
  Embeddings mixed(7, 8);
  mixed << a, b;
  CHECK(faceid::inconsistent_enrollment_rows(a, 0.5).empty());
  CHECK(faceid::inconsistent_enrollment_rows(mixed, 0.5) == std::vector<size_t>{5, 6});
  Embeddings half(4, 8);
  half << a.topRows(2), b;
  CHECK(faceid::inconsistent_enrollment_rows(half, 0.5).size() == 4);
  CHECK(faceid::inconsistent_enrollment_rows(a.topRows(1), 0.5).empty());
}

TEST_CASE("store misuse: user names are checked before any work and escaped in messages",
          "[store]") {
  std::string out;
  // Nothing exists here: the name is refused before the checkpoint or frames are looked at.
  const auto dir = faceid::test::scratch_dir("store-misuse-names");
  const std::string args = fmt::format("--checkpoint /nonexistent.pt --frames /nonexistent "
                                       "--store '{}/store'",
                                       dir.string());
  CHECK(run_app("enroll", args + " --user \"$(printf 'eve\\033[31mred')\"", &out) == 2);
  CHECK_THAT(out, Catch::Contains("--user: user name 'eve\\x1b[31mred' holds a control character"));
  CHECK(out.find('\033') == std::string::npos);
  CHECK(run_app("enroll", args + " --user \"$(printf 'a\\nb')\"", &out) == 2);
  CHECK_THAT(out, Catch::Contains("'a\\x0ab'"));
  CHECK(run_app("enroll", args + " --user \"$(printf 'a\\302\\233b')\"", &out) == 2);  // C1 CSI
  CHECK_THAT(out, Catch::Contains("'a\\xc2\\x9bb'"));
  CHECK_FALSE(fs::exists(dir / "store"));

  CHECK(faceid::escape_for_message("José \\ ok") == "José \\x5c ok");
  TemplateStore::check_user_name("José", "t");
  CHECK_THAT(message_of([] { TemplateStore::check_user_name("a\xff", "t"); }),
             Catch::Contains("invalid UTF-8 at byte 1"));
  CHECK_THAT(message_of([] { TemplateStore::check_user_name("", "t"); }),
             Catch::Contains("1 to 256 bytes"));
}

// ---- row 4: rollback ---------------------------------------------------------------------------

TEST_CASE("store misuse: an old copy of store.bin put back is refused as rolled back",
          "[store]") {
  const StoreFixture fx("rollback");
  std::string out;
  REQUIRE(fx.enroll("alice", three_frames(0), &out) == 0);
  REQUIRE(fx.enroll("bob", three_frames(1), &out) == 0);
  const fs::path file = fs::path(fx.store) / TemplateStore::kFileName;
  const std::string old = faceid::read_file(file);
  REQUIRE(fx.remove("alice", &out) == 0);
  faceid::write_file_atomic(file, old, 0600);  // the attacker's copy back

  int rc = 0;
  fx.users(&rc);
  CHECK(rc == 2);
  CHECK(fx.remove("bob", &out) == 2);
  CHECK_THAT(out, Catch::Contains(file.string() + ": store rolled back: it is generation 2, but "
                                                  "generation 3 was accepted before"));
  CHECK(fx.enroll("carol", three_frames(2), &out) == 2);  // refused before embedding
  CHECK_THAT(out, Catch::Contains("store rolled back"));
  // The owner may accept it; the record then moves past both.
  CHECK(fx.users(&rc, "--accept-rollback") == std::set<std::string>{"alice", "bob"});
  CHECK(rc == 0);
  CHECK(fx.remove("alice", &out, "--accept-rollback") == 0);
  const StoreKey key = StoreKey::read_file(fs::path(fx.store) / StoreKey::kDefaultFileName);
  CHECK(TemplateStore::load(fx.store, key).generation() == 4);
  CHECK(fx.users() == std::set<std::string>{"bob"});

  // Deleting the store (or the record of a store past generation 1) is a rollback too.
  const fs::path record = fs::path(fx.store) / TemplateStore::kGenerationFileName;
  const std::string rec = faceid::read_file(record);
  fs::remove(record);
  fx.users(&rc);
  CHECK(rc == 2);
  faceid::write_file_atomic(record, rec, 0600);
  fs::remove(file);
  CHECK(fx.enroll("carol", three_frames(2), &out) == 2);
  CHECK_THAT(out, Catch::Contains("store rolled back: the store is missing, but generation 4"));
}

TEST_CASE("store misuse: the lockout counter cannot be rolled back; the record is authenticated",
          "[store]") {
  const auto dir = faceid::test::scratch_dir("store-misuse-lockout-rollback");
  TemplateStore store;
  store.add("alice", unit_rows(3, 8, 1), "fp");
  store.save(dir, test_key());
  const std::string fresh = faceid::read_file(dir / TemplateStore::kFileName);
  const faceid::UnlockConfig config;
  faceid::UnlockPolicy policy(config, 0.01, false);
  TemplateStore::update(dir, test_key(), [&](TemplateStore& s) {
    const Eigen::RowVectorXf impostor = -s.get("alice").enrolled.row(0);
    for (int k = 0; k < config.lockout_failures; ++k) faceid::unlock_attempt(s, "alice", impostor, policy);
    return true;
  });
  REQUIRE(TemplateStore::load(dir, test_key()).lockout().locked);
  faceid::write_file_atomic(dir / TemplateStore::kFileName, fresh, 0600);
  CHECK_THAT(message_of([&] { TemplateStore::load(dir, test_key()); }),
             Catch::Contains("store rolled back: it is generation 1, but generation 2 was "
                             "accepted before"));
  // A record with a flipped bit, or of another key, is refused; accept_rollback rewrites it.
  const fs::path record = dir / TemplateStore::kGenerationFileName;
  std::string rec = faceid::read_file(record);
  rec[13] ^= 0x01;
  faceid::write_file_atomic(record, rec, 0600);
  CHECK_THAT(message_of([&] { TemplateStore::load(dir, test_key()); }),
             Catch::Contains(record.string() + ": the template store's generation record is "
                                               "damaged"));
  faceid::StoreAccess accept;
  accept.accept_rollback = true;
  TemplateStore back = TemplateStore::load(dir, test_key(), accept);
  CHECK_FALSE(back.lockout().locked);
  back.save(dir, test_key(), accept);
  CHECK(TemplateStore::load(dir, test_key()).generation() == 2);
  // The record may live elsewhere; moving it there is a deliberate acceptance (the store is past
  // generation 1, so a missing record is refused).
  faceid::StoreAccess apart;
  apart.generation_file = dir.parent_path() / "store-misuse-lockout-rollback.generation";
  fs::remove(apart.generation_file);
  CHECK_THAT(message_of([&] { TemplateStore::load(dir, test_key(), apart); }),
             Catch::Contains("store rolled back? it is generation 2, but its generation record " +
                             apart.generation_file.string() + " is missing"));
  faceid::StoreAccess move = apart;
  move.accept_rollback = true;
  TemplateStore::update(dir, test_key(), [](TemplateStore&) { return true; }, move);
  CHECK(fs::exists(apart.generation_file));
  CHECK(TemplateStore::load(dir, test_key(), apart).generation() == 3);
}

TEST_CASE("store misuse: version 2 stores still load and are rewritten as version 4", "[store]") {
  const auto dir = faceid::test::scratch_dir("store-misuse-v2");
  TemplateStore store;
  store.add("alice", unit_rows(3, 8, 1), "fp");
  // The version-2 plaintext: no liveness model per user, no generation.
  const std::string v2 = faceid::test::store_plaintext_as_version(store, 2);
  faceid::write_file_atomic(dir / TemplateStore::kFileName, faceid::seal_store_bytes(v2, test_key()),
                            0600);
  TemplateStore back = TemplateStore::load(dir, test_key());
  CHECK(back.generation() == 0);
  CHECK(back.get("alice").enrolled == store.get("alice").enrolled);
  back.save(dir, test_key());
  const TemplateStore v3 = TemplateStore::load(dir, test_key());
  CHECK(v3.generation() == 1);
  CHECK(fs::exists(dir / TemplateStore::kGenerationFileName));
}

// ---- rows 9 and 10: the store folder and file of the wrong kind --------------------------------

TEST_CASE("store misuse: store.bin a folder, --store a file: exit 2 with our message", "[store]") {
  const auto dir = faceid::test::scratch_dir("store-misuse-kinds");
  std::string out;
  const fs::path store = dir / "store";
  fs::create_directories(store / TemplateStore::kFileName);
  StoreKey::generate().write_file(store / StoreKey::kDefaultFileName);
  CHECK(run_app("enroll", fmt::format("--store '{}' --list", store.string()), &out) == 2);
  CHECK_THAT(out, Catch::Contains((store / TemplateStore::kFileName).string() +
                                  ": not a regular file (a folder)"));
  CHECK(out.find("internal error") == std::string::npos);

  const fs::path file = dir / "plain-file";
  faceid::write_file_atomic(file, "x");
  CHECK(run_app("enroll", fmt::format("--checkpoint /nonexistent.pt --frames /nonexistent "
                                      "--store '{}' --user alice", file.string()),
                &out) == 2);
  CHECK_THAT(out, Catch::Contains("enroll: error: " + file.string() + ": not a folder (a template "
                                  "store is a folder holding store.bin)"));
  CHECK(out.find(".tmp.") == std::string::npos);
}

// ---- row 5: no metrics from nothing ------------------------------------------------------------

TEST_CASE("store misuse: unlock_sim with no genuine attempt exits 2; JSON never rates 0 trials",
          "[store][unlock]") {
  const auto dir = faceid::test::scratch_dir("store-misuse-unlock-zero");
  const fs::path ckpt = tiny_checkpoint(dir);
  const fs::path data = faceid::test::smoke_dataset();
  std::string out;
  // 6 poses per person, all used for enrollment: nothing is left to attempt.
  CHECK(run_app("unlock_sim", fmt::format("--device cpu --checkpoint '{}' --data '{}' "
                                          "--enroll-frames 6 --threshold 1 --out '{}/u' --json "
                                          "'{}/u.json'",
                                          ckpt.string(), data.string(), dir.string(), dir.string()),
                &out) == 2);
  CHECK_THAT(out, Catch::Contains("unlock_sim: error: no genuine attempts, so no FRR: 6 of 6 "
                                  "person(s) enrolled, and every frame of theirs was used for "
                                  "enrollment"));
  CHECK_FALSE(fs::exists(dir / "u.json"));
  CHECK_FALSE(fs::exists(dir / "u" / "per_user.csv"));

  faceid::UnlockSimReport empty;
  empty.threshold = 0.5;
  const std::string json = faceid::unlock_report_json(empty);
  CHECK_THAT(json, Catch::Contains("\"frr\": null") && Catch::Contains("\"far\": null") &&
                       Catch::Contains("\"genuine_attempts\": 0") &&
                       Catch::Contains("\"genuine_mean\": null"));
  CHECK_THAT(faceid::format_unlock_report(empty),
             Catch::Contains("FRR n/a (0 genuine attempts), FAR n/a (0 impostor attempts)"));
  CHECK_THAT(faceid::unlock_report_unusable(empty), Catch::Contains("no genuine attempts"));
  empty.genuine_attempts = 3;
  CHECK_THAT(faceid::unlock_report_unusable(empty), Catch::Contains("no impostor attempts"));
}
