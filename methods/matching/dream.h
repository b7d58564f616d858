// DREAM's pieces (dream.cpp): a k-means in LibTorch and the representative sampler that picks, per
// k-means centre of a class's features, the sample nearest to it.
#pragma once
#include <memory>
#include <string>

#include "harness/types.h"
#include "methods/matching/idc.h"

namespace ddb {

struct KMeansOptions {
  std::string init = "random";  // random: k distinct samples (fast_pytorch_kmeans 0.1.9) | kmeans++
  int64_t max_iter = 100;       // Lloyd iterations at most (the library's max_iter)
  double tol = 1e-4;            // stop once the centres' squared shift (summed) is <= tol (the library's)
};

struct KMeansResult {
  torch::Tensor centres;  // [k, D]
  torch::Tensor assign;   // int64 [N]: nearest centre of each point after the last update
  int64_t iterations = 0; // Lloyd iterations run
};

// Euclidean k-means of the rows of `x` [N, D] (k <= N) on x's device; every random draw from the global
// torch generator (the run's stream: the runner seeds it from the run's seed).
KMeansResult kmeans(const torch::Tensor& x, int64_t k, const KMeansOptions& options = {});

// DREAM's query (new_strategy.py query): k-means of `features` into k clusters, then for each centre
// the index of the sample nearest to it (k indices, in centre order; two centres may share one). All
// indices 0..N-1 when k >= N.
torch::Tensor representative_indices(const torch::Tensor& features, int64_t k, const KMeansOptions& options = {});

// DREAM's sampler for IDC's loop: class c's real batch at inner step `step` is the `clusters` training
// images of c nearest the centres of a k-means of their features under the current network (net.embed),
// re-clustered when step % interval == 0; with select_init it also picks the initial images so.
std::unique_ptr<IdcRealSampler> make_representative_sampler(const DistillContext& ctx, int64_t clusters, int64_t interval,
                                                            bool select_init, const KMeansOptions& options = {});

}  // namespace ddb
