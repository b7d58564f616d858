// TrustDD's Pseudo-Outlier-Exposure corruptions (paper Sec. 4.2 and A.4; official code
// mashijie1028/TrustDD utils/gen_ood_loader_cifar.py, names there: jigsaw, invert, pixelate,
// gauss-speckle). They turn real InD images into pseudo-outliers. All take N x C x H x W images in
// [0,1], BEFORE mean/std normalisation (the reference corrupts, then normalises), on any device.
// Notes: ../shared/method-notes/trustdd.md section 4.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ddb {

// The reference's fixed 6-piece jigsaw, on the spatial dims; H and W even and >= 4. With h = H/2,
// w = W/2 (8 = h/2 and 24 = w + w/2 at 32x32):
//   top    = [ TL quadrant with its row halves [h/2,h) and [0,h/2) swapped | BL quadrant ]
//   bottom = [ BR quadrant | TR quadrant with its column halves [w/2,w) and [0,w/2) swapped ]
// At 32x32 this is exactly the reference's lambda; other even sizes split at the same fractions
// (floor of h/2 and w/2 when those are odd, e.g. 7 at 28x28). A pure pixel permutation.
torch::Tensor poe_jigsaw(const torch::Tensor& x);

// Channels 1..C-1 become 1 - x, channel 0 is kept (reference, 3 channels). For C == 1 the single
// channel is inverted instead: keeping channel 0 would be the identity, i.e. an InD image labelled
// outlier, which the paper says must be avoided (corruptions must shift semantics). The paper uses no
// invert on digits (MNIST/SVHN get flip); this case is for 1-channel natural images (Fashion-MNIST).
torch::Tensor poe_invert(const torch::Tensor& x);

// "pixelate": PIL BOX resize to int(size*ratio) per side, then BOX resize back (reference: 32 -> 6 ->
// 32). The BOX weights are PIL's (Resample.c precompute_coeffs): an output pixel averages the input
// pixels whose centres lie in its box, so at 32 -> 6 the blocks are 5,6,5,5,6,5 pixels wide and the
// upsampling repeats each value over the same blocks. The reference resizes an 8-bit image, horizontal
// pass then vertical, each pass in PIL's 22-bit fixed point and rounded to 8 bits; quantize_like_pil
// (default) reproduces that bit for bit (input rounded to k/255 first, output is k/255). With false the
// same weights are applied in floating point (PIL's mode "F" path): no rounding, differentiable.
torch::Tensor poe_mosaic(const torch::Tensor& x, double ratio = 0.2, bool quantize_like_pil = true);

// "gauss-speckle": clamp(x + x * n, 0, 1) with n ~ N(0,1) per element (the code; the paper writes
// rand_like, the code's unused "uniform-speckle"). The noise is drawn on the CPU from gen (or a
// generator seeded with seed) and moved to x's device, so a seed gives the same images on any device.
torch::Tensor poe_speckle(const torch::Tensor& x, at::Generator gen);
torch::Tensor poe_speckle(const torch::Tensor& x, uint64_t seed);

// Digit flips (paper A.4; not in the official code, which covers CIFAR only). A flip that leaves a digit
// the same digit is no outlier, so those images are left out, not flipped:
//   horizontal skips 0, 1, 8;  vertical skips 0, 1, 3, 8.
// The result keeps the surviving rows; index says which input row each came from.
struct PoeBatch {
  torch::Tensor images;  // M x C x H x W
  torch::Tensor index;   // M, int64, rows of the input (all N rows, in order, for non-flip corruptions)
};
const std::vector<int64_t>& poe_hflip_skipped_digits();  // {0, 1, 8}
const std::vector<int64_t>& poe_vflip_skipped_digits();  // {0, 1, 3, 8}
// labels: N digit labels (0..9), any integer dtype/device.
PoeBatch poe_hflip_digits(const torch::Tensor& x, const torch::Tensor& labels);
PoeBatch poe_vflip_digits(const torch::Tensor& x, const torch::Tensor& labels);
// The ensemble's "flip" [inferred]: the paper says "horizontal or vertical". Each image draws the
// direction with probability 1/2 from gen (one draw per input row, kept or not, so the draws do not
// depend on the labels); a 3 always flips horizontally (vertical would keep it a 3), 0, 1, 8 are
// left out.
PoeBatch poe_flip_digits(const torch::Tensor& x, const torch::Tensor& labels, at::Generator gen);

// The corruption set per image domain, in slot order (paper Fig. 7 / A.4):
//   natural (CIFAR, ImageNet subsets, and 1-channel natural images): jigsaw, invert, mosaic, speckle
//   digits (MNIST, SVHN):                                              jigsaw, flip,   mosaic, speckle
enum class PoeDomain { natural, digits };
PoeDomain poe_domain_for(const std::string& dataset);  // digits for mnist and svhn (case-insensitive)
const std::vector<std::string>& poe_corruption_set(PoeDomain domain);
// The reference ties synthetic outlier block c (the ipc images S_out[c*ipc, (c+1)*ipc)) to corruption
// c % 4 (main_poe.py get_images_oe(c, n)); the pseudo-outliers it matches are random images of the
// whole training set, not of class c.
const std::string& poe_corruption_for_slot(int64_t slot, PoeDomain domain);

// By name: jigsaw, invert, mosaic, speckle, flip, hflip, vflip (defaults above). labels are needed by
// the flips only; gen by speckle and flip. Throws UserError listing the valid names for another name.
const std::vector<std::string>& poe_corruption_names();
PoeBatch apply_poe_corruption(const std::string& name, const torch::Tensor& x, const torch::Tensor& labels,
                              at::Generator gen);

}  // namespace ddb
