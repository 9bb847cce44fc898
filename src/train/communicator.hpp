// Private: the c10d process group of a data-parallel run (TCPStore rendezvous; Gloo on CPU, NCCL
// on CUDA when the build has it) and the few collectives the trainer needs.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <vector>

#include "faceid/core/embeddings.hpp"
#include "faceid/train/distributed.hpp"

namespace faceid {

class Communicator {
 public:
  // Joins the run described by `env` (world_size > 1): rank 0 hosts the TCPStore on
  // MASTER_ADDR:MASTER_PORT, every rank waits up to `timeout` for the others, and every
  // collective after that fails (Errc::internal, naming the rank and the operation) when a peer
  // is lost or does not answer within `timeout`.
  Communicator(const DistEnv& env, torch::Device device, std::chrono::milliseconds timeout);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }

  // Rank 0's values of `tensors` (parameters, buffers) into every rank's, in place.
  void broadcast(const std::vector<torch::Tensor>& tensors);
  // Averages the gradients of `params` over the ranks: flattened into buckets of about
  // `bucket_bytes`, one all-reduce a bucket, divided by the world size, copied back. A parameter
  // without a gradient gets a zero one (every rank must send the same layout).
  void average_gradients(const std::vector<torch::Tensor>& params,
                         int64_t bucket_bytes = 25LL << 20);
  // Averages floating-point tensors (BatchNorm running statistics) over the ranks, in place.
  void average(const std::vector<torch::Tensor>& tensors);
  // Sum of `value` over the ranks.
  double sum(double value);
  // Every rank's `rows` stacked in rank order (ranks may hold different row counts).
  Embeddings all_gather_rows(const Embeddings& rows);
  void barrier();

 private:
  struct Impl;
  DistEnv env_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace faceid
