#include "methods/trajectory/discriminative_area.h"

#include <memory>

#include "harness/gradcam.h"

namespace ddb {

torch::Tensor discriminative_area_weights(const torch::Tensor& maps, double beta, std::optional<double> threshold) {
  if (maps.dim() != 3) throw UserError("discriminative_area_weights: maps must be [N,H,W]");
  const torch::Tensor m = maps.to(torch::kFloat32);
  const torch::Tensor thr = threshold ? torch::full({m.size(0), 1, 1}, *threshold, m.options())
                                      : m.mean({1, 2}, /*keepdim=*/true);
  const torch::Tensor weights = torch::where(m >= thr, m + beta, torch::ones_like(m));
  return weights.unsqueeze(1);
}

namespace {

struct DaeState {
  DiscriminativeAreaSettings settings;
  Net cam_net;
  torch::Device device;
  json cam_model;
  torch::Tensor weights;  // [N,1,H,W] on the images' device
  int64_t refreshes = 0;
  std::vector<double> area;  // mean share of pixels >= threshold, per refresh
};

}  // namespace

ImageGradientHook discriminative_area_hook(const DiscriminativeAreaSettings& settings, Net cam_net, torch::Device device,
                                           json cam_model_description) {
  if (settings.update_freq < 1) throw UserError("edf: update_freq must be >= 1");
  auto st = std::make_shared<DaeState>(DaeState{settings, std::move(cam_net), device, std::move(cam_model_description)});
  ImageGradientHook hook;
  hook.apply = [st](int64_t it, SyntheticState& s, const std::vector<torch::Tensor>&) {
    if (!st->weights.defined() || it % st->settings.update_freq == 0) {  // edf_distill.py: if it % interval == 0
      const torch::Tensor images = s.images.detach();
      const torch::Tensor targets = s.label_logits.defined() ? s.label_logits.detach().argmax(1) : s.hard_labels;
      const torch::Tensor maps = grad_cam(*st->cam_net, images, targets.cpu(), st->device);
      st->weights = discriminative_area_weights(maps, st->settings.beta, st->settings.threshold).to(images.device());
      ++st->refreshes;
      const torch::Tensor thr = st->settings.threshold
                                    ? torch::full({maps.size(0), 1, 1}, *st->settings.threshold)
                                    : maps.mean({1, 2}, true);
      st->area.push_back((maps >= thr).to(torch::kFloat64).mean().item<double>());
    }
    if (s.images.grad().defined()) s.images.mutable_grad().mul_(st->weights);  // image_syn.grad *= softmask
  };
  hook.describe = [st] {
    json j = {{"kind", "discriminative area enhancement (EDF Eq. 4-5)"},
              {"enhance_factor", st->settings.beta},
              {"activation_threshold", st->settings.threshold ? json(*st->settings.threshold) : json("mean")},
              {"update_freq", st->settings.update_freq},
              {"refreshes", st->refreshes},
              {"cam_model", st->cam_model}};
    if (!st->area.empty()) {
      j["area_first"] = st->area.front();
      j["area_last"] = st->area.back();
    }
    return j;
  };
  return hook;
}

}  // namespace ddb
