#include "catch_torch.hpp"
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/runtime/unlock_policy.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/model/record.hpp"
#include "faceid/runtime/pad.hpp"
#include "faceid/eval/pad_metrics.hpp"
#include "faceid/preprocess/preprocess.hpp"
#include "faceid/synth/attacks.hpp"
#include "faceid/train/pad_protocol.hpp"
#include "faceid/train/pad_train.hpp"
#include "faceid/runtime/unlock.hpp"
#include "synth_fixture.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;

namespace {

// `persons` synthetic identities from `first_person` on, one session of `poses` poses, with their
// attacks (photo, screen and the plain mask unless `types` says), compact layout, into `out`.
fs::path synth_with_attacks(const fs::path& out, int persons, int poses, uint64_t seed, int first_person,
                            std::vector<faceid::AttackType> types = {faceid::AttackType::photo, faceid::AttackType::screen,
                                                                     faceid::AttackType::mask},
                            int sessions = 1, int bursts = 0) {
  faceid::SynthOptions o;
  o.out = out;
  o.persons = persons;
  o.sessions = sessions;
  o.poses = poses;
  o.attack_types = std::move(types);
  o.bursts = bursts;
  o.seed = seed;
  o.first_person = first_person;
  o.threads = 2;
  o.compact = true;
  o.attacks = true;
  // The clean scene, as the attack frames are rendered (docs/synth.md): these tests count frames
  // and compare bona fide with attack presentations of the same scene.
  o.distractors = faceid::Distractors::none();
  faceid::generate_synth_dataset(o);
  return out;
}

// One person, one session, four poses, with photo, screen and mask (rendered once per process).
// A held photo or phone is not always where a head would be: some attack frames have no face.
fs::path attack_dataset() {
  static const fs::path root = synth_with_attacks(faceid::test::scratch_dir("pad-attacks"), 1, 4, 31, 6);
  return root;
}

// The crop of the first frame (in pose order) of a person folder where a face is found.
faceid::FaceCrop crop_of(const fs::path& person_folder, const faceid::PreprocessConfig& pp) {
  const faceid::Person person = faceid::scan_person(person_folder);
  for (const auto& ref : person.frames) {
    const faceid::PreprocessResult r = faceid::preprocess(faceid::load_frame(ref), pp);
    if (r.ok) return r.crop;
  }
  FAIL("no frame with a face in " << person_folder);
  return {};
}

// A crop whose depth is z(x, y) in millimetres (x, y from the crop centre), colour mid-grey.
faceid::FaceCrop synthetic_crop(const faceid::PreprocessConfig& pp, double (*z)(double, double)) {
  faceid::FaceCrop c;
  c.size = 64;
  c.chw.assign(static_cast<size_t>(faceid::kChannels) * 64 * 64, 0.0f);
  c.head_z_mm = 800;
  c.box = cv::Rect2f(0, 0, static_cast<float>(pp.crop_mm * faceid::kDepthFx / 800.0),
                     static_cast<float>(pp.crop_mm * faceid::kDepthFy / 800.0));
  const double mm_per_px = pp.crop_mm / 64.0;
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) {
      const double v = z((x - 31.5) * mm_per_px, (y - 31.5) * mm_per_px) / pp.depth_range_mm;
      c.channel(3)[y * 64 + x] = static_cast<float>(v == 0.0 ? -0.0 : v);
    }
  }
  return c;
}

// Crops of 64 px: "bona fide" with a warm, varied colour and a face-like bump, "attacks" a
// uniform grey with the same bump. Deterministic in (i).
faceid::FaceCrop toy_crop(const faceid::PreprocessConfig& pp, bool live, int i) {
  faceid::FaceCrop c = synthetic_crop(pp, [](double x, double y) { return -40.0 * std::exp(-(x * x + y * y) / 3000.0); });
  for (int k = 0; k < 64 * 64; ++k) {
    const float wobble = 0.3f * static_cast<float>(std::sin(0.37 * (k + 11 * i)));
    c.channel(0)[k] = live ? 1.0f + wobble : 0.1f;
    c.channel(1)[k] = live ? -0.3f - wobble : 0.1f;
    c.channel(2)[k] = live ? -0.5f : 0.1f;
  }
  return c;
}

faceid::PadSamples samples_of(const std::vector<faceid::FaceCrop>& bona, const std::vector<faceid::FaceCrop>& attacks) {
  faceid::PadSamples s;
  for (const auto& c : bona) s.bona_fide.push_back(&c);
  for (const auto& c : attacks) s.attacks.push_back(&c);
  return s;
}

// A model whose learned part always answers 0.5 (PadNet's last layer zeroed), threshold 0.4:
// only the geometric check decides. Made by editing a model's file.
faceid::PadModel constant_model(const fs::path& dir, const faceid::PreprocessConfig& pp) {
  faceid::PadModel::initial(pp, faceid::PadConfig{}, 4).save(dir / "initial.bin");
  const std::string bytes = faceid::read_file(dir / "initial.bin");
  faceid::Record r = faceid::Record::parse(std::string_view(bytes).substr(faceid::kSealedHeaderSize));
  r.put("parameter/head.weight", torch::zeros_like(r.get_tensor("parameter/head.weight")));
  r.put("parameter/head.bias", torch::zeros_like(r.get_tensor("parameter/head.bias")));
  r.put("threshold", 0.4);
  faceid::write_file_atomic(dir / "constant.bin", faceid::seal(faceid::PadModel::kMagic,
                                                              faceid::PadModel::kFormatVersion, r.serialize()));
  return faceid::PadModel::load(dir / "constant.bin");
}

}  // namespace

TEST_CASE("pad: APCER, BPCER and the BPCER threshold on known lists", "[pad]") {
  const std::vector<double> attacks{0.1, 0.5, 0.7, 0.9};
  const std::vector<double> bona{0.2, 0.4, 0.8, 0.95, 0.99};
  CHECK(faceid::apcer(attacks, 0.6) == 0.5);
  CHECK(faceid::apcer(attacks, 0.5) == 0.75);  // a score equal to the threshold is bona fide
  CHECK(faceid::apcer(attacks, 0.95) == 0.0);
  CHECK(faceid::apcer({}, 0.5) == 0.0);
  CHECK(faceid::bpcer(bona, 0.6) == Approx(0.4));
  CHECK(faceid::bpcer(bona, 0.2) == 0.0);
  CHECK(faceid::bpcer(bona, 1.0) == 1.0);
  CHECK(faceid::threshold_for_bpcer(bona, 0.2) == 0.4);   // one of five may be rejected
  CHECK(faceid::bpcer(bona, faceid::threshold_for_bpcer(bona, 0.2)) == Approx(0.2));
  CHECK(faceid::threshold_for_bpcer(bona, 0.0) == 0.2);
  CHECK(faceid::threshold_for_bpcer(bona, 0.39) == 0.4);  // floor(1.95) = 1
  CHECK(faceid::threshold_for_bpcer(bona, 1.0) == 0.99);
  CHECK(faceid::test::bad_input_message([&] { faceid::threshold_for_bpcer(bona, 1.5); }).find("1.5") !=
        std::string::npos);

  // The calibrated threshold: T = 0.4 (BPCER 20 %); the highest attack score below it is 0.1;
  // the middle in logit space is sigmoid((logit 0.1 + logit 0.4) / 2) = 0.21394 (APCER unchanged).
  CHECK(faceid::margin_threshold(bona, attacks, 0.2) == Approx(0.213939).epsilon(1e-5));
  CHECK(faceid::apcer(attacks, faceid::margin_threshold(bona, attacks, 0.2)) == faceid::apcer(attacks, 0.4));
  // No attack below T: the gap reaches down to 0 (probability 1e-6).
  CHECK(faceid::margin_threshold({0.99, 0.995}, {0.999}, 0.0) == Approx(0.0098519).epsilon(1e-4));
  CHECK(faceid::margin_threshold({0.5}, {0.5}, 0.0) == Approx(0.000999).epsilon(1e-3));

  // IAPAR: live (score >= 0.5) and distance <= 0.3; NaN distance = no face.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  faceid::AttackPresentations photo{"photo", {0.9, 0.9, 0.1, 0.0}, {0.2, 0.5, 0.1, nan}};
  faceid::AttackPresentations mask{"mask", {0.6, 0.7}, {0.25, 0.3}};
  const faceid::PadReport r =
      faceid::pad_report({0.9, 0.4, 0.8, 0.7}, {0.1, 0.1, 0.5, 0.2}, {photo, mask}, 0.5, 0.3);
  CHECK(r.bona_fide == 4);
  CHECK(r.bpcer == 0.25);
  CHECK(r.frr_with_pad == 0.5);  // 0.4 fails PAD, 0.5 fails distance
  REQUIRE(r.attacks.size() == 2);
  CHECK(r.attacks[0].type == "photo");
  CHECK(r.attacks[0].presentations == 4);
  CHECK(r.attacks[0].no_face == 1);
  CHECK(r.attacks[0].apcer == 0.5);
  CHECK(r.attacks[0].iapar == 0.25);             // only the first
  CHECK(r.attacks[0].iapar_without_pad == 0.5);  // the first and the third match
  CHECK(r.attacks[1].apcer == 1.0);
  CHECK(r.attacks[1].iapar == 1.0);
  // Operating point BPCER <= 1 % of 4 presentations: none may be rejected, threshold 0.4.
  CHECK(r.operating_threshold == 0.4);
  CHECK(r.operating_bpcer == 0.0);
  CHECK(r.attacks[0].apcer_at_operating_point == 0.5);
  CHECK(r.attacks[1].apcer_at_operating_point == 1.0);
  CHECK(r.attacks[0].iapar_at_operating_point == 0.25);  // 0.9 at 0.2 matches; 0.1 at 0.1 fails PAD
  CHECK(r.attacks[1].iapar_at_operating_point == 1.0);
  const std::string json = faceid::pad_report_json(r);
  CHECK(json.find("\"bpcer\": 0.25") != std::string::npos);
  CHECK(json.find("\"photo\": {\"presentations\": 4, \"no_face\": 1, \"apcer\": 0.5, \"iapar\": 0.25") !=
        std::string::npos);
  CHECK(faceid::format_pad_report(r).find("APCER 50.00%") != std::string::npos);
}

TEST_CASE("pad: plane and quadric fit of the crop depth", "[pad]") {
  const faceid::PreprocessConfig pp;
  // A tilted plane and a bent sheet (a parabolic cylinder) fit a quadric exactly.
  const auto plane = faceid::fit_depth_geometry(synthetic_crop(pp, [](double x, double y) { return 0.2 * x - 0.1 * y + 5; }), pp);
  CHECK(plane.points > 1000);
  CHECK(plane.plane_rms_mm < 0.01);
  CHECK(plane.quadric_rms_mm < 0.01);
  const auto bent = faceid::fit_depth_geometry(synthetic_crop(pp, [](double x, double) { return -20 + x * x / 300; }), pp);
  CHECK(bent.plane_rms_mm > 3);
  CHECK(bent.quadric_rms_mm < 0.01);
  CHECK(bent.curv_xx == Approx(1.0 / 300).epsilon(1e-3));
  CHECK(std::fabs(bent.curv_yy) < 1e-6);
  // A bump (a nose) on top: relief the quadric cannot explain.
  // A face: the head's curvature, a nose, two eye sockets and a mouth.
  const auto face = faceid::fit_depth_geometry(synthetic_crop(pp, [](double x, double y) {
    const double ex = std::fabs(x) - 32, ey = y + 18, my = y - 38;
    return x * x / 300 + y * y / 400 - 25 * std::exp(-(x * x + y * y) / 400) +
           10 * std::exp(-(ex * ex + ey * ey) / 150) + 5 * std::exp(-(x * x / 500 + my * my / 60));
  }), pp);
  CHECK(face.quadric_rms_mm > 3);
  CHECK(face.relief_mm > 2);
  CHECK(plane.relief_mm < 0.01);
  CHECK(bent.relief_mm < 0.01);
  // A held sheet with the attacker's fingers over its lower left edge, 15-30 mm in front of it:
  // the plain fit sees relief, the robust central one does not (and still sees the face's).
  const auto held = faceid::fit_depth_geometry(synthetic_crop(pp, [](double x, double y) {
    const bool fingers = x < -35 && y > 30;
    return 0.1 * x + 5 - (fingers ? 15 + 0.3 * (y - 30) : 0);
  }), pp);
  INFO("held sheet: quadric " << held.quadric_rms_mm << " relief " << held.relief_mm);
  CHECK(held.quadric_rms_mm > 2.5);
  CHECK(held.relief_mm < 0.5);
  const double gate = faceid::PadConfig{}.min_relief_mm;
  CHECK_FALSE(faceid::geometric_pass(held, gate));
  CHECK(faceid::geometric_pass(face, gate));
}

TEST_CASE("pad: synth --attacks writes the layout; the dataset scanner skips it", "[pad][synth]") {
  const fs::path root = attack_dataset();
  for (const char* type : {"photo", "screen", "mask"}) {
    const fs::path person = root / "attacks" / type / "synth_00006";
    CHECK(fs::exists(person / "001_1_c.png"));
    CHECK(fs::exists(person / "001_1_d.png"));
    const faceid::Dataset set = faceid::scan_dataset(faceid::attack_dataset_root(root, faceid::parse_attack_type(type)));
    REQUIRE(set.persons.size() == 1);
    CHECK(set.persons[0].identity == "synth_00006");  // the targeted identity
  }
  const faceid::Dataset live = faceid::scan_dataset(root);
  REQUIRE(live.persons.size() == 1);
  CHECK(live.persons[0].identity == "synth_00006");
  CHECK(faceid::read_file(root / "synth_manifest.yaml").find("attacks: true\n") != std::string::npos);
  CHECK(faceid::test::bad_input_message([] { faceid::parse_attack_type("video"); }).find("'video'") !=
        std::string::npos);
}

TEST_CASE("pad: a flat photo of an enrolled user is rejected, the live user is accepted", "[pad][unlock]") {
  const fs::path root = attack_dataset();
  const faceid::PreprocessConfig pp;
  faceid::PadConfig pad;
  const faceid::LivenessDetector detector(constant_model(root, pp), pad, pp);
  CHECK(detector.threshold() == 0.4);  // the model's, as pad.threshold < 0

  const faceid::PadDecision live = detector.assess(crop_of(root / "synth_00006", pp));
  const faceid::PadDecision photo = detector.assess(crop_of(root / "attacks" / "photo" / "synth_00006", pp));
  INFO("relief live " << live.geometry.relief_mm << " photo " << photo.geometry.relief_mm);
  // The tablets held here are wider than a head: the locator finds no face in them at all, or,
  // where it does, the relief check fails them.
  int screens_with_face = 0;
  for (const auto& ref : faceid::scan_person(root / "attacks" / "screen" / "synth_00006").frames) {
    const faceid::PreprocessResult r = faceid::preprocess(faceid::load_frame(ref), pp);
    if (!r.ok) continue;
    ++screens_with_face;
    CHECK_FALSE(detector.assess(r.crop).live);
  }
  CHECK(screens_with_face < 4);
  CHECK(live.geometric_pass);
  CHECK(live.live);
  CHECK(live.score == 0.5);
  CHECK_FALSE(photo.geometric_pass);
  CHECK_FALSE(photo.live);
  CHECK(photo.score == 0.0);
  CHECK(live.geometry.relief_mm > 1.5 * photo.geometry.relief_mm);

  // Unlock needs both: the photo matches the enrolled template perfectly and is still refused.
  faceid::UserTemplates user;
  user.user = "synth_00006";
  user.enrolled = faceid::Embeddings::Zero(1, 4);
  user.enrolled(0, 0) = 1;
  user.adaptive.resize(0, 4);
  faceid::UnlockPolicy policy(faceid::UnlockConfig{}, 0.5);
  const Eigen::RowVectorXf same = user.enrolled.row(0);
  const faceid::UnlockDecision refused = policy.attempt(user, same, photo.live);
  CHECK(refused.outcome == faceid::UnlockOutcome::rejected);
  CHECK(refused.liveness_failed);
  CHECK(refused.distance == 0.0);
  CHECK(refused.consecutive_failures == 1);
  const faceid::UnlockDecision accepted = policy.attempt(user, same, live.live);
  CHECK(accepted.outcome == faceid::UnlockOutcome::accepted);
  CHECK_FALSE(accepted.liveness_failed);
  CHECK(accepted.consecutive_failures == 0);
  // Not live counts towards the lockout like any failure.
  for (int i = 0; i < 5; ++i) policy.attempt(user, same, false);
  CHECK(policy.locked());
  CHECK(policy.attempt(user, same, true).outcome == faceid::UnlockOutcome::locked_out);
}

TEST_CASE("pad: training separates the classes, calibrates, saves and loads", "[pad]") {
  faceid::PreprocessConfig pp;
  pp.input_size = 64;
  faceid::PadConfig pad;
  pad.target_bpcer = 0.1;
  std::vector<faceid::FaceCrop> bona, attacks, val_bona, val_attacks, flat;
  for (int i = 0; i < 32; ++i) {
    bona.push_back(toy_crop(pp, true, i));
    attacks.push_back(toy_crop(pp, false, i));
  }
  for (int i = 100; i < 124; ++i) {
    val_bona.push_back(toy_crop(pp, true, i));
    val_attacks.push_back(toy_crop(pp, false, i));
  }
  faceid::PadTrainOptions opt;
  opt.epochs = 15;
  opt.batch_size = 16;
  opt.width = 8;
  opt.lr = 5e-3;
  opt.threads = 1;
  opt.augment.enabled = false;
  std::vector<std::string> lines;
  opt.log = [&lines](const std::string& l) { lines.push_back(l); };
  const faceid::PadModel m =
      faceid::train_pad_model(samples_of(bona, attacks), samples_of(val_bona, val_attacks), pp, pad, opt);
  REQUIRE(lines.size() == 15);
  CHECK_THAT(lines[0], Catch::StartsWith("epoch 1/15 loss "));
  CHECK_THAT(lines[0], Catch::Contains("validation loss"));
  const auto val = samples_of(val_bona, val_attacks);
  for (double p : m.learned_scores(val.bona_fide)) CHECK(p > 0.8);
  for (double p : m.learned_scores(val.attacks)) CHECK(p < 0.2);
  CHECK(m.calibrated_threshold() > 0.5);
  CHECK(m.calibrated_threshold() <= 1.0);
  CHECK(m.width() == 8);
  CHECK(faceid::test::bad_input_message([&] { faceid::PadModel::initial(pp, pad, 2); }) ==
        "PadNet: width must be in [4, 128], got 2");
  // The geometric gate: a flat crop scores 0 whatever the network says.
  const faceid::FaceCrop sheet = synthetic_crop(pp, [](double, double) { return 0.0; });
  const faceid::DepthGeometry g = faceid::fit_depth_geometry(sheet, pp);
  CHECK(faceid::liveness_score(0.99, g, pad.min_relief_mm) == 0.0);
  CHECK(faceid::liveness_score(0.99, faceid::fit_depth_geometry(bona[0], pp), pad.min_relief_mm) == 0.99);

  // Save and load: the same scores, bit for bit.
  const fs::path dir = faceid::test::scratch_dir("pad-model");
  m.save(dir / "pad.bin");
  const faceid::PadModel back = faceid::PadModel::load(dir / "pad.bin");
  CHECK(back.calibrated_threshold() == m.calibrated_threshold());
  CHECK(back.learned_scores(val.bona_fide) == m.learned_scores(val.bona_fide));
  CHECK(back.learned_scores(val.attacks) == m.learned_scores(val.attacks));

  // Another preprocessing: refused.
  faceid::PreprocessConfig other = pp;
  other.crop_mm = 200;
  CHECK(faceid::test::bad_input_message([&] { faceid::LivenessDetector(back, pad, other); }).find("preprocessing") !=
        std::string::npos);
  // Damaged and foreign files: refused, naming the file.
  const std::string bytes = faceid::read_file(dir / "pad.bin");
  const std::string bad = (dir / "bad.bin").string();
  auto load_message = [&](const std::string& content) {
    faceid::write_file_atomic(bad, content);
    return faceid::test::bad_input_message([&] { faceid::PadModel::load(bad); });
  };
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  CHECK(load_message(flipped) == bad + ": corrupt liveness model (checksum mismatch)");
  CHECK(load_message(bytes.substr(0, 100)) ==
        bad + ": corrupt liveness model (payload is 72 bytes, header says " +
            std::to_string(bytes.size() - faceid::kSealedHeaderSize) + ")");
  CHECK(load_message("format: faceid-pad\nversion: 2\n") ==
        bad + ": a liveness model of the old YAML format (logistic regression, version 2); this build reads "
              "version 3: retrain it with train_pad");
  CHECK(load_message(faceid::read_file(dir / "pad.bin").replace(0, 8, "FACEIDCK")) ==
        bad + ": not a faceid liveness model (bad magic)");
  faceid::Record r = faceid::Record::parse(std::string_view(bytes).substr(faceid::kSealedHeaderSize));
  auto resealed = [&](const faceid::Record& rec) {
    return faceid::seal(faceid::PadModel::kMagic, faceid::PadModel::kFormatVersion, rec.serialize());
  };
  faceid::Record nan_weights = r;
  nan_weights.put("parameter/head.bias", torch::full({1}, std::numeric_limits<float>::quiet_NaN()));
  CHECK(load_message(resealed(nan_weights)) ==
        bad + ": corrupt liveness model (parameter head.bias holds NaN or infinity)");
  faceid::Record wide = r;
  wide.put("width", int64_t{16});
  CHECK_THAT(load_message(resealed(wide)),
             Catch::StartsWith(bad + ": parameter blocks.0.weight has shape [8, 4, 3, 3] in the liveness model, "
                                     "expected [16, 4, 3, 3]"));
  faceid::Record threshold = r;
  threshold.put("threshold", 1.5);
  CHECK(load_message(resealed(threshold)) == bad + ": corrupt liveness model (threshold 1.5 outside [0, 1])");
  CHECK(faceid::test::bad_input_message([&] { faceid::PadModel::load(dir / "missing.bin"); }) ==
        (dir / "missing.bin").string() + ": liveness model does not exist");

  // A class missing from the fit set.
  CHECK(faceid::test::bad_input_message([&] {
          faceid::train_pad_model(samples_of({}, attacks), {}, pp, pad, opt);
        }) == "train_pad: the fit persons need bona fide and attack frames (got 0 and 32)");
}

TEST_CASE("pad: train_pad and unlock_sim --attacks end to end, bad inputs exit 2", "[pad][apps]") {
  using faceid::test::run_app;
  const fs::path dir = faceid::test::scratch_dir("pad-apps");
  const std::string data = synth_with_attacks(dir / "data", 5, 6, 17, 40).string();
  std::string out;
  REQUIRE(run_app("train", fmt::format("--config {}/configs/smoke.yaml --set data.root={} --out {}/run",
                                       FACEID_SOURCE_DIR, faceid::test::smoke_dataset().string(), dir.string()),
                  &out) == 0);
  const std::string ckpt = (dir / "run" / "best.pt").string();

  const std::string model = (dir / "pad.bin").string();
  REQUIRE(run_app("train_pad", fmt::format("--data {} --checkpoint {} --out {} --epochs 2 --width 4 --threads 1",
                                           data, ckpt, model), &out) == 0);
  INFO(out);
  // 5 persons: 4 fit (24 bona fide, 72 attack frames), 1 validation person (too few frames to
  // calibrate on: the fit frames are used).
  // (Held photos and tablets wider than a head have no face found: fewer attack frames than 72/18.)
  CHECK_THAT(out, Catch::Contains("4 fit persons (24 bona fide, "));
  CHECK_THAT(out, Catch::Contains("1 validation persons (6 bona fide, "));
  CHECK_THAT(out, Catch::Contains("epoch 2/2 loss"));
  CHECK_THAT(out, Catch::Contains("calibrated on the fit frames"));
  CHECK_THAT(out, Catch::Contains("APCER mask"));
  REQUIRE(fs::exists(model));
  CHECK(faceid::PadModel::load(model).width() == 4);

  REQUIRE(run_app("unlock_sim", fmt::format("--checkpoint {} --data {} --attacks --pad-model {} --enroll-frames 3 "
                                            "--out {}/eval --threads 1", ckpt, data, model, dir.string()),
                  &out) == 0);
  CHECK_THAT(out, Catch::Contains("presentation-attack detection (ISO/IEC 30107-3)"));
  const std::string json = faceid::read_file(dir / "eval" / "pad.json");
  for (const char* key : {"\"bpcer\"", "\"photo\"", "\"screen\"", "\"mask\"", "\"apcer\"", "\"iapar\""}) {
    CHECK_THAT(json, Catch::Contains(key));
  }

  // The unseen-instrument protocol on two held-out identities (two sessions, bursts of 3 frames).
  const std::string test = synth_with_attacks(dir / "test", 2, 3, 17, 60,
                                              {faceid::AttackType::photo, faceid::AttackType::screen,
                                               faceid::AttackType::mask}, 2, 3).string();
  REQUIRE(run_app("train_pad", fmt::format("--data {} --checkpoint {} --leave-one-out {} --folds instruments "
                                           "--out {}/loo.json --epochs 1 --width 4 --threads 1",
                                           data, ckpt, test, dir.string()), &out) == 0);
  CHECK_THAT(out, Catch::Contains("unseen-instrument protocol"));
  CHECK_THAT(out, Catch::Contains("leave-one-out on 2 test identities"));
  const std::string loo = faceid::read_file(dir / "loo.json");
  for (const char* fold : {"\"fold\": \"none\"", "\"fold\": \"photo\"", "\"fold\": \"screen\"", "\"fold\": \"mask\""}) {
    CHECK_THAT(loo, Catch::Contains(fold));
  }
  CHECK_THAT(loo, Catch::Contains("\"iapar_at_operating_point\""));
  // The protocol refuses test identities it trains on.
  CHECK(run_app("train_pad", fmt::format("--data {} --checkpoint {} --leave-one-out {} --out {}/loo2.json --epochs 1",
                                         data, ckpt, data, dir.string()), &out) == 2);
  CHECK_THAT(out, Catch::Contains("the protocol needs held-out identities"));
  CHECK_FALSE(fs::exists(dir / "loo2.json"));
  CHECK(run_app("train_pad", fmt::format("--data {} --checkpoint {} --attack-types photo,nope --out {}/x.bin",
                                         data, ckpt, dir.string()), &out) == 2);
  CHECK_THAT(out, Catch::Contains("--attack-types: unknown attack instrument 'nope'"));

  // Burst attempts: liveness on the burst, match on its mean embedding.
  REQUIRE(run_app("unlock_sim", fmt::format("--checkpoint {} --data {} --bursts --pad-model {} --enroll-frames 3 "
                                            "--out {}/bursts --threads 1", ckpt, test, model, dir.string()),
                  &out) == 0);
  CHECK_THAT(out, Catch::Contains("burst attempts (liveness on the burst, match on the mean embedding; 0 bona fide"));
  const std::string bursts = faceid::read_file(dir / "bursts" / "bursts.json");
  CHECK_THAT(bursts, Catch::Contains("\"bona_fide\": 6"));  // 2 persons x 3 poses of the last session
  CHECK_THAT(bursts, Catch::Contains("\"bona_fide_no_face\": 0"));
  CHECK_THAT(bursts, Catch::Contains("\"nonrigid_motion\""));
  CHECK_THAT(bursts, Catch::Contains("\"mask\": {\"presentations\": 6"));
  CHECK(run_app("unlock_sim", fmt::format("--checkpoint {} --data {} --bursts --pad-model {} --out {}/b2",
                                          ckpt, data, model, dir.string()), &out) == 2);
  CHECK_THAT(out, Catch::Contains("no bursts (make them with synth --bursts K)"));
  // The shipped model keeps its crops compact in memory (data.compact_crops): the attack and burst
  // evaluations read full crops all the same (they once handed the embedder empty ones).
  const std::string shipped_pad = (dir / "shipped_pad.bin").string();
  REQUIRE(run_app("train_pad", fmt::format("--data {} --checkpoint {}/models/faceid_rgbd_v1.pt --out {} --epochs 1 "
                                           "--width 4 --threads 1", data, FACEID_SOURCE_DIR, shipped_pad), &out) == 0);
  REQUIRE(run_app("unlock_sim", fmt::format("--data {} --attacks --bursts --pad-model {} --enroll-frames 3 --out {}/shipped "
                                            "--threads 1", test, shipped_pad, dir.string()), &out) == 0);
  CHECK_THAT(out, Catch::Contains("burst attempts (liveness on the burst"));

  // Bad inputs: a data root without attacks; an old YAML model; a model of another preprocessing.
  CHECK(run_app("train_pad", fmt::format("--data {} --checkpoint {} --out {}/x.bin", faceid::test::smoke_dataset().string(),
                                         ckpt, dir.string()), &out) == 2);
  CHECK_THAT(out, Catch::Contains("no attacks/ folder (make one with synth --attacks)"));
  CHECK_FALSE(fs::exists(dir / "x.bin"));
  faceid::write_file_atomic(dir / "old.yaml", "# faceid liveness (presentation-attack detection) model\nformat: faceid-pad\n");
  CHECK(run_app("unlock_sim", fmt::format("--checkpoint {} --data {} --attacks --pad-model {}/old.yaml --out {}/e2",
                                          ckpt, data, dir.string(), dir.string()), &out) == 2);
  CHECK_THAT(out, Catch::Contains("old.yaml: a liveness model of the old YAML format"));
  REQUIRE(run_app("train_pad", fmt::format("--data {} --out {}/other.bin --epochs 1 --width 4 --threads 1 "
                                           "--set preprocess.input_size=40", data, dir.string()), &out) == 0);
  CHECK(run_app("unlock_sim", fmt::format("--checkpoint {} --data {} --attacks --pad-model {}/other.bin --out {}/e3",
                                          ckpt, data, dir.string(), dir.string()), &out) == 2);
  CHECK_THAT(out, Catch::Contains("trained on another preprocessing"));
}

namespace {
std::vector<std::string> type_names(const std::vector<faceid::AttackType>& types) {
  std::vector<std::string> n;
  for (auto t : types) n.emplace_back(faceid::to_string(t));
  return n;
}
using Names = std::vector<std::string>;
}  // namespace

TEST_CASE("pad: attack instruments, families and the lists of them", "[pad]") {
  CHECK(std::size(faceid::kAttackTypes) == 9);
  for (faceid::AttackType t : faceid::kAttackTypes) CHECK(faceid::parse_attack_type(faceid::to_string(t)) == t);
  CHECK(faceid::family_of(faceid::AttackType::head_form) == faceid::AttackFamily::mask);
  CHECK(faceid::family_of(faceid::AttackType::screen) == faceid::AttackFamily::screen);
  using T = faceid::AttackType;
  CHECK(type_names(faceid::parse_attack_types("mask_paper,photo", "--x")) == Names{"photo", "mask_paper"});
  CHECK(faceid::parse_attack_types("all", "--x").size() == 9);
  // "mask" names the plain cast; a family name other than photo/screen selects its instruments.
  CHECK(faceid::parse_attack_types("mask", "--x").size() == 7);
  CHECK(type_names(faceid::parse_attack_types("screen,screen", "--x")) == Names{"screen"});
  const std::string msg = faceid::test::bad_input_message([] { faceid::parse_attack_types("photo,nope", "--attack-types"); });
  CHECK_THAT(msg, Catch::Contains("--attack-types: unknown attack instrument 'nope'"));
  CHECK_THAT(msg, Catch::Contains("mask_silicone"));
  CHECK(faceid::attack_burst_root("/d", T::mask_resin) == fs::path("/d/bursts/mask_resin"));
  CHECK(faceid::live_burst_root("/d") == fs::path("/d/bursts/live"));
}

TEST_CASE("pad: leave-one-out folds", "[pad]") {
  using T = faceid::AttackType;
  const auto names = [](const std::vector<faceid::PadFold>& folds) {
    std::vector<std::string> n;
    for (const auto& f : folds) n.push_back(f.name);
    return n;
  };
  const std::vector<T> all{T::photo, T::screen, T::mask, T::mask_paper, T::head_form};
  CHECK(names(faceid::leave_one_out_folds(all, true, true)) ==
        std::vector<std::string>{"none", "photo", "screen", "mask", "mask_paper", "head_form", "family:mask"});
  CHECK(names(faceid::leave_one_out_folds(all, false, true)) ==
        std::vector<std::string>{"none", "family:photo", "family:screen", "family:mask"});
  CHECK(type_names(faceid::leave_one_out_folds(all, false, true).back().held_out) ==
        Names{"mask", "mask_paper", "head_form"});
  // Holding out the only instrument leaves nothing to train on: no such fold.
  CHECK(names(faceid::leave_one_out_folds({T::mask, T::mask_paper}, true, true)) ==
        std::vector<std::string>{"none", "mask", "mask_paper"});

  faceid::PreprocessConfig pp;
  const faceid::FaceCrop a = toy_crop(pp, true, 1), b = toy_crop(pp, false, 2), c = toy_crop(pp, false, 3);
  faceid::PadCrops crops{{&a}, {{T::photo, {&b}}, {T::mask, {&c}}}};
  CHECK(crops.without({T::photo}).attacks == std::vector<const faceid::FaceCrop*>{&c});
  CHECK(crops.without({}).attacks.size() == 2);
  CHECK(crops.without({T::photo}).bona_fide.size() == 1);
}

TEST_CASE("pad: burst motion tells a blink from a rigid shift", "[pad]") {
  faceid::PreprocessConfig pp;
  // A textured face-sized crop; the next frame is the same crop shifted by one pixel (a rigid
  // micro-motion), or with the eye band darkened (a blink), each with its own small noise.
  auto frame = [&](int shift, bool blink, int noise_seed) {
    faceid::FaceCrop c = synthetic_crop(pp, [](double x, double y) { return -40.0 * std::exp(-(x * x + y * y) / 3000.0); });
    for (int y = 0; y < 64; ++y) {
      for (int x = 0; x < 64; ++x) {
        const int xs = x + shift;
        const float tex = static_cast<float>(std::sin(0.9 * xs) * std::cos(0.7 * y) + 0.3 * std::sin(0.31 * xs * y));
        const float noise = 0.02f * static_cast<float>(std::sin(12.9898 * (x + 64 * y) + 78.233 * noise_seed));
        const bool eyes = y >= 19 && y < 30 && x >= 14 && x < 50;
        for (int ch = 0; ch < 3; ++ch) c.channel(ch)[y * 64 + x] = tex + noise - (blink && eyes ? 0.8f : 0.0f);
      }
    }
    return c;
  };
  const faceid::FaceCrop f0 = frame(0, false, 1), shifted = frame(1, false, 2), blink = frame(0, true, 3);
  const faceid::BurstMotion rigid = faceid::burst_motion({&f0, &shifted});
  const faceid::BurstMotion living = faceid::burst_motion({&f0, &blink, &f0});
  INFO("rigid " << rigid.nonrigid << " living " << living.nonrigid);
  CHECK(rigid.nonrigid < 1.5);
  CHECK(living.nonrigid > 3.0);
  CHECK(living.eyes > 5 * living.mouth);
  CHECK(faceid::burst_motion({&f0}).nonrigid == 0.0);

  CHECK(faceid::burst_scored_frames(1) == std::vector<int>{0});
  CHECK(faceid::burst_scored_frames(4) == std::vector<int>{0, 3});
  CHECK(faceid::burst_scored_frames(2) == std::vector<int>{0, 1});
}

TEST_CASE("pad: a burst attempt needs a live burst and a matching mean embedding", "[pad][unlock]") {
  const fs::path root = attack_dataset();
  const faceid::PreprocessConfig pp;
  const faceid::LivenessDetector detector(constant_model(root, pp), faceid::PadConfig{}, pp);
  const faceid::FaceCrop live = crop_of(root / "synth_00006", pp);
  const faceid::FaceCrop photo = crop_of(root / "attacks" / "photo" / "synth_00006", pp);
  const faceid::BurstDecision b_live = detector.assess_burst({&live, &live, &live});
  CHECK(b_live.live);
  CHECK(b_live.scored == std::vector<int>{0, 2});
  CHECK(b_live.frames.size() == 2);
  CHECK(b_live.geometric_passes == 3);
  CHECK(b_live.learned == Approx(0.5));
  // A photo in two of three frames: fewer than half pass the relief check.
  const faceid::BurstDecision b_mixed = detector.assess_burst({&live, &photo, &photo});
  CHECK(b_mixed.geometric_passes == 1);
  CHECK_FALSE(b_mixed.geometric_pass);
  CHECK_FALSE(b_mixed.live);
  CHECK(b_mixed.score == 0.0);
  // Half of the frames is enough (a hand passing in front of one of two frames).
  const faceid::BurstDecision b_half = detector.assess_burst({&live, &photo});
  CHECK(b_half.geometric_passes == 1);
  CHECK(b_half.geometric_pass);
  CHECK(faceid::test::bad_input_message([&] { detector.assess_burst({}); }).find("at least one frame") !=
        std::string::npos);

  faceid::Embeddings frames(2, 3);
  frames << 1, 0, 0, 0, 1, 0;
  const Eigen::RowVectorXf mean = faceid::burst_embedding(frames);
  CHECK(mean.norm() == Approx(1.0));
  CHECK(mean(0) == Approx(std::sqrt(0.5)));
  CHECK(faceid::test::bad_input_message([] { faceid::burst_embedding(faceid::Embeddings(0, 3)); })
            .find("at least one frame") != std::string::npos);
}
