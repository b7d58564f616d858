#include "methods/trajectory/discriminative_area.h"

#include <memory>

#include "harness/gradcam.h"

namespace ddb {

namespace {

// The discriminative area of each map of maps [N,H,W]: m >= the fixed threshold or the map's mean
// (create_soft_mask's act >= threshold). One definition for the weights and the area figures, so the
// area counts exactly the pixels the enhancement weights.
torch::Tensor discriminative_mask(const torch::Tensor& maps, std::optional<double> threshold, const char* who) {
  if (maps.dim() != 3) throw UserError(std::string(who) + ": maps must be [N,H,W]");
  const torch::Tensor m = maps.to(torch::kFloat32);
  const torch::Tensor thr = threshold ? torch::full({m.size(0), 1, 1}, *threshold, m.options())
                                      : m.mean({1, 2}, /*keepdim=*/true);
  return m >= thr;
}

}  // namespace

torch::Tensor discriminative_area_weights(const torch::Tensor& maps, double beta, std::optional<double> threshold) {
  const torch::Tensor mask = discriminative_mask(maps, threshold, "discriminative_area_weights");
  const torch::Tensor m = maps.to(torch::kFloat32);
  return torch::where(mask, m + beta, torch::ones_like(m)).unsqueeze(1);
}

torch::Tensor discriminative_area_share(const torch::Tensor& maps, std::optional<double> threshold) {
  return discriminative_mask(maps, threshold, "discriminative_area_share").to(torch::kFloat64).mean({1, 2});
}

namespace {

// Hard class of every image: the argmax of a soft label (edf_distill.py's labels.argmax).
torch::Tensor cam_targets(const torch::Tensor& labels) {
  return (labels.dim() == 2 ? labels.argmax(1) : labels).to(torch::kInt64).cpu();
}

std::vector<double> to_vector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat64).contiguous().cpu();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

struct DaeState {
  DiscriminativeAreaSettings settings;
  Net cam_net;
  torch::Device device;
  json cam_model;
  torch::Tensor weights{};  // [N,1,H,W] on the images' device
  int64_t refreshes = 0;
  std::vector<double> area{};  // mean share of pixels >= threshold, per refresh
  torch::Tensor initial_share{};    // [N] per image, at the first refresh, for the image's own class
  torch::Tensor initial_targets{};  // [N] the images' own classes (the hard labels)
  int64_t initial_iteration = -1;
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
      const torch::Tensor targets = cam_targets(s.label_logits.defined() ? s.label_logits.detach() : s.hard_labels);
      const torch::Tensor maps = grad_cam(*st->cam_net, images, targets, st->device);
      st->weights = discriminative_area_weights(maps, st->settings.beta, st->settings.threshold).to(images.device());
      ++st->refreshes;
      const torch::Tensor share = discriminative_area_share(maps, st->settings.threshold);
      if (!st->initial_share.defined()) {
        // The gain is measured for each image's own class (both ends the same target); the refresh's
        // maps serve when the soft labels' argmax is that class everywhere.
        st->initial_targets = s.hard_labels.detach().to(torch::kInt64).cpu();
        st->initial_share = torch::equal(st->initial_targets, targets)
                                ? share
                                : discriminative_area_share(grad_cam(*st->cam_net, images, st->initial_targets, st->device),
                                                            st->settings.threshold);
        st->initial_iteration = it;
      }
      st->area.push_back(share.mean().item<double>());
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
  hook.on_stored = [st](const SyntheticSet& stored) {
    json j = {{"definition", "per image: % of Grad-CAM pixels (for the image's own class) at or above the threshold, "
                             "stored image vs the same image at the first refresh (iteration 0: initial), the same CAM net"}};
    if (!st->initial_share.defined()) {
      j["skipped"] = "no refresh happened (no iteration ran)";
      return j;
    }
    const torch::Tensor maps = grad_cam(*st->cam_net, stored.images.detach(), st->initial_targets, st->device);
    const torch::Tensor final_share = discriminative_area_share(maps, st->settings.threshold);
    const torch::Tensor gain = (final_share - st->initial_share) * 100.0;
    const int64_t smallest = st->initial_share.argmin().item<int64_t>();
    j["initial_iteration"] = st->initial_iteration;
    j["area_initial_pct"] = to_vector(st->initial_share * 100.0);
    j["area_stored_pct"] = to_vector(final_share * 100.0);
    j["gain_pp"] = to_vector(gain);
    j["gain_pp_mean"] = gain.mean().item<double>();
    j["smallest_initial_image"] = smallest;
    j["gain_pp_of_smallest_initial"] = gain[smallest].item<double>();
    return j;
  };
  return hook;
}

}  // namespace ddb
