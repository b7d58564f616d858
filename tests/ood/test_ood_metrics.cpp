// ddbench: torch-free
// OOD metrics (harness/ood_metrics.h) against sklearn. The expected figures were produced once by
// tests/ood/sklearn_reference.py with Debian's python3-sklearn 1.2.1 / numpy 1.24.2
// (roc_auc_score, average_precision_score, and FPR95 re-derived from sklearn's _binary_clf_curve the
// way TrustDD's utils/ood_utils.py fpr_and_fdr_at_recall resolves it) and pasted here; the tests run
// without Python.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/ood_metrics.h"

namespace ddb {
namespace {

struct Case {
  std::string name;
  std::vector<double> ind, ood;
  double fpr95, auroc, aupr_in, aupr_out;  // percent, sklearn
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c{
      // Ties inside and across the two sets.
      {"ties", {0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.5, 0.4, 0.3, 0.2},
       {0.8, 0.6, 0.6, 0.5, 0.35, 0.1, 0.05},
       71.42857142857143, 66.42857142857143, 72.45887445887446, 64.82142857142857},
      {"perfect", {3.0, 2.5, 2.0, 1.5}, {1.0, 0.5, 0.0, -1.0, -2.0}, 0.0, 100.0, 100.0, 100.0},
      {"reversed", {1.0, 0.5, 0.0, -1.0, -2.0}, {3.0, 2.5, 2.0, 1.5},
       100.0, 0.0, 40.34920634920635, 31.795634920634917},
      // One threshold only: AUROC one half, AP the positive share.
      {"all_equal", {0.5, 0.5, 0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}, 100.0, 50.0, 62.5, 37.5},
      {"duplicates", {0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1},
       {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1},
       100.0, 79.33333333333334, 78.88888888888889, 71.08695652173913},
      // Recall 0.9 (nearer 0.95 than 1.0 in double) holds on a plateau of 5 thresholds; the reference
      // takes its lowest one (5 of 6 OOD accepted). sklearn roc_curve (drop_intermediate) would give
      // 16.666666666666664 (the plateau's highest threshold).
      {"ten_ind", {1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.1},
       {0.72, 0.5, 0.3, 0.2, 0.15, 0.05},
       83.33333333333334, 86.66666666666667, 93.30555555555556, 77.5},
      // numpy RandomState(11) normals rounded to 2 decimals (many ties).
      {"random",
       {0.95, 0.54, 0.5, 0.07, 0.6, 0.54, 0.49, 0.66, 0.68, 0.39, 0.42, 0.5, 0.74, 0.71, 0.34, 0.38, 0.75, 0.91, 0.59, 0.46,
        0.82, 0.54, 0.75, 0.91, 0.73, 0.61, 0.75, 0.47, 0.56, 0.49, 0.56, 0.5, 0.56, 0.52, 0.62, 0.61, 0.66, 0.88, 0.29, 0.86},
       {0.35, 0.15, 0.37, 0.42, 0.61, 0.19, 0.44, 0.42, 0.06, 0.16, 0.52, 0.54, 0.62, 0.51, 0.48, 0.42, 0.64, 0.23, 0.37,
        0.48, 0.08, 0.66, 0.24, 0.39, 0.83, 0.23, 0.29, 0.71, 0.18, 0.31, 0.5, 0.49, 0.52, 0.47, 0.67, 0.6, 0.52},
       72.97297297297297, 74.93243243243242, 76.67173320249687, 72.2889826256193},
  };
  return c;
}

TEST(OodMetrics, MatchSklearn) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    const OodMetrics m = ood_metrics(c.ind, c.ood);
    EXPECT_NEAR(m.fpr95, c.fpr95, 1e-9);
    EXPECT_NEAR(m.auroc, c.auroc, 1e-9);
    EXPECT_NEAR(m.aupr_in, c.aupr_in, 1e-9);
    EXPECT_NEAR(m.aupr_out, c.aupr_out, 1e-9);
  }
}

TEST(OodMetrics, OrderOfSamplesDoesNotMatter) {
  const Case& c = cases().back();
  std::vector<double> ind(c.ind.rbegin(), c.ind.rend()), ood(c.ood.rbegin(), c.ood.rend());
  const OodMetrics a = ood_metrics(c.ind, c.ood), b = ood_metrics(ind, ood);
  EXPECT_DOUBLE_EQ(a.fpr95, b.fpr95);
  EXPECT_NEAR(a.auroc, b.auroc, 1e-12);
  EXPECT_NEAR(a.aupr_in, b.aupr_in, 1e-12);
  EXPECT_NEAR(a.aupr_out, b.aupr_out, 1e-12);
}

// A wrong convention is caught: OOD as the positive class gives 100 - AUROC and other AUPRs.
TEST(OodMetrics, SwappedRolesAreDetected) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    const OodMetrics right = ood_metrics(c.ind, c.ood), swapped = ood_metrics(c.ood, c.ind);
    EXPECT_NEAR(swapped.auroc, 100 - right.auroc, 1e-9);
    if (c.name == "ties" || c.name == "random") {
      EXPECT_GT(std::abs(swapped.auroc - c.auroc), 10);
      EXPECT_GT(std::abs(swapped.aupr_in - c.aupr_in), 1);
      EXPECT_GT(std::abs(swapped.fpr95 - c.fpr95), 1);
    }
  }
  // Negated scores (a "lower = InD" score fed as is) is the same mistake.
  const Case& c = cases().front();
  std::vector<double> ni, no;
  for (double v : c.ind) ni.push_back(-v);
  for (double v : c.ood) no.push_back(-v);
  EXPECT_NEAR(ood_metrics(ni, no).auroc, 100 - c.auroc, 1e-9);
}

// AUPR-Out is AUPR-In of the negated problem, as the reference computes it.
TEST(OodMetrics, AuprOutIsTheMirroredAuprIn) {
  for (const auto& c : cases()) {
    std::vector<double> ni, no;
    for (double v : c.ind) ni.push_back(-v);
    for (double v : c.ood) no.push_back(-v);
    EXPECT_NEAR(ood_metrics(c.ind, c.ood).aupr_out, ood_metrics(no, ni).aupr_in, 1e-12) << c.name;
  }
}

TEST(OodMetrics, OtherRecallLevels) {
  const Case& c = cases()[5];  // ten_ind: recall 0.8 only at threshold 0.65 (1 OOD above)
  EXPECT_NEAR(fpr_at_recall(c.ind, c.ood, 0.8), 1.0 / 6, 1e-15);
  EXPECT_NEAR(fpr_at_recall(c.ind, c.ood, 1.0), 5.0 / 6, 1e-15);
}

TEST(OodMetrics, RejectsEmptyOrNaN) {
  EXPECT_THROW(ood_metrics({}, {0.1}), std::invalid_argument);
  EXPECT_THROW(ood_metrics({0.1}, {}), std::invalid_argument);
  EXPECT_THROW(ood_metrics({0.1, std::nan("")}, {0.2}), std::invalid_argument);
}

}  // namespace
}  // namespace ddb
