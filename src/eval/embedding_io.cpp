#include "faceid/eval/embedding_io.hpp"

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/eval/plot.hpp"
#include "faceid/core/fs.hpp"

namespace faceid {
namespace {

std::string label_columns(const EmbeddingRow& r) {
  return fmt::format("{},{},{},{},{}", csv_field(r.ref.identity), r.ref.pose, r.ref.repetition,
                     csv_field(r.ref.depth_path.string()), csv_field(r.status));
}

}  // namespace

void write_embeddings_csv(const std::filesystem::path& path, const std::vector<EmbeddingRow>& rows,
                          const Embeddings& embeddings) {
  std::string out = "identity,pose,repetition,file,status";
  for (Eigen::Index j = 0; j < embeddings.cols(); ++j) out += fmt::format(",e{}", j);
  out += '\n';
  for (const auto& r : rows) {
    out += label_columns(r);
    for (Eigen::Index j = 0; j < embeddings.cols(); ++j) {
      if (r.row >= 0) {
        out += fmt::format(",{:.7g}", embeddings(r.row, j));
      } else {
        out += ',';
      }
    }
    out += '\n';
  }
  write_file_atomic(path, out);
}

std::string npy_bytes(const Embeddings& m) {
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
                                   m.rows(), m.cols());
  // Magic (6) + version (2) + header length (2) + header + '\n', padded to a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  out += header;
  out.append(reinterpret_cast<const char*>(m.data()), static_cast<size_t>(m.size()) * sizeof(float));
  return out;
}

std::filesystem::path write_embeddings_npy(const std::filesystem::path& path,
                                           const std::vector<EmbeddingRow>& rows,
                                           const Embeddings& embeddings) {
  std::filesystem::path sidecar = path;
  sidecar.replace_extension(".labels.csv");
  std::string labels = "identity,pose,repetition,file,status,row\n";
  for (const auto& r : rows) labels += fmt::format("{},{}\n", label_columns(r), r.row);
  write_file_atomic(sidecar, labels);
  write_file_atomic(path, npy_bytes(embeddings));
  return sidecar;
}

}  // namespace faceid
