// Differentiable Siamese Augmentation, as the reference (VICO-UoE/DatasetCondensation utils.py)
// defines it: one op group per call, parameters shared across the batch when a seed is given
// (Siamese: real and synthetic batches of a class get the same transform), per-sample otherwise.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ddb {

struct DsaParams {  // ParamDiffAug defaults
  double prob_flip = 0.5;
  double ratio_scale = 1.2;
  double ratio_rotate = 15.0;
  double ratio_crop_pad = 0.125;
  double ratio_cutout = 0.5;
  double brightness = 1.0;
  double saturation = 2.0;
  double contrast = 0.5;
};

// How the groups of a strategy compose in one call.
//  * OneGroup: VICO's aug_mode 'S' -- one group drawn per call (DC/DSA/DM/MTT and their followers).
//  * Idc: IDC's DiffAug (snu-mllab/Efficient-Dataset-Condensation augment.py, single_aug=True): flip
//    (when listed), then color (when listed), then ONE group drawn among the others (crop, scale,
//    rotate), then cutout (when listed). Same ops and ratios as DSA.
enum class DsaComposition { OneGroup, Idc };

class Dsa {
 public:
  // strategy: groups separated by '_', e.g. "color_crop_cutout_flip_scale_rotate" (the default
  // for Fashion-MNIST/CIFAR) or "color_crop_cutout_scale_rotate" (MNIST, SVHN). "none" = identity.
  // Groups: color (brightness -> saturation -> contrast), crop, cutout, flip, scale, rotate.
  // Unknown or empty groups throw UserError.
  explicit Dsa(std::string strategy = "color_crop_cutout_flip_scale_rotate", DsaParams params = {},
               DsaComposition composition = DsaComposition::OneGroup);

  // siamese_seed >= 0: Siamese mode, all draws come from a generator seeded with it and every
  // parameter is shared by the whole batch, so two calls with the same seed and batch shape apply
  // the same transform. siamese_seed < 0: per-sample parameters from the global torch RNG.
  //
  // x: N x C x H x W floating tensor on any device; the result is differentiable w.r.t. x.
  // Parameters are drawn on the CPU and moved to x's device. In Siamese mode the transform of an
  // image does not depend on N (a real batch of 256 and a synthetic batch of 10 get the same
  // per-image transform) and the global RNG is left untouched. As in the reference, the generator
  // is re-seeded with seed, seed+1, ... before each draw (group choice first, then each op's
  // draws in the reference's order), and the shared value is the first element of the draw.
  torch::Tensor operator()(const torch::Tensor& x, int64_t siamese_seed = -1) const;

  const std::string& strategy() const { return strategy_; }
  const std::vector<std::string>& groups() const { return groups_; }  // empty: identity
  const DsaParams& params() const { return p_; }
  bool enabled() const { return !groups_.empty(); }
  // "color_crop_cutout_scale_rotate" for mnist and svhn (no flip for digits), else
  // "color_crop_cutout_flip_scale_rotate". Case-insensitive.
  static std::string default_strategy_for(const std::string& dataset);

 private:
  std::string strategy_;
  std::vector<std::string> groups_;
  DsaParams p_;
  DsaComposition composition_ = DsaComposition::OneGroup;
};

// The individual ops with explicit parameters (used by Dsa; exposed for tests and reuse).
// Parameter tensors have shape [N] (per sample) or [1] (shared by the batch), live on any device
// and are moved to x's device. All are differentiable w.r.t. x.
namespace dsa {
// x + (r - 0.5) * ratio
torch::Tensor brightness(const torch::Tensor& x, const torch::Tensor& r, double ratio);
// (x - mean_c) * (r * ratio) + mean_c, mean over channels; exactly x when C == 1.
torch::Tensor saturation(const torch::Tensor& x, const torch::Tensor& r, double ratio);
// (x - mean_chw) * (r + ratio) + mean_chw
torch::Tensor contrast(const torch::Tensor& x, const torch::Tensor& r, double ratio);
// out[n, c, i, j] = x[n, c, i + tx[n], j + ty[n]], 0 where that falls outside the image
// (tx along H, ty along W; integer tensors).
torch::Tensor crop(const torch::Tensor& x, const torch::Tensor& tx, const torch::Tensor& ty);
// Zeroes rows [ox - size_h/2, ox - size_h/2 + size_h) x cols [oy - size_w/2, ...) clipped to the
// image (the reference's clamped index grid), ox/oy integer tensors.
torch::Tensor cutout(const torch::Tensor& x, const torch::Tensor& ox, const torch::Tensor& oy,
                     int64_t size_h, int64_t size_w);
// Flips along W where do_flip (bool tensor) is true.
torch::Tensor flip(const torch::Tensor& x, const torch::Tensor& do_flip);
// affine_grid(theta [k x 2 x 3], x.sizes()) + grid_sample: bilinear, zeros padding,
// align_corners = false (PyTorch's defaults in the reference). MTT's utils.py (and FYI's copy) pass
// align_corners=True instead; for a theta without translation on a square image both conventions
// sample the same points (pixel p -> c + A (p - c), c the centre), so one implementation serves both
// (tests/augment/test_dsa.cpp checks it). They differ only on non-square images.
torch::Tensor affine(const torch::Tensor& x, const torch::Tensor& theta);
}  // namespace dsa

}  // namespace ddb
