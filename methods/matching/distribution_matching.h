// Pieces of distribution matching (DM, reference main_DM.py) that DM and the methods built on it
// (IDM, and the unequalness score's `dm` distance) share.
#pragma once
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "harness/augment/dsa.h"
#include "harness/nets/net.h"
#include "methods/method.h"

namespace ddb {

// `init` option of a matching method: "real" (ipc random real images per class) or "noise"
// (torch.randn); anything else -> UserError naming `method`.
SyntheticSet matching_init(const DistillContext& ctx, const std::string& init, const std::string& method);

// DM's per-class loss term: sum((mean(real_embed, 0) - mean(syn_embed, 0))^2).
torch::Tensor mean_embedding_distance(const torch::Tensor& real_embed, const torch::Tensor& syn_embed);

// Siamese DSA for a real batch and a synthetic batch of one class: both get the transform of one
// seed. The reference draws that seed from the clock (int(time.time()*1000) % 100000); here it
// comes from a generator seeded from the run seed, so runs replay.
class SiameseDsa {
 public:
  // strategy: empty = the dataset's default (no flip for digits). enabled false: identity, and no
  // seed is drawn (so the generator's sequence is what the reference loop would consume).
  SiameseDsa(bool enabled, const std::string& strategy, const std::string& dataset, uint64_t run_seed);
  void apply(torch::Tensor& real, torch::Tensor& syn);
  // apply() in two halves, for a caller that augments the real batch before the synthetic one exists
  // (IDM embeds every class's real batch first): draw() takes the seed apply() would (-1 when
  // disabled: nothing drawn), augment(x, seed) applies its transform (identity for -1).
  int64_t draw();
  torch::Tensor augment(const torch::Tensor& x, int64_t seed) const;
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  Dsa dsa_;
  std::mt19937_64 rng_;
};

// How the DM family (dm, idm) runs its per-class embeddings. The reference embeds each class's batch
// in its own forward. Where the net normalises every sample on its own (no BatchNorm:
// NetImpl::has_batchnorm()), consecutive classes can share one forward over their batches
// concatenated, with the same embeddings (up to float summation order): Batched, the default.
// BatchNorm nets always take one forward per class (their statistics would mix classes). PerClass
// forces the reference's loop everywhere (the equivalence tests and benchmarks compare the two).
enum class ClassForward { Batched, PerClass };
struct ClassForwardSettings {
  ClassForward mode = ClassForward::Batched;
  // At most this many images x height x width in one forward: consecutive classes are grouped up to
  // it (a class larger than it still goes alone). 0: by device. On the CPU 2^18 (256 32x32 images):
  // measured on 2 cores (benchmarks/bench_matching.cpp BM_DmIteration, Fashion-MNIST IPC 10, batch_real
  // 256), all ten real batches in one forward (2,560 images) took 1.45x the per-class time (the
  // activations leave the caches), 256-512 images per forward matched it; so the CPU groups the small
  // synthetic batches and keeps one real batch per forward. Other devices (GPUs, where small batches
  // leave the device idle) 2^22: 4,096 32x32 images, 2 GiB per width-128 activation.
  int64_t max_pixels = 0;
};
// Process-wide; for tests and benchmarks.
void set_class_forward(const ClassForwardSettings& settings);
ClassForwardSettings class_forward();
// Whether `net`'s per-class embeddings may share a forward (Batched mode, no BatchNorm).
bool batches_classes(const NetImpl& net);

// fn(parts[c]) for every c: one call per group of consecutive parts (concatenated, the result split
// back by their sizes along dim 0) when `batched`, else one call per part. fn must act on each
// sample independently.
std::vector<torch::Tensor> map_classes(const std::vector<torch::Tensor>& parts, bool batched,
                                       const std::function<torch::Tensor(const torch::Tensor&)>& fn);

}  // namespace ddb
