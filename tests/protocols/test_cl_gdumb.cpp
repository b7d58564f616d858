// The cl_gdumb protocol (harness/protocols/cl_gdumb.cpp): DM's class-incremental evaluation.
#include <gtest/gtest.h>

#include <set>

#include "datasets/registry.h"
#include "toy_sets.h"
#include "harness/eval_protocol.h"

namespace ddb {
namespace {

const LoadedDataset& toy() { return testing_support::toy28(); }

SyntheticSet real_set(int64_t ipc) { return testing_support::toy28_real_set(ipc); }

EvalSpec cl_spec(int64_t steps) {
  return EvalSpec::from_json(json{{"protocol", "cl_gdumb"}, {"net", "ConvNetW32"}, {"epochs", 5}, {"steps", steps}});
}

TEST(ClGdumb, OneRowPerStepAndTheLastIsTheAccuracy) {
  const EvalRunResult r = evaluate_once(real_set(5), toy(), cl_spec(5), 3, torch::kCPU);
  ASSERT_EQ(r.values.size(), 6u);
  EXPECT_EQ(r.values[0].metric, "accuracy");
  for (int k = 1; k <= 5; ++k) EXPECT_EQ(r.values[k].metric, "accuracy@step" + std::to_string(k));
  EXPECT_DOUBLE_EQ(r.values[0].value, r.values[5].value);
  // Step 1 is a 2-class problem on the test images of those 2 classes: far above 10%.
  EXPECT_GT(r.values[1].value, 50.0);
}

TEST(ClGdumb, AStepSeesOnlyTheClassesOfItsStepsSoFar) {
  // The run's class order is the first draw of its stream (torch::randperm after manual_seed(seed)).
  const uint64_t seed = 3;
  torch::manual_seed(seed);
  const torch::Tensor order = torch::randperm(10, torch::kLong);
  const std::set<int64_t> first{order[0].item<int64_t>(), order[1].item<int64_t>()};
  SyntheticSet clean = real_set(5), poisoned = real_set(5);
  for (int64_t i = 0; i < poisoned.size(); ++i)
    if (!first.count(poisoned.labels[i].item<int64_t>())) poisoned.images[i].normal_(0, 3);
  const EvalRunResult a = evaluate_once(clean, toy(), cl_spec(5), seed, torch::kCPU);
  const EvalRunResult b = evaluate_once(poisoned, toy(), cl_spec(5), seed, torch::kCPU);
  EXPECT_DOUBLE_EQ(a.values[1].value, b.values[1].value) << "step 1 trained on a later class's images";
  EXPECT_NE(a.values[5].value, b.values[5].value) << "the last step trains on every class";
}

TEST(ClGdumb, StepsAreRequiredAndItsOwn) {
  EXPECT_THROW(EvalSpec::from_json(json{{"protocol", "cl_gdumb"}}), UserError);
  EXPECT_THROW(EvalSpec::from_json(json{{"protocol", "dc"}, {"steps", 5}}), UserError);
  EXPECT_EQ(cl_spec(10).to_json().at("steps"), 10);
  EXPECT_FALSE(EvalSpec::from_json(json{{"protocol", "dc"}}).to_json().contains("steps"));
  EXPECT_THROW(evaluate_once(real_set(1), toy(), cl_spec(11), 1, torch::kCPU), UserError);
}

}  // namespace
}  // namespace ddb
