// Grad-CAM: see harness/gradcam.h.
#include "harness/gradcam.h"

#include <vector>

namespace ddb {

namespace F = torch::nn::functional;

torch::Tensor grad_cam(NetImpl& net, const torch::Tensor& images, const torch::Tensor& targets, torch::Device device,
                       int64_t batch) {
  if (images.dim() != 4) throw UserError("grad_cam: images must be [N,C,H,W]");
  if (targets.dim() != 1 || targets.size(0) != images.size(0))
    throw UserError("grad_cam: targets must be [N] with one class per image");
  const bool was_training = net.is_training();
  net.eval();
  const int64_t n = images.size(0), h = images.size(2), w = images.size(3);
  std::vector<torch::Tensor> out;
  try {
    for (int64_t s = 0; s < n; s += batch) {
      const int64_t len = std::min(batch, n - s);
      // The input requires grad so that the map is part of a graph even when the parameters do not.
      torch::Tensor x = images.narrow(0, s, len).to(device).detach().requires_grad_(true);
      const torch::Tensor t = targets.narrow(0, s, len).to(device).to(torch::kLong).view({-1, 1});
      auto [map, logits] = net.feature_map_and_logits(x);
      // Eval mode: samples are independent, so the gradient of the summed target logits gives each
      // sample's own d y_c / d A.
      const torch::Tensor score = logits.gather(1, t).sum();
      const torch::Tensor grad = torch::autograd::grad({score}, {map})[0];
      torch::NoGradGuard ng;
      const torch::Tensor weights = grad.mean({2, 3}, /*keepdim=*/true);
      torch::Tensor cam = torch::relu((weights * map.detach()).sum(1, /*keepdim=*/true));
      cam = F::interpolate(cam, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{h, w})
                                    .mode(torch::kBilinear)
                                    .align_corners(false))
                .squeeze(1);
      const torch::Tensor flat = cam.flatten(1);
      const torch::Tensor lo = std::get<0>(flat.min(1)).view({-1, 1, 1});
      const torch::Tensor range = std::get<0>(flat.max(1)).view({-1, 1, 1}) - lo;
      cam = torch::where(range > 0, (cam - lo) / range.clamp_min(1e-12), torch::zeros_like(cam));
      out.push_back(cam.clamp(0, 1).cpu());
    }
  } catch (...) {
    net.train(was_training);
    throw;
  }
  net.train(was_training);
  if (out.empty()) return torch::zeros({0, h, w});
  return torch::cat(out);
}

torch::Tensor fraction_at_least(const torch::Tensor& maps, double threshold) {
  return maps.ge(threshold).to(torch::kFloat).flatten(1).mean(1);
}

}  // namespace ddb
