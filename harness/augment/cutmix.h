// CutMix as IDC trains with it (snu-mllab/Efficient-Dataset-Condensation train.py train_epoch with
// mixup 'cut', utils.py rand_bbox / random_indices): with probability p, lam ~ Beta(beta, beta), a
// random permutation of the batch, a box of side sqrt(1 - lam) * (H, W) centred at a uniform pixel
// (clipped to the image) pasted from the permuted images; the loss is
// ratio * CE(out, y) + (1 - ratio) * CE(out, y[perm]), ratio = 1 - box area / (H W) (the area actually
// pasted, after clipping). Used by IDC's condensation (its network update) and its evaluation.
#pragma once
#include <torch/torch.h>

namespace ddb {

struct CutMixed {
  torch::Tensor images;    // the batch with the box pasted in (or the batch itself when not mixed)
  torch::Tensor labels_b;  // labels of the pasted images (undefined when not mixed)
  double ratio = 1.0;      // weight of the original labels
  bool mixed = false;
};

// Draws from the global torch RNG. x: [N, C, H, W] (not modified), y: int64 [N].
CutMixed cutmix(const torch::Tensor& x, const torch::Tensor& y, double beta, double probability);
// The box [r0, r1) x [c0, c1) for lam on an H x W image centred at (cy, cx): rand_bbox's arithmetic
// (cut = int(side * sqrt(1 - lam)), half = cut // 2, clipped to [0, side]). Exposed for tests.
struct CutBox {
  int64_t r0, c0, r1, c1;
};
CutBox cutmix_box(int64_t h, int64_t w, double lam, int64_t cy, int64_t cx);
// Mean cross-entropy of a (possibly) mixed batch: ratio * CE(y) + (1 - ratio) * CE(y_b); per-sample
// when `per_sample` (RDD's cluster losses need them).
torch::Tensor cutmix_loss(const torch::Tensor& logits, const torch::Tensor& y, const CutMixed& m,
                          bool per_sample = false);

}  // namespace ddb
