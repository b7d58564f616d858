#include "datasets/generated.h"

#include <ATen/CPUGeneratorImpl.h>

namespace ddb {

namespace {

RawImages draw_split(const torch::Tensor& templates, int64_t per_class, at::Generator& gen) {
  const int64_t k = templates.size(0);
  const int64_t n = k * per_class;
  torch::Tensor labels = torch::arange(k, torch::kLong).repeat_interleave(per_class);
  torch::Tensor perm = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kLong));
  labels = labels.index_select(0, perm);
  torch::Tensor base = templates.index_select(0, labels);
  torch::Tensor brightness = torch::randn({n, 1, 1, 1}, gen, torch::kFloat) * 0.05;
  torch::Tensor noise = torch::randn(base.sizes(), gen, torch::kFloat) * 0.25;
  torch::Tensor img = (base + brightness + noise).clamp_(0.0, 1.0).mul_(255.0).round_().to(torch::kUInt8);
  RawImages out;
  out.images = img.contiguous();
  out.labels = labels.contiguous();
  return out;
}

}  // namespace

void generate_toy(const ToyOptions& opts, RawImages& train, RawImages& test) {
  TORCH_CHECK(opts.num_classes > 0 && opts.shape.channels > 0 && opts.shape.height > 0 && opts.shape.width > 0,
              "generate_toy: bad shape or class count");
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(opts.seed);
  const int64_t k = opts.num_classes, c = opts.shape.channels;
  torch::Tensor low = torch::rand({k, c, 4, 4}, gen, torch::kFloat);
  namespace F = torch::nn::functional;
  torch::Tensor t = F::interpolate(low, F::InterpolateFuncOptions()
                                           .size(std::vector<int64_t>{opts.shape.height, opts.shape.width})
                                           .mode(torch::kBilinear)
                                           .align_corners(false));
  torch::Tensor flat = t.view({k, -1});
  torch::Tensor lo = std::get<0>(flat.min(1, true)), hi = std::get<0>(flat.max(1, true));
  t = ((flat - lo) / (hi - lo).clamp_min(1e-6) * 0.6 + 0.2).view(t.sizes());
  train = draw_split(t, opts.train_per_class, gen);
  test = draw_split(t, opts.test_per_class, gen);
}

}  // namespace ddb
