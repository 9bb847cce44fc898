#include "faceid/data/split.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/core/rng.hpp"

namespace faceid {
namespace {

[[noreturn]] void throw_too_few(const Dataset& dataset) {
  throw_bad_input(fmt::format(
      "dataset {} has {} persons; training needs at least 2 training and 1 validation person",
      dataset.root.string(), dataset.persons.size()));
}

}  // namespace

Split split_persons(const Dataset& dataset, const DataConfig& config) {
  const size_t n = dataset.persons.size();
  std::vector<char> is_val(n, 0);

  if (!config.val_persons.empty()) {
    std::unordered_set<std::string> listed;
    for (const std::string& name : config.val_persons) {
      if (!listed.insert(name).second) {
        throw_bad_input(fmt::format("data.val_persons: '{}' is listed twice", name));
      }
      size_t i = 0;
      while (i < n && dataset.persons[i].identity != name) ++i;
      if (i == n) {
        throw_bad_input(fmt::format("data.val_persons: unknown person '{}' in dataset {}", name,
                                    dataset.root.string()));
      }
      is_val[i] = 1;
    }
    if (n - listed.size() < 2) throw_too_few(dataset);
  } else {
    if (n < 3) throw_too_few(dataset);
    const auto wanted = static_cast<long long>(std::llround(config.val_fraction * n));
    const size_t k = static_cast<size_t>(std::clamp<long long>(wanted, 1, static_cast<long long>(n) - 2));
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    Rng rng(hash_seed({kSplitDomain, static_cast<uint64_t>(config.split_seed)}));
    for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
    for (size_t i = 0; i < k; ++i) is_val[order[i]] = 1;
  }

  Split split;
  for (size_t i = 0; i < n; ++i) {
    (is_val[i] ? split.val : split.train).push_back(dataset.persons[i].identity);
  }
  return split;
}

}  // namespace faceid
