// DC (non-DSA) evaluation augmentation: the reference's utils.py `augment()` with the
// parameters of `get_daparam` (VICO-UoE/DatasetCondensation). Used only when a DC-style method
// is evaluated without DSA: MNIST -> "crop_scale_rotate", evaluation model ConvNetBN ->
// "crop_noise", everything else "none". Not differentiable (evaluation only).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace ddb {

struct DcAugParams {  // get_daparam
  int64_t crop = 4;      // pad by this many pixels with the channel mean, then crop back
  double scale = 0.2;    // h, w = int(U(1 - scale, 1 + scale) * H)
  int64_t rotate = 45;   // angle = randint(-rotate, rotate) degrees, i.e. in [-45, 44]
  double noise = 0.001;  // x + noise * N(0, 1)
};

// Per image one op of the '_'-separated strategy (crop, scale, rotate, noise) is chosen uniformly
// and applied; "none" or "" returns x unchanged. x: N x C x H x W floating, any device; draws come
// from the global torch RNG (CPU). Returns a new tensor (x is not modified) without autograd history.
//   crop:   pad `crop` px with the per-channel batch mean, take the window at offsets
//           r, c in [0, 2*crop) (np.random.permutation(2*crop)[0]): shifts in [-crop, crop-1].
//   scale:  nearest F.interpolate to h x w (both drawn from H), pasted centred on a zero canvas of
//           max(h, w, H, W), centre-cropped back to H x W (zero fill when shrunk).
//   rotate: randint(-rotate, rotate) degrees about the centre, outside filled with the mean of the
//           channel means. The reference uses scipy.ndimage.rotate (cubic spline, order 3,
//           reshape=True then a centre crop); we use bilinear grid_sample on (x - fill) + fill.
//           Differences: bilinear instead of cubic-spline interpolation (slightly smoother, no
//           overshoot), and scipy's int((out - H) / 2) crop of the enlarged canvas can shift the
//           image by half a pixel for angles where (out - H) is odd; ours rotates exactly about
//           the centre; at the border ours blends the edge pixel with the fill over one pixel,
//           scipy's mode='constant' spline does not quite. Positive angles turn anticlockwise on
//           screen, like scipy.
//   noise:  x + noise * randn.
torch::Tensor dc_augment(const torch::Tensor& x, const std::string& strategy,
                         const DcAugParams& params = {});

// get_daparam's strategy: "crop_noise" when model_eval is ConvNetBN, else "crop_scale_rotate"
// for mnist, else "none". Dataset name case-insensitive; model name exact ("ConvNetBN").
std::string dc_aug_strategy_for(const std::string& dataset, const std::string& model_eval);

}  // namespace ddb
