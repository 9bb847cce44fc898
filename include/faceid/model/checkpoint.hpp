// Versioned checkpoints: one self-describing file per save, written atomically.
//
// File layout (docs/model.md): a 28-byte header -- magic "FACEIDCK", format version (u32 LE),
// payload size (u64 LE), FNV-1a 64 checksum of the payload (u64 LE) -- then the payload, a Record
// (faceid/model/record.hpp: faceid's own format, no pickle or TorchScript) holding the model
// config and weights, the optional optimiser state, epoch and step, RNG states, the resolved
// config YAML, the last metrics and the EER threshold.
//
// Loading never trusts the file: a missing file, a bad magic or version, a truncated or altered
// payload, a different model variant or any parameter of another shape is refused with
// Errc::bad_input naming the path (a failed load leaves the target model untouched). Write
// failures are Errc::io.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <string>

#include "faceid/core/config.hpp"
#include "faceid/model/model.hpp"
#include "faceid/preprocess/preprocess.hpp"

namespace faceid {

// 2: the payload is a Record. 1 (a torch archive) is refused: libtorch's importer crashes on
// forged archives (docs/reliability.md, finding 5).
constexpr int kCheckpointFormatVersion = 2;
constexpr char kCheckpointMagic[] = "FACEIDCK";  // the file's first 8 bytes

struct CheckpointMeta {
  int format_version = kCheckpointFormatVersion;  // on load: the file's; save writes the current
  ModelConfig model;   // on save taken from the model (this field is ignored); on load: stored
  int input_size = 0;  // likewise: the network's input side
  int64_t epoch = 0;   // completed epochs
  int64_t step = 0;    // optimiser steps taken
  uint64_t sampler_state = 0;     // state or seed of our own samplers, restored by the trainer
  torch::Tensor torch_rng_state;  // torch CPU generator state; save records the current one
                                  // when undefined; restore_torch_rng_state puts it back
  torch::Tensor cuda_rng_state;   // the training GPU's generator state (CUDA runs); not stored
                                  // when undefined
  std::string config_yaml;        // the resolved run config (to_yaml)
  std::map<std::string, double> metrics;  // last validation metrics by name
  double eer_threshold = std::numeric_limits<double>::quiet_NaN();  // distance at the EER
                                                                    // (NaN = not measured)
  std::string optimizer;  // on load: adam | adamw | sgd, or "" when the file has no optimiser
                          // state; ignored on save
  // The operating point calibrated on the validation persons' unlock attempts (enrollment of
  // unlock.enroll_frames, min over templates): the largest threshold whose attempt FAR is at most
  // target_far, and the smallest FAR those attempts can resolve (rule of three: 3 / impostor
  // attempts). NaN when not calibrated (checkpoints before it).
  double operating_threshold = std::numeric_limits<double>::quiet_NaN();
  double target_far = std::numeric_limits<double>::quiet_NaN();
  double resolvable_far = std::numeric_limits<double>::quiet_NaN();
  double operating_frr = std::numeric_limits<double>::quiet_NaN();  // validation FRR there
  int preprocess_version = kPreprocessVersion;  // on load: the file's (0 = not recorded)
};

// Writes `model` (parameters and buffers), the optimiser state when `optimizer` is not null, the
// margin losses' identity classifier when `classifier` is defined (training only: resume reads it
// back with load_classifier, inference never does), and `meta` to `path` atomically. Throws
// Errc::io when the file cannot be written.
void save_checkpoint(const std::filesystem::path& path, EmbeddingNet& model,
                     torch::optim::Optimizer* optimizer, const CheckpointMeta& meta,
                     const torch::Tensor& classifier = {});

// The identity classifier saved with a margin-loss checkpoint ([C, D] float), or an undefined
// tensor when it has none.
torch::Tensor load_classifier(const std::filesystem::path& path);

// A model file for shipping: the weights and metadata of `in` (epoch, config, metrics,
// thresholds) without the optimiser state and classifier. Returns the bytes written.
size_t export_model(const std::filesystem::path& in, const std::filesystem::path& out);

struct LoadedCheckpoint {
  CheckpointMeta meta;
  EmbeddingNet model{nullptr};  // built from the stored config, on the requested device, eval()
};

// Reads a checkpoint and builds its model.
LoadedCheckpoint load_checkpoint(const std::filesystem::path& path,
                                 torch::Device device = torch::kCPU);

// Reads only the metadata (the whole file is still verified).
CheckpointMeta read_checkpoint_meta(const std::filesystem::path& path);

// Copies the stored weights into an existing model (--init-from, resume). Refuses another
// variant or embedding size, and any parameter or buffer whose name or shape differs.
void load_weights_into(const std::filesystem::path& path, EmbeddingNet& model);

// Restores the optimiser state saved with the checkpoint into `optimizer` (same kind, built over
// the same model's parameters). Tensors go to the device of the optimiser's first parameter.
void load_optimizer_state(const std::filesystem::path& path, torch::optim::Optimizer& optimizer);

// The torch CPU generator's current state, and putting a stored one back (no-op when undefined).
torch::Tensor capture_torch_rng_state();
void restore_torch_rng_state(const CheckpointMeta& meta);
// The default generator of a CUDA `device` (dropout and augmentation on the GPU draw from it):
// undefined for a CPU device. restore_cuda_rng_state puts meta.cuda_rng_state back, if stored.
torch::Tensor capture_cuda_rng_state(torch::Device device);
void restore_cuda_rng_state(const CheckpointMeta& meta, torch::Device device);

// 16 hex digits identifying what determines the embedding: variant, embedding_dim, input_size
// and every parameter and buffer (names, shapes, values). Dropout does not enter.
std::string model_fingerprint(EmbeddingNet& model);
std::string model_fingerprint(const std::filesystem::path& checkpoint);

}  // namespace faceid
