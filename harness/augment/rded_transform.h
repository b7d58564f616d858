// RDED's training transform for a distilled set, as its KD evaluation applies it (LINs-lab/RDED
// @31f9117; facts read there, the code is our own):
//   validation/main.py l.115-125: ToTensor, ShufflePatches(factor), RandomResizedCrop(input_size,
//     scale=(1 / factor, max_scale_crops = 1), antialias) with torchvision's ratio (3/4, 4/3),
//     RandomHorizontalFlip(), Normalize -- per image, a fresh draw each time it is loaded (every epoch).
//   validation/utils.py ShufflePatches.forward: split the image along its width into `factor` strips of
//     w // factor columns, shuffle them (random.shuffle), concatenate; then the same along the height
//     (through a transpose). The strips are [k tw, (k + 1) tw): columns past factor * tw are dropped (the
//     reference's `if i != factor - 1` compares the strip's offset, not its index, so the last strip is
//     not widened), and RandomResizedCrop brings the image back to size.
// Our sets are stored normalised; every step here is a permutation or a convex combination of pixels
// (bilinear resampling, flips), which commutes with the per-channel normalisation, so the transform
// runs on the normalised images directly. Draws come from the global torch generator (the protocol
// seeds it with the run's seed): per image, the width shuffle, the height shuffle, the crop, the flip.
#pragma once
#include <torch/torch.h>

namespace ddb {

// ShufflePatches on one image [C, H, W] with the global generator.
torch::Tensor shuffle_patches(const torch::Tensor& img, int64_t factor);

// The whole transform on a batch [N, C, H, W]; the output has the input's H x W. No grad.
torch::Tensor rded_transform(const torch::Tensor& x, int64_t factor);

}  // namespace ddb
