// LD (methods/labels/ld.cpp, harness/protocols/ld.cpp): the restart rule step by step, the CIFAR AlexNet
// it uses, the method on generated data (valid label distributions that moved towards the true classes)
// and its evaluation protocol.
#include <gtest/gtest.h>

#include "harness/eval_protocol.h"
#include "harness/nets/net.h"
#include "harness/protocols/ld.h"
#include "methods/bilevel/ld_restart_rule.h"
#include "methods/method.h"
#include "../protocols/toy_sets.h"

namespace ddb {
namespace {

using testing_support::toy28;

TEST(LdRestartRule, RestartsAfterAWindowWithoutANewMinimumAndRecordsTheStepAtIt) {
  LdRestartRule rule(2);
  EXPECT_FALSE(rule.add(5));  // step 1
  EXPECT_FALSE(rule.add(5));  // step 2: window full, sum 10 is the first minimum
  EXPECT_EQ(rule.steps_for_validation(), 2);
  EXPECT_FALSE(rule.add(4));  // step 3: sum 9, a new minimum
  EXPECT_FALSE(rule.add(6));  // step 4: sum 10, 1 step since
  EXPECT_FALSE(rule.add(6));  // step 5: sum 12, 2 steps since
  EXPECT_TRUE(rule.add(6));   // step 6: no new minimum for the window -> restart
  ASSERT_EQ(rule.recorded_steps(), (std::vector<int64_t>{3}));  // 6 - 2 - 1: the step of the minimum
  EXPECT_EQ(rule.steps_for_validation(), 3);
  // After the restart everything starts again; validation uses the mean of the last three records.
  for (int r = 0; r < 3; ++r) {
    int steps = 0;
    while (!rule.add(r == 0 ? 1 : 7)) ++steps;
    EXPECT_GT(steps, 0);
  }
  ASSERT_EQ(rule.restarts(), 4u);
  const auto& rec = rule.recorded_steps();
  EXPECT_EQ(rule.steps_for_validation(), (rec[1] + rec[2] + rec[3]) / 3);
}

TEST(AlexCifarNet, ReferenceShapesAndParameterCount) {
  Net net = make_net("AlexCifarNet", {3, 32, 32}, 10);
  int64_t count = 0;
  for (const auto& p : net->parameters()) count += p.numel();
  // conv 3*64*25+64, conv 64*64*25+64, Linear(4096,384), Linear(384,192), Linear(192,10).
  EXPECT_EQ(count, 4864 + 102464 + 1573248 + 73920 + 1930);
  EXPECT_EQ(net->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(net->embed(torch::randn({2, 3, 32, 32})).size(1), 192);
  // One channel, 28 px: 7x7 maps into the first Linear.
  Net gray = make_net("AlexCifarNet", {1, 28, 28}, 10);
  EXPECT_EQ(gray->named_parameters()["fc1.weight"].size(1), 64 * 7 * 7);
}

SyntheticSet distill_ld(const json& options, int64_t ipc = 2) {
  const MethodInfo& info = MethodRegistry::instance().get("ld");
  DistillContext ctx{toy28()};
  ctx.ipc = ipc;
  ctx.net = "MLP";
  ctx.options = Options(resolve_options(info, options));
  torch::manual_seed(11);
  return info.make()->distill(ctx);
}

TEST(LdMethod, LearnsLabelDistributionsThatFavourTheTrueClasses) {
  const SyntheticSet set = distill_ld({{"epochs", 6}, {"batch_real", 100}, {"val_size", 200}, {"restart_window", 5},
                                       {"validate_every", 2}, {"lr_labels", 0.01}});
  const int64_t k = toy28().info.num_classes;
  ASSERT_EQ(set.images.sizes(), (std::vector<int64_t>{2 * k, 1, 28, 28}));
  ASSERT_EQ(set.labels.sizes(), (std::vector<int64_t>{2 * k, k}));
  // Valid distributions, no longer uniform.
  EXPECT_TRUE(torch::allclose(set.labels.sum(1), torch::ones({2 * k}), 1e-5, 1e-5));
  EXPECT_GE(set.labels.min().item<float>(), 0.0f);
  EXPECT_GT((set.labels - 1.0 / k).abs().max().item<float>(), 0.05f);
  // The base examples are stored class-major: the learned label's largest entry is mostly the true class
  // (16 of 20 here; chance is 2).
  const torch::Tensor truth = torch::arange(k).repeat_interleave(2);
  EXPECT_GE(set.labels.argmax(1).eq(truth).sum().item<int64_t>(), 12);
  // The learned labels train a fresh network through the ld protocol; the uniform ones they started from
  // teach it nothing.
  const EvalSpec spec = EvalSpec::from_json({{"protocol", "ld"}, {"net", "MLP"}});
  SyntheticSet uniform = set;
  uniform.labels = torch::full_like(set.labels, 1.0 / k);
  const double learned = evaluate_once(set, toy28(), spec, 1, torch::kCPU).accuracy;
  const double start = evaluate_once(uniform, toy28(), spec, 1, torch::kCPU).accuracy;
  EXPECT_GT(learned, start + 30) << "learned " << learned << " uniform " << start;
  // The images are real training images.
  for (int64_t i = 0; i < set.size(); ++i)
    EXPECT_TRUE((toy28().train.images - set.images[i]).abs().flatten(1).amax(1).eq(0).any().item<bool>()) << i;
  // What the evaluation needs, and what happened.
  const LdTraining t = ld_training_of(set);
  EXPECT_GE(t.steps, 1);
  EXPECT_EQ(t.inner_batch, 10);  // min(20, clamp(20/2, 10, 50))
  EXPECT_GT(set.meta["ld"]["restarts"].get<int64_t>(), 0);
  EXPECT_EQ(set.meta["ld"]["val_size"].get<int64_t>(), 200);
}

TEST(LdMethod, DefaultsFollowTheReferenceConfigurations) {
  // A too-large validation split is a clear error, not an empty training part.
  try {
    distill_ld({{"epochs", 1}, {"val_size", 1000}});
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("val_size 1000"), std::string::npos) << e.what();
  }
  // One epoch still validates once (at its end), so the set has a step count; default inner batch for
  // 10 base examples of 10 classes is 10 (the reference's ld_10be_10ib configuration).
  const SyntheticSet one = distill_ld({{"epochs", 1}, {"batch_real", 250}, {"val_size", 100}}, 1);
  EXPECT_EQ(ld_training_of(one).inner_batch, 10);
  EXPECT_EQ(one.meta["ld"]["epochs"].get<int64_t>(), 1);
  EXPECT_EQ(one.meta["ld"]["restart_window"].get<int64_t>(), 50);
}

TEST(LdProtocol, TrainsForTheRecordedStepsAndScoresTheTestSplit) {
  SyntheticSet set = testing_support::toy28_real_set(5);
  set.labels = torch::one_hot(set.labels, 10).to(torch::kFloat);
  EvalSpec spec = EvalSpec::from_json({{"protocol", "ld"}, {"net", "MLP"}});
  // Without LD's record the protocol says what it needs.
  try {
    evaluate_once(set, toy28(), spec, 1, torch::kCPU);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("method 'ld'"), std::string::npos) << e.what();
  }
  set.meta["ld"] = {{"steps", 0}, {"inner_batch", 10}};
  const double untrained = evaluate_once(set, toy28(), spec, 1, torch::kCPU).accuracy;
  set.meta["ld"] = {{"steps", 200}, {"inner_batch", 10}};
  const EvalRunResult a = evaluate_once(set, toy28(), spec, 1, torch::kCPU);
  const EvalRunResult b = evaluate_once(set, toy28(), spec, 1, torch::kCPU);
  EXPECT_GT(a.accuracy, untrained + 30) << untrained;
  EXPECT_EQ(a.accuracy, b.accuracy);  // seeded from the run
  ASSERT_EQ(a.values.size(), 1u);
  EXPECT_EQ(a.values[0].metric, "accuracy");
}

}  // namespace
}  // namespace ddb
