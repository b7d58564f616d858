// The classification loss every training loop uses, for hard and soft labels alike.
#pragma once
#include "harness/types.h"

namespace ddb {

// Cross-entropy against hard labels (int64 [N]) or soft ones (float [N,K]: -sum_k y_k log softmax(z)_k,
// averaged over the batch; TESLA's and LD's soft labels).
torch::Tensor classification_loss(const torch::Tensor& logits, const torch::Tensor& labels);

}  // namespace ddb
