// RDD's CVaR (methods/matching/cvar.h) against hand computations.
#include <gtest/gtest.h>

#include "core/errors.h"
#include "methods/matching/cvar.h"

using namespace ddb;

namespace {
torch::Tensor losses(std::vector<double> v) { return torch::tensor(v, torch::kDouble); }
}  // namespace

TEST(Cvar, MeanOfTheLowestAlphaFraction) {
  // 1..10 shuffled: alpha 0.8 keeps 1..8 whole.
  EXPECT_NEAR(cvar(losses({7, 2, 9, 1, 10, 4, 3, 8, 6, 5}), 0.8).item<double>(), 4.5, 1e-12);
  // alpha = 1: the mean.
  EXPECT_NEAR(cvar(losses({7, 2, 9, 1, 10, 4, 3, 8, 6, 5}), 1.0).item<double>(), 5.5, 1e-12);
  // alpha * n = 2.5: 1 and 2 whole, half of 3: (1 + 2 + 1.5) / 2.5.
  EXPECT_NEAR(cvar(losses({3, 1, 2, 4, 5, 6, 7, 8, 9, 10}), 0.25).item<double>(), 1.8, 1e-12);
  // 0.7 * 10 is 7.000000000000001 in doubles: still the lowest 7 whole.
  EXPECT_NEAR(cvar(losses({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}), 0.7).item<double>(), 4.0, 1e-12);
  // One sample: its loss, whatever alpha.
  EXPECT_NEAR(cvar(losses({2.5}), 0.3).item<double>(), 2.5, 1e-12);
}

TEST(Cvar, TiesAtTheQuantileCountByMass) {
  // [1, 2, 2, 2, 5], alpha 0.5: 1 and 2 whole, half of a 2 -> (1 + 2 + 1) / 2.5 = 1.6, not the mean of {1,2,2,2}.
  EXPECT_NEAR(cvar(losses({2, 5, 1, 2, 2}), 0.5).item<double>(), 1.6, 1e-12);
  // All equal: that value.
  EXPECT_NEAR(cvar(losses({3, 3, 3, 3}), 0.8).item<double>(), 3.0, 1e-12);
}

TEST(Cvar, GradientWeightsTheTailByMass) {
  torch::Tensor l = losses({3, 1, 2, 4, 5, 6, 7, 8, 9, 10}).requires_grad_(true);
  cvar(l, 0.25).backward();
  // d/dl: 1/2.5 for the two smallest, 0.5/2.5 for the boundary one, 0 above.
  const std::vector<double> want{0.2, 0.4, 0.4, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = 0; i < 10; ++i) EXPECT_NEAR(l.grad()[i].item<double>(), want[static_cast<size_t>(i)], 1e-12) << i;
}

TEST(Cvar, RejectsAlphaOutsideTheUnitIntervalAndEmptyInput) {
  EXPECT_THROW(cvar(losses({1, 2}), 0.0), UserError);
  EXPECT_THROW(cvar(losses({1, 2}), 1.5), UserError);
  EXPECT_THROW(cvar(torch::empty({0}, torch::kDouble), 0.5), UserError);
}
