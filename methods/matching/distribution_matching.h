// Pieces of distribution matching (DM, reference main_DM.py) that DM and the methods built on it
// (IDM, and the unequalness score's `dm` distance) share.
#pragma once
#include <cstdint>
#include <random>
#include <string>

#include "harness/augment/dsa.h"
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
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  Dsa dsa_;
  std::mt19937_64 rng_;
};

}  // namespace ddb
