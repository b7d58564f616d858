#include "methods/matching/cvar.h"

#include <cmath>

#include "core/errors.h"

namespace ddb {

torch::Tensor cvar(const torch::Tensor& losses, double alpha) {
  if (!(alpha > 0.0 && alpha <= 1.0)) throw UserError("CVaR: alpha must be in (0, 1], got " + std::to_string(alpha));
  if (losses.dim() != 1 || losses.size(0) < 1) throw UserError("CVaR: needs a non-empty 1-D tensor of losses");
  const int64_t n = losses.size(0);
  const torch::Tensor sorted = std::get<0>(losses.sort());
  // The quantile's 1-based rank: the smallest r with r/n >= alpha (the epsilon keeps 0.7 * 10 at 7).
  const int64_t r = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(alpha * static_cast<double>(n) - 1e-9)));
  const torch::Tensor f = sorted[r - 1];
  const torch::Tensor inside = sorted <= f.detach();  // ties with the quantile count as inside
  const double k = inside.sum().item<double>();
  const double nd = static_cast<double>(n);
  return (torch::where(inside, sorted, torch::zeros_like(sorted)).sum() / nd + f * (alpha - k / nd)) / alpha;
}

}  // namespace ddb
