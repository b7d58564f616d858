// OOD detection scores on a classifier's logits, as TrustDD's test_ood_model_syn.py computes them
// (utils/ood_utils.py get_ood_scores, --score msp | mls | energy). Every score is "higher = more
// in-distribution"; the reference stores the negation and negates it back for its InD-positive metrics,
// which is the same thing. Feed the results to ood_metrics (harness/ood_metrics.h).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace ddb {

// logits: N x K. Each returns a 1-D tensor of N scores, the logits' dtype and device; no gradient.
torch::Tensor msp_score(const torch::Tensor& logits);                                // max_k softmax(z)_k
torch::Tensor max_logit_score(const torch::Tensor& logits);                          // MLS: max_k z_k
torch::Tensor energy_score(const torch::Tensor& logits, double temperature = 1.0);   // T*logsumexp(z/T)

// By name: "msp", "mls", "energy" (the reference's --score values). temperature is used by energy only.
// Throws std::invalid_argument naming the valid names for any other.
torch::Tensor ood_score(const std::string& name, const torch::Tensor& logits, double temperature = 1.0);
const std::vector<std::string>& ood_score_names();

// A 1-D score tensor as the std::vector<double> ood_metrics takes.
std::vector<double> score_vector(const torch::Tensor& scores);

}  // namespace ddb
