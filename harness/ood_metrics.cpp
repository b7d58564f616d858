// ddbench: torch-free
#include "harness/ood_metrics.h"

#include "harness/metrics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace ddb {
namespace {

// sklearn's _binary_clf_curve: one point per distinct score, thresholds decreasing; tps/fps count the
// positives/negatives scoring >= the threshold. Every tie group is a single point, so tied InD and OOD
// samples are accepted or rejected together (that is what makes ties count one half in AUROC).
struct Curve {
  std::vector<double> tps, fps;
};

Curve binary_curve(const std::vector<double>& pos, const std::vector<double>& neg) {
  if (pos.empty() || neg.empty())
    throw std::invalid_argument("ood metrics need at least one in-distribution and one OOD score");
  std::vector<std::pair<double, bool>> s;  // (score, is_positive)
  s.reserve(pos.size() + neg.size());
  for (double v : pos) s.emplace_back(v, true);
  for (double v : neg) s.emplace_back(v, false);
  for (const auto& e : s)
    if (std::isnan(e.first)) throw std::invalid_argument("ood metrics: a score is NaN");
  std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  Curve c;
  double tp = 0, fp = 0;  // counts are integers, exact in double
  for (size_t i = 0; i < s.size(); ++i) {
    (s[i].second ? tp : fp) += 1;
    if (i + 1 == s.size() || s[i + 1].first != s[i].first) {
      c.tps.push_back(tp);
      c.fps.push_back(fp);
    }
  }
  return c;
}

}  // namespace

double auroc(const std::vector<double>& positives, const std::vector<double>& negatives) {
  // Trapezoids between consecutive curve points from (0,0): a tie group contributes a diagonal step,
  // i.e. one half per tied (pos, neg) pair. sklearn's drop_intermediate only removes collinear points,
  // which leaves the area unchanged.
  const Curve c = binary_curve(positives, negatives);
  double area = 0, tp0 = 0, fp0 = 0;
  for (size_t i = 0; i < c.tps.size(); ++i) {
    area += (c.fps[i] - fp0) * (c.tps[i] + tp0) / 2;
    tp0 = c.tps[i];
    fp0 = c.fps[i];
  }
  return area / (tp0 * fp0);
}

double average_precision(const std::vector<double>& positives, const std::vector<double>& negatives) {
  // sklearn's step-wise sum: sum_k (R_k - R_{k-1}) * P_k over distinct thresholds, no interpolation.
  const Curve c = binary_curve(positives, negatives);
  const double n_pos = c.tps.back();
  double ap = 0, tp0 = 0;
  for (size_t i = 0; i < c.tps.size(); ++i) {
    ap += (c.tps[i] - tp0) / n_pos * (c.tps[i] / (c.tps[i] + c.fps[i]));
    tp0 = c.tps[i];
  }
  return ap;
}

double fpr_at_recall(const std::vector<double>& positives, const std::vector<double>& negatives,
                     double recall_level) {
  // The reference keeps the unthinned curve up to the first point of full recall and searches it from
  // there towards the highest threshold, taking the first minimum of |recall - level|. So when several
  // thresholds share the nearest recall (a plateau: only OOD samples between them), it reports the
  // LOWEST of them, i.e. the largest FPR on the plateau. A roc_curve-based reading would pick the
  // other end (tests/ood/test_ood_metrics.cpp "ten_ind": 83.3 % here vs 16.7 %). The appended
  // (recall 1, fps 0) point of the reference can never win: the first searched point already has
  // recall 1. recall is computed as tps / n_pos in double exactly as numpy does, so near-ties of
  // |recall - level| (e.g. 0.9 vs 1.0 around 0.95) resolve the same way.
  const Curve c = binary_curve(positives, negatives);
  const double n_pos = c.tps.back();
  const size_t first_full = static_cast<size_t>(
      std::lower_bound(c.tps.begin(), c.tps.end(), n_pos) - c.tps.begin());
  size_t best = first_full;
  double best_dist = std::abs(c.tps[first_full] / n_pos - recall_level);
  for (size_t k = first_full; k-- > 0;) {
    const double d = std::abs(c.tps[k] / n_pos - recall_level);
    if (d < best_dist) {
      best_dist = d;
      best = k;
    }
  }
  return c.fps[best] / static_cast<double>(negatives.size());
}

OodMetrics ood_metrics(const std::vector<double>& ind_scores, const std::vector<double>& ood_scores) {
  std::vector<double> neg_ind(ind_scores.size()), neg_ood(ood_scores.size());
  std::transform(ind_scores.begin(), ind_scores.end(), neg_ind.begin(), [](double v) { return -v; });
  std::transform(ood_scores.begin(), ood_scores.end(), neg_ood.begin(), [](double v) { return -v; });
  OodMetrics m;
  m.fpr95 = 100 * fpr_at_recall(ind_scores, ood_scores, 0.95);
  m.auroc = 100 * auroc(ind_scores, ood_scores);
  m.aupr_in = 100 * average_precision(ind_scores, ood_scores);
  m.aupr_out = 100 * average_precision(neg_ood, neg_ind);  // OOD positive, higher = more OOD
  return m;
}

// What the `trustdd` protocol reports per OOD set and score (rows "auroc:msp@textures").
DDBENCH_REGISTER_METRIC(MetricInfo{"fpr95", false, "%", "false-positive rate of OOD samples at 95% TPR on in-distribution"});
DDBENCH_REGISTER_METRIC(MetricInfo{"auroc", true, "%", "area under the ROC curve, InD (positive) vs OOD"});
DDBENCH_REGISTER_METRIC(MetricInfo{"aupr_in", true, "%", "average precision, InD as positive"});
DDBENCH_REGISTER_METRIC(MetricInfo{"aupr_out", true, "%", "average precision, OOD as positive (negated scores)"});

}  // namespace ddb
