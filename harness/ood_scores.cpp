#include "harness/ood_scores.h"

#include <stdexcept>

namespace ddb {
namespace {

torch::Tensor checked(const torch::Tensor& logits) {
  if (logits.dim() != 2 || logits.size(1) < 1)
    throw std::invalid_argument("ood scores need N x K logits");
  // Kept in the logits' dtype, not promoted to double: the reference takes softmax of the net's float32
  // output, where confident samples saturate to exactly 1.0f and become ties, and the metrics are
  // tie-sensitive. Promoting would separate those ties and move MSP's FPR95/AUROC off the reference.
  return logits.detach();
}

}  // namespace

torch::Tensor msp_score(const torch::Tensor& logits) {
  return std::get<0>(torch::softmax(checked(logits), 1).max(1));
}

torch::Tensor max_logit_score(const torch::Tensor& logits) { return std::get<0>(checked(logits).max(1)); }

torch::Tensor energy_score(const torch::Tensor& logits, double temperature) {
  if (!(temperature > 0)) throw std::invalid_argument("energy score: temperature must be > 0");
  return temperature * torch::logsumexp(checked(logits) / temperature, 1);
}

const std::vector<std::string>& ood_score_names() {
  static const std::vector<std::string> names{"msp", "mls", "energy"};
  return names;
}

torch::Tensor ood_score(const std::string& name, const torch::Tensor& logits, double temperature) {
  if (name == "msp") return msp_score(logits);
  if (name == "mls") return max_logit_score(logits);
  if (name == "energy") return energy_score(logits, temperature);
  throw std::invalid_argument("unknown OOD score '" + name + "'; valid: msp, mls, energy");
}

std::vector<double> score_vector(const torch::Tensor& scores) {
  auto s = scores.detach().to(torch::kCPU, torch::kDouble).contiguous().reshape({-1});
  return {s.data_ptr<double>(), s.data_ptr<double>() + s.numel()};
}

}  // namespace ddb
