// The benchmark program works (a smoke run, not a timing), and the pieces its figures rest on:
// statistics, the printed format, the FLOP count of the network, the crop dump for the reference.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "faceid/bench/bench.hpp"
#include "faceid/data/frame_store.hpp"
#include "faceid/core/error.hpp"
#include "io_test_util.hpp"

namespace fs = std::filesystem;
using faceid_test::TempDir;

namespace {

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Run run_bench(const TempDir& tmp, const std::string& args) {
  const fs::path out = tmp.path / "stdout.txt";
  const fs::path err = tmp.path / "stderr.txt";
  const std::string cmd = fmt::format("'{}/bench' {} >'{}' 2>'{}'", FACEID_BIN_DIR, args,
                                      out.string(), err.string());
  const int status = std::system(cmd.c_str());
  Run r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// The median printed on the line "name: median (unit) ...", or -1 when there is no such line.
double printed_median(const std::string& out, const std::string& name_pattern,
                      const std::string& unit) {
  const std::regex line("(^|\n)" + name_pattern + ": ([0-9.e+]+) \\(" + unit + "\\)");
  std::smatch m;
  if (!std::regex_search(out, m, line)) return -1.0;
  return std::stod(m[2].str());
}

}  // namespace

TEST_CASE("bench: sgemm and parse smoke run", "[bench][bench_smoke]") {
  TempDir tmp;
  const Run r = run_bench(tmp, "--what sgemm,parse --repeat 1 --threads 1");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(printed_median(r.out, "sgemm\\.1024x1024\\.threads1", "GFLOP/s") > 0.1);
  CHECK(printed_median(r.out, "parse\\.dat_640x480_[0-9]+KB\\.mb_per_s", "MB/s") > 1.0);
  CHECK(printed_median(r.out, "parse\\.dat_640x480_[0-9]+KB\\.mb_per_cpu_s",
                       "MB/s of thread CPU time") > 1.0);
  CHECK_THAT(r.out, Catch::Contains("[n=1]"));
}

TEST_CASE("bench: bad flags exit 2", "[bench][bench_smoke]") {
  TempDir tmp;
  const Run unknown = run_bench(tmp, "--what sgemm,nonsense");
  CHECK(unknown.code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("unknown benchmark 'nonsense'"));
  CHECK(run_bench(tmp, "--what sgemm --repeat 0").code == 2);
}

TEST_CASE("bench: median, p99 and the printed line", "[bench][bench_smoke]") {
  const faceid::SampleStats s = faceid::summarize({5, 1, 4, 2, 3});
  CHECK(s.count == 5);
  CHECK(s.median == Approx(3.0));
  CHECK(s.p99 == Approx(4.96));  // 4 + 0.96 * (5 - 4), interpolated
  CHECK(s.min == 1.0);
  CHECK(s.max == 5.0);
  CHECK(std::isnan(faceid::summarize({}).median));

  faceid::BenchFigure f;
  f.name = "embed.latency_ms";
  f.unit = "ms";
  f.stats = faceid::summarize({2.0, 2.5, 10.0});
  f.show_p99 = true;
  f.ratio = 0.5;
  f.ratio_label = "of reference";
  CHECK(faceid::format_figure(f) ==
        "embed.latency_ms: 2.5 (ms) p99 9.85 ratio 0.5 of reference [n=3]");
}

TEST_CASE("bench: network cost counts every convolution and linear layer", "[bench][bench_smoke]") {
  faceid::ModelConfig m;
  // Derived by hand from the tables of docs/model.md: stem conv + 8 Fire blocks
  // (H*W*(in*s + s*e + 9*s*e)) + the head's linear layers.
  const faceid::NetworkCost squeeze = faceid::network_cost(m, 112);
  CHECK(squeeze.forward_macs == 61728000);
  CHECK(squeeze.parameters == 791680);
  m.variant = faceid::ModelVariant::faceid_beta;
  CHECK(faceid::network_cost(m, 112).forward_macs == 38561280);
  CHECK(faceid::train_step_flops(squeeze, 32) == Approx(3.0 * 2.0 * 61728000.0 * 64));
}

TEST_CASE("bench: crops dumped as .npy + labels for the reference", "[bench][bench_smoke]") {
  // The .npy header: magic, version 1.0, a dict padded to a multiple of 64 bytes.
  const std::string h = faceid::npy_float32_header({3, 4, 2, 2});
  CHECK(h.size() % 64 == 0);
  CHECK(h.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)) == 0);
  CHECK(static_cast<size_t>(static_cast<unsigned char>(h[8]) | (static_cast<unsigned char>(h[9]) << 8)) ==
        h.size() - 10);
  CHECK_THAT(h, Catch::Contains("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 2, 2), }"));
  CHECK(h.back() == '\n');
  CHECK_THAT(faceid::npy_float32_header({7}), Catch::Contains("'shape': (7,)"));

  std::vector<faceid::StoredFrame> frames(3);
  for (int i = 0; i < 3; ++i) {
    frames[i].person = i / 2;
    frames[i].ref.identity = i < 2 ? "alice" : "bob";
    frames[i].ref.pose = i + 1;
    frames[i].ref.repetition = 1;
    frames[i].ref.depth_path = fmt::format("/x/{:03d}_1_d.dat", i + 1);
    frames[i].crop.size = 2;
    for (int k = 0; k < 16; ++k) frames[i].crop.chw.push_back(static_cast<float>(100 * i + k));
  }
  const faceid::FrameStore store({"alice", "bob"}, frames);
  TempDir tmp;
  faceid::dump_crops(store, tmp.path / "dump");
  const std::string npy = slurp(tmp.path / "dump" / "crops.npy");
  const size_t header = faceid::npy_float32_header({3, 4, 2, 2}).size();
  REQUIRE(npy.size() == header + 3 * 16 * sizeof(float));
  std::vector<float> values(48);
  std::memcpy(values.data(), npy.data() + header, npy.size() - header);
  CHECK(values[0] == 0.0f);
  CHECK(values[17] == 101.0f);
  CHECK(values[47] == 215.0f);
  CHECK(slurp(tmp.path / "dump" / "labels.csv") ==
        "index,person,identity,pose,repetition,depth_file\n"
        "0,0,alice,1,1,001_1_d.dat\n1,0,alice,2,1,002_1_d.dat\n2,1,bob,3,1,003_1_d.dat\n");
  CHECK_THROWS_AS(faceid::dump_crops(faceid::FrameStore{}, tmp.path / "empty"), faceid::Error);
}
