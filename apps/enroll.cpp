// enroll: add a user's templates (several head poses) to a template store. Every enrollment frame
// is screened by the liveness model (pad.model of the checkpoint's config, or --pad-model) on the
// crops the embedder sees; one frame that is not live refuses the whole enrollment.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "faceid/core/app.hpp"
#include "faceid/core/binary.hpp"
#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/eval/embed_dataset.hpp"
#include "faceid/runtime/enrollment.hpp"
#include "faceid/runtime/pad.hpp"
#include "faceid/runtime/store_key.hpp"
#include "faceid/runtime/template_store.hpp"
#include "faceid/core/memory.hpp"

namespace {

// The identity of a liveness model file, recorded per user in the store: its file name and the
// FNV-1a 64 of its bytes ("pad.bin:0123456789abcdef"), so a retrained model in the same file
// differs.
std::string liveness_model_identity(const std::filesystem::path& file) {
  const std::string bytes = faceid::read_file(file);
  faceid::Fnv1a64 hash;
  hash.update(bytes.data(), bytes.size());
  return fmt::format("{}:{:016x}", file.filename().string(), hash.digest());
}

// The enrollment frames, preprocessed once: the crops both the liveness check and the embedder
// see, the frame of each crop, and the frames without a face (with the reason).
struct EnrollmentCrops {
  std::vector<faceid::FaceCrop> crops;
  std::vector<faceid::FrameRef> frames;  // frames[i] made crops[i]
  size_t no_face = 0;
};

EnrollmentCrops preprocess_frames(const faceid::Embedder& embedder,
                                  const std::vector<faceid::Dataset>& inputs) {
  EnrollmentCrops out;
  for (const auto& ds : inputs) {
    for (const auto& person : ds.persons) {
      for (const auto& ref : person.frames) {
        faceid::PreprocessResult r = embedder.preprocess(faceid::load_frame(ref));
        if (!r.ok) {
          std::fprintf(stderr, "enroll: no face in %s: %s\n",
                       faceid::escape_for_message(ref.depth_path.string()).c_str(),
                       r.no_face_reason.c_str());
          ++out.no_face;
          continue;
        }
        out.crops.push_back(std::move(r.crop));
        out.frames.push_back(ref);
      }
    }
  }
  return out;
}

// "" when every crop is live; else the refusal naming the frames that are not, their scores and
// the threshold.
std::string liveness_refusal(const faceid::LivenessDetector& detector, const EnrollmentCrops& in) {
  std::vector<const faceid::FaceCrop*> ptrs;
  for (const auto& c : in.crops) ptrs.push_back(&c);
  const std::vector<faceid::PadDecision> decisions = detector.assess(ptrs);
  std::string names;
  size_t refused = 0;
  for (size_t k = 0; k < decisions.size(); ++k) {
    if (decisions[k].live) continue;
    if (refused < 5) {
      names += fmt::format("{}{} ({:.3f})", refused ? ", " : "",
                           faceid::escape_for_message(in.frames[k].depth_path.string()),
                           decisions[k].score);
    }
    ++refused;
  }
  if (refused == 0) return "";
  if (refused > 5) names += fmt::format(" and {} more", refused - 5);
  return fmt::format("{} of {} frame(s) are not live (liveness score < {:.3f}): {}", refused,
                     decisions.size(), detector.threshold(), names);
}

// The person folders named by --frames, one Dataset each; a dataset root (a folder of person
// folders) is refused before any embedding: an enrollment is one person.
std::vector<faceid::Dataset> resolve_frames(const std::vector<std::string>& frames) {
  std::vector<faceid::Dataset> sets;
  for (const auto& path : frames) {
    faceid::Dataset ds = faceid::resolve_input(path);
    if (ds.persons.size() > 1) {
      faceid::throw_bad_input(fmt::format(
          "{}: holds {} person folders; an enrollment takes the frames of one person (give one "
          "person folder or frame files)",
          faceid::escape_for_message(path), ds.persons.size()));
    }
    sets.push_back(std::move(ds));
  }
  return sets;
}

}  // namespace

int main(int argc, char** argv) {
  // Activations are reused from the heap instead of mmap'ed afresh each step (faceid/core/memory.hpp).
  faceid::keep_freed_memory_in_heap();
  CLI::App cli{"Enroll a user into a template store from several frames (head poses), or list / "
               "remove users.", "enroll"};
  std::string checkpoint, store_dir, key_file, user, device = "auto", pad_model;
  std::vector<std::string> frames;
  bool replace = false, list = false, remove = false, no_liveness = false;
  double pad_threshold = -1;
  faceid::StoreAccess access;
  cli.add_option("--checkpoint", checkpoint,
                 "Checkpoint whose embeddings the store holds (default: the shipped model)");
  cli.add_option("--store", store_dir, "Template store folder (created when missing)")->required();
  cli.add_option("--key-file", key_file,
                 "Store key file, mode 0600 (default: $FACEID_STORE_KEY when set, else "
                 "<store>/store.key, created with a random key on the first enrollment)");
  cli.add_option("--user", user, "User name (printable characters)");
  cli.add_option("--frames", frames, "Depth files NNN_K_d.dat|png (colour beside) or a person folder");
  cli.add_option("--device", device, "auto | cpu | cuda[:N]")->capture_default_str();
  auto* pad_model_opt = cli.add_option(
      "--pad-model", pad_model,
      "Liveness model from train_pad that screens every enrollment frame (default: the "
      "checkpoint config's pad.model); one frame that is not live refuses the enrollment");
  auto* pad_threshold_opt =
      cli.add_option("--pad-threshold", pad_threshold,
                     "Liveness threshold (default: pad.threshold, else the model's calibrated one)")
          ->check(CLI::Range(0.0, 1.0));
  cli.add_flag("--no-liveness", no_liveness,
               "Enroll without a liveness check (the store records that none was made)")
      ->excludes(pad_model_opt)
      ->excludes(pad_threshold_opt);
  cli.add_flag("--replace", replace, "Re-enroll an existing user");
  cli.add_flag("--list", list, "List the enrolled users and exit");
  cli.add_flag("--remove", remove, "Remove --user from the store and exit");
  cli.add_option("--lock-timeout", access.lock_timeout_s,
                 "Seconds to wait while another process changes the store")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cli.add_flag("--accept-rollback", access.accept_rollback,
               "Accept a store older than its generation record (an old copy put back) and "
               "record it as the newest");
  cli.add_option("--generation-file", access.generation_file,
                 "Record of the last accepted store generation (default: <store>/store.generation; "
                 "keep it elsewhere to make a rollback harder)");
  return faceid::run_app(cli, argc, argv, [&] {
    using faceid::escape_for_message;
    faceid::TemplateStore::require_folder(store_dir);
    const std::filesystem::path store_file =
        std::filesystem::path(store_dir) / faceid::TemplateStore::kFileName;
    const bool store_exists = std::filesystem::exists(store_file);
    const std::string shown_dir = escape_for_message(store_dir);
    if (list) {
      const faceid::StoreKey key = faceid::StoreKey::resolve(store_dir, key_file, false);
      const faceid::TemplateStore store = faceid::TemplateStore::load(store_dir, key, access);
      std::printf("template store %s: model %s, %zu user(s), generation %llu\n", shown_dir.c_str(),
                  store.fingerprint().c_str(), store.size(),
                  static_cast<unsigned long long>(store.generation()));
      for (const auto& name : store.list()) {
        const auto& u = store.get(name);
        std::printf("  %s: %lld enrolled + %lld adaptive templates, enrolled %s, liveness model "
                    "%s\n",
                    escape_for_message(name).c_str(), static_cast<long long>(u.enrolled.rows()),
                    static_cast<long long>(u.adaptive.rows()), u.created_utc.c_str(),
                    u.liveness_model.empty() ? "none"
                                             : escape_for_message(u.liveness_model).c_str());
      }
      return faceid::kExitOk;
    }
    // The name first: nothing is embedded for a name that would be refused.
    if (user.empty()) faceid::throw_bad_input("--user is required");
    faceid::TemplateStore::check_user_name(user, "--user");
    const std::string shown_user = escape_for_message(user);
    if (remove) {
      const faceid::StoreKey key = faceid::StoreKey::resolve(store_dir, key_file, false);
      faceid::TemplateStore::update(store_dir, key, [&](faceid::TemplateStore& store) {
        if (!store.remove(user)) {
          faceid::throw_bad_input(
              fmt::format("template store {}: no user '{}'", shown_dir, shown_user));
        }
        return true;
      }, access);
      std::printf("removed %s from %s\n", shown_user.c_str(), shown_dir.c_str());
      return faceid::kExitOk;
    }
    if (frames.empty()) faceid::throw_bad_input("enrollment needs --frames");
    if (!pad_model.empty()) faceid::require_input_file(pad_model, "--pad-model", "liveness model");
    checkpoint = faceid::checkpoint_or_shipped(checkpoint, "enroll").string();
    // Every input is checked before the first frame is embedded.
    const std::vector<faceid::Dataset> inputs = resolve_frames(frames);
    // A new key only for a new store: a missing key for an existing store is an error.
    const faceid::StoreKey key = faceid::StoreKey::resolve(store_dir, key_file, !store_exists);
    faceid::Embedder embedder(checkpoint, device);
    {  // Fail early (a store of another model, a rollback, a taken name); checked again below.
      const faceid::TemplateStore store = faceid::TemplateStore::open(store_dir, key, access);
      store.require_fingerprint(embedder.fingerprint());
      if (store.contains(user) && !replace) {
        faceid::throw_bad_input(fmt::format(
            "{}: user '{}' is already enrolled (remove it first, or --replace)", shown_dir,
            shown_user));
      }
    }
    // The liveness model: --pad-model, else the config's pad.model; none with --no-liveness.
    faceid::PadConfig pad = embedder.config().pad;
    if (!pad_model.empty()) pad.model = pad_model;
    if (pad_threshold >= 0) pad.threshold = pad_threshold;
    std::optional<faceid::LivenessDetector> detector;
    std::string liveness_model;  // recorded in the store; "" = not screened
    if (!no_liveness && !pad.model.empty()) {
      faceid::require_input_file(pad.model, pad_model.empty() ? "pad.model" : "--pad-model",
                                 "liveness model");
      // Refuses a model trained on another preprocessing than the checkpoint's.
      detector.emplace(pad, embedder.config().preprocess);
      liveness_model = liveness_model_identity(pad.model);
    } else if (!no_liveness) {
      std::fprintf(stderr,
                   "enroll: warning: no liveness model (--pad-model or the config's pad.model): "
                   "the enrollment is not screened for presentation attacks (--no-liveness "
                   "silences this)\n");
    }
    const EnrollmentCrops enrolled = preprocess_frames(embedder, inputs);
    const size_t no_face = enrolled.no_face;
    const std::vector<faceid::FrameRef>& used = enrolled.frames;
    if (detector && !enrolled.crops.empty()) {
      const std::string not_live = liveness_refusal(*detector, enrolled);
      if (!not_live.empty()) {
        std::fprintf(stderr, "enroll: enrollment of %s refused: %s\n", shown_user.c_str(),
                     not_live.c_str());
        return faceid::kExitBadInput;
      }
    }
    std::vector<const faceid::FaceCrop*> crop_ptrs;
    for (const auto& c : enrolled.crops) crop_ptrs.push_back(&c);
    const faceid::Embeddings all = crop_ptrs.empty()
                                       ? faceid::Embeddings(0, embedder.dimension())
                                       : embedder.embed(crop_ptrs);
    const std::string refusal = faceid::enrollment_refusal(all, embedder.config().unlock);
    if (!refusal.empty()) {
      std::fprintf(stderr, "enroll: enrollment of %s refused: %s\n", shown_user.c_str(),
                   refusal.c_str());
      return faceid::kExitBadInput;
    }
    // The check compares frames pairwise, so it uses the pairwise (EER) threshold: the operating
    // threshold bounds min-over-templates attempts at a FAR of 1e-4, and frames of one person
    // spanning +-30 degrees of yaw are legitimately farther apart than that.
    const double threshold = embedder.eer_threshold();
    if (std::isfinite(threshold)) {
      const std::vector<size_t> odd = faceid::inconsistent_enrollment_rows(all, threshold);
      if (!odd.empty()) {
        std::string names;
        for (size_t k = 0; k < odd.size() && k < 5; ++k) {
          names += (k ? ", " : "") + escape_for_message(used[odd[k]].depth_path.string());
        }
        if (odd.size() > 5) names += fmt::format(" and {} more", odd.size() - 5);
        std::fprintf(stderr,
                     "enroll: enrollment of %s refused: these frames look like different people: "
                     "%zu of %lld frame(s) are farther than the match threshold %.3f from most of "
                     "the others (%s)\n",
                     shown_user.c_str(), odd.size(), static_cast<long long>(all.rows()), threshold,
                     names.c_str());
        return faceid::kExitBadInput;
      }
    } else {
      std::fprintf(stderr,
                   "enroll: warning: the checkpoint has no match threshold (never validated): the "
                   "frames were not checked to show one person\n");
    }
    faceid::TemplateStore::update(store_dir, key, [&](faceid::TemplateStore& store) {
      store.add(user, all, embedder.fingerprint(), replace, liveness_model);
      return true;
    }, access);
    std::printf("enrolled %s with %lld templates (%zu frame(s) without a face) into %s\n",
                shown_user.c_str(), static_cast<long long>(all.rows()), no_face, shown_dir.c_str());
    if (detector) {
      std::printf("liveness: every frame live (threshold %.3f, model %s)\n", detector->threshold(),
                  escape_for_message(liveness_model).c_str());
    }
    std::string source;
    const double match = embedder.match_threshold(&source);
    if (std::isfinite(match)) std::printf("unlock threshold %.4f (%s)\n", match, source.c_str());
    return faceid::kExitOk;
  });
}
