// The person-disjoint train/validation split: no identity is ever in both.
#pragma once

#include <string>
#include <vector>

#include "faceid/core/config.hpp"
#include "faceid/io/dataset.hpp"

namespace faceid {

struct Split {
  std::vector<std::string> train;  // identities, in dataset order (sorted)
  std::vector<std::string> val;    // identities, in dataset order (sorted)
};

// Splits the persons of `dataset`:
// - config.val_persons non-empty: exactly those are validation; each must be a person of the
//   dataset and listed once, else Errc::bad_input naming it;
// - otherwise round(val_fraction * persons) identities (at least 1, leaving at least 2 for
//   training) drawn by a splitmix64 Fisher-Yates shuffle seeded with split_seed, so the split is
//   the same on every platform and standard library.
// Throws Errc::bad_input when fewer than 2 training and 1 validation person are possible.
Split split_persons(const Dataset& dataset, const DataConfig& config);

}  // namespace faceid
