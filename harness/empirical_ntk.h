// The empirical NTK Gram matrix of a finite network, J J^T with J the Jacobian of one scalar output per image
// with respect to every trainable parameter. KIP's transfer protocol needs its largest eigenvalue for its
// learning rate; at KIP's width (28.5M parameters at 32 px) J for 50 images is 11.4 GB in float64, so the rows
// are built in chunks under a memory budget and each Gram block is formed from two chunks, never the whole J.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "harness/types.h"

namespace ddb {

// `output(images)` returns one scalar per image ([B]); it is called on slices of `images` and must be
// differentiable in `params`. The result is [N,N] float64. `max_jacobian_bytes` bounds the float64 Jacobian rows
// held at once (two chunks of them). When one chunk holds every row each row is computed once; otherwise chunk b
// is recomputed for each chunk a <= b (n_chunks (n_chunks + 1) / 2 chunk passes, one backward pass per row).
torch::Tensor empirical_ntk_gram(const std::function<torch::Tensor(const torch::Tensor&)>& output,
                                 const std::vector<torch::Tensor>& params, const torch::Tensor& images,
                                 int64_t max_jacobian_bytes);

// Jacobian rows per chunk under `max_jacobian_bytes` (float64 rows; two chunks share the budget when one cannot
// hold them all): at least 1, at most `images`.
int64_t ntk_chunk_rows(int64_t parameters, int64_t images, int64_t max_jacobian_bytes);

}  // namespace ddb
