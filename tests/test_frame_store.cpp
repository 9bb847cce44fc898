#include "catch_torch.hpp"

#include <chrono>
#include <ctime>
#include <cstring>
#include <fstream>

#include <opencv2/imgcodecs.hpp>

#include "data/crop_cache.hpp"
#include "faceid/io/depth_io.hpp"
#include "io_test_util.hpp"
#include "faceid/train/batch_loader.hpp"
#include "faceid/data/frame_store.hpp"
#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"

namespace fs = std::filesystem;
using faceid::DataConfig;
using faceid::FrameStore;
using faceid::PreprocessConfig;

namespace {

// Writes one VAP-layout frame (640x480 NNN_K_c.png + 16-bit NNN_K_d.png) of the io tests' scene
// (wall, torso, neck, ellipsoid head at 800 mm) with the head `dx` pixels right of the middle.
// `face` = false writes no valid depth at all (no face can be found).
void write_frame(const fs::path& person_dir, int pose, int rep, int dx, bool face = true) {
  faceid_test::Scene scene;
  scene.cx = 320 + dx;
  faceid::Frame f = faceid_test::make_scene(scene);
  if (!face) f.depth.mm.setTo(0);
  fs::create_directories(person_dir);
  const std::string stem = fmt::format("{:03d}_{}_", pose, rep);
  REQUIRE(cv::imwrite((person_dir / (stem + "c.png")).string(), f.color));
  faceid::write_depth_png(person_dir / (stem + "d.png"), faceid_test::raw_codes(f.depth.mm));
}

// persons x frames, every frame a little different.
faceid::Dataset make_dataset(const fs::path& root, int persons, int frames) {
  for (int p = 0; p < persons; ++p) {
    for (int k = 0; k < frames; ++k) {
      write_frame(root / fmt::format("person_{}", p), k + 1, 1, 8 * k - 12 + 3 * p);
    }
  }
  return faceid::scan_dataset(root);
}

DataConfig data_config(const std::string& cache_dir) {
  DataConfig d;
  d.cache_dir = cache_dir;
  d.workers = 2;
  return d;
}

PreprocessConfig small_crops() {
  PreprocessConfig p;
  p.input_size = 48;
  return p;
}

std::vector<std::string> all_persons(const faceid::Dataset& d) {
  std::vector<std::string> names;
  for (const auto& p : d.persons) names.push_back(p.identity);
  return names;
}

void require_same_crops(const FrameStore& x, const FrameStore& y) {
  REQUIRE(x.size() == y.size());
  REQUIRE(x.crop_size() == y.crop_size());
  std::vector<float> sx, sy;
  for (size_t i = 0; i < x.size(); ++i) {
    const auto& fx = x.frame(i);
    const auto& fy = y.frame(i);
    CHECK(fx.person == fy.person);
    CHECK(fx.ref.depth_path == fy.ref.depth_path);
    CHECK(fx.crop.head_z_mm == fy.crop.head_z_mm);
    CHECK(fx.crop.valid_fraction == fy.crop.valid_fraction);
    CHECK(fx.crop.box == fy.crop.box);
    CHECK(std::memcmp(x.crop_data(i, sx), y.crop_data(i, sy), x.crop_floats() * sizeof(float)) ==
          0);
  }
}

std::vector<fs::path> cache_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".crop") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST_CASE("crop cache file: round trip, and every kind of damage is detected", "[frame_store]") {
  const faceid_test::TempDir tmp;
  const fs::path dir = tmp.path;
  faceid::PreprocessResult r;
  r.ok = true;
  r.crop.size = 6;
  r.crop.chw.resize(4 * 36);
  for (size_t i = 0; i < r.crop.chw.size(); ++i) r.crop.chw[i] = 0.25f * i - 3.0f;
  r.crop.box = cv::Rect2f(10.5f, 20.0f, 100.0f, 100.0f);
  r.crop.head_z_mm = 812.5f;
  r.crop.valid_fraction = 0.75f;
  const faceid::CropCacheKey key{0x1234, 100, 200, 300, 400};
  const std::string bytes = faceid::encode_crop_cache(key, r);
  CHECK(bytes.size() == 96 + 4 * 36 * 4 + 8);
  const fs::path file = dir / "f.crop";
  faceid::write_file_atomic(file, bytes);

  faceid::PreprocessResult back;
  REQUIRE(faceid::read_crop_cache(file, key, back) == faceid::CacheLookup::hit);
  CHECK(back.ok);
  CHECK(back.crop.size == 6);
  CHECK(back.crop.chw == r.crop.chw);
  CHECK(back.crop.box == r.crop.box);
  CHECK(back.crop.head_z_mm == 812.5f);
  CHECK(back.crop.valid_fraction == 0.75f);
  std::vector<float> pixels(4 * 36);
  CHECK(faceid::read_crop_cache_pixels(file, 6, pixels.data()));
  CHECK(pixels == r.crop.chw);
  CHECK_FALSE(faceid::read_crop_cache_pixels(file, 7, pixels.data()));

  for (auto other : {faceid::CropCacheKey{0x1235, 100, 200, 300, 400},
                     faceid::CropCacheKey{0x1234, 101, 200, 300, 400},
                     faceid::CropCacheKey{0x1234, 100, 201, 300, 400},
                     faceid::CropCacheKey{0x1234, 100, 200, 301, 400},
                     faceid::CropCacheKey{0x1234, 100, 200, 300, 401}}) {
    CHECK(faceid::read_crop_cache(file, other, back) == faceid::CacheLookup::stale);
  }
  CHECK(faceid::read_crop_cache(dir / "none.crop", key, back) == faceid::CacheLookup::missing);
  // One flipped bit anywhere (header, pixels, checksum), a truncation, an extension.
  for (size_t at : {size_t{0}, size_t{9}, size_t{60}, size_t{70}, size_t{96}, size_t{400},
                    bytes.size() - 1}) {
    std::string bad = bytes;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    faceid::write_file_atomic(file, bad);
    CHECK(faceid::read_crop_cache(file, key, back) == faceid::CacheLookup::corrupt);
    CHECK_FALSE(faceid::read_crop_cache_pixels(file, 6, pixels.data()));
  }
  faceid::write_file_atomic(file, bytes.substr(0, bytes.size() - 5));
  CHECK(faceid::read_crop_cache(file, key, back) == faceid::CacheLookup::corrupt);
  faceid::write_file_atomic(file, bytes + "x");
  CHECK(faceid::read_crop_cache(file, key, back) == faceid::CacheLookup::corrupt);
  faceid::write_file_atomic(file, "");
  CHECK(faceid::read_crop_cache(file, key, back) == faceid::CacheLookup::corrupt);

  // A no-face result keeps its reason.
  faceid::PreprocessResult none;
  none.no_face_reason = "no blob of valid depth >= 800 px";
  faceid::write_file_atomic(file, faceid::encode_crop_cache(key, none));
  REQUIRE(faceid::read_crop_cache(file, key, back) == faceid::CacheLookup::hit);
  CHECK_FALSE(back.ok);
  CHECK(back.no_face_reason == none.no_face_reason);
  CHECK(back.crop.chw.empty());
}

TEST_CASE("frame store: a cache hit returns bit-identical crops", "[frame_store]") {
  const faceid_test::TempDir tmp;
  const fs::path root = tmp.path;
  const auto dataset = make_dataset(root, 2, 3);
  size_t calls = 0, last_done = 0, last_total = 0;
  const auto first = FrameStore::load(dataset, all_persons(dataset), data_config("cache"),
                                      small_crops(), [&](size_t done, size_t total) {
                                        ++calls;
                                        last_done = done;
                                        last_total = total;
                                      });
  CHECK(calls == 6);
  CHECK(last_done == 6);
  CHECK(last_total == 6);
  REQUIRE(first.size() == 6);
  CHECK(first.skipped().empty());
  CHECK(first.crop_size() == 48);
  CHECK(first.stats().computed == 6);
  CHECK(first.stats().cache_writes == 6);
  CHECK(first.stats().cache_hits == 0);
  CHECK(first.persons() == std::vector<std::string>{"person_0", "person_1"});
  CHECK(first.frames_by_person() == std::vector<std::vector<int>>{{0, 1, 2}, {3, 4, 5}});
  // Relative cache_dir lives under the dataset root, one file per frame.
  const auto files = cache_files(root / "cache");
  REQUIRE(files.size() == 6);
  CHECK(files[0].filename() == "001_1_d.crop");
  CHECK(files[0].parent_path().filename() == "person_0");

  const auto second = FrameStore::load(dataset, all_persons(dataset), data_config("cache"),
                                       small_crops());
  CHECK(second.stats().cache_hits == 6);
  CHECK(second.stats().computed == 0);
  require_same_crops(first, second);
  // And the same as without any cache.
  const auto uncached = FrameStore::load(dataset, all_persons(dataset), data_config(""),
                                         small_crops());
  CHECK(uncached.stats().computed == 6);
  require_same_crops(first, uncached);
}

TEST_CASE("frame store: a new config or a touched source file invalidates", "[frame_store]") {
  const faceid_test::TempDir tmp;
  const fs::path root = tmp.path;
  const auto dataset = make_dataset(root, 2, 3);
  const auto names = all_persons(dataset);
  const auto base = FrameStore::load(dataset, names, data_config("cache"), small_crops());
  REQUIRE(base.stats().computed == 6);

  PreprocessConfig other = small_crops();
  other.depth_range_mm = 200.0;
  const auto changed = FrameStore::load(dataset, names, data_config("cache"), other);
  CHECK(changed.stats().cache_hits == 0);
  CHECK(changed.stats().computed == 6);
  // Both configs now stay cached side by side.
  CHECK(FrameStore::load(dataset, names, data_config("cache"), small_crops()).stats().cache_hits ==
        6);

  const fs::path touched = dataset.persons[1].frames[2].depth_path;
  fs::last_write_time(touched, fs::last_write_time(touched) + std::chrono::seconds(5));
  const auto after_touch = FrameStore::load(dataset, names, data_config("cache"), small_crops());
  CHECK(after_touch.stats().cache_hits == 5);
  CHECK(after_touch.stats().computed == 1);
  CHECK(after_touch.stats().cache_rejected == 1);
  require_same_crops(base, after_touch);

  // The colour file is part of the key too.
  const fs::path colour = dataset.persons[0].frames[0].color_path;
  fs::last_write_time(colour, fs::last_write_time(colour) + std::chrono::seconds(5));
  CHECK(FrameStore::load(dataset, names, data_config("cache"), small_crops()).stats().computed ==
        1);
}

TEST_CASE("frame store: a corrupt or truncated cache file is recomputed", "[frame_store]") {
  const faceid_test::TempDir tmp;
  const fs::path root = tmp.path;
  const auto dataset = make_dataset(root, 2, 3);
  const auto names = all_persons(dataset);
  const auto base = FrameStore::load(dataset, names, data_config("cache"), small_crops());
  const auto files = cache_files(root / "cache");
  REQUIRE(files.size() == 6);
  std::string bytes = faceid::read_file(files[0]);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 1);
  faceid::write_file_atomic(files[0], bytes);
  faceid::write_file_atomic(files[3], faceid::read_file(files[3]).substr(0, 500));
  faceid::write_file_atomic(files[5], "not a cache file");
  const auto repaired = FrameStore::load(dataset, names, data_config("cache"), small_crops());
  CHECK(repaired.stats().cache_hits == 3);
  CHECK(repaired.stats().computed == 3);
  CHECK(repaired.stats().cache_rejected == 3);
  require_same_crops(base, repaired);
  CHECK(FrameStore::load(dataset, names, data_config("cache"), small_crops()).stats().cache_hits ==
        6);
}

TEST_CASE("frame store: no-face frames are listed with their reason, and cached",
          "[frame_store]") {
  const faceid_test::TempDir tmp;
  const fs::path root = tmp.path;
  write_frame(root / "person_0", 1, 1, 0);
  write_frame(root / "person_0", 2, 1, 0, false);
  write_frame(root / "person_1", 1, 1, 10);
  const auto dataset = faceid::scan_dataset(root);
  for (int round = 0; round < 2; ++round) {
    const auto store = FrameStore::load(dataset, all_persons(dataset), data_config("cache"),
                                        small_crops());
    CHECK(store.size() == 2);
    REQUIRE(store.skipped().size() == 1);
    CHECK(store.skipped()[0].ref.pose == 2);
    CHECK(store.skipped()[0].ref.identity == "person_0");
    CHECK_FALSE(store.skipped()[0].reason.empty());
    CHECK(store.frames_by_person() == std::vector<std::vector<int>>{{0}, {1}});
    CHECK(store.stats().cache_hits == (round == 0 ? 0u : 3u));
  }
}

TEST_CASE("frame store: person order, frame limit, workers and bad requests", "[frame_store]") {
  const faceid_test::TempDir tmp;
  const fs::path root = tmp.path;
  const auto dataset = make_dataset(root, 3, 5);
  DataConfig data = data_config("");
  data.max_frames_per_person = 2;
  data.workers = 0;  // at least one loading thread anyway
  const auto store = FrameStore::load(dataset, {"person_2", "person_0"}, data, small_crops());
  REQUIRE(store.size() == 4);
  CHECK(store.persons() == std::vector<std::string>{"person_2", "person_0"});
  CHECK(store.frame(0).ref.identity == "person_2");
  CHECK(store.frame(0).person == 0);
  CHECK(store.frame(0).ref.pose == 1);  // evenly spaced: frames 0 and 2 of 5
  CHECK(store.frame(1).ref.pose == 3);
  CHECK(store.frame(2).person == 1);

  CHECK_THROWS_WITH(FrameStore::load(dataset, {"person_9"}, data, small_crops()),
                    Catch::Contains("unknown person 'person_9'"));
  data.memory_cache = false;
  CHECK_THROWS_WITH(FrameStore::load(dataset, {"person_0"}, data, small_crops()),
                    Catch::Contains("data.memory_cache: false needs data.cache_dir"));
}

TEST_CASE("frame store: an unwritable cache folder warns once and stays in memory",
          "[frame_store]") {
  const faceid_test::TempDir tmp;
  const fs::path root = tmp.path;
  const auto dataset = make_dataset(root, 2, 2);
  faceid::write_file_atomic(root / "blocker", "a file, not a folder");
  DataConfig data = data_config((root / "blocker" / "cache").string());
  data.memory_cache = false;  // falls back to memory too
  const auto store = FrameStore::load(dataset, all_persons(dataset), data, small_crops());
  CHECK(store.size() == 4);
  CHECK(store.stats().cache_unwritable);
  CHECK(store.stats().cache_writes == 0);
  CHECK(store.stats().computed == 4);
  for (const auto& f : store.frames()) CHECK(f.crop.chw.size() == store.crop_floats());
}

TEST_CASE("frame store: without the memory cache, crops are read from disk", "[frame_store]") {
  const faceid_test::TempDir tmp;
  const fs::path root = tmp.path;
  const auto dataset = make_dataset(root, 2, 3);
  const auto names = all_persons(dataset);
  const auto memory = FrameStore::load(dataset, names, data_config("cache"), small_crops());
  DataConfig data = data_config("cache");
  data.memory_cache = false;
  for (int round = 0; round < 2; ++round) {  // from a hit, and from a fresh computation
    if (round == 1) fs::remove_all(root / "cache");
    const auto disk = FrameStore::load(dataset, names, data, small_crops());
    for (const auto& f : disk.frames()) CHECK(f.crop.chw.empty());
    require_same_crops(memory, disk);
  }

  // A cache file removed under a running loader: the worker's exception surfaces in next().
  const auto disk = FrameStore::load(dataset, names, data, small_crops());
  for (const auto& file : cache_files(root / "cache")) fs::remove(file);
  std::vector<float> scratch;
  CHECK_THROWS_AS(disk.crop_data(0, scratch), faceid::Error);
  faceid::TrainConfig train;
  train.batch_pairs = 4;
  train.steps_per_epoch = 3;
  faceid::BatchLoader loader(disk, faceid::PairSampler(disk, train), faceid::Augmenter{}, data,
                             train);
  loader.start_epoch(0);
  faceid::Batch batch;
  CHECK_THROWS_WITH(loader.next(batch), Catch::Contains("cache file of a loaded frame"));
}

TEST_CASE("frame store: loading speed from the disk cache", "[.bench][frame_store]") {
  // 1,000 frames of 20 persons (copies of a few rendered frames), 112x112 crops.
  const faceid_test::TempDir tmp;
  const fs::path root = tmp.path;
  const fs::path proto = root / "proto";
  for (int k = 0; k < 4; ++k) write_frame(proto, k + 1, 1, 10 * k - 15);
  for (int p = 0; p < 20; ++p) {
    const fs::path dir = root / fmt::format("person_{:02d}", p);
    fs::create_directories(dir);
    for (int k = 0; k < 50; ++k) {
      for (const char* kind : {"c", "d"}) {
        fs::copy_file(proto / fmt::format("{:03d}_1_{}.png", k % 4 + 1, kind),
                      dir / fmt::format("{:03d}_1_{}.png", k + 1, kind));
      }
    }
  }
  fs::remove_all(proto);
  const auto dataset = faceid::scan_dataset(root);
  PreprocessConfig pre;
  pre.input_size = 112;
  DataConfig data = data_config("cache");
  const auto cold = FrameStore::load(dataset, all_persons(dataset), data, pre);
  REQUIRE(cold.size() == 1000);
  for (const int workers : {1, 2, 4}) {
    data.workers = workers;
    const std::clock_t cpu = std::clock();
    const auto warm = FrameStore::load(dataset, all_persons(dataset), data, pre);
    const double cpu_us = 1e6 * static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC / 1000;
    REQUIRE(warm.stats().cache_hits == 1000);
    WARN(fmt::format("frame store: {} workers: {:.0f} frames/s from the disk cache, {:.0f} us CPU "
                     "a frame ({:.0f} frames/s computing)",
                     workers, 1000 / warm.stats().seconds, cpu_us, 1000 / cold.stats().seconds));
  }
}
