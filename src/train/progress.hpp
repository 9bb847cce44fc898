// Private: what training shows while it runs. On a terminal one updating line on stderr (frame
// loading, then each epoch's steps); otherwise a log line at each quarter of an epoch.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "faceid/data/frame_store.hpp"

namespace faceid {

// Progress of FrameStore::load of the `what` frames ("train", "validation"): with `bar`, the line
// "loading <what> frames <done>/<total>", ended by a newline once all are loaded; without it,
// nothing.
LoadProgress frame_load_progress(bool bar, const char* what);

// The progress of the epochs' optimiser steps.
class EpochProgress {
 public:
  // `bar`: the updating line; otherwise lines go to `log`.
  EpochProgress(bool bar, std::function<void(const std::string&)> log);

  // After step `i` (0-based) of `steps` in epoch `epoch` (1-based) of `epochs`, with the step's
  // loss and the pairs a second so far.
  void step(int64_t epoch, int64_t epochs, int64_t i, int64_t steps, double loss,
            double pairs_per_second);

  // Ends the epoch's line on a terminal.
  void end_epoch();

 private:
  bool bar_;
  std::function<void(const std::string&)> log_;
};

}  // namespace faceid
