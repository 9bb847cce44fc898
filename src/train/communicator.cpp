// The c10d process group: TCPStore rendezvous, Gloo (CPU) or NCCL (CUDA builds) collectives.
// Built with -DUSE_C10D_GLOO (and -DUSE_C10D_NCCL when CMake found NCCL in a CUDA LibTorch).
#include "train/communicator.hpp"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <cstring>
#include <exception>

#include <fmt/format.h>

#include "faceid/model/device.hpp"
#include "faceid/core/error.hpp"

#ifndef USE_C10D_GLOO
#error "communicator.cpp needs -DUSE_C10D_GLOO (CMakeLists.txt sets it; install libgloo-dev)"
#endif

namespace faceid {

namespace {
// The one LibTorch version guard of this file. Since 2.0 the Gloo and NCCL process groups are
// c10d::Backend objects (ProcessGroup became a dispatcher over backends); in 1.x they derive
// from c10d::ProcessGroup. Both offer the collectives used here with the same signatures.
// 2.x's NCCL group also wants shutdown() before destruction, and waits on the host with a
// timeout by spinning, while its watchdog already aborts at the group's timeout.
#if TORCH_VERSION_MAJOR >= 2
using ProcessGroupPtr = c10::intrusive_ptr<c10d::Backend>;
void shutdown_nccl(const ProcessGroupPtr& group) { group->shutdown(); }
#else
using ProcessGroupPtr = c10::intrusive_ptr<c10d::ProcessGroup>;
void shutdown_nccl(const ProcessGroupPtr&) {}  // 1.x: the destructor tears NCCL down
#endif
}  // namespace

struct Communicator::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  ProcessGroupPtr group;
  torch::Device device = torch::kCPU;  // where collective buffers live (CUDA for NCCL)
  bool nccl = false;
};

namespace {

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

Communicator::Communicator(const DistEnv& env, torch::Device device,
                           std::chrono::milliseconds timeout)
    : env_(env), timeout_(timeout), impl_(std::make_unique<Impl>()) {
  if (!env.distributed()) throw_internal("Communicator: world size 1 needs no process group");
  impl_->device = device;
  const std::string where = fmt::format("distributed rendezvous (rank {} of {}, {}:{})", env.rank,
                                        env.world_size, env.master_addr, env.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = static_cast<std::size_t>(env.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
#ifdef USE_C10D_NCCL
    if (device.is_cuda()) {
      // Every rank on its own GPU before NCCL creates its communicator there.
      make_current(device);
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;  // the watchdog's: a collective stuck this long aborts
      impl_->group =
          c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, env.rank, env.world_size,
                                                      options);
      impl_->nccl = true;
      return;
    }
#endif
    if (device.is_cuda()) {
      throw_bad_input(fmt::format("{}: train.device {} needs NCCL, and this build has none (see "
                                  "docs/distributed.md); use train.device=cpu for Gloo",
                                  where, device.str()));
    }
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    // Same host: loopback. Otherwise GLOO_SOCKET_IFNAME names the interface, else the address
    // this host's name resolves to.
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    if (is_loopback(env.master_addr)) {
      options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForHostname(env.master_addr));
    } else if (ifname != nullptr && *ifname != '\0') {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    options->threads = 2;
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env.rank,
                                                               env.world_size, options);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw_internal(fmt::format("{} failed within {} s: {}", where, timeout.count() / 1000,
                               e.what()));
  }
}

Communicator::~Communicator() {
  if (impl_ && impl_->group && impl_->nccl) {
    try {
      shutdown_nccl(impl_->group);
    } catch (const std::exception& e) {
      fmt::print(stderr, "rank {}: NCCL shutdown: {}\n", env_.rank, e.what());
    }
  }
}

namespace {

// Waits for `work`; a lost or silent peer becomes a faceid::Error naming rank and operation.
// NCCL work is waited for without a host timeout: the group's watchdog enforces it (above).
void wait_for(const c10::intrusive_ptr<c10d::Work>& work, const DistEnv& env, const char* op,
              std::chrono::milliseconds timeout, bool nccl) {
  try {
    if (nccl) {
      work->wait();
    } else {
      work->wait(timeout);
    }
  } catch (const std::exception& e) {
    throw_internal(fmt::format("distributed {} failed on rank {} of {} (another rank exited or "
                               "did not answer within {} s; see its log): {}",
                               op, env.rank, env.world_size, timeout.count() / 1000, e.what()));
  }
}

template <typename F>
c10::intrusive_ptr<c10d::Work> start(F&& f, const DistEnv& env, const char* op) {
  try {
    return f();
  } catch (const std::exception& e) {
    throw_internal(fmt::format("distributed {} failed on rank {} of {} (another rank exited?): {}",
                               op, env.rank, env.world_size, e.what()));
  }
}

}  // namespace

void Communicator::broadcast(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  for (const auto& t : tensors) {
    std::vector<torch::Tensor> one = {t.is_contiguous() ? t : t.contiguous()};
    c10d::BroadcastOptions o;
    o.rootRank = 0;
    o.timeout = timeout_;
    wait_for(start([&] { return impl_->group->broadcast(one, o); }, env_, "broadcast"), env_,
             "broadcast", timeout_, impl_->nccl);
    if (!t.is_contiguous()) t.copy_(one[0]);
  }
}

void Communicator::average_gradients(const std::vector<torch::Tensor>& params,
                                     int64_t bucket_bytes) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  const double scale = 1.0 / env_.world_size;
  size_t i = 0;
  while (i < grads.size()) {
    // One bucket: consecutive gradients of one dtype and device, up to bucket_bytes.
    size_t j = i;
    int64_t bytes = 0;
    while (j < grads.size() && grads[j].scalar_type() == grads[i].scalar_type() &&
           grads[j].device() == grads[i].device() &&
           (j == i || bytes + grads[j].nbytes() <= static_cast<size_t>(bucket_bytes))) {
      bytes += static_cast<int64_t>(grads[j].nbytes());
      ++j;
    }
    std::vector<torch::Tensor> views;
    for (size_t k = i; k < j; ++k) views.push_back(grads[k].reshape({-1}));
    std::vector<torch::Tensor> flat = {torch::cat(views)};
    c10d::AllreduceOptions o;
    o.timeout = timeout_;
    wait_for(start([&] { return impl_->group->allreduce(flat, o); }, env_, "gradient all-reduce"),
             env_, "gradient all-reduce", timeout_, impl_->nccl);
    flat[0].mul_(scale);
    int64_t offset = 0;
    for (size_t k = i; k < j; ++k) {
      const int64_t n = grads[k].numel();
      grads[k].copy_(flat[0].narrow(0, offset, n).view_as(grads[k]));
      offset += n;
    }
    i = j;
  }
}

void Communicator::average(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  if (tensors.empty()) return;
  std::vector<torch::Tensor> views;
  for (const auto& t : tensors) views.push_back(t.reshape({-1}).to(torch::kFloat64));
  std::vector<torch::Tensor> flat = {torch::cat(views)};
  c10d::AllreduceOptions o;
  o.timeout = timeout_;
  wait_for(start([&] { return impl_->group->allreduce(flat, o); }, env_, "all-reduce"), env_,
           "all-reduce", timeout_, impl_->nccl);
  flat[0].div_(env_.world_size);
  int64_t offset = 0;
  for (const auto& t : tensors) {
    const int64_t n = t.numel();
    t.copy_(flat[0].narrow(0, offset, n).view(t.sizes()).to(t.dtype()));
    offset += n;
  }
}

double Communicator::sum(double value) {
  const auto f64 = torch::dtype(torch::kFloat64).device(impl_->device);
  std::vector<torch::Tensor> one = {torch::full({1}, value, f64)};
  c10d::AllreduceOptions o;
  o.timeout = timeout_;
  wait_for(start([&] { return impl_->group->allreduce(one, o); }, env_, "all-reduce"), env_,
           "all-reduce", timeout_, impl_->nccl);
  return one[0].item<double>();
}

Embeddings Communicator::all_gather_rows(const Embeddings& rows) {
  const int64_t cols = rows.cols();
  // Row counts first, then the rows padded to the largest count.
  const auto i64 = torch::dtype(torch::kInt64).device(impl_->device);
  std::vector<torch::Tensor> count = {torch::full({1}, rows.rows(), i64)};
  std::vector<std::vector<torch::Tensor>> counts(1);
  for (int r = 0; r < env_.world_size; ++r) counts[0].push_back(torch::zeros({1}, i64));
  c10d::AllgatherOptions o;
  o.timeout = timeout_;
  wait_for(start([&] { return impl_->group->allgather(counts, count, o); }, env_, "all-gather"),
           env_, "all-gather", timeout_, impl_->nccl);
  int64_t max_rows = 0, total = 0;
  for (const auto& c : counts[0]) {
    max_rows = std::max(max_rows, c.item<int64_t>());
    total += c.item<int64_t>();
  }
  torch::Tensor mine = torch::zeros({max_rows, cols}, torch::kFloat32);
  if (rows.rows() > 0) {
    mine.narrow(0, 0, rows.rows())
        .copy_(torch::from_blob(const_cast<float*>(rows.data()), {rows.rows(), cols},
                                torch::kFloat32));
  }
  std::vector<torch::Tensor> input = {mine.to(impl_->device)};
  std::vector<std::vector<torch::Tensor>> outputs(1);
  for (int r = 0; r < env_.world_size; ++r) {
    outputs[0].push_back(
        torch::zeros({max_rows, cols}, torch::dtype(torch::kFloat32).device(impl_->device)));
  }
  wait_for(start([&] { return impl_->group->allgather(outputs, input, o); }, env_, "all-gather"),
           env_, "all-gather", timeout_, impl_->nccl);
  Embeddings all(total, cols);
  int64_t at = 0;
  for (int r = 0; r < env_.world_size; ++r) {
    const int64_t n = counts[0][static_cast<size_t>(r)].item<int64_t>();
    if (n == 0) continue;
    const torch::Tensor part =
        outputs[0][static_cast<size_t>(r)].narrow(0, 0, n).cpu().contiguous();
    std::memcpy(all.data() + at * cols, part.data_ptr<float>(),
                static_cast<size_t>(n * cols) * sizeof(float));
    at += n;
  }
  return all;
}

void Communicator::barrier() {
  c10d::BarrierOptions o;
  o.timeout = timeout_;
  if (impl_->device.is_cuda()) o.device_ids = {impl_->device.index()};  // NCCL: this rank's GPU
  wait_for(start([&] { return impl_->group->barrier(o); }, env_, "barrier"), env_, "barrier",
           timeout_, impl_->nccl);
}

}  // namespace faceid
