// Benchmarks: programs that print numbers (apps/bench, scripts/bench.sh), never timed tests.
// Every function here measures one thing repeatedly and returns the raw samples; summarize() and
// format_figure() turn them into the printed line "name: median (unit) [p99 X] [ratio R ...]".
// Torch-free header: the measurements live in src/bench/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "faceid/core/config.hpp"

namespace faceid {

class FrameStore;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Median and tail of repeated measurements (linear interpolation between order statistics).
struct SampleStats {
  size_t count = 0;
  double median = kNaN;
  double p99 = kNaN;
  double min = kNaN;
  double max = kNaN;
};
SampleStats summarize(std::vector<double> samples);

// One printed figure.
struct BenchFigure {
  std::string name;          // e.g. "train.pairs_per_s"
  std::string unit;          // e.g. "pairs/s"
  SampleStats stats;
  bool show_p99 = false;     // latencies print their p99
  double ratio = kNaN;       // printed when finite, e.g. the fraction of sgemm
  std::string ratio_label;   // what the ratio compares with, e.g. "of sgemm"
};
// "name: median (unit) [p99 X] [ratio R label] [n=K]", numbers with 4 significant digits.
std::string format_figure(const BenchFigure& figure);

// Samples of one measurement on two clocks: wall time, and the CPU time of the calling thread
// (CLOCK_THREAD_CPUTIME_ID), in the same unit. On a shared, loaded machine the CPU-time figure
// of a single-threaded measurement is what it would take on an idle core.
struct TimedSamples {
  std::vector<double> wall;
  std::vector<double> cpu;
};

// CPU time consumed by the calling thread so far, seconds.
double thread_cpu_seconds();

// Peak resident set size of this process so far (getrusage ru_maxrss), in MiB.
double peak_rss_mib();

// Sets the intra-op threads of torch (at::set_num_threads); 0 = all cores. Returns the count.
int set_bench_threads(int threads);

// GFLOP/s of torch::mm on two n x n float matrices, one sample per run of >= 0.2 s each, after
// one untimed multiplication.
std::vector<double> bench_sgemm(int n, int repeat);

// Arithmetic of one forward pass of ONE sample through `model` at `input_size`: multiply-
// accumulates of every convolution and linear layer (BatchNorm, ReLU, pooling and concatenation
// are memory-bound and not counted), found by walking the built network.
struct NetworkCost {
  int64_t forward_macs = 0;
  int64_t parameters = 0;
};
NetworkCost network_cost(const ModelConfig& model, int input_size);

// FLOPs of one training step on `pairs` pairs (2 images a pair): forward 2 FLOPs a MAC, backward
// about twice the forward.
double train_step_flops(const NetworkCost& cost, int pairs);

// The training step alone, as the trainer runs it (forward of the 2N crops, contrastive_loss with
// config.loss, zero_grad, backward, gradient clipping, optimiser step, loss.item()), on random
// crops that stay the same (no loader). `warmup` untimed steps, then one sample (seconds) a step.
// channels_last converts the weights and the input to torch's channels-last layout.
struct StepBenchOptions {
  int steps = 5;
  int warmup = 2;
  bool channels_last = false;
};
std::vector<double> bench_train_step(const Config& config, const StepBenchOptions& options);

// Single-frame embedding latency (batch 1, eval()): milliseconds per forward of one crop (the
// CPU-time samples are meaningful with 1 intra-op thread, when the forward runs on this thread).
// inference_mode = true runs under c10::InferenceMode, false under torch::NoGradGuard.
struct EmbedBenchOptions {
  int repeat = 100;
  int warmup = 5;
  bool inference_mode = true;
  bool channels_last = false;
};
TimedSamples bench_embed_latency(const ModelConfig& model, int input_size,
                                 const EmbedBenchOptions& options);

// ---- data ------------------------------------------------------------------------------------

// A synthetic data set in the VAP layout (1280x960 BMP colour + text .dat depth, as the real
// data), generated into `root` unless its frames are there already (seed 1, so it is the same
// for every run). Returns `root`.
std::filesystem::path ensure_bench_dataset(const std::filesystem::path& root, int persons,
                                           int sessions, int poses);

// .dat parse speed: MB/s of parse_depth_dat on one realistic 640x480 buffer (a synthetic head
// written by format_depth_dat), one sample per run of >= 0.2 s. `bytes` receives the buffer size.
TimedSamples bench_parse_dat(int repeat, size_t* bytes = nullptr);

// Text frames, on the calling thread, one pass over every frame of `root` a sample (frames/s):
// reading (load_frame: .dat parse + BMP decode + resize), preprocessing, and both.
struct LoadBench {
  std::vector<double> read_fps;
  std::vector<double> preprocess_fps;
  std::vector<double> total_fps;
  std::vector<double> total_fps_cpu;  // the same on the thread's CPU time
  size_t frames = 0;
};
LoadBench bench_load_text(const std::filesystem::path& root, const PreprocessConfig& preprocess,
                          int repeat);

// FrameStore::load of every person of `root` with data.workers threads, frames/s a sample:
// from_cache = true reads a warm disk cache (filled once, untimed, before the first sample) under
// `cache_dir`; false loads from the text files with no cache.
std::vector<double> bench_frame_store(const std::filesystem::path& root, const DataConfig& data,
                                      const PreprocessConfig& preprocess,
                                      const std::filesystem::path& cache_dir, bool from_cache,
                                      int repeat);

// ---- end to end -------------------------------------------------------------------------------

// End-to-end training through faceid::run_training (BatchLoader + step, exactly as train runs
// it) on `config` for `epochs` epochs into `run_dir` (overwritten). The first epoch is warm-up;
// the samples are the later epochs' figures. Validation and checkpoints are not in the timing.
struct TrainBench {
  std::vector<double> pairs_per_s;         // per epoch after the first
  std::vector<double> data_wait_fraction;  // per epoch after the first
  double peak_rss_mib = 0;                 // of this process, after training
  int64_t parameters = 0;
};
TrainBench bench_training(const Config& config, int epochs, const std::filesystem::path& run_dir);

// Unlock latency, from a decoded frame (in memory) to the decision: Embedder::preprocess, one
// embedding, template distance and threshold (UnlockPolicy::attempt through TemplateStore::verify),
// milliseconds per attempt, and the thread CPU time of each stage. The model is `config`'s,
// freshly initialised and saved as a checkpoint under `work_dir` (the cost does not depend on the
// weights); one user is enrolled from unlock.enroll_frames frames of the first person of
// `dataset_root`, attempts cycle over the frames of the first two persons that have a face. The
// threshold accepts every attempt (the adaptive update off), so every attempt runs the full match.
struct UnlockBench {
  TimedSamples total;
  std::vector<double> preprocess_cpu_ms;
  std::vector<double> embed_cpu_ms;
  std::vector<double> liveness_cpu_ms;  // PadNet + the depth-relief fit of the crop
  std::vector<double> match_cpu_ms;
  std::vector<double> burst_liveness_cpu_ms;  // LivenessDetector::assess_burst of kBurstFrames crops
};
// The burst attempt the unlock bench times: the frames synth --bursts 4 writes.
inline constexpr size_t kBurstFrames = 4;
UnlockBench bench_unlock_latency(const Config& config, const std::filesystem::path& dataset_root,
                                 const std::filesystem::path& work_dir, int threads, int calls,
                                 int warmup);

// Head localisation against the generator's ground truth (issue 14): for each scene type (the
// clean scene, every distractor alone at rate 1, the generator's default mix, and scenes with no
// person), persons x sessions x poses frames are rendered in memory and located.
struct LocalisationOptions {
  PreprocessConfig preprocess;   // the locator's settings
  uint64_t seed = 1;             // generator seed
  int first_person = 100000;     // identities apart from any training set of the same seed
  int persons = 20;
  int sessions = 1;
  int poses = 17;
  double tolerance_mm = 25;      // a crop centre this close to the true face centre is right
  double off_face_mm = 100;      // farther than this: the crop is not on the face (torso, wall)
  std::filesystem::path dump_dir;  // if set: a PNG of every failure (truth green, found red)
};
struct LocalisationRow {
  std::string scene;             // clean, lean, shadow, hand, ..., default_mix, empty
  int frames = 0;
  int faces = 0;                 // frames with a face in view
  int within = 0;                // faces located within tolerance_mm
  int missed = 0;                // faces answered "no face"
  int off_face = 0;              // faces located farther than off_face_mm: a wrong crop
  int false_faces = 0;           // frames without a face where a face was reported
  std::vector<double> errors_mm; // crop centre to true face centre, located faces
  std::vector<double> dx_mm, dy_mm;  // the same, signed: right and down of the true centre
  std::vector<std::string> missed_examples;  // the first reasons given for missed faces
};
struct LocalisationBench {
  std::vector<LocalisationRow> rows;
  TimedSamples locate_ms;               // locate_head per frame
  std::vector<double> reference_cpu_ms; // one full-resolution cv::connectedComponentsWithStats
};
LocalisationBench bench_localisation(const LocalisationOptions& options);

// Writes the crops of `store` for the Python reference (scripts/reference/pytorch_reference.py):
// DIR/crops.npy, N x 4 x S x S float32 little-endian in store order, and DIR/labels.csv with the
// header index,person,identity,pose,repetition,depth_file. Both written atomically; DIR is
// created. Throws Errc::bad_input for an empty store, Errc::io when DIR cannot be written.
void dump_crops(const FrameStore& store, const std::filesystem::path& dir);

// The .npy (format 1.0) header of a C-ordered little-endian float32 array of `shape`.
std::string npy_float32_header(const std::vector<int64_t>& shape);

// ---- the whole suite (apps/bench) --------------------------------------------------------------

struct BenchRequest {
  std::vector<std::string> what;   // any of sgemm parse load step train embed unlock tune locate,
                                   // or all
  int repeat = 5;                  // samples a figure (each a separate run); medians are quoted
  int threads = 2;                 // intra-op threads of training, the step and sgemm
  int latency_threads = 1;         // threads of embedding and unlock latency (targets: one core)
  Config config;                   // model.variant, preprocess.input_size, train.batch_pairs, ...
  int sgemm_size = 1024;           // side of the sgemm matrices
  int step_steps = 3;              // step: timed steps a run (after 1 untimed)
  int train_steps = 8;             // train: steps an epoch (repeat + 1 epochs, the first warm-up)
  int latency_calls = 50;          // embed/unlock: timed calls a run (after 5 untimed)
  bool channels_last = false;      // step/embed: channels-last weights and inputs
  std::filesystem::path work_dir = "/tmp/faceid_bench";  // synthetic data set, cache, runs
  int synth_persons = 6;           // bench data set: persons x sessions x poses (VAP layout)
  int synth_sessions = 1;
  int synth_poses = 8;
  int locate_persons = 20;         // locate: persons (x 1 session x 17 poses) a scene type
  std::filesystem::path locate_dump_dir;  // locate: PNGs of the failures ("" = none)
};

// Every figure is handed to `emit` as soon as it is measured; progress goes to `log`.
// Throws Errc::bad_input for an unknown --what entry.
void run_benchmarks(const BenchRequest& request,
                    const std::function<void(const BenchFigure&)>& emit,
                    const std::function<void(const std::string&)>& log);

}  // namespace faceid
