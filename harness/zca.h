// ZCA whitening as the trajectory-matching references use it (MTT utils.py get_dataset --zca:
// kornia.enhance.ZCAWhitening(eps=0.1, compute_inv=True) fit on the whole ToTensor()-only training
// split, applied to train and test).
#pragma once
#include <string>

#include "harness/normalisation.h"  // undo_normalisation (used with the whitening)
#include "harness/types.h"

namespace ddb {

// A fitted whitening: y = (x - mean) T over flattened images, x = y T_inv + mean.
struct ZcaTransform {
  torch::Tensor mean;       // [D] float32
  torch::Tensor transform;  // [D, D] float32: U diag(1/sqrt(S + eps)) U^T
  torch::Tensor inverse;    // [D, D] float32: U diag(sqrt(S + eps)) U^T
  double eps = 0.1;
  std::string hash;         // 16 hex digits of sha256 over mean, transform, inverse bytes and eps

  // images [N, C, H, W] (any N, C*H*W == D) -> whitened images of the same shape, float32, on the
  // images' device. Batched over images to bound memory.
  torch::Tensor apply(const torch::Tensor& images) const;
  torch::Tensor invert(const torch::Tensor& y) const;
};

// Fits kornia's zca_mean(unbiased=True) on images [N, C, H, W] (N >= 2): covariance in double
// precision, then cast to float32. Throws UserError for fewer than two images or a dimension whose
// covariance would not fit in memory.
ZcaTransform fit_zca(const torch::Tensor& images, double eps = 0.1);

// A copy of `data` whose train and test images are ZCA-whitened the way the reference does it: the
// loader's mean/std normalisation is undone first (back to ToTensor() values), the whitening is fit
// on the train split and applied to both. The identity gains "+zca(eps=<eps>):<hash>" so every
// result and cache keyed on it tells whitened data apart. Whitening whitened data is a UserError.
LoadedDataset with_zca(const LoadedDataset& data, double eps = 0.1);

// Whether `data` came out of with_zca (its identity carries the ZCA marker).
bool has_zca(const LoadedDataset& data);


}  // namespace ddb
