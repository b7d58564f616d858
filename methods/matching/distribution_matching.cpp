#include "methods/matching/distribution_matching.h"

#include "methods/common.h"

namespace ddb {

SyntheticSet matching_init(const DistillContext& ctx, const std::string& init, const std::string& method) {
  if (init == "noise") return noise_init(ctx.data.info, ctx.ipc);
  if (init == "real") return real_init(ctx.data, ctx.ipc);
  throw UserError(method + ": option init must be 'real' or 'noise', got '" + init + "'");
}

torch::Tensor mean_embedding_distance(const torch::Tensor& real_embed, const torch::Tensor& syn_embed) {
  return (real_embed.mean(0) - syn_embed.mean(0)).pow(2).sum();
}

SiameseDsa::SiameseDsa(bool enabled, const std::string& strategy, const std::string& dataset, uint64_t run_seed)
    : enabled_(enabled),
      dsa_(strategy.empty() ? Dsa::default_strategy_for(dataset) : strategy),
      rng_(run_seed ^ 0x5eedULL) {}

void SiameseDsa::apply(torch::Tensor& real, torch::Tensor& syn) {
  if (!enabled_) return;
  const int64_t seed = static_cast<int64_t>(rng_() % 100000);
  real = dsa_(real, seed);
  syn = dsa_(syn, seed);
}

}  // namespace ddb
