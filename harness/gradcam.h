// Grad-CAM (Selvaraju et al., ICCV 2017) for ddbench's nets: what EDF's activation maps and the Comp-DD
// complexity metric are built on (../shared/method-notes/edf.md).
#pragma once
#include "harness/nets/net.h"
#include "harness/types.h"

namespace ddb {

// Grad-CAM maps [N,H,W] (on the CPU) of `images` [N,C,H,W] for the target classes `targets` (int64 [N]):
// A = the net's last conv block (NetImpl::feature_map_and_logits), w_k = spatial mean of d y_target / d A_k,
// map = ReLU(sum_k w_k A_k), upsampled bilinearly (align_corners false) to H x W, then min-max normalised per
// image to [0,1] (a constant map, e.g. all zero, becomes 0). The net runs in eval mode (its mode is restored),
// in batches of `batch` on `device`. Throws UserError for a net without a conv feature map.
torch::Tensor grad_cam(NetImpl& net, const torch::Tensor& images, const torch::Tensor& targets, torch::Device device,
                       int64_t batch = 256);

// Per map, the fraction of pixels with value >= threshold: [N] float (Comp-DD counts them at 0.5).
torch::Tensor fraction_at_least(const torch::Tensor& maps, double threshold);

}  // namespace ddb
