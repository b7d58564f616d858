// ddbench: torch-free
// OOD-detection metrics as the TrustDD evaluation computes them (mashijie1028/TrustDD
// utils/ood_utils.py get_measures / fpr_and_fdr_at_recall, called from test_ood_model_syn.py; that is
// the Hendrycks Outlier-Exposure code on top of sklearn). Scores: higher = more in-distribution;
// InD is the positive class. Checked against sklearn in tests/ood/test_ood_metrics.cpp.
#pragma once
#include <vector>

namespace ddb {

struct OodMetrics {  // all in percent, the names of planned/evaluation.yaml
  double fpr95 = 0;     // % of OOD samples accepted at the threshold where ~95 % of InD is accepted
  double auroc = 0;     // sklearn roc_auc_score, InD positive (ties count one half)
  double aupr_in = 0;   // sklearn average_precision_score, InD positive, on the scores
  double aupr_out = 0;  // sklearn average_precision_score, OOD positive, on the negated scores
};

// Throws std::invalid_argument when either side is empty or a score is NaN (the reference would
// divide by zero or sort NaNs arbitrarily).
OodMetrics ood_metrics(const std::vector<double>& ind_scores, const std::vector<double>& ood_scores);

// The pieces, each in [0, 1] (not percent), for callers that need one measure or another recall level.
// positives / negatives: the scores of the positive / negative class, higher = more positive.
double auroc(const std::vector<double>& positives, const std::vector<double>& negatives);
double average_precision(const std::vector<double>& positives, const std::vector<double>& negatives);
// FPR at the point of the (unthinned) curve whose recall is nearest recall_level, resolved as the
// reference resolves it: see ood_metrics.cpp.
double fpr_at_recall(const std::vector<double>& positives, const std::vector<double>& negatives,
                     double recall_level = 0.95);

}  // namespace ddb
