// PDD (progressive dataset distillation on MTT): frozen earlier images in the matching loop, the staged
// method (stage 1 of a P-stage run is the 1-stage run; later stages' experts start where the previous
// stage's started, are cached and reused), the carried momentum and the progressive `pdd` protocol.
#include <gtest/gtest.h>

#include <algorithm>

#include "../datasets/fixtures.h"
#include "harness/eval_protocol.h"
#include "harness/protocols/pdd.h"
#include "methods/trajectory/experts.h"
#include "methods/trajectory/trajectory_matching.h"
#include "toy_experts.h"

using namespace ddb;
using ddb::testing_toy::toy;
using ddb::testing_toy::toy_trajectory;

namespace {

json small_mtt() {
  return {{"iterations", 3},        {"syn_steps", 2},   {"expert_epochs", 1}, {"max_start_epoch", 2},
          {"lr_img", 100.0},        {"lr_lr", 1e-6},    {"num_experts", 2},   {"expert_train_epochs", 3},
          {"dsa_strategy", "none"}, {"batch_syn", 0}};
}

TEST(TrajectoryMatching, FrozenEarlierImagesStayAsTheyWereAndComeFirst) {
  const Options o(resolve_options(MethodRegistry::instance().get("mtt"), small_mtt()));
  const TrajectoryConfig cfg = TrajectoryConfig::from("mtt", o);
  static const std::vector<torch::Tensor> traj = toy_trajectory("ConvNetW32", 3);
  const ExpertSource src{1, [](int64_t) { return traj; }};
  torch::manual_seed(3);
  SyntheticSet frozen;
  frozen.images = torch::randn({10, 1, 28, 28});
  frozen.labels = torch::arange(10);
  torch::manual_seed(4);
  const DistillContext ctx{toy(), 1, "ConvNetW32", o, 4};
  torch::Tensor first;
  const SyntheticSet out = run_trajectory_matching(cfg, ctx, src, [&](int64_t it, const torch::Tensor& x) {
    if (it == -1) first = x.clone();
  }, nullptr, nullptr, &frozen);
  ASSERT_EQ(out.size(), 20);
  EXPECT_TRUE(torch::equal(out.images.narrow(0, 0, 10), frozen.images));
  EXPECT_TRUE(torch::equal(out.labels, torch::cat({torch::arange(10), torch::arange(10)})));
  EXPECT_GT((out.images.narrow(0, 10, 10) - first.narrow(0, 10, 10)).abs().max().item<double>(), 1e-6);
  EXPECT_EQ(out.meta.at("frozen_images").get<int64_t>(), 10);
}

TEST(TrainClassifier, CarriedMomentumMakesTwoCallsOneTraining) {
  // 2 epochs in one call == 1 epoch + 1 epoch with the momentum carried (same data order); without the
  // carry the second call restarts its momentum and ends elsewhere.
  const auto& d = toy();
  const torch::Tensor x = d.train.images.narrow(0, 0, 40), y = d.train.labels.narrow(0, 0, 40);
  TrainSchedule s;
  s.epochs = 2;
  s.extra_epoch = false;
  s.lr_drop = false;
  s.batch = 16;
  auto train = [&](int calls, bool carry) {
    torch::manual_seed(7);
    Net net = make_net("ConvNetW32", d.info.shape, d.info.num_classes);
    std::vector<torch::Tensor> momentum;
    TrainSchedule each = s;
    each.epochs = s.epochs / calls;
    if (carry) each.carried_momentum = &momentum;
    for (int c = 0; c < calls; ++c) train_classifier(*net, x, y, each);
    if (carry) EXPECT_EQ(momentum.size(), net->parameters().size());
    return flatten_parameters(*net);
  };
  const torch::Tensor whole = train(1, false);
  EXPECT_TRUE(torch::allclose(train(2, true), whole, 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(train(2, false), whole, 1e-5, 1e-6));
}

TEST(PddProtocol, StageScheduleDropsTheLrInPlaceAfterEpochHalfPlusOne) {
  TrainSchedule base;
  base.epochs = 10;
  const TrainSchedule s = pdd_stage_schedule(base, 0.02);
  EXPECT_EQ(total_epochs(s), 11);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 6), 0.02);  // epoch 10//2 + 1 = 6 still trains at the full lr
  EXPECT_NEAR(scheduled_lr(s, 7), 0.002, 1e-12);
  EXPECT_FALSE(s.lr_drop);  // in place: the momentum survives the drop
  EXPECT_DOUBLE_EQ(s.momentum, 0.9);
  EXPECT_DOUBLE_EQ(s.weight_decay, 5e-4);
}

SyntheticSet toy_union(int64_t per_stage, int64_t stages) {
  torch::manual_seed(5);
  SyntheticSet set;
  std::vector<torch::Tensor> imgs, labs;
  for (int64_t k = 0; k < stages; ++k)
    for (int64_t c = 0; c < toy().info.num_classes; ++c) {
      imgs.push_back(toy().sample_class(c, per_stage));
      labs.push_back(torch::full({per_stage}, c, torch::kLong));
    }
  set.images = torch::cat(imgs);
  set.labels = torch::cat(labs);
  return set;
}

TEST(PddProtocol, TrainsStageByStageAndRefusesSetsWithoutStages) {
  SyntheticSet set = toy_union(2, 2);
  EvalSpec spec;
  spec.protocol = "pdd";
  spec.net = "ConvNetW32";
  spec.epochs = 20;
  spec.augment = "none";
  EXPECT_THROW(evaluate_once(set, toy(), spec, 1, torch::kCPU), UserError);  // no meta.pdd
  record_pdd_stages(set, {{20, 10}, {0.01, 0.01}});
  EXPECT_THROW(evaluate_once(set, toy(), spec, 1, torch::kCPU), UserError);  // 30 != 40 images
  record_pdd_stages(set, {{20, 20}, {0.01, 0.005}});
  std::vector<std::string> phases;
  const EvalRunResult r = evaluate_once(set, toy(), spec, 1, torch::kCPU, [&](const std::string& p, long, long) {
    if (phases.empty() || phases.back() != p) phases.push_back(p);
  });
  EXPECT_GT(r.accuracy, 50.0);  // toy28's classes are easy; chance is 10
  auto saw = [&](const std::string& what) {
    return std::any_of(phases.begin(), phases.end(), [&](const std::string& p) { return p.find(what) != std::string::npos; });
  };
  EXPECT_TRUE(saw("stage 1/2"));
  EXPECT_TRUE(saw("stage 2/2"));
}

SyntheticSet run_pdd(const json& options, int64_t ipc, const std::string& cache) {
  const Options o(resolve_options(MethodRegistry::instance().get("pdd"), options));
  torch::manual_seed(11);
  DistillContext ctx{toy(), ipc, "ConvNetW32", o, 11};
  ctx.cache_dir = cache;
  return MethodRegistry::instance().get("pdd").make()->distill(ctx);
}

TEST(Pdd, StageOneOfTwoIsTheOneStageRunAndLaterExpertsAreCachedAndReused) {
  ddb_test_fixtures::TempDir tmp;
  json o = small_mtt();
  o["stage_train_epochs"] = 2;
  o["expert_images_per_class"] = 5;
  o["stages"] = 1;
  const SyntheticSet one = run_pdd(o, 1, tmp / "cache");
  o["stages"] = 2;
  const SyntheticSet two = run_pdd(o, 2, tmp / "cache");
  ASSERT_EQ(two.size(), 20);
  EXPECT_TRUE(torch::equal(two.images.narrow(0, 0, 10), one.images));  // stage 1, then frozen
  const PddStages st = pdd_stages_of(two);
  EXPECT_EQ(st.sizes, (std::vector<int64_t>{10, 10}));
  EXPECT_NEAR(st.lrs[0], one.learned_lr.item<double>(), 1e-9);
  const json& next = two.meta.at("pdd").at("per_stage").at(0).at("next_stage_experts");
  EXPECT_EQ(next.at("trained_now").get<int64_t>(), 2);
  // Stage 2's experts: max_start_epoch + expert_epochs + 1 = 4 real epochs after the union training.
  const Trajectory t = load_trajectory_file(next.at("dir").get<std::string>() + "/expert_0.pt");
  EXPECT_EQ(t.snapshots.size(), 5u);
  // A second run finds them and draws the same stream: the same set.
  const SyntheticSet again = run_pdd(o, 2, tmp / "cache");
  EXPECT_EQ(again.meta.at("pdd").at("per_stage").at(0).at("next_stage_experts").at("trained_now").get<int64_t>(), 0);
  EXPECT_TRUE(torch::equal(again.images, two.images));
}

TEST(Pdd, RddIsRecordedAndKeysTheLaterStagesExpertsAndBadSettingsAreRefused) {
  ddb_test_fixtures::TempDir tmp;
  json o = small_mtt();
  o["stage_train_epochs"] = 0;
  o["expert_images_per_class"] = 5;
  o["stages"] = 2;
  o["rdd"] = true;
  o["cvar_every"] = 1;
  // Wiring only: RDD is recorded and its stage experts are keyed apart from the plain ones. What its loss does
  // to a network update is the rdd modifier's tests' (tests/matching).
  const SyntheticSet r = run_pdd(o, 2, tmp / "cache");
  EXPECT_NE(r.meta.at("pdd").at("rdd_on").get<std::string>(), "off");
  o["rdd"] = false;
  const SyntheticSet plain = run_pdd(o, 2, tmp / "cache");
  EXPECT_EQ(plain.meta.at("pdd").at("rdd_on").get<std::string>(), "off");
  EXPECT_NE(r.meta.at("pdd").at("per_stage").at(0).at("next_stage_experts").at("dir"),
            plain.meta.at("pdd").at("per_stage").at(0).at("next_stage_experts").at("dir"));
  EXPECT_THROW(run_pdd(o, 3, tmp / "cache"), UserError);  // 3 images per class in 2 stages
  o["base"] = "idc";
  EXPECT_THROW(run_pdd(o, 2, tmp / "cache"), UserError);
}

}  // namespace
