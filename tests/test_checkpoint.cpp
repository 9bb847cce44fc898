#include "catch_torch.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <fstream>

#include "faceid/core/config.hpp"
#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/model/record.hpp"
#include "faceid/model/checkpoint.hpp"

namespace fs = std::filesystem;
using faceid::EmbeddingNet;
using faceid::ModelVariant;

namespace {

// A fresh folder under the system temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() / ("faceid_ckpt_test." + std::to_string(::getpid()) + "." +
                                        std::to_string(counter.fetch_add(1)));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
};

EmbeddingNet make_net(ModelVariant variant, int dim, int size, double dropout = 0.0) {
  faceid::ModelConfig m;
  m.variant = variant;
  m.embedding_dim = dim;
  m.dropout = dropout;
  return EmbeddingNet(m, size);
}

// One deterministic training step (dropout 0), so weights, BatchNorm statistics and the
// optimiser state are all non-trivial.
void train_step(EmbeddingNet& net, torch::optim::Optimizer& opt, int size) {
  net->train();
  torch::manual_seed(11);
  const auto x = torch::randn({4, 4, size, size});
  opt.zero_grad();
  const auto y = net->forward(x);
  (y.slice(0, 0, 2) - y.slice(0, 2, 4)).square().sum().backward();
  opt.step();
}

bool same_tensors(const torch::OrderedDict<std::string, torch::Tensor>& a,
                  const torch::OrderedDict<std::string, torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].key() != b[i].key() || !torch::equal(a[i].value(), b[i].value())) return false;
  }
  return true;
}

std::string bad_input_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const faceid::Error& e) {
    CHECK(e.code() == faceid::Errc::bad_input);
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected faceid::Error, got " << e.what());
  }
  FAIL("expected faceid::Error");
  return {};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

faceid::CheckpointMeta sample_meta() {
  faceid::CheckpointMeta meta;
  meta.epoch = 3;
  meta.step = 42;
  meta.sampler_state = 0xdeadbeefcafebabeULL;  // high bit set: survives the int64 round trip
  meta.config_yaml = faceid::to_yaml(faceid::Config{});
  meta.metrics = {{"eer", 0.05}, {"auc", 0.99}, {"loss", 0.125}};
  meta.eer_threshold = 0.73;
  return meta;
}

}  // namespace

TEST_CASE("checkpoint: round trip is bit-exact", "[checkpoint]") {
  TempDir dir;
  const auto path = dir.path / "last.pt";
  const int size = 48;
  torch::manual_seed(5);
  auto net = make_net(ModelVariant::squeezenet1_1, 16, size);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  train_step(net, opt, size);

  auto meta = sample_meta();
  torch::manual_seed(99);
  faceid::save_checkpoint(path, net, &opt, meta);
  faceid::save_checkpoint(path, net, &opt, meta);  // overwriting leaves no temporary behind
  const auto draws_after_save = torch::rand({5});  // from the generator state the file holds
  CHECK(dir.files() == std::vector<std::string>{"last.pt"});

  auto loaded = faceid::load_checkpoint(path);
  const auto& m = loaded.meta;
  CHECK(m.format_version == faceid::kCheckpointFormatVersion);
  CHECK(m.model.variant == ModelVariant::squeezenet1_1);
  CHECK(m.model.embedding_dim == 16);
  CHECK(m.model.dropout == 0.0);
  CHECK(m.input_size == size);
  CHECK(m.epoch == 3);
  CHECK(m.step == 42);
  CHECK(m.sampler_state == 0xdeadbeefcafebabeULL);
  CHECK(m.config_yaml == meta.config_yaml);
  CHECK(m.metrics == meta.metrics);
  CHECK(m.eer_threshold == 0.73);
  CHECK(m.optimizer == "adam");
  CHECK_FALSE(loaded.model->is_training());

  // Weights and buffers (BatchNorm statistics) bit-exact; same fingerprint, same embeddings.
  CHECK(same_tensors(loaded.model->named_parameters(), net->named_parameters()));
  CHECK(same_tensors(loaded.model->named_buffers(), net->named_buffers()));
  CHECK(faceid::model_fingerprint(loaded.model) == faceid::model_fingerprint(net));
  CHECK(faceid::model_fingerprint(path) == faceid::model_fingerprint(net));
  {
    torch::NoGradGuard no_grad;
    net->eval();
    const auto x = torch::randn({2, 4, size, size});
    CHECK(torch::equal(loaded.model->forward(x), net->forward(x)));
  }

  // The generator state comes back.
  torch::manual_seed(0);
  faceid::restore_torch_rng_state(m);
  CHECK(torch::equal(torch::rand({5}), draws_after_save));

  // Optimiser state: one more identical step from both sides gives identical weights.
  torch::optim::Adam opt2(loaded.model->parameters(), torch::optim::AdamOptions(1e-3));
  faceid::load_optimizer_state(path, opt2);
  train_step(net, opt, size);
  train_step(loaded.model, opt2, size);
  CHECK(same_tensors(loaded.model->named_parameters(), net->named_parameters()));

  // Without an optimiser; the default threshold is NaN ("not measured").
  const auto bare = dir.path / "bare.pt";
  faceid::save_checkpoint(bare, net, nullptr, faceid::CheckpointMeta{});
  const auto bare_meta = faceid::read_checkpoint_meta(bare);
  CHECK(bare_meta.optimizer.empty());
  CHECK(std::isnan(bare_meta.eer_threshold));
  CHECK(bare_meta.metrics.empty());
  CHECK(bad_input_message([&] { faceid::load_optimizer_state(bare, opt2); }) ==
        bare.string() + ": checkpoint has no optimizer state");
  torch::optim::SGD sgd(loaded.model->parameters(), torch::optim::SGDOptions(0.1));
  CHECK(bad_input_message([&] { faceid::load_optimizer_state(path, sgd); }) ==
        path.string() + ": optimizer state is adam, expected sgd");
  // Adam state saved for another model does not fit: refused, the optimiser untouched.
  auto wider = make_net(ModelVariant::squeezenet1_1, 32, size);
  torch::optim::Adam opt3(wider->parameters(), torch::optim::AdamOptions(1e-3));
  CHECK_THAT(bad_input_message([&] { faceid::load_optimizer_state(path, opt3); }),
             Catch::StartsWith(path.string() + ": optimizer state does not fit this optimizer ("));
  CHECK(opt3.state().empty());
}

TEST_CASE("checkpoint: SGD momentum round trip", "[checkpoint]") {
  TempDir dir;
  const auto path = dir.path / "sgd.pt";
  const int size = 40;
  torch::manual_seed(12);
  auto net = make_net(ModelVariant::squeezenet1_1, 8, size);
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  train_step(net, opt, size);
  faceid::save_checkpoint(path, net, &opt, sample_meta());
  auto loaded = faceid::load_checkpoint(path);
  CHECK(loaded.meta.optimizer == "sgd");
  loaded.model->train();
  torch::optim::SGD opt2(loaded.model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  faceid::load_optimizer_state(path, opt2);
  CHECK(opt2.state().size() == opt.state().size());
  train_step(net, opt, size);
  train_step(loaded.model, opt2, size);
  CHECK(same_tensors(loaded.model->named_parameters(), net->named_parameters()));
}

TEST_CASE("checkpoint: faceid_beta round trip and fingerprints", "[checkpoint]") {
  TempDir dir;
  const auto path = dir.path / "beta.pt";
  torch::manual_seed(6);
  auto net = make_net(ModelVariant::faceid_beta, 8, 64, 0.3);
  faceid::save_checkpoint(path, net, nullptr, sample_meta());
  auto loaded = faceid::load_checkpoint(path);
  CHECK(loaded.model->model_config().variant == ModelVariant::faceid_beta);
  CHECK(loaded.model->model_config().dropout == 0.3);
  CHECK(same_tensors(loaded.model->named_parameters(), net->named_parameters()));
  // Any change of a weight changes the fingerprint.
  const auto before = faceid::model_fingerprint(net);
  CHECK(before.size() == 16);
  {
    torch::NoGradGuard no_grad;
    net->named_parameters()["head.4.bias"][0] += 1e-3;
  }
  CHECK(faceid::model_fingerprint(net) != before);
}

TEST_CASE("checkpoint: load_weights_into refuses another model", "[checkpoint]") {
  TempDir dir;
  const auto squeeze_path = dir.path / "squeeze.pt";
  const auto beta_path = dir.path / "beta.pt";
  torch::manual_seed(7);
  auto squeeze = make_net(ModelVariant::squeezenet1_1, 16, 48);
  auto beta = make_net(ModelVariant::faceid_beta, 16, 64);
  faceid::save_checkpoint(squeeze_path, squeeze, nullptr, {});
  faceid::save_checkpoint(beta_path, beta, nullptr, {});

  // Same variant and size, other weights: loads (the --init-from case), even at another input
  // side and dropout, which do not change squeezenet1_1's shapes.
  auto other = make_net(ModelVariant::squeezenet1_1, 16, 64, 0.5);
  faceid::load_weights_into(squeeze_path, other);
  CHECK(same_tensors(other->named_parameters(), squeeze->named_parameters()));

  auto target = make_net(ModelVariant::squeezenet1_1, 16, 48);
  const auto untouched = faceid::model_fingerprint(target);
  CHECK(bad_input_message([&] { faceid::load_weights_into(beta_path, target); }) ==
        beta_path.string() + ": model.variant is faceid_beta, expected squeezenet1_1");
  auto wider = make_net(ModelVariant::squeezenet1_1, 32, 48);
  CHECK(bad_input_message([&] { faceid::load_weights_into(squeeze_path, wider); }) ==
        squeeze_path.string() + ": model.embedding_dim is 16, expected 32");
  // faceid_beta's first dense layer depends on the input side: 512*2*2 at 64, 512*3*3 at 80.
  auto beta80 = make_net(ModelVariant::faceid_beta, 16, 80);
  CHECK(bad_input_message([&] { faceid::load_weights_into(beta_path, beta80); }) ==
        beta_path.string() +
            ": parameter head.1.weight has shape [512, 2048] in the checkpoint, expected "
            "[512, 4608]");
  CHECK(faceid::model_fingerprint(target) == untouched);
}

TEST_CASE("checkpoint: damaged files are refused with a clear message", "[checkpoint]") {
  TempDir dir;
  const auto good = dir.path / "good.pt";
  torch::manual_seed(8);
  auto net = make_net(ModelVariant::squeezenet1_1, 8, 32);
  faceid::save_checkpoint(good, net, nullptr, sample_meta());
  const std::string bytes = faceid::read_file(good);
  const auto bad = dir.path / "bad.pt";
  const std::string p = bad.string();

  CHECK(bad_input_message([&] { faceid::load_checkpoint(dir.path / "missing.pt"); }) ==
        (dir.path / "missing.pt").string() + ": checkpoint not found");

  write_bytes(bad, bytes.substr(0, bytes.size() / 2));
  CHECK_THAT(bad_input_message([&] { faceid::load_checkpoint(bad); }),
             Catch::StartsWith(p + ": corrupt checkpoint (payload is "));
  write_bytes(bad, bytes.substr(0, 10));
  CHECK(bad_input_message([&] { faceid::load_checkpoint(bad); }) ==
        p + ": corrupt checkpoint (truncated: 10 bytes, the header alone is 28)");

  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x5a;
  write_bytes(bad, flipped);
  CHECK(bad_input_message([&] { faceid::load_checkpoint(bad); }) ==
        p + ": corrupt checkpoint (checksum mismatch)");
  CHECK(bad_input_message([&] { faceid::load_weights_into(bad, net); }) ==
        p + ": corrupt checkpoint (checksum mismatch)");

  std::string magic = bytes;
  magic[0] = 'X';
  write_bytes(bad, magic);
  CHECK(bad_input_message([&] { faceid::load_checkpoint(bad); }) ==
        p + ": not a faceid checkpoint (bad magic)");

  std::string version = bytes;
  version[8] = 3;
  write_bytes(bad, version);
  CHECK(bad_input_message([&] { faceid::load_checkpoint(bad); }) ==
        p + ": checkpoint format version 3, expected 2");
  version[8] = 1;  // format 1 held a torch archive, which this build no longer reads
  write_bytes(bad, version);
  CHECK(bad_input_message([&] { faceid::load_checkpoint(bad); }) ==
        p + ": checkpoint format version 1, expected 2");

  // A consistent header over a payload that is not a Record: reported as corruption.
  std::string garbage = bytes.substr(0, 28) + std::string(100, 'z');
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 28; i < garbage.size(); ++i) {
    h = (h ^ static_cast<unsigned char>(garbage[i])) * 0x100000001b3ULL;
  }
  for (int i = 0; i < 8; ++i) {
    garbage[12 + i] = static_cast<char>(i == 0 ? 100 : 0);
    garbage[20 + i] = static_cast<char>((h >> (8 * i)) & 0xff);
  }
  write_bytes(bad, garbage);
  CHECK(bad_input_message([&] { faceid::load_checkpoint(bad); }) ==
        p + ": corrupt checkpoint (entry 0: key of 31354 bytes)");

  // A well-formed Record with a wrong entry: the entry is named.
  auto resealed = [&](const std::function<void(faceid::Record&)>& edit) {
    faceid::Record r = faceid::Record::parse(std::string_view(bytes).substr(28));
    edit(r);
    write_bytes(bad, faceid::seal(faceid::kCheckpointMagic, faceid::kCheckpointFormatVersion,
                                  r.serialize()));
  };
  resealed([](faceid::Record& r) { r.put("epoch", std::string("three")); });
  CHECK(bad_input_message([&] { faceid::load_checkpoint(bad); }) ==
        p + ": corrupt checkpoint ('epoch' is a string, expected an integer)");
  resealed([](faceid::Record& r) { r.put("kind", std::string("faceid-pad")); });
  CHECK(bad_input_message([&] { faceid::load_checkpoint(bad); }) ==
        p + ": corrupt checkpoint (kind is 'faceid-pad', expected 'faceid.checkpoint')");
  const std::string first = net->named_parameters().begin()->key();
  resealed([&](faceid::Record& r) {
    r.put("parameter/" + first, r.get_tensor("parameter/" + first).to(torch::kFloat64));
  });
  CHECK(bad_input_message([&] { faceid::load_checkpoint(bad); }) ==
        p + ": parameter " + first + " has dtype Double in the checkpoint, expected Float");
}

TEST_CASE("record: round trip of every value type, and refusals of bad bytes", "[checkpoint]") {
  faceid::Record r;
  r.put("i", int64_t{-5});
  r.put("d", 0.25);
  r.put("s", std::string("a\0b", 3));
  r.put("t/f", torch::arange(6, torch::kFloat32).reshape({2, 3}));
  r.put("t/l", torch::tensor({int64_t{1} << 40}));
  r.put("t/u", torch::zeros({0, 4}, torch::kUInt8));
  r.put("t/scalar", torch::scalar_tensor(2.5, torch::kFloat64));
  r.put("t/strided", torch::arange(12, torch::kFloat32).reshape({3, 4}).t());
  const std::string bytes = r.serialize();
  const faceid::Record back = faceid::Record::parse(bytes);
  CHECK(back.size() == r.size());
  CHECK(back.get_int("i") == -5);
  CHECK(back.get_double("d") == 0.25);
  CHECK(back.get_string("s") == std::string("a\0b", 3));
  CHECK(torch::equal(back.get_tensor("t/f"), r.get_tensor("t/f")));
  CHECK(back.get_tensor("t/l").item<int64_t>() == int64_t{1} << 40);
  CHECK(back.get_tensor("t/u").sizes() == torch::IntArrayRef({0, 4}));
  CHECK(back.get_tensor("t/scalar").dim() == 0);
  CHECK(torch::equal(back.get_tensor("t/strided"), torch::arange(12, torch::kFloat32).reshape({3, 4}).t()));
  CHECK(back.keys_under("t/") == std::vector<std::string>{"f", "l", "scalar", "strided", "u"});
  CHECK(back.serialize() == bytes);

  auto msg = [](const std::string& b) {
    return bad_input_message([&] { faceid::Record::parse(b); });
  };
  CHECK(msg("") == "truncated record: the entry count needs 4 bytes at offset 0, 0 left");
  CHECK(msg(bytes + "x") == "1 unexpected bytes after the last entry");
  CHECK_THAT(msg(bytes.substr(0, bytes.size() - 1)), Catch::StartsWith("truncated record: "));
  CHECK(bad_input_message([&] { back.get_int("d"); }) == "'d' is a double, expected an integer");
  CHECK(bad_input_message([&] { back.get_tensor("nope"); }) == "missing 'nope'");

  // A tensor header claiming more elements than the bytes left is refused before allocating.
  std::string huge;
  auto put = [&huge](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) huge.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put(1, 4);
  put(1, 2);
  huge += "w";
  put(4, 1);  // tensor
  put(1, 1);  // float32
  put(2, 1);  // rank 2
  put(uint64_t{1} << 31, 8);
  put(uint64_t{1} << 31, 8);
  CHECK(msg(huge) == "'w': tensor dimension 0 of size 2147483648 needs more than the 8 bytes left");
  huge.resize(huge.size() - 16);
  put(static_cast<uint64_t>(-3), 8);
  put(1, 8);
  CHECK(msg(huge) == "'w': negative tensor dimension -3");
  // The same entry twice.
  faceid::Record one;
  one.put("k", int64_t{1});
  std::string twice = one.serialize();
  twice[0] = 2;
  twice += twice.substr(4);
  CHECK(msg(twice) == "'k' appears twice");
}

TEST_CASE("checkpoint: a failed write is an io error and leaves nothing", "[checkpoint]") {
  TempDir dir;
  auto net = make_net(ModelVariant::squeezenet1_1, 8, 32);
  try {
    faceid::save_checkpoint(dir.path / "no_such_dir" / "x.pt", net, nullptr, {});
    FAIL("expected faceid::Error");
  } catch (const faceid::Error& e) {
    CHECK(e.code() == faceid::Errc::io);
    CHECK_THAT(e.what(), Catch::Contains("no_such_dir/x.pt"));
  }
  CHECK(dir.files().empty());
}

TEST_CASE("checkpoint: a flipped byte anywhere in the file is refused, naming the file",
          "[checkpoint]") {
  TempDir dir;
  const auto good = dir.path / "good.pt";
  torch::manual_seed(9);
  auto net = make_net(ModelVariant::squeezenet1_1, 8, 32);
  faceid::save_checkpoint(good, net, nullptr, sample_meta());
  const std::string bytes = faceid::read_file(good);
  const auto bad = dir.path / "bad.pt";
  const std::string p = bad.string();
  // Every header byte, then 100 positions spread over the payload (first and last included).
  std::vector<size_t> positions;
  for (size_t i = 0; i < 28; ++i) positions.push_back(i);
  for (size_t k = 0; k < 100; ++k) positions.push_back(28 + k * (bytes.size() - 29) / 99);
  for (size_t pos : positions) {
    std::string flipped = bytes;
    flipped[pos] = static_cast<char>(flipped[pos] ^ (1 << (pos % 8)));
    write_bytes(bad, flipped);
    const std::string msg = bad_input_message([&] { faceid::read_checkpoint_meta(bad); });
    INFO("byte " << pos << ": " << msg);
    REQUIRE_THAT(msg, Catch::StartsWith(p + ": "));
    if (pos >= 20) REQUIRE(msg == p + ": corrupt checkpoint (checksum mismatch)");
  }
  CHECK(faceid::read_checkpoint_meta(good).epoch == 3);
}

namespace {

// Runs `fn` with the file-size limit at `bytes` (what the kernel enforces for root too: writes
// past it fail with EFBIG, like a full disk fails them with ENOSPC).
void with_file_size_limit(rlim_t bytes, const std::function<void()>& fn) {
  struct rlimit old {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a signal
  struct rlimit low = old;
  low.rlim_cur = bytes;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &low) == 0);
  try {
    fn();
  } catch (...) {
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
    throw;
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
}

std::string io_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const faceid::Error& e) {
    CHECK(e.code() == faceid::Errc::io);
    return e.what();
  }
  FAIL("expected faceid::Error");
  return {};
}

}  // namespace

TEST_CASE("checkpoint: disk-full and permission errors name the path and keep the old file",
          "[checkpoint]") {
  // Tests run as root, so a chmod-ed folder would not stop the write; these fail for root too.
  TempDir dir;
  const auto path = dir.path / "last.pt";
  torch::manual_seed(10);
  auto net = make_net(ModelVariant::squeezenet1_1, 8, 32);
  auto meta = sample_meta();
  faceid::save_checkpoint(path, net, nullptr, meta);
  const std::string before = faceid::read_file(path);
  meta.epoch = 4;

  // Disk full (the file-size limit makes write() fail part-way, as ENOSPC does).
  CHECK(io_message([&] {
          with_file_size_limit(64 * 1024,
                               [&] { faceid::save_checkpoint(path, net, nullptr, meta); });
        }) == path.string() + ": write failed: File too large");
  CHECK(faceid::read_file(path) == before);
  CHECK(faceid::read_checkpoint_meta(path).epoch == 3);
  CHECK(dir.files() == std::vector<std::string>{"last.pt"});  // the temporary is gone

  // The run folder is not a folder (a regular file in the way): the file cannot be created.
  const auto blocker = dir.path / "blocker";
  write_bytes(blocker, "x");
  CHECK(io_message([&] { faceid::save_checkpoint(blocker / "last.pt", net, nullptr, meta); }) ==
        (blocker / "last.pt").string() + ": cannot create: Not a directory");

  // The target cannot be replaced (a folder named best.pt): the rename fails after the write.
  fs::create_directory(dir.path / "best.pt");
  CHECK(io_message([&] { faceid::save_checkpoint(dir.path / "best.pt", net, nullptr, meta); }) ==
        (dir.path / "best.pt").string() + ": rename failed: Is a directory");
  CHECK(dir.files() == std::vector<std::string>{"best.pt", "blocker", "last.pt"});
  CHECK(faceid::read_file(path) == before);
}
