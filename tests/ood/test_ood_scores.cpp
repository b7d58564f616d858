// OOD scores on logits (harness/ood_scores.h): values against hand computation, "higher = InD".
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

#include "harness/ood_metrics.h"
#include "harness/ood_scores.h"

namespace ddb {
namespace {

TEST(OodScores, HandValues) {
  auto z = torch::tensor({{2.0, 0.0, 0.0}, {0.0, 0.0, 0.0}, {-1.0, 3.0, 1.0}}, torch::kDouble);
  const double e2 = std::exp(2.0);
  auto msp = score_vector(msp_score(z));
  EXPECT_NEAR(msp[0], e2 / (e2 + 2), 1e-12);
  EXPECT_NEAR(msp[1], 1.0 / 3, 1e-12);
  auto mls = score_vector(max_logit_score(z));
  EXPECT_EQ(mls, (std::vector<double>{2.0, 0.0, 3.0}));
  auto en = score_vector(energy_score(z));
  EXPECT_NEAR(en[1], std::log(3.0), 1e-12);
  EXPECT_NEAR(en[2], std::log(std::exp(-1.0) + std::exp(3.0) + std::exp(1.0)), 1e-12);
  // T * logsumexp(z / T)
  auto en2 = score_vector(energy_score(z, 2.0));
  EXPECT_NEAR(en2[0], 2 * std::log(std::exp(1.0) + 2), 1e-12);
  EXPECT_EQ(msp_score(z).dim(), 1);
  EXPECT_EQ(msp_score(z.to(torch::kFloat)).scalar_type(), torch::kFloat);  // kept in the logits' dtype
}

TEST(OodScores, ByNameAndUnknownName) {
  auto z = torch::randn({5, 4});
  EXPECT_TRUE(torch::equal(ood_score("mls", z), max_logit_score(z)));
  EXPECT_TRUE(torch::allclose(ood_score("energy", z, 0.5), energy_score(z, 0.5)));
  try {
    ood_score("odin", z);
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("msp, mls, energy"), std::string::npos);
  }
  EXPECT_THROW(energy_score(z, 0.0), std::invalid_argument);
  EXPECT_THROW(msp_score(torch::randn({5})), std::invalid_argument);
}

// Confident logits score higher than flat ones under all three: "higher = more in-distribution".
TEST(OodScores, ConfidentIsMoreInDistribution) {
  torch::manual_seed(0);
  auto confident = torch::randn({50, 10}) + 8 * torch::nn::functional::one_hot(torch::randint(10, {50}), 10);
  auto flat = 0.1 * torch::randn({50, 10});
  for (const auto& name : ood_score_names()) {
    const auto m = ood_metrics(score_vector(ood_score(name, confident)), score_vector(ood_score(name, flat)));
    EXPECT_EQ(m.auroc, 100.0) << name;
  }
}

}  // namespace
}  // namespace ddb
