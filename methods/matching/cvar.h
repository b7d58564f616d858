// RDD's risk measure (Mming11/RobustDatasetDistillation; paper Eqs. 3-4): the lower-tail CVaR_alpha of a
// set of per-sample losses, the building block of RDD's aCVaR / mCVaR network loss (issue 12). Notes:
// ../shared/method-notes/rdd.md section 2.2 and "Official code".
#pragma once
#include <torch/torch.h>

namespace ddb {

// CVaR_alpha = (1/alpha) * [ (1/n) * sum_{l <= f} l + f * (alpha - #{l <= f}/n) ], f = the empirical
// alpha-quantile min{f : #{l <= f}/n >= alpha}: the mean of the lowest alpha-fraction of the losses, the
// sample at the boundary counted with the fraction of its mass that falls inside (ties at f handled by
// the correction term). alpha = 1 gives the mean. Differentiable in `losses` (1-D, n >= 1); the paper's
// leading minus sign is a misprint (the text and Table 3b minimise a positive risk).
// The released code differs: it divides the tail sum by k = int(alpha * n) instead of n (a 1/alpha
// scaling when alpha * n is whole) and detaches the result; this is the paper's definition.
// UserError for alpha outside (0, 1] or an empty tensor.
torch::Tensor cvar(const torch::Tensor& losses, double alpha);

}  // namespace ddb
