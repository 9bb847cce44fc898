// Checkpoint → embeddings, for embed, enroll, unlock_sim and evaluate. Torch-free header: the
// model lives behind a pointer. Preprocessing uses the checkpoint's own preprocess config through
// the one shared path (faceid::preprocess), so inference sees exactly what training saw.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "faceid/core/config.hpp"
#include "faceid/core/embeddings.hpp"
#include "faceid/io/frame.hpp"
#include "faceid/preprocess/preprocess.hpp"

namespace faceid {

class Embedder {
 public:
  // Loads and verifies the checkpoint (Errc::bad_input naming it when missing, corrupt, of an
  // unknown format, or trained on another preprocessing version than this build's). device: auto | cpu | cuda[:N]; threads: CPU threads (0 = all cores).
  explicit Embedder(const std::filesystem::path& checkpoint, const std::string& device = "auto",
                    int threads = 0);
  ~Embedder();
  Embedder(Embedder&&) noexcept;
  Embedder& operator=(Embedder&&) noexcept;

  const Config& config() const;            // the resolved config stored in the checkpoint
  const std::filesystem::path& checkpoint() const;
  double eer_threshold() const;            // the validation EER threshold (NaN if never validated)
  // The operating threshold calibrated at training's unlock.target_far (NaN for checkpoints from
  // before it), and that target.
  double operating_threshold() const;
  double target_far() const;
  // The default match threshold of unlock_sim, enroll and the template store: the operating
  // threshold, or the EER threshold of an older checkpoint (NaN when neither); `source` says which.
  double match_threshold(std::string* source = nullptr) const;
  const std::string& fingerprint() const;  // hash of weights + model config (template stores)
  int dimension() const;                   // embedding size
  int input_size() const;                  // crop side S

  // The shared preprocessing with this checkpoint's settings.
  PreprocessResult preprocess(const Frame& frame) const;

  // Embeds crops of side input_size(), `batch` at a time. One row per crop, L2-normalised.
  Embeddings embed(const std::vector<const FaceCrop*>& crops, int batch = 64) const;
  // The same from raw crop buffers (kChannels * input_size()^2 floats each, e.g. FrameStore's).
  Embeddings embed(const std::vector<const float*>& crops, int batch = 64) const;
  // One crop → one row vector.
  std::vector<float> embed(const FaceCrop& crop) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace faceid
