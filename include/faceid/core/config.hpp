// The run configuration: one plain struct per YAML section, every field with its default and a
// one-line meaning. Loading rejects unknown keys, wrong types and out-of-range values, naming the
// file, line and key path (`configs/x.yaml:12: train.lr: expected a number > 0, got -1`).
// `--set section.key=value` overrides go through the same validation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace faceid {

// The choices of the config, parsed once at load (the error lists the valid names); the YAML
// keeps the names below. to_string gives the name back ("unknown" for a value outside the enum,
// which validate refuses).
enum class CropMode { depth, fixed };                     // preprocess.crop
enum class ModelVariant { squeezenet1_1, faceid_beta };   // model.variant
enum class LossType { contrastive, arcface, cosface };    // loss.type
enum class Mining { none, batch_all, batch_hard };        // loss.mining
enum class OptimizerKind { adam, sgd };                   // train.optimizer
enum class Schedule { cosine, step, constant };           // train.schedule
enum class SamplerKind { pairs, pk };                     // train.sampler
enum class AmpMode { none, bf16, fp16 };                  // train.amp
enum class TemplateDistance { min, mean_k };              // unlock.distance

const char* to_string(CropMode v);
const char* to_string(ModelVariant v);
const char* to_string(LossType v);
const char* to_string(Mining v);
const char* to_string(OptimizerKind v);
const char* to_string(Schedule v);
const char* to_string(SamplerKind v);
const char* to_string(AmpMode v);
const char* to_string(TemplateDistance v);

// The choice E named `name` as the YAML spells it, e.g. parse_choice<ModelVariant>("faceid_beta",
// path) for a name read from a file; Errc::bad_input otherwise, in the config's style
// ("<where>: model.variant: expected one of squeezenet1_1|faceid_beta, got 'resnet'").
// Defined for the nine enums above.
template <class E>
E parse_choice(const std::string& name, const std::string& where);

struct DataConfig {
  std::string root = "data/synth";           // dataset root in the VAP layout
  std::vector<std::string> val_persons;       // explicit validation persons (overrides fraction)
  double val_fraction = 0.2;                  // fraction of persons held out when no list given
  int64_t split_seed = 7;                     // seed of the person-disjoint split
  std::string cache_dir = ".faceid_cache";    // on-disk cache of preprocessed frames ("" = off);
                                              // relative paths are under data.root
  bool memory_cache = true;                   // keep preprocessed frames in memory
  int workers = 2;                            // loader threads building batches ahead
  int prefetch_batches = 4;                   // batches queued ahead of the training step
  int max_frames_per_person = 0;              // use at most this many frames a person (0 = all)
  double max_no_face_fraction = 0.05;         // training stops (bad input) when a larger share
                                              // of the frames has no face found
  bool compact_crops = false;                 // hold crops in memory as 8-bit colour + 16-bit
                                              // float depth (2.5x smaller; colour within 1/510)
};

struct PreprocessConfig {
  CropMode crop = CropMode::depth;  // depth: metric crop around the head; fixed: rows 140:340,
                                  // cols 220:420
  double crop_mm = 240.0;         // side of the square metric crop, in millimetres
  int input_size = 128;           // side of the network input, in pixels
  double depth_range_mm = 150.0;  // depth channel = (depth - head_z) / depth_range_mm, clipped
  double min_depth_mm = 300.0;    // nearest depth considered when looking for the head
  double max_depth_mm = 2500.0;   // farthest depth considered when looking for the head
  int min_blob_pixels = 800;      // smallest blob of valid depth accepted as a head
  double face_shift = 0.0;        // shift the crop up by this fraction of its side (0: centred
                                  // on the face centre, between the eyes)
};

struct ModelConfig {
  ModelVariant variant = ModelVariant::squeezenet1_1;  // squeezenet1_1 | faceid_beta
  int embedding_dim = 128;                // size of the L2-normalised embedding
  double dropout = 0.2;                   // dropout probability in the head
};

struct LossConfig {
  LossType type = LossType::contrastive;  // contrastive | arcface | cosface
  double margin = 1.0;          // contrastive: distance margin impostor pairs are pushed beyond;
                                // arcface: additive angle (radians); cosface: cosine margin
  double scale = 32.0;          // arcface / cosface: logit scale s
  Mining mining = Mining::none;  // none | batch_all | batch_hard: also use the cross pairs in
                                 // a batch
};

struct AugmentConfig {
  bool enabled = true;          // augment training batches (never validation or inference)
  double flip_prob = 0.5;       // probability of a horizontal flip of all channels together
  double max_shift = 0.06;      // largest translation, as a fraction of the input side
  double max_scale = 0.08;      // largest relative zoom in or out
  double color_jitter = 0.15;   // largest relative change of brightness, contrast and each channel
  double depth_noise_mm = 3.0;  // std-dev of added depth noise, in millimetres
  double hole_prob = 0.3;       // probability of punching invalid-depth holes into a sample
};

struct TrainConfig {
  std::string device = "auto";       // auto | cpu | cuda | cuda:N
  int threads = 0;                   // CPU threads for the step (0 = all cores)
  OptimizerKind optimizer = OptimizerKind::adam;  // adam | sgd
  double lr = 1e-3;                  // peak learning rate
  double momentum = 0.9;             // SGD momentum
  double weight_decay = 1e-4;        // L2 weight decay
  Schedule schedule = Schedule::cosine;  // cosine | step | constant
  double warmup_epochs = 0.5;        // linear warm-up length, in epochs
  int step_epochs = 10;              // step schedule: decay every this many epochs
  double step_gamma = 0.1;           // step schedule: decay factor
  double grad_clip = 5.0;            // clip the global gradient norm to this (0 = off)
  int epochs = 10;                   // number of epochs
  int steps_per_epoch = 50;          // optimiser steps per epoch
  int batch_pairs = 32;              // pairs per batch
  double positive_fraction = 0.5;    // fraction of genuine pairs in a batch
  int64_t seed = 1;                  // seed of weights, sampling and augmentation
  int save_every = 1;                // write last.pt every this many epochs
  std::string out_dir = "runs";      // parent folder of run folders
  int val_max_frames_per_person = 0; // validation uses at most this many frames a person (0 = all)
  bool freeze_batch_norm = false;    // BatchNorm uses its running statistics while training
  SamplerKind sampler = SamplerKind::pairs;  // pairs: balanced genuine/impostor pairs; pk: P
                                     // identities x K frames a batch (2 * batch_pairs / pk_frames)
  int pk_frames = 4;                 // K of the pk sampler (even)
  std::string init_from;             // start from these weights (a checkpoint or a shipped
                                     // model); "" = random; --init-from overrides it
  AmpMode amp = AmpMode::none;       // none | bf16 | fp16: autocast of the training step
                                     // (fp16: CUDA only, with loss scaling)
  bool cudnn_benchmark = false;      // cuDNN picks the fastest convolution (CUDA)
  bool allow_tf32 = false;           // TF32 matmul/convolution on Ampere+ GPUs (off: embeddings
                                     // match the CPU, where the threshold was calibrated)
};

struct UnlockConfig {
  int enroll_frames = 5;            // frames a user shows at enrollment
  int min_enroll_frames = 3;        // enrollment is refused below this many usable frames
  double min_pose_spread = 0.05;    // enrollment refused when embeddings are closer than this on average
  TemplateDistance distance = TemplateDistance::min;  // min | mean_k: attempt distance over
                                                      // the templates
  int mean_k = 3;                   // k of mean_k
  int lockout_failures = 5;         // consecutive failures before the passcode is required
  double update_band = 0.5;         // adaptive update when distance in [band*threshold, threshold]
  int adaptive_capacity = 10;       // bound of the FIFO of adaptive templates
  double target_far = 1e-4;         // training calibrates the operating threshold to this FAR
                                    // of unlock attempts on its validation persons
};

struct PadConfig {
  std::string model;                // liveness model written by train_pad ("" = none)
  double threshold = -1;            // live when the liveness score >= this; < 0: the model's own
                                    // threshold, calibrated by train_pad to target_bpcer
  double min_relief_mm = 1.5;       // geometric check (DepthGeometry::relief_mm) must reach this
                                    // (photos and screens do not); stored in the liveness model
  double target_bpcer = 0.005;      // train_pad calibrates the threshold to this BPCER
};

struct Config {
  DataConfig data;
  PreprocessConfig preprocess;
  ModelConfig model;
  LossConfig loss;
  AugmentConfig augment;
  TrainConfig train;
  UnlockConfig unlock;
  PadConfig pad;
};

// Reads a YAML file; `overrides` are "section.key=value" strings applied after it.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// Parses YAML text; `source` names it in error messages.
Config parse_config(const std::string& yaml_text, const std::string& source,
                    const std::vector<std::string>& overrides = {});

// Applies one "section.key=value" override with full validation.
void apply_override(Config& config, const std::string& assignment);

// The resolved config as YAML, every key written; parse_config(to_yaml(c)) == c.
std::string to_yaml(const Config& config);

// Markdown reference of every key: default and meaning. docs/config.md embeds it.
std::string config_reference_markdown();

// THE check of a Config: every choice one of its names, every number finite and in its schema
// range, and the cross-field rules. parse_config ends with it; a Config built in code passes it
// where it enters the library. Throws Errc::bad_input naming `source` and the key path.
void validate(const Config& config, const std::string& source);

}  // namespace faceid
