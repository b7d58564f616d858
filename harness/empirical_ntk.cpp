#include "harness/empirical_ntk.h"

#include <algorithm>

namespace ddb {

int64_t ntk_chunk_rows(int64_t parameters, int64_t images, int64_t max_jacobian_bytes) {
  const int64_t row_bytes = std::max<int64_t>(1, parameters) * static_cast<int64_t>(sizeof(double));
  // One chunk alone when every row fits; otherwise two chunks (a and b) share
  // the budget.
  if (images * row_bytes <= max_jacobian_bytes) return std::max<int64_t>(1, images);
  return std::clamp<int64_t>(max_jacobian_bytes / (2 * row_bytes), 1, images);
}

namespace {

// Rows [from, to) of J: one backward pass per image (per-image gradients cannot
// share a pass).
torch::Tensor jacobian_rows(const std::function<torch::Tensor(const torch::Tensor&)>& output,
                            const std::vector<torch::Tensor>& params, const torch::Tensor& images, int64_t from,
                            int64_t to) {
  int64_t total = 0;
  for (const auto& p : params) total += p.numel();
  torch::Tensor rows = torch::empty({to - from, total}, params.front().options().dtype(torch::kDouble));
  for (int64_t i = from; i < to; ++i) {
    const torch::Tensor out = output(images.slice(0, i, i + 1)).sum();
    const auto grads = torch::autograd::grad({out}, params, /*grad_outputs=*/{}, /*retain_graph=*/false,
                                             /*create_graph=*/false, /*allow_unused=*/true);
    int64_t at = 0;
    for (size_t k = 0; k < params.size(); ++k) {
      const int64_t len = params[k].numel();
      // A parameter the output does not reach (allow_unused) has an undefined
      // gradient: zeros.
      if (grads[k].defined())
        rows[i - from].slice(0, at, at + len).copy_(grads[k].reshape(-1));
      else
        rows[i - from].slice(0, at, at + len).zero_();
      at += len;
    }
  }
  return rows;
}

}  // namespace

torch::Tensor empirical_ntk_gram(const std::function<torch::Tensor(const torch::Tensor&)>& output,
                                 const std::vector<torch::Tensor>& params, const torch::Tensor& images,
                                 int64_t max_jacobian_bytes) {
  if (params.empty()) throw UserError("empirical NTK: the network has no trainable parameters");
  const int64_t n = images.size(0);
  int64_t total = 0;
  for (const auto& p : params) total += p.numel();
  const int64_t chunk = ntk_chunk_rows(total, n, max_jacobian_bytes);
  torch::Tensor gram = torch::zeros({n, n}, torch::TensorOptions().dtype(torch::kDouble).device(images.device()));
  for (int64_t a = 0; a < n; a += chunk) {
    const int64_t a_end = std::min(n, a + chunk);
    const torch::Tensor ja = jacobian_rows(output, params, images, a, a_end);
    gram.slice(0, a, a_end).slice(1, a, a_end).copy_(torch::matmul(ja, ja.t()));
    for (int64_t b = a_end; b < n; b += chunk) {
      const int64_t b_end = std::min(n, b + chunk);
      const torch::Tensor block = torch::matmul(ja, jacobian_rows(output, params, images, b, b_end).t());
      gram.slice(0, a, a_end).slice(1, b, b_end).copy_(block);
      gram.slice(0, b, b_end).slice(1, a, a_end).copy_(block.t());
    }
  }
  return gram;
}

}  // namespace ddb
