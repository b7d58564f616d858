#include "harness/normalisation.h"

namespace ddb {

torch::Tensor undo_normalisation(const torch::Tensor& images, const DatasetInfo& info, bool snap_to_8bit) {
  torch::NoGradGuard no_grad;
  torch::Tensor x = images.to(torch::kFloat);
  if (info.mean.empty()) return x.clone();
  const int64_t c = static_cast<int64_t>(info.mean.size());
  if (x.dim() != 4 || x.size(1) != c || info.std.size() != info.mean.size())
    throw UserError("undo_normalisation: images " + c10::str(x.sizes()) + " do not match the dataset's " +
                    std::to_string(c) + "-channel mean/std");
  // The loader computes (u8 / 255 - mean) / std in float32 (datasets/registry.cpp normalise).
  x = x * torch::tensor(info.std, torch::kFloat).view({1, c, 1, 1}).to(x.device()) +
      torch::tensor(info.mean, torch::kFloat).view({1, c, 1, 1}).to(x.device());
  if (x.numel() == 0 || !snap_to_8bit) return x;
  // 8-bit sources: snap back to k/255 so the whitening sees exactly ToTensor()'s values (the
  // float round trip is off by ~1e-7); anything else (generated tensors) is left as computed.
  const torch::Tensor q = (x * 255).round();
  const bool eight_bit = (x * 255 - q).abs().max().item<double>() < 1e-3 && q.min().item<double>() >= 0 &&
                         q.max().item<double>() <= 255;
  return eight_bit ? q.div_(255) : x;
}

torch::Tensor apply_normalisation(const torch::Tensor& pixels, const DatasetInfo& info) {
  if (info.mean.empty()) return pixels;
  const int64_t c = static_cast<int64_t>(info.mean.size());
  return (pixels - torch::tensor(info.mean, torch::kFloat).view({1, c, 1, 1}).to(pixels.device())) /
         torch::tensor(info.std, torch::kFloat).view({1, c, 1, 1}).to(pixels.device());
}

}  // namespace ddb
