#include "faceid/model/embed_batch.hpp"

#include <cstring>

#include "faceid/preprocess/preprocess.hpp"

namespace faceid {

Embeddings embed_crops(EmbeddingNet& model, const std::vector<const float*>& crops, int size,
                       torch::Device device, int batch) {
  const int64_t n = static_cast<int64_t>(crops.size());
  const int64_t dim = model->model_config().embedding_dim;
  Embeddings out(n, dim);
  if (n == 0) return out;
  const bool was_training = model->is_training();
  model->eval();
  {
    c10::InferenceMode guard;
    const size_t floats = static_cast<size_t>(kChannels) * size * size;
    const int64_t step = std::max(1, batch);
    torch::Tensor input = torch::empty({std::min(step, n), kChannels, size, size});
    for (int64_t start = 0; start < n; start += step) {
      const int64_t count = std::min(step, n - start);
      torch::Tensor chunk = input.narrow(0, 0, count);
      float* dst = chunk.data_ptr<float>();
      for (int64_t i = 0; i < count; ++i) {
        std::memcpy(dst + i * floats, crops[static_cast<size_t>(start + i)], floats * sizeof(float));
      }
      torch::Tensor emb = model->forward(chunk.to(device)).to(torch::kCPU).contiguous();
      std::memcpy(out.data() + start * dim, emb.data_ptr<float>(),
                  static_cast<size_t>(count * dim) * sizeof(float));
    }
  }
  if (was_training) model->train();
  return out;
}

}  // namespace faceid
