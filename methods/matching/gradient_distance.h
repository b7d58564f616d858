// The distance between the gradients a network gets from a real batch and from a synthetic batch:
// the reference's `match_loss` / `distance_wb` (VICO-UoE/DatasetCondensation utils.py), used by DC
// and DSA (and by methods built on them).
#pragma once
#include <string>
#include <vector>

#include "harness/types.h"

namespace ddb {

// The metric names match_loss accepts: "ours", "mse", "cos".
const std::vector<std::string>& gradient_distance_metrics();

// The terms the reference's match_loss is a sum of, for one pair of gradient lists (same order and
// shapes; g_real is normally detached, g_syn carries the graph back to the synthetic images):
//   ours: one term per parameter tensor with >= 2 dims, in parameter order: sum over output units
//         of 1 - <a, b> / (|a| |b| + 1e-6), rows = output units (4-D conv (out, in*h*w), 3-D
//         (C, h*w), 2-D linear as is). 1-D tensors (biases, norm affine) contribute nothing: the
//         reference's distance_wb returns a constant 0 for them, so they are left out here.
//   mse:  one term per parameter tensor: sum((g_real - g_syn)^2) (the reference sums over the
//         concatenation, which is the same total).
//   cos:  a single term: 1 - cosine of the concatenated flattened gradients (eps 1e-6 as above).
// Their sum is the reference's match_loss. Unknown metric -> UserError listing the valid ones.
std::vector<torch::Tensor> gradient_distance_terms(const std::vector<torch::Tensor>& g_real,
                                                   const std::vector<torch::Tensor>& g_syn,
                                                   const std::string& metric);

// Throws UserError unless `metric` is one of gradient_distance_metrics() (checked before any work).
void check_gradient_distance_metric(const std::string& metric);

}  // namespace ddb
