// Uses the installed faceid: parses a config and embeds a blank crop with the installed model.
#include <cstdio>
#include <vector>

#include "faceid/core/config.hpp"
#include "faceid/core/error.hpp"
#include "faceid/runtime/embedder.hpp"

int main() {
  try {
    const faceid::Config config = faceid::parse_config("model:\n  embedding_dim: 64\n", "consumer");
    const faceid::Embedder embedder(FACEID_MODELS "/faceid_rgbd_v1.pt", "cpu");
    const std::vector<float> crop(4 * embedder.input_size() * embedder.input_size(), 0.5f);
    const faceid::Embeddings e = embedder.embed(std::vector<const float*>{crop.data()});
    std::printf("config embedding_dim %d; model dimension %d; norm %.4f\n",
                config.model.embedding_dim, embedder.dimension(), e.row(0).norm());
    return e.rows() == 1 && e.row(0).norm() > 0.999f && e.row(0).norm() < 1.001f ? 0 : 1;
  } catch (const faceid::Error& err) {
    std::fprintf(stderr, "consumer: %s\n", err.what());
    return 2;
  }
}
