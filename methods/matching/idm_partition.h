// IDM's image-level operations (uitrbn/IDM dc_utils.py): partition-and-expansion of synthetic
// images (`number_sign_augment`), and the multi-formation storage it pairs with (`--aug`: each
// stored image holds factor^2 downscaled real images at init and is decoded into factor^2 upsampled
// pieces for evaluation).
#pragma once
#include <cstdint>
#include <vector>

#include "harness/types.h"

namespace ddb {

// images [N, C, H, W] -> [l*l*N, C, H, W]: each image cut into an l x l grid of (H/l) x (W/l) tiles
// (floor; remainder rows/columns at the bottom/right are dropped, as the reference's x3 variant
// does), every tile resized back to H x W with bilinear interpolation (align_corners false, the
// reference's F.upsample default). Piece-major order: out[p*N + i] is piece p of image i, pieces
// numbered column by column (p = col * l + row), which for l = 2 is the reference's order
// [top-left, bottom-left, top-right, bottom-right]. Differentiable; l = 1 returns `images`.
torch::Tensor partition_expand(const torch::Tensor& images, int64_t l);

// The labels that go with partition_expand: `labels` ([N] or soft [N, K]) repeated pieces times,
// piece-major (torch `repeat`, as the reference's label_syn.repeat(4)).
torch::Tensor repeat_labels(const torch::Tensor& labels, int64_t pieces);

// The inverse layout used at initialisation: tiles[p] ([N, C, H, W], p < factor^2) are each
// downscaled to (H/factor) x (W/factor) (bilinear) and written into tile p of the result (same
// numbering as partition_expand). Pixels not covered by a tile (H or W not divisible) are taken
// from `background`. The reference's --aug init: image_syn[:, :, :h, :h] = downscale(real, 0.5), ...
torch::Tensor multi_formation_tile(const std::vector<torch::Tensor>& tiles, int64_t factor,
                                   const torch::Tensor& background);

// Evaluation decode of a stored multi-formation set: images partition_expand(images, factor), labels
// repeat_labels(labels, factor^2); learned_lr and meta are kept. factor 1 returns the set as is.
SyntheticSet multi_formation_decode(const SyntheticSet& stored, int64_t factor);

}  // namespace ddb
