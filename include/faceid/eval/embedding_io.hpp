// Writing embeddings for other tools: CSV (labels + values) or .npy (float32, numpy-loadable)
// with a sidecar CSV of labels. Every input frame gets a row; frames with no face carry the
// reason instead of values. Files are written atomically.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "faceid/eval/distances.hpp"
#include "faceid/io/frame.hpp"

namespace faceid {

struct EmbeddingRow {
  FrameRef ref;
  int row = -1;        // row of the embedding matrix, -1 when no face was found
  std::string status;  // "ok" or "no face: <reason>"
};

// CSV: identity,pose,repetition,file,status,e0..e{D-1} (values empty for no-face rows).
void write_embeddings_csv(const std::filesystem::path& path, const std::vector<EmbeddingRow>& rows,
                          const Embeddings& embeddings);

// NPY: the embedding matrix (usable rows only), float32 little-endian, shape (N, D); the sidecar
// `<path without .npy>.labels.csv` lists identity,pose,repetition,file,status,row for every frame.
// Returns the sidecar path.
std::filesystem::path write_embeddings_npy(const std::filesystem::path& path,
                                           const std::vector<EmbeddingRow>& rows,
                                           const Embeddings& embeddings);

// The bytes of a .npy file holding `m` as float32 (exposed for tests).
std::string npy_bytes(const Embeddings& m);

}  // namespace faceid
