// Regression tests of what the libFuzzer targets (tests/fuzz, scripts/fuzz.sh) found: each feeds
// the crashing input, which must now be refused with a faceid::Error of Errc::bad_input that
// names the file. docs/reliability.md lists the findings.
#include "catch_torch.hpp"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>

#include "faceid/core/config.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/io/depth_io.hpp"
#include "faceid/model/model.hpp"
#include "faceid/model/record.hpp"
#include "faceid/model/checkpoint.hpp"
#include "io_test_util.hpp"
#include "test_util.hpp"

using faceid::test::bad_input_message;

namespace {

// `payload` behind a valid header (magic, version, payload size, FNV-1a 64), as the checkpoint
// fuzz target wraps its inputs.
std::string with_checkpoint_header(const std::string& payload) {
  return faceid::seal(faceid::kCheckpointMagic, faceid::kCheckpointFormatVersion, payload);
}

// A checkpoint file as save_checkpoint writes it, but with `embedding_dim` in its metadata
// instead of the model's: what a forged or damaged file with a valid checksum looks like.
std::string forged_checkpoint(int64_t embedding_dim) {
  faceid::ModelConfig mc;
  mc.embedding_dim = 8;
  faceid::EmbeddingNet net(mc, 32);
  faceid::Record r;
  r.put("kind", std::string("faceid.checkpoint"));
  r.put("model/variant", std::string(faceid::to_string(mc.variant)));
  r.put("model/embedding_dim", embedding_dim);
  r.put("model/dropout", mc.dropout);
  r.put("model/input_size", int64_t{32});
  r.put("epoch", int64_t{0});
  r.put("step", int64_t{0});
  r.put("sampler_state", int64_t{0});
  r.put("torch_rng_state", faceid::capture_torch_rng_state());
  r.put("config_yaml", std::string());
  r.put("eer_threshold", 0.0);
  r.put("optimizer/kind", std::string());
  for (const auto& p : net->named_parameters()) r.put("parameter/" + p.key(), p.value());
  for (const auto& b : net->named_buffers()) r.put("buffer/" + b.key(), b.value());
  return with_checkpoint_header(r.serialize());
}

}  // namespace

// fuzz_config_yaml, crash-9087ae17: a mapping used as a key ("? lr: 0.") made yaml-cpp's
// as<std::string>() throw YAML::TypedBadConversion, which escaped parse_config.
TEST_CASE("fuzz regressions: a YAML key that is not a scalar is a bad input", "[fuzz]") {
  const std::string crash = "train:\n ? lr: 0.\ntrain:\nSt5ctypeIcE";
  CHECK(bad_input_message([&] { faceid::parse_config(crash, "fuzz.yaml"); }) ==
        "fuzz.yaml:2: expected a key name, got a mapping");
  CHECK(bad_input_message([] { faceid::parse_config("[a, b]: {lr: 1}\n", "k.yaml"); }) ==
        "k.yaml:1: expected a section name, got a list");
  CHECK(bad_input_message([] { faceid::parse_config("train:\n  [lr]: 1\n", "k.yaml"); }) ==
        "k.yaml:2: expected a key name, got a list");
}

// fuzz_checkpoint, seed structured_huge_dim: a checkpoint whose metadata says
// model_embedding_dim = 2^31 - 1 (with a valid checksum) made load_checkpoint ask torch for a
// 512 x 2^31 weight matrix (4 TiB): a c10::Error or an out-of-memory abort instead of a refusal.
TEST_CASE("fuzz regressions: a forged huge embedding_dim is refused before allocating",
          "[fuzz]") {
  faceid::ModelConfig mc;
  mc.embedding_dim = std::numeric_limits<int32_t>::max();
  CHECK(bad_input_message([&] { faceid::EmbeddingNet(mc, 128); }) ==
        "model.embedding_dim: expected in [1, 4096], got 2147483647");
  mc.embedding_dim = 8;
  CHECK(bad_input_message([&] { faceid::EmbeddingNet(mc, 100000); }) ==
        "preprocess.input_size: expected <= 512, got 100000");

  faceid_test::TempDir dir;
  const auto path = dir.path / "forged.pt";
  faceid_test::write_bytes(path, forged_checkpoint(8));
  CHECK(faceid::load_checkpoint(path).meta.model.embedding_dim == 8);  // the forgery is sound
  faceid_test::write_bytes(path, forged_checkpoint(std::numeric_limits<int32_t>::max()));
  CHECK(bad_input_message([&] { faceid::load_checkpoint(path); }) ==
        path.string() + ": model.embedding_dim: expected in [1, 4096], got 2147483647");
}

// fuzz_frame, crash-1c0108d5: a 198-byte BMP whose header claims a width of 791624200 made
// cv::imread throw cv::Exception (validateInputImageSize) instead of returning an empty image;
// it escaped read_color and load_frame as a non-faceid exception.
TEST_CASE("fuzz regressions: a BMP header with an absurd width is a bad input", "[fuzz]") {
  std::string bmp = "BM";
  auto put = [&bmp](uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) bmp.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put(198, 4);        // file size
  put(0, 4);          // reserved
  put(54, 4);         // pixel data offset
  put(40, 4);         // BITMAPINFOHEADER
  put(791624200, 4);  // width (the fuzzer's value)
  put(6, 4);          // height
  put(1, 2);          // planes
  put(24, 2);         // bits per pixel
  put(0, 4);          // no compression
  put(144, 4);        // image size
  put(2835, 4);       // x pixels per metre
  put(2835, 4);       // y pixels per metre
  put(0, 4);          // palette colours
  put(0, 4);          // important colours
  bmp.append(144, '\0');

  faceid_test::TempDir dir;
  const auto person = dir.path / "p";
  faceid_test::write_bytes(person / "001_1_c.bmp", bmp);
  faceid_test::write_bytes(person / "001_1_d.dat", "1\n");
  // Since issue 16 the header is checked before OpenCV sees the file (OpenCV's own refusal, kept as
  // a fallback, printed its assertion on stderr first).
  const std::string prefix = (person / "001_1_c.bmp").string() +
                             ": damaged BMP header: it claims 791624200 x 6 pixels";
  CHECK_THAT(bad_input_message([&] { faceid::read_color(person / "001_1_c.bmp"); }),
             Catch::StartsWith(prefix));
  // The same file as the colour half of a frame: load_frame reads depth first, so give it a
  // valid 640x480 depth PNG.
  REQUIRE(cv::imwrite((person / "001_1_d.png").string(), cv::Mat(480, 640, CV_16UC1, cv::Scalar(900))));
  std::filesystem::remove(person / "001_1_d.dat");
  CHECK_THAT(bad_input_message([&] {
               faceid::load_frame(faceid::frame_ref_from_depth_path(person / "001_1_d.png"));
             }),
             Catch::StartsWith(prefix));
}

// fuzz_checkpoint, tests/fuzz/regressions/checkpoint/*: torch archives (the payload of format 1)
// with damaged TorchScript code behind a valid header and checksum. Three made the unpickler throw
// torch::jit::ErrorReport or std::runtime_error, which escaped open_checkpoint (finding 4);
// segv_parse_class_constant crashed libtorch's importer outright (finding 5), which no catch can
// turn into an error. Format 2 payloads are faceid's own Record, parsed without libtorch: the
// same bytes behind a format-2 header are now refused by the Record parser.
TEST_CASE("fuzz regressions: damaged code inside a checksummed checkpoint is a bad input",
          "[fuzz]") {
  const std::filesystem::path dir =
      std::filesystem::path(FACEID_SOURCE_DIR) / "tests/fuzz/regressions/checkpoint";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++files;
    faceid_test::TempDir tmp;
    const auto path = tmp.path / entry.path().filename();
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string payload((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Byte 0 = 1 selects the fuzz target's wrapping mode; the rest is the payload to wrap.
    REQUIRE(payload.size() > 1);
    REQUIRE(payload[0] == 1);
    faceid_test::write_bytes(path, with_checkpoint_header(payload.substr(1)));
    INFO(entry.path().string());
    const std::string message = bad_input_message([&] { faceid::load_checkpoint(path); });
    CHECK_THAT(message, Catch::StartsWith(path.string() + ": corrupt checkpoint ("));
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.find("()") == std::string::npos);  // torch's reason, not an empty one
  }
  CHECK(files == 4);
}
