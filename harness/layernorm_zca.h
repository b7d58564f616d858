// KIP's preprocessing (google-research kip/nn_training.ipynb, preprocess_type 'zca_normalize'): every image
// flattened and "layer-normalised" (its mean removed, scaled to unit norm), then whitened by
// U diag((S + reg)^-1/2) U^T of the training images' second-moment matrix, with reg = zca_reg * trace / d
// (relative) -- not the kornia ZCA of harness/zca.h that MTT's --zca uses. Shared by the `kip` method (which
// distils in this space) and the `kip` evaluation protocol (which whitens the test split the same way).
#pragma once
#include <string>

#include "harness/types.h"

namespace ddb {

struct LayerNormZca {
  torch::Tensor transform;  // [D, D] float32
  double reg = 0.1;
  // [N, C, H, W] -> the same shape, float32, on the images' device (batched to bound memory).
  torch::Tensor apply(const torch::Tensor& images) const;
};

// Fits on `train` [N, C, H, W] (in double precision). Where N < D the eigenvalues beyond the rank are left at
// 1, as the reference's rank control does.
LayerNormZca fit_layernorm_zca(const torch::Tensor& train, double zca_reg);

// The whitening of `data`'s train split for zca_reg, fitted once per process and dataset identity.
const LayerNormZca& layernorm_zca_for(const LoadedDataset& data, double zca_reg);

// KIP's regression targets (KIP.ipynb one_hot(center=True)): soft labels [N,K] as they are, hard ones [N] as
// one_hot - 1/K. Float32, on the labels' device.
torch::Tensor kip_regression_targets(const torch::Tensor& labels, int64_t num_classes);

// KIP's two preprocessings by their reference names: "standard" (the loader's per-channel normalisation as it
// is) or "zca_normalize" (the above); anything else is a UserError.
torch::Tensor kip_preprocess(const LoadedDataset& data, const torch::Tensor& images, const std::string& preprocess,
                             double zca_reg);

}  // namespace ddb
