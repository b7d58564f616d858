// Dataset Distillation (methods/bilevel/dd.cpp, harness/protocols/dd.cpp): the reference's network
// initialisation, the method on generated data (images and per-step lrs both learned, and better than
// where they started) and its evaluation protocol's checks.
#include <gtest/gtest.h>

#include <cmath>

#include "harness/eval_protocol.h"
#include "harness/nets/net.h"
#include "harness/protocols/dd.h"
#include "methods/method.h"
#include "../protocols/toy_sets.h"

namespace ddb {
namespace {

using testing_support::toy28;

TEST(DdInitialise, XavierNormalWeightsAndZeroBiases) {
  torch::manual_seed(3);
  Net net = make_net("AlexCifarNet", {3, 32, 32}, 10);
  dd_initialise(*net);
  auto params = net->named_parameters();
  EXPECT_EQ(params["fc1.bias"].abs().max().item<float>(), 0.0f);
  EXPECT_EQ(params["features.0.bias"].abs().max().item<float>(), 0.0f);
  // xavier_normal_: std = sqrt(2 / (fan_in + fan_out)); fc1 is 384 x 4096.
  const double expected = std::sqrt(2.0 / (4096 + 384));
  EXPECT_NEAR(params["fc1.weight"].std().item<double>(), expected, 0.02 * expected);
  // conv 64 x 3 x 5 x 5: fan_in 75, fan_out 1600.
  const double conv_expected = std::sqrt(2.0 / (75 + 1600));
  EXPECT_NEAR(params["features.0.weight"].std().item<double>(), conv_expected, 0.05 * conv_expected);
}

SyntheticSet distill_dd(const json& options, int64_t ipc) {
  const MethodInfo& info = MethodRegistry::instance().get("dd");
  DistillContext ctx{toy28()};
  ctx.ipc = ipc;
  ctx.net = "MLP";
  ctx.options = Options(resolve_options(info, options));
  torch::manual_seed(21);
  return info.make()->distill(ctx);
}

double dd_accuracy(const SyntheticSet& set) {
  const EvalSpec spec = EvalSpec::from_json({{"protocol", "dd"}, {"net", "MLP"}});
  double sum = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) sum += evaluate_once(set, toy28(), spec, seed, torch::kCPU).accuracy;
  return sum / 3;
}

TEST(DdMethod, LearnsImagesAndStepLrsThatTrainFreshNetworks) {
  const SyntheticSet set = distill_dd({{"steps", 2}, {"step_epochs", 2}, {"epochs", 10}, {"batch_real", 250}, {"lr_img", 0.05}}, 2);
  ASSERT_EQ(set.images.sizes(), (std::vector<int64_t>{20, 1, 28, 28}));
  // Two blocks, one image per class each, class-major within a block.
  EXPECT_TRUE(torch::equal(set.labels, torch::arange(10).repeat({2})));
  const DdSteps steps = dd_steps_of(set);
  EXPECT_EQ(steps.steps, 2);
  EXPECT_EQ(steps.epochs, 2);
  ASSERT_EQ(steps.lrs.size(), 4u);
  for (double lr : steps.lrs) {
    EXPECT_GT(lr, 0);
    EXPECT_NE(lr, 0.02) << "the lrs are learned (one-channel data starts at the reference's 0.02)";
  }
  // Fresh networks trained by the 4 learned steps beat the same steps on the starting point (randn images
  // at the initial lr) by a wide margin.
  SyntheticSet start = set;
  torch::manual_seed(21);
  start.images = torch::randn_like(set.images);
  start.meta["dd"]["lrs"] = std::vector<double>(4, 0.02);
  const double learned = dd_accuracy(set), initial = dd_accuracy(start);
  EXPECT_GT(learned, initial + 20) << "learned " << learned << " initial " << initial;
}

TEST(DdMethod, IpcMustSplitIntoTheSteps) {
  try {
    distill_dd({{"steps", 10}, {"epochs", 1}}, 3);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of steps 10"), std::string::npos) << e.what();
  }
}

TEST(DdProtocol, NeedsAFittingRecord) {
  SyntheticSet set;
  set.images = torch::randn({20, 1, 28, 28});
  set.labels = torch::arange(10).repeat({2});
  const EvalSpec spec = EvalSpec::from_json({{"protocol", "dd"}, {"net", "MLP"}});
  EXPECT_THROW(evaluate_once(set, toy28(), spec, 1, torch::kCPU), UserError);
  set.meta["dd"] = {{"steps", 2}, {"epochs", 3}, {"lrs", std::vector<double>(5, 0.01)}};  // 6 expected
  try {
    evaluate_once(set, toy28(), spec, 1, torch::kCPU);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("5 lrs"), std::string::npos) << e.what();
  }
  set.meta["dd"]["lrs"] = std::vector<double>(6, 0.01);
  const EvalRunResult a = evaluate_once(set, toy28(), spec, 4, torch::kCPU);
  const EvalRunResult b = evaluate_once(set, toy28(), spec, 4, torch::kCPU);
  EXPECT_EQ(a.accuracy, b.accuracy);
}

}  // namespace
}  // namespace ddb
