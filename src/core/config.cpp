#include "faceid/core/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <variant>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "faceid/core/error.hpp"

namespace faceid {
namespace {

// The names of each choice, in the order of its enum: the YAML spelling, to_string and the list
// in errors and docs.
using Names = std::span<const char* const>;
constexpr const char* kCropModes[] = {"depth", "fixed"};
constexpr const char* kModelVariants[] = {"squeezenet1_1", "faceid_beta"};
constexpr const char* kLossTypes[] = {"contrastive", "arcface", "cosface"};
constexpr const char* kMinings[] = {"none", "batch_all", "batch_hard"};
constexpr const char* kOptimizerKinds[] = {"adam", "sgd"};
constexpr const char* kSchedules[] = {"cosine", "step", "constant"};
constexpr const char* kSamplerKinds[] = {"pairs", "pk"};
constexpr const char* kAmpModes[] = {"none", "bf16", "fp16"};
constexpr const char* kTemplateDistances[] = {"min", "mean_k"};

Names names(CropMode) { return kCropModes; }
Names names(ModelVariant) { return kModelVariants; }
Names names(LossType) { return kLossTypes; }
Names names(Mining) { return kMinings; }
Names names(OptimizerKind) { return kOptimizerKinds; }
Names names(Schedule) { return kSchedules; }
Names names(SamplerKind) { return kSamplerKinds; }
Names names(AmpMode) { return kAmpModes; }
Names names(TemplateDistance) { return kTemplateDistances; }

// The name of `v`; "unknown" for a value outside the enum (a cast in code; validate refuses it).
template <class E>
const char* name_of(E v) {
  const Names n = names(v);
  const auto i = static_cast<size_t>(v);
  return i < n.size() ? n[i] : "unknown";
}

using FieldPtr = std::variant<bool*, int*, int64_t*, double*, std::string*,
                              std::vector<std::string>*, CropMode*, ModelVariant*, LossType*,
                              Mining*, OptimizerKind*, Schedule*, SamplerKind*, AmpMode*,
                              TemplateDistance*>;

struct Field {
  const char* section;
  const char* key;
  FieldPtr ptr;
  const char* doc;
  std::optional<double> min;
  bool min_exclusive = false;
  std::optional<double> max;

  Field& at_least(double v) { min = v; return *this; }
  Field& above(double v) { min = v; min_exclusive = true; return *this; }
  Field& at_most(double v) { max = v; return *this; }
  std::string path() const { return fmt::format("{}.{}", section, key); }
};

// The schema: every key, its type (through the pointer; an enum's names are its choices), range
// and meaning. The one place that knows the config's shape; loading, --set, validate, to_yaml and
// the docs all walk it.
std::vector<Field> schema(Config& c) {
  std::vector<Field> f;
  auto add = [&f](const char* s, const char* k, FieldPtr p, const char* doc) -> Field& {
    f.push_back(Field{s, k, p, doc, std::nullopt, false, std::nullopt});
    return f.back();
  };
  add("data", "root", &c.data.root, "Dataset root in the VAP layout (one folder per person).");
  add("data", "val_persons", &c.data.val_persons,
      "Explicit list of validation persons (folder names); overrides `val_fraction`.");
  add("data", "val_fraction", &c.data.val_fraction,
      "Fraction of persons held out for validation when `val_persons` is empty.")
      .at_least(0).at_most(0.9);
  add("data", "split_seed", &c.data.split_seed, "Seed of the person-disjoint train/validation split.");
  add("data", "cache_dir", &c.data.cache_dir,
      "On-disk cache of preprocessed frames; relative paths are under `data.root`; empty = off.");
  add("data", "memory_cache", &c.data.memory_cache, "Keep preprocessed frames in memory.");
  add("data", "workers", &c.data.workers, "Loader threads that build batches ahead of the step.")
      .at_least(0).at_most(64);
  add("data", "prefetch_batches", &c.data.prefetch_batches,
      "Batches queued ahead of the training step.").at_least(1).at_most(64);
  add("data", "max_frames_per_person", &c.data.max_frames_per_person,
      "Use at most this many frames per person (0 = all).").at_least(0);
  add("data", "max_no_face_fraction", &c.data.max_no_face_fraction,
      "Training stops (exit 2) when a larger share of the data set's frames has no face found; "
      "inspect_data --preview shows them.")
      .at_least(0)
      .at_most(1);
  add("data", "compact_crops", &c.data.compact_crops,
      "Hold the preprocessed crops in memory as 8-bit colour and 16-bit float depth instead of "
      "32-bit floats: 3.2x less memory, for identity-scale pretraining. Colour is exact (crops are "
      "resampled as 8-bit), depth within 1e-3 relative.");

  add("preprocess", "crop", &c.preprocess.crop,
      "`depth`: metric square around the head found by its shape in depth; `fixed`: the proof of concept's "
      "window, rows 140:340, cols 220:420.");
  add("preprocess", "crop_mm", &c.preprocess.crop_mm, "Side of the metric crop, in millimetres.")
      .above(0).at_most(2000);
  add("preprocess", "input_size", &c.preprocess.input_size,
      "Side of the network input, in pixels.").at_least(32).at_most(512);
  add("preprocess", "depth_range_mm", &c.preprocess.depth_range_mm,
      "Depth channel = (depth - head median z) / depth_range_mm, clipped to [-1, 1].")
      .above(0);
  add("preprocess", "min_depth_mm", &c.preprocess.min_depth_mm,
      "Nearest depth considered when looking for the head, in millimetres.").at_least(0);
  add("preprocess", "max_depth_mm", &c.preprocess.max_depth_mm,
      "Farthest depth considered when looking for the head, in millimetres.").above(0);
  add("preprocess", "min_blob_pixels", &c.preprocess.min_blob_pixels,
      "Smallest depth-continuous surface (in 640x480 pixels) tested as a head.").at_least(1);
  add("preprocess", "face_shift", &c.preprocess.face_shift,
      "Shift the crop up by this fraction of its side (0: centred on the face centre, between the eyes).")
      .at_least(-0.5).at_most(0.5);

  add("model", "variant", &c.model.variant,
      "`squeezenet1_1` (default, < 1M parameters) or `faceid_beta` (the proof of concept's "
      "network, ~32M parameters at 200x200).");
  add("model", "embedding_dim", &c.model.embedding_dim, "Size of the L2-normalised embedding.")
      .at_least(2).at_most(4096);
  add("model", "dropout", &c.model.dropout, "Dropout probability in the head.")
      .at_least(0).at_most(0.95);

  add("loss", "type", &c.loss.type,
      "`contrastive`: pairs of embeddings (the proof of concept's loss); `arcface`: additive "
      "angular margin on a normalised classifier over the training identities; `cosface`: "
      "additive cosine margin on it. The classifier exists only in training checkpoints.");
  add("loss", "margin", &c.loss.margin,
      "`contrastive`: impostor pairs closer than this distance are pushed apart; `arcface`: the "
      "angle added to the target class, in radians (typically 0.5, below 0.785); `cosface`: the "
      "cosine subtracted from it (typically 0.35, below 1).")
      .above(0).at_most(2);
  add("loss", "scale", &c.loss.scale, "`arcface` / `cosface`: the logit scale s.")
      .above(1).at_most(256);
  add("loss", "mining", &c.loss.mining,
      "`none`: the sampled pairs only; `batch_all`: also every cross pair in the batch; "
      "`batch_hard`: also the positives plus the hardest negative of each anchor.");

  add("augment", "enabled", &c.augment.enabled,
      "Augment training batches (never validation or inference).");
  add("augment", "flip_prob", &c.augment.flip_prob,
      "Probability of a horizontal flip of all four channels together.").at_least(0).at_most(1);
  add("augment", "max_shift", &c.augment.max_shift,
      "Largest translation, as a fraction of the input side.").at_least(0).at_most(0.5);
  add("augment", "max_scale", &c.augment.max_scale, "Largest relative zoom in or out.")
      .at_least(0).at_most(0.5);
  add("augment", "color_jitter", &c.augment.color_jitter,
      "Largest relative change of brightness, contrast and each colour channel.")
      .at_least(0).at_most(1);
  add("augment", "depth_noise_mm", &c.augment.depth_noise_mm,
      "Standard deviation of Gaussian depth noise added to valid pixels, in millimetres.")
      .at_least(0);
  add("augment", "hole_prob", &c.augment.hole_prob,
      "Probability of punching invalid-depth holes into a sample.").at_least(0).at_most(1);

  add("train", "device", &c.train.device, "`auto` (CUDA if available), `cpu`, `cuda` or `cuda:N`.");
  add("train", "threads", &c.train.threads, "CPU threads of the training step (0 = all cores).")
      .at_least(0).at_most(1024);
  add("train", "optimizer", &c.train.optimizer, "`adam` or `sgd` (with momentum).");
  add("train", "lr", &c.train.lr, "Peak learning rate.").above(0).at_most(10);
  add("train", "momentum", &c.train.momentum, "SGD momentum.").at_least(0).at_most(0.999);
  add("train", "weight_decay", &c.train.weight_decay, "L2 weight decay.").at_least(0).at_most(1);
  add("train", "schedule", &c.train.schedule,
      "Learning-rate schedule after warm-up: `cosine`, `step` or `constant`.");
  add("train", "warmup_epochs", &c.train.warmup_epochs,
      "Linear warm-up length, in epochs (fractions allowed).").at_least(0);
  add("train", "step_epochs", &c.train.step_epochs,
      "Step schedule: multiply the rate by `step_gamma` every this many epochs.").at_least(1);
  add("train", "step_gamma", &c.train.step_gamma, "Step schedule: decay factor.")
      .above(0).at_most(1);
  add("train", "grad_clip", &c.train.grad_clip,
      "Clip the global gradient norm to this value (0 = off).").at_least(0);
  add("train", "epochs", &c.train.epochs, "Number of epochs.").at_least(1);
  add("train", "steps_per_epoch", &c.train.steps_per_epoch, "Optimiser steps per epoch.")
      .at_least(1);
  add("train", "batch_pairs", &c.train.batch_pairs, "Pairs per batch.").at_least(2).at_most(65536);
  add("train", "positive_fraction", &c.train.positive_fraction,
      "Fraction of genuine (same-person) pairs in a batch.").above(0).at_most(1);
  add("train", "seed", &c.train.seed, "Seed of weights, sampling and augmentation.");
  add("train", "save_every", &c.train.save_every, "Write `last.pt` every this many epochs.")
      .at_least(1);
  add("train", "out_dir", &c.train.out_dir,
      "Parent folder of run folders (`--out` names the run folder itself).");
  add("train", "val_max_frames_per_person", &c.train.val_max_frames_per_person,
      "Validation uses at most this many frames per person (0 = all).").at_least(0);
  add("train", "freeze_batch_norm", &c.train.freeze_batch_norm,
      "BatchNorm layers normalise with their running statistics (from `--init-from`) while "
      "training, and do not update them: for fine-tuning with small per-rank batches.");
  add("train", "sampler", &c.train.sampler,
      "`pairs`: genuine and impostor pairs at `positive_fraction`; `pk`: P identities x K "
      "frames a batch (P = 2 x `batch_pairs` / `pk_frames`), for the margin losses and mining.");
  add("train", "pk_frames", &c.train.pk_frames, "K of the `pk` sampler: frames per identity (even).")
      .at_least(2).at_most(64);
  add("train", "amp", &c.train.amp,
      "Mixed precision of the training step: `none` (fp32), `bf16` (autocast to bfloat16, CPU "
      "or CUDA), `fp16` (autocast to float16 with dynamic loss scaling; CUDA only). Validation "
      "and embedding stay fp32.");
  add("train", "cudnn_benchmark", &c.train.cudnn_benchmark,
      "CUDA: let cuDNN time its convolution algorithms on the first batches and keep the "
      "fastest (fixed input sizes make this pay).");
  add("train", "allow_tf32", &c.train.allow_tf32,
      "CUDA on Ampere and later: TF32 matmuls and convolutions (faster, ~1e-3 relative error). "
      "Off by default, so that GPU embeddings match the CPU ones that thresholds were "
      "calibrated on.");
  add("train", "init_from", &c.train.init_from,
      "Start from the weights of this checkpoint or shipped model (e.g. `models/faceid_rgbd_v1.pt`); "
      "empty = random initialisation. `--init-from` overrides it.");

  add("unlock", "enroll_frames", &c.unlock.enroll_frames,
      "Frames a user shows at enrollment (spanning the poses).").at_least(1).at_most(1000);
  add("unlock", "min_enroll_frames", &c.unlock.min_enroll_frames,
      "Enrollment is refused below this many usable frames.").at_least(1);
  add("unlock", "min_pose_spread", &c.unlock.min_pose_spread,
      "Enrollment is refused when the enrollment embeddings' mean pairwise distance is below "
      "this (the poses are too similar).")
      .at_least(0);
  add("unlock", "distance", &c.unlock.distance,
      "Attempt distance over the templates: `min` or `mean_k` (mean of the k smallest).");
  add("unlock", "mean_k", &c.unlock.mean_k, "k of `mean_k`.").at_least(1);
  add("unlock", "lockout_failures", &c.unlock.lockout_failures,
      "Consecutive failures after which the passcode is required.").at_least(1);
  add("unlock", "update_band", &c.unlock.update_band,
      "Adaptive update when an accepted distance lies in [update_band x threshold, threshold].")
      .at_least(0).at_most(1);
  add("unlock", "adaptive_capacity", &c.unlock.adaptive_capacity,
      "Bound of the FIFO of adaptive templates (0 = no adaptive update).").at_least(0);
  add("unlock", "target_far", &c.unlock.target_far,
      "Training calibrates the operating threshold on its validation persons to this FAR of "
      "unlock attempts (enrollment of `enroll_frames`, min over templates); `unlock_sim`, "
      "`enroll` and the template store use it by default.")
      .above(0).at_most(0.5);

  add("pad", "model", &c.pad.model,
      "Liveness (presentation-attack detection) model written by `train_pad`; empty = none.");
  add("pad", "threshold", &c.pad.threshold,
      "Live when the liveness score >= this; < 0 uses the model's threshold (calibrated by "
      "`train_pad` on its validation persons, see `target_bpcer`).")
      .at_most(1);
  add("pad", "min_relief_mm", &c.pad.min_relief_mm,
      "Geometric check: 75th-percentile depth residual (mm) of the crop's central window over a robust quadric "
      "of the face region (hands and fingers around a held sheet left out); flat or bent photos "
      "and screens stay below it. train_pad calibrates behind it and stores it in the liveness "
      "model, which unlock then uses.")
      .at_least(0);
  add("pad", "target_bpcer", &c.pad.target_bpcer,
      "`train_pad` calibrates the liveness threshold: the highest one with this BPCER (bona fide "
      "rejected) on its validation persons, lowered to the middle of the gap to the attack scores "
      "below it (same APCER, lower BPCER).")
      .at_least(0).at_most(0.5);
  return f;
}

std::string where(const std::string& source, const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return source;
  return fmt::format("{}:{}", source, m.line + 1);
}

std::string scalar_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "nothing";
}

// The text of a mapping key: a YAML key may be a list or a mapping ("? [a, b]: 1"), which is
// never a section or key name here.
std::string key_name(const YAML::Node& key, const std::string& source, const char* what) {
  if (!key.IsScalar()) {
    throw_bad_input(
        fmt::format("{}: expected a {} name, got {}", where(source, key), what, scalar_text(key)));
  }
  return key.Scalar();
}

[[noreturn]] void fail(const std::string& at, const Field& field, const std::string& what) {
  throw_bad_input(fmt::format("{}: {}: {}", at, field.path(), what));
}

template <class T>
bool parse_number(const std::string& text, T& out) {
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if constexpr (std::is_same_v<T, double>) {
    // from_chars for double is available in GCC 11+; strtod keeps older toolchains working.
    if (text.empty()) return false;
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v)) return false;
    out = v;
    return true;
  } else {
    if (!text.empty() && text[0] == '+') ++first;
    auto [ptr, ec] = std::from_chars(first, last, out);
    return ec == std::errc() && ptr == last;
  }
}

// "a|b|c": the names of a choice, as errors list them.
std::string choice_list(Names n) { return fmt::format("{}", fmt::join(n, "|")); }

// The names of a choice field; empty for the other types.
Names choices(const Field& field) {
  return std::visit(
      [](auto* p) -> Names {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_enum_v<T>) return names(T{});
        return {};
      },
      field.ptr);
}

// A field whose --set value is text as written (a string or a choice name), even when empty.
bool is_text(const Field& field) {
  return std::holds_alternative<std::string*>(field.ptr) || !choices(field).empty();
}

void check_range(const std::string& at, const Field& field, double v, const std::string& text) {
  if (field.min) {
    const bool bad = field.min_exclusive ? !(v > *field.min) : !(v >= *field.min);
    if (bad) {
      fail(at, field, fmt::format("expected a number {} {}, got {}",
                                  field.min_exclusive ? ">" : ">=", *field.min, text));
    }
  }
  if (field.max && v > *field.max) {
    fail(at, field, fmt::format("expected a number <= {}, got {}", *field.max, text));
  }
}

void assign(const Field& field, const YAML::Node& node, const std::string& at) {
  std::visit(
      [&](auto* p) {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          if (node.IsNull()) {
            p->clear();
            return;
          }
          if (!node.IsSequence()) fail(at, field, fmt::format("expected a list, got {}", scalar_text(node)));
          std::vector<std::string> out;
          for (const auto& item : node) {
            if (!item.IsScalar()) fail(at, field, "expected a list of strings");
            out.push_back(item.Scalar());
          }
          *p = std::move(out);
        } else {
          if (!node.IsScalar()) {
            fail(at, field, fmt::format("expected a scalar, got {}", scalar_text(node)));
          }
          const std::string text = node.Scalar();
          if constexpr (std::is_same_v<T, bool>) {
            if (text == "true" || text == "True" || text == "yes" || text == "on") {
              *p = true;
            } else if (text == "false" || text == "False" || text == "no" || text == "off") {
              *p = false;
            } else {
              fail(at, field, fmt::format("expected true or false, got '{}'", text));
            }
          } else if constexpr (std::is_same_v<T, std::string>) {
            *p = text;
          } else if constexpr (std::is_enum_v<T>) {
            const Names n = names(*p);
            const auto it = std::find(n.begin(), n.end(), text);
            if (it == n.end()) {
              fail(at, field, fmt::format("expected one of {}, got '{}'", choice_list(n), text));
            }
            *p = static_cast<T>(it - n.begin());
          } else {
            T v{};
            if (!parse_number(text, v)) {
              fail(at, field, fmt::format("expected {}, got '{}'",
                                          std::is_same_v<T, double> ? "a number" : "an integer",
                                          text));
            }
            check_range(at, field, static_cast<double>(v), text);
            *p = v;
          }
        }
      },
      field.ptr);
}

// The checks of one field's value as it stands (a Config built in code never went through
// assign): the choice is one of the enum's names, the number finite and in range.
void check_value(const Field& field, const std::string& at) {
  std::visit(
      [&](auto* p) {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_enum_v<T>) {
          const Names n = names(*p);
          if (static_cast<size_t>(*p) >= n.size()) {
            fail(at, field, fmt::format("expected one of {}, got {}", choice_list(n),
                                        static_cast<int64_t>(*p)));
          }
        } else if constexpr (std::is_same_v<T, double>) {
          if (!std::isfinite(*p)) fail(at, field, fmt::format("expected a number, got {}", *p));
          check_range(at, field, *p, fmt::format("{}", *p));
        } else if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) {
          check_range(at, field, static_cast<double>(*p), fmt::format("{}", *p));
        }
      },
      field.ptr);
}

Field* find_field(std::vector<Field>& fields, const std::string& section, const std::string& key) {
  for (auto& f : fields) {
    if (section == f.section && key == f.key) return &f;
  }
  return nullptr;
}

bool known_section(const std::vector<Field>& fields, const std::string& section) {
  for (const auto& f : fields) {
    if (section == f.section) return true;
  }
  return false;
}

std::string yaml_quoted(const std::string& text) {
  YAML::Emitter e;
  e << YAML::DoubleQuoted << text;
  return e.c_str();
}

std::string emit_value(const Field& field) {
  return std::visit(
      [](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          YAML::Emitter e;
          e << YAML::Flow << *p;
          return e.c_str();
        } else if constexpr (std::is_same_v<T, bool>) {
          return *p ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return yaml_quoted(*p);
        } else if constexpr (std::is_enum_v<T>) {
          return yaml_quoted(name_of(*p));
        } else {
          return fmt::format("{}", *p);
        }
      },
      field.ptr);
}

}  // namespace

const char* to_string(CropMode v) { return name_of(v); }
const char* to_string(ModelVariant v) { return name_of(v); }
const char* to_string(LossType v) { return name_of(v); }
const char* to_string(Mining v) { return name_of(v); }
const char* to_string(OptimizerKind v) { return name_of(v); }
const char* to_string(Schedule v) { return name_of(v); }
const char* to_string(SamplerKind v) { return name_of(v); }
const char* to_string(AmpMode v) { return name_of(v); }
const char* to_string(TemplateDistance v) { return name_of(v); }

template <class E>
E parse_choice(const std::string& name, const std::string& where) {
  Config config;
  const auto fields = schema(config);
  for (const Field& f : fields) {
    if (E* const* p = std::get_if<E*>(&f.ptr)) {
      assign(f, YAML::Node(name), where);
      return **p;
    }
  }
  throw_internal("parse_choice: no config key holds this choice");
}

template CropMode parse_choice<CropMode>(const std::string&, const std::string&);
template ModelVariant parse_choice<ModelVariant>(const std::string&, const std::string&);
template LossType parse_choice<LossType>(const std::string&, const std::string&);
template Mining parse_choice<Mining>(const std::string&, const std::string&);
template OptimizerKind parse_choice<OptimizerKind>(const std::string&, const std::string&);
template Schedule parse_choice<Schedule>(const std::string&, const std::string&);
template SamplerKind parse_choice<SamplerKind>(const std::string&, const std::string&);
template AmpMode parse_choice<AmpMode>(const std::string&, const std::string&);
template TemplateDistance parse_choice<TemplateDistance>(const std::string&, const std::string&);

void apply_override(Config& config, const std::string& assignment) {
  const std::string at = fmt::format("--set {}", assignment);
  const auto eq = assignment.find('=');
  const auto dot = assignment.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
    throw_bad_input(fmt::format("{}: expected section.key=value", at));
  }
  const std::string section = assignment.substr(0, dot);
  const std::string key = assignment.substr(dot + 1, eq - dot - 1);
  const std::string value = assignment.substr(eq + 1);
  auto fields = schema(config);
  Field* field = find_field(fields, section, key);
  if (field == nullptr) {
    throw_bad_input(fmt::format("{}: unknown key '{}.{}'", at, section, key));
  }
  YAML::Node node;
  try {
    node = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw_bad_input(fmt::format("{}: cannot parse value: {}", at, e.msg));
  }
  if (node.IsNull() && is_text(*field)) node = YAML::Node(value);
  assign(*field, node, at);
}

Config parse_config(const std::string& yaml_text, const std::string& source,
                    const std::vector<std::string>& overrides) {
  Config config;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw_bad_input(fmt::format("{}:{}: YAML syntax error: {}", source, e.mark.line + 1, e.msg));
  }
  auto fields = schema(config);
  if (!root.IsNull()) {
    if (!root.IsMap()) throw_bad_input(fmt::format("{}: expected a mapping of sections", source));
    // yaml-cpp keeps every entry of a mapping with a repeated key and the last one would win
    // silently: a repeated section or key is an error naming both lines.
    std::map<std::string, YAML::Node> seen_sections;
    for (const auto& section_kv : root) {
      const std::string section = key_name(section_kv.first, source, "section");
      if (const auto [it, fresh] = seen_sections.emplace(section, section_kv.first); !fresh) {
        throw_bad_input(fmt::format("{}: section '{}' appears twice (first at line {})",
                                    where(source, section_kv.first), section,
                                    it->second.Mark().line + 1));
      }
      if (!known_section(fields, section)) {
        throw_bad_input(fmt::format("{}: unknown section '{}'", where(source, section_kv.first),
                                    section));
      }
      const YAML::Node& body = section_kv.second;
      if (body.IsNull()) continue;
      if (!body.IsMap()) {
        throw_bad_input(fmt::format("{}: {}: expected a mapping of keys",
                                    where(source, body), section));
      }
      std::map<std::string, YAML::Node> seen_keys;
      for (const auto& kv : body) {
        const std::string key = key_name(kv.first, source, "key");
        if (const auto [it, fresh] = seen_keys.emplace(key, kv.first); !fresh) {
          throw_bad_input(fmt::format("{}: key '{}.{}' appears twice (first at line {})",
                                      where(source, kv.first), section, key,
                                      it->second.Mark().line + 1));
        }
        Field* field = find_field(fields, section, key);
        if (field == nullptr) {
          throw_bad_input(fmt::format("{}: unknown key '{}.{}'", where(source, kv.first), section,
                                      key));
        }
        assign(*field, kv.second, where(source, kv.second));
      }
    }
  }
  for (const auto& o : overrides) apply_override(config, o);
  validate(config, source);
  return config;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    throw_bad_input(fmt::format("{}: not a config file ({})", path,
                                std::filesystem::is_directory(status) ? "a folder"
                                                                      : "not a regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_bad_input(fmt::format("{}: cannot open config file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path, overrides);
}

void validate(const Config& c, const std::string& source) {
  Config copy = c;
  for (const Field& f : schema(copy)) check_value(f, source);
  auto bad = [&](const std::string& key, const std::string& what) {
    throw_bad_input(fmt::format("{}: {}: {}", source, key, what));
  };
  if (c.preprocess.min_depth_mm >= c.preprocess.max_depth_mm) {
    bad("preprocess.min_depth_mm", "must be below preprocess.max_depth_mm");
  }
  if (c.data.val_persons.empty() && c.data.val_fraction <= 0.0) {
    bad("data.val_fraction", "must be > 0 when data.val_persons is empty");
  }
  if (c.unlock.min_enroll_frames > c.unlock.enroll_frames) {
    bad("unlock.min_enroll_frames", "must not exceed unlock.enroll_frames");
  }
  const std::string& d = c.train.device;
  const bool device_ok = d == "auto" || d == "cpu" || d == "cuda" ||
                         (d.rfind("cuda:", 0) == 0 && d.size() > 5 &&
                          d.find_first_not_of("0123456789", 5) == std::string::npos);
  if (!device_ok) bad("train.device", fmt::format("expected auto|cpu|cuda|cuda:N, got '{}'", d));
  if (c.train.sampler == SamplerKind::pairs &&
      c.train.positive_fraction * c.train.batch_pairs < 1.0) {
    bad("train.positive_fraction", "leaves no positive pair in a batch of train.batch_pairs");
  }
  if (c.train.sampler == SamplerKind::pk) {
    if (c.train.pk_frames % 2 != 0) bad("train.pk_frames", fmt::format("must be even, got {}", c.train.pk_frames));
    if ((2 * c.train.batch_pairs) % c.train.pk_frames != 0 || 2 * c.train.batch_pairs < 2 * c.train.pk_frames) {
      bad("train.batch_pairs",
          fmt::format("the pk sampler needs 2 x batch_pairs ({}) to be a multiple of "
                      "train.pk_frames ({}) covering at least 2 identities",
                      2 * c.train.batch_pairs, c.train.pk_frames));
    }
    if (c.loss.type == LossType::contrastive && c.loss.mining == Mining::none) {
      bad("loss.mining", "the pk sampler gives genuine pairs only: contrastive needs "
                         "loss.mining batch_all or batch_hard for impostors");
    }
  }
  if (c.loss.type == LossType::arcface && !(c.loss.margin < 0.785)) {
    bad("loss.margin", fmt::format("arcface adds an angle in radians below 0.785 (typically 0.5), "
                                   "got {} (1.0 is the contrastive default: set loss.margin)",
                                   c.loss.margin));
  }
  if (c.loss.type == LossType::cosface && !(c.loss.margin < 1.0)) {
    bad("loss.margin", fmt::format("cosface subtracts a cosine below 1 (typically 0.35), got {} "
                                   "(1.0 is the contrastive default: set loss.margin)",
                                   c.loss.margin));
  }
  if (c.loss.type != LossType::contrastive && c.loss.mining != Mining::none) {
    bad("loss.mining", fmt::format("mining applies to the contrastive loss; {} uses every "
                                   "identity of the classifier (set loss.mining: none)",
                                   to_string(c.loss.type)));
  }
  if (c.loss.type != LossType::contrastive && c.train.sampler != SamplerKind::pk) {
    bad("train.sampler", fmt::format("{} learns from identities: use train.sampler: pk",
                                     to_string(c.loss.type)));
  }
}

std::string to_yaml(const Config& config) {
  Config copy = config;
  auto fields = schema(copy);
  std::string out;
  std::string current;
  for (const auto& f : fields) {
    if (current != f.section) {
      current = f.section;
      out += fmt::format("{}:\n", current);
    }
    out += fmt::format("  {}: {}\n", f.key, emit_value(f));
  }
  return out;
}

std::string config_reference_markdown() {
  Config defaults;
  auto fields = schema(defaults);
  std::string out;
  std::string current;
  for (const auto& f : fields) {
    if (current != f.section) {
      current = f.section;
      out += fmt::format("\n### `{}`\n\n| key | default | meaning |\n| --- | --- | --- |\n", current);
    }
    std::string range;
    if (const Names n = choices(f); !n.empty()) {
      range = fmt::format(" One of: {}.", fmt::join(n, ", "));
    }
    if (f.min || f.max) {
      range += " Range:";
      if (f.min) range += fmt::format(" {} {}", f.min_exclusive ? ">" : ">=", *f.min);
      if (f.min && f.max) range += ",";
      if (f.max) range += fmt::format(" <= {}", *f.max);
      range += ".";
    }
    out += fmt::format("| `{}` | `{}` | {}{} |\n", f.key, emit_value(f), f.doc, range);
  }
  return out;
}

}  // namespace faceid
