#include "train/progress.hpp"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace faceid {

LoadProgress frame_load_progress(bool bar, const char* what) {
  if (!bar) return [](size_t, size_t) {};
  return [what](size_t done, size_t total) {
    std::fprintf(stderr, "\rloading %s frames %zu/%zu ", what, done, total);
    if (done == total) std::fprintf(stderr, "\n");
  };
}

EpochProgress::EpochProgress(bool bar, std::function<void(const std::string&)> log)
    : bar_(bar), log_(std::move(log)) {}

void EpochProgress::step(int64_t epoch, int64_t epochs, int64_t i, int64_t steps, double loss,
                         double pairs_per_second) {
  if (bar_) {
    const int width = 30;
    const int filled = static_cast<int>(width * (i + 1) / steps);
    std::fprintf(stderr, "\repoch %lld/%lld [%s%s] %lld/%lld loss %.4f %.0f pairs/s ",
                 static_cast<long long>(epoch), static_cast<long long>(epochs),
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 static_cast<long long>(i + 1), static_cast<long long>(steps), loss,
                 pairs_per_second);
    std::fflush(stderr);
    return;
  }
  const int64_t every = std::max<int64_t>(1, steps / 4);
  if ((i + 1) % every == 0 || i + 1 == steps) {
    log_(fmt::format("epoch {}/{} step {}/{} loss {:.4f} {:.0f} pairs/s", epoch, epochs, i + 1,
                     steps, loss, pairs_per_second));
  }
}

void EpochProgress::end_epoch() {
  if (bar_) std::fprintf(stderr, "\n");
}

}  // namespace faceid
