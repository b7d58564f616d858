#include "methods/matching/distribution_matching.h"

#include <algorithm>

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
  const int64_t seed = draw();
  real = dsa_(real, seed);
  syn = dsa_(syn, seed);
}

int64_t SiameseDsa::draw() { return enabled_ ? static_cast<int64_t>(rng_() % 100000) : -1; }

torch::Tensor SiameseDsa::augment(const torch::Tensor& x, int64_t seed) const {
  return enabled_ && seed >= 0 ? dsa_(x, seed) : x;
}

namespace {
ClassForwardSettings& class_forward_settings() {
  static ClassForwardSettings settings;
  return settings;
}
}  // namespace

void set_class_forward(const ClassForwardSettings& settings) { class_forward_settings() = settings; }
ClassForwardSettings class_forward() { return class_forward_settings(); }

bool batches_classes(const NetImpl& net) {
  return class_forward_settings().mode == ClassForward::Batched && !net.has_batchnorm();
}

std::vector<torch::Tensor> map_classes(const std::vector<torch::Tensor>& parts, bool batched,
                                       const std::function<torch::Tensor(const torch::Tensor&)>& fn) {
  std::vector<torch::Tensor> out;
  out.reserve(parts.size());
  if (!batched) {
    for (const auto& p : parts) out.push_back(fn(p));
    return out;
  }
  int64_t budget = class_forward_settings().max_pixels;
  if (budget <= 0) budget = !parts.empty() && parts.front().device().is_cpu() ? int64_t{1} << 18 : int64_t{1} << 22;
  size_t begin = 0;
  while (begin < parts.size()) {
    // The group [begin, end): consecutive parts while their pixels fit the budget (at least one).
    size_t end = begin;
    int64_t pixels = 0;
    while (end < parts.size()) {
      const int64_t p = parts[end].numel() / std::max<int64_t>(1, parts[end].dim() > 1 ? parts[end].size(1) : 1);
      if (end > begin && pixels + p > budget) break;
      pixels += p;
      ++end;
    }
    if (end - begin == 1) {
      out.push_back(fn(parts[begin]));
    } else {
      std::vector<torch::Tensor> group(parts.begin() + static_cast<std::ptrdiff_t>(begin),
                                       parts.begin() + static_cast<std::ptrdiff_t>(end));
      std::vector<int64_t> sizes;
      for (const auto& p : group) sizes.push_back(p.size(0));
      for (auto& t : fn(torch::cat(group, 0)).split_with_sizes(sizes, 0)) out.push_back(std::move(t));
    }
    begin = end;
  }
  return out;
}

}  // namespace ddb
