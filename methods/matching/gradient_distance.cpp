#include "methods/matching/gradient_distance.h"

namespace ddb {

namespace {

// 1e-6 added to the product of norms, as the reference writes it (`+ 0.000001`), not a clamp.
constexpr double kEps = 1e-6;

// Rows = output units: sum over rows of 1 - cos(row_real, row_syn). (distance_wb)
torch::Tensor rowwise_cosine_distance(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor dot = (a * b).sum(-1);
  const torch::Tensor norms = a.norm(2, -1) * b.norm(2, -1) + kEps;
  return (1 - dot / norms).sum();
}

torch::Tensor as_rows(const torch::Tensor& g) {
  // 4-D conv (out, in, h, w) -> (out, in*h*w); 3-D (C, h, w) -> (C, h*w); 2-D linear as is.
  return g.dim() == 2 ? g : g.reshape({g.size(0), -1});
}

torch::Tensor flat_concat(const std::vector<torch::Tensor>& gs) {
  std::vector<torch::Tensor> flat;
  flat.reserve(gs.size());
  for (const auto& g : gs) flat.push_back(g.reshape({-1}));
  return torch::cat(flat);
}

}  // namespace

const std::vector<std::string>& gradient_distance_metrics() {
  static const std::vector<std::string> names{"ours", "mse", "cos"};
  return names;
}

void check_gradient_distance_metric(const std::string& metric) {
  for (const auto& m : gradient_distance_metrics())
    if (m == metric) return;
  std::string valid;
  for (const auto& m : gradient_distance_metrics()) valid += (valid.empty() ? "" : ", ") + m;
  throw UserError("unknown gradient distance (dis_metric) '" + metric + "'; valid: " + valid);
}

std::vector<torch::Tensor> gradient_distance_terms(const std::vector<torch::Tensor>& g_real,
                                                   const std::vector<torch::Tensor>& g_syn,
                                                   const std::string& metric) {
  check_gradient_distance_metric(metric);
  if (g_real.size() != g_syn.size())
    throw std::invalid_argument("gradient_distance_terms: " + std::to_string(g_real.size()) + " real vs " +
                                std::to_string(g_syn.size()) + " synthetic gradients");
  std::vector<torch::Tensor> terms;
  if (metric == "cos") {
    const torch::Tensor r = flat_concat(g_real), s = flat_concat(g_syn);
    terms.push_back(1 - (r * s).sum() / (r.norm() * s.norm() + kEps));
    return terms;
  }
  for (size_t i = 0; i < g_real.size(); ++i) {
    const torch::Tensor& r = g_real[i];
    const torch::Tensor& s = g_syn[i];
    if (metric == "mse") {
      terms.push_back((s - r).pow(2).sum());
    } else if (r.dim() >= 2) {  // ours; 1-D parameters are ignored by distance_wb
      terms.push_back(rowwise_cosine_distance(as_rows(r), as_rows(s)));
    }
  }
  return terms;
}

}  // namespace ddb
