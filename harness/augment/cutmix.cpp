// CutMix: see cutmix.h. Facts from IDC's train.py / utils.py; the code is our own.
#include "harness/augment/cutmix.h"

#include <algorithm>
#include <cmath>

namespace ddb {

CutBox cutmix_box(int64_t h, int64_t w, double lam, int64_t cy, int64_t cx) {
  // rand_bbox names size[2] "W" and size[3] "H": the first box axis runs along dim 2 (rows).
  const double cut = std::sqrt(1.0 - lam);
  const int64_t cut_r = static_cast<int64_t>(static_cast<double>(h) * cut);
  const int64_t cut_c = static_cast<int64_t>(static_cast<double>(w) * cut);
  const auto clip = [](int64_t v, int64_t hi) { return std::clamp<int64_t>(v, 0, hi); };
  return CutBox{clip(cy - cut_r / 2, h), clip(cx - cut_c / 2, w), clip(cy + cut_r / 2, h), clip(cx + cut_c / 2, w)};
}

CutMixed cutmix(const torch::Tensor& x, const torch::Tensor& y, double beta, double probability) {
  CutMixed m;
  m.images = x;
  if (torch::rand({1}, torch::kDouble).item<double>() >= probability) return m;
  const torch::Tensor g = torch::_standard_gamma(torch::full({2}, beta, torch::kDouble));
  const double lam = (g[0] / (g[0] + g[1])).item<double>();
  const torch::Tensor perm = torch::randperm(x.size(0), torch::TensorOptions().dtype(torch::kLong)).to(x.device());
  const int64_t h = x.size(2), w = x.size(3);
  const int64_t cy = torch::randint(h, {1}, torch::kLong).item<int64_t>();
  const int64_t cx = torch::randint(w, {1}, torch::kLong).item<int64_t>();
  const CutBox b = cutmix_box(h, w, lam, cy, cx);
  torch::Tensor out = x.clone();
  if (b.r1 > b.r0 && b.c1 > b.c0) {
    using torch::indexing::Slice;
    out.index_put_({Slice(), Slice(), Slice(b.r0, b.r1), Slice(b.c0, b.c1)},
                   x.index_select(0, perm).index({Slice(), Slice(), Slice(b.r0, b.r1), Slice(b.c0, b.c1)}));
  }
  m.images = out;
  m.labels_b = y.index_select(0, perm.to(y.device()));
  m.ratio = 1.0 - static_cast<double>((b.r1 - b.r0) * (b.c1 - b.c0)) / static_cast<double>(h * w);
  m.mixed = true;
  return m;
}

torch::Tensor cutmix_loss(const torch::Tensor& logits, const torch::Tensor& y, const CutMixed& m, bool per_sample) {
  namespace F = torch::nn::functional;
  const auto reduction = per_sample ? F::CrossEntropyFuncOptions().reduction(torch::kNone)
                                    : F::CrossEntropyFuncOptions().reduction(torch::kMean);
  torch::Tensor loss = F::cross_entropy(logits, y, reduction);
  if (!m.mixed) return loss;
  return loss * m.ratio + F::cross_entropy(logits, m.labels_b, reduction) * (1.0 - m.ratio);
}

}  // namespace ddb
