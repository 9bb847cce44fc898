#include "faceid/eval/distances.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "faceid/core/worker_pool.hpp"

namespace faceid {
namespace {

using Index = Eigen::Index;

void check_inputs(const Embeddings& X, const std::vector<int>& labels, int block_rows) {
  if (static_cast<Index>(labels.size()) != X.rows()) {
    throw_bad_input(
        fmt::format("pair distances: {} embeddings but {} labels", X.rows(), labels.size()));
  }
  if (block_rows < 1) throw_bad_input(fmt::format("pair distances: block_rows {}", block_rows));
  if (!X.allFinite()) throw_bad_input("pair distances: embeddings hold NaN or infinity");
}

// Runs consume(worker, i0, j0, tile) for every tile (bi <= bj) of the upper triangle, tiles dealt
// round-robin to `workers` threads. Within a tile on the diagonal only columns c > r are pairs.
template <class Consume>
void for_each_tile(const Embeddings& X, int workers, int block_rows, const Consume& consume) {
  const Index n = X.rows();
  const Index block = block_rows;
  const Index blocks = (n + block - 1) / block;
  std::vector<std::pair<Index, Index>> tiles;
  tiles.reserve(static_cast<size_t>(blocks * (blocks + 1) / 2));
  for (Index bi = 0; bi < blocks; ++bi) {
    for (Index bj = bi; bj < blocks; ++bj) tiles.emplace_back(bi, bj);
  }
  const Eigen::VectorXf norms = X.rowwise().squaredNorm();
  std::vector<DistanceMatrix> scratch(static_cast<size_t>(workers));  // one tile buffer per worker
  parallel_for_round_robin(tiles.size(), workers, [&](int w, size_t t) {
    DistanceMatrix& tile = scratch[static_cast<size_t>(w)];
    const Index i0 = tiles[t].first * block, j0 = tiles[t].second * block;
    const Index ri = std::min(block, n - i0), rj = std::min(block, n - j0);
    tile.resize(ri, rj);
    tile.noalias() = X.middleRows(i0, ri) * X.middleRows(j0, rj).transpose();
    dots_to_distances(tile, norms.data() + i0, norms.data() + j0);
    consume(w, i0, j0, tile);
  });
}

}  // namespace

PairDistanceStats all_pair_distances(const Embeddings& X, const std::vector<int>& labels,
                                     HistogramAccumulator& acc, int threads, int block_rows) {
  check_inputs(X, labels, block_rows);
  const auto start = std::chrono::steady_clock::now();
  const int workers = resolve_threads(threads);
  const uint64_t genuine_before = acc.genuine_count(), impostor_before = acc.impostor_count();
  std::vector<HistogramAccumulator> extra;  // workers 1.. (worker 0 adds into acc directly)
  for (int w = 1; w < workers; ++w) extra.push_back(acc.empty_like());
  const int* lab = labels.data();
  for_each_tile(X, workers, block_rows, [&](int w, Index i0, Index j0, const DistanceMatrix& tile) {
    HistogramAccumulator& out = w == 0 ? acc : extra[static_cast<size_t>(w - 1)];
    for (Index r = 0; r < tile.rows(); ++r) {
      const int li = lab[i0 + r];
      const int* lj = lab + j0;
      const Index c0 = i0 == j0 ? r + 1 : 0;
      out.add_row(tile.row(r).data() + c0, lj + c0, li, static_cast<size_t>(tile.cols() - c0));
    }
  });
  for (const auto& e : extra) acc.merge(e);
  PairDistanceStats stats;
  stats.genuine_pairs = acc.genuine_count() - genuine_before;
  stats.impostor_pairs = acc.impostor_count() - impostor_before;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

PairDistances all_pair_distances_exact(const Embeddings& X, const std::vector<int>& labels,
                                       int threads, uint64_t max_pairs, int block_rows) {
  check_inputs(X, labels, block_rows);
  const auto n = static_cast<uint64_t>(X.rows());
  const uint64_t pairs = n * (n > 0 ? n - 1 : 0) / 2;
  if (pairs > max_pairs) {
    throw_bad_input(fmt::format(
        "pair distances: {} embeddings make {} pairs, more than the {} an exact list holds; "
        "use the histogram accumulator",
        n, pairs, max_pairs));
  }
  const int workers = resolve_threads(threads);
  std::vector<PairDistances> parts(static_cast<size_t>(workers));
  const int* lab = labels.data();
  for_each_tile(X, workers, block_rows, [&](int w, Index i0, Index j0, const DistanceMatrix& tile) {
    PairDistances& out = parts[static_cast<size_t>(w)];
    for (Index r = 0; r < tile.rows(); ++r) {
      const int li = lab[i0 + r];
      const int* lj = lab + j0;
      const float* d = tile.row(r).data();
      for (Index c = i0 == j0 ? r + 1 : 0; c < tile.cols(); ++c) {
        (lj[c] == li ? out.genuine : out.impostor).push_back(d[c]);
      }
    }
  });
  if (workers == 1) return std::move(parts[0]);
  PairDistances all;
  size_t ng = 0, ni = 0;
  for (const auto& p : parts) {
    ng += p.genuine.size();
    ni += p.impostor.size();
  }
  all.genuine.reserve(ng);
  all.impostor.reserve(ni);
  for (const auto& p : parts) {
    all.genuine.insert(all.genuine.end(), p.genuine.begin(), p.genuine.end());
    all.impostor.insert(all.impostor.end(), p.impostor.begin(), p.impostor.end());
  }
  return all;
}

}  // namespace faceid
