// DATM and EDF on the trajectory-matching loop: Common Pattern Dropout, the sequential start-epoch
// bound, the loss gate, DATM's initialisation (correctly classified images, soft labels from the correct
// experts), the Discriminative Area Enhancement weight map and hook, and the registered option names.
#include <gtest/gtest.h>

#include "harness/gradcam.h"
#include "harness/set_metrics.h"
#include "methods/trajectory/datm.h"
#include "methods/trajectory/datm_init.h"
#include "methods/trajectory/edf.h"
#include "methods/trajectory/discriminative_area.h"
#include "methods/trajectory/experts.h"
#include "methods/trajectory/trajectory_matching.h"
#include "toy_experts.h"

using namespace ddb;
using ddb::testing_toy::toy;
using ddb::testing_toy::toy_trajectory;

namespace {

// ---------------------------------------------------------------- Common Pattern Dropout

// P = 8 elements; (θ_N − θ*)² = {0,1,4,9,16,25,36,49}(shuffled), (θ_s − θ*)² = 1 each. α = 0.25 drops the
// floor(0.25·8) = 2 smallest (0 and 1): loss = (4+9+16+25+36+49)/6 = 139/6; α = 0: 140/8.
TEST(CommonPatternDropout, DropsTheSmallestPerParameterLossesFromBothSums) {
  const torch::Tensor target = torch::zeros({8});
  const torch::Tensor theta = torch::tensor({3.0, 0.0, 7.0, 1.0, 5.0, 2.0, 6.0, 4.0}).requires_grad_(true);
  const torch::Tensor start = torch::ones({8});
  EXPECT_NEAR(trajectory_match_loss(theta, start, target, 0.0).item<double>(), 140.0 / 8.0, 1e-9);
  const torch::Tensor loss = trajectory_match_loss(theta, start, target, 0.25);
  EXPECT_NEAR(loss.item<double>(), 139.0 / 6.0, 1e-5);
  loss.backward();
  // The dropped elements (values 0 and 1, at positions 1 and 3) get no gradient; the kept get 2θ/6.
  const torch::Tensor g = theta.grad();
  for (int64_t i = 0; i < 8; ++i) {
    const double v = theta[i].item<double>();
    EXPECT_NEAR(g[i].item<double>(), (v <= 1.0 ? 0.0 : 2.0 * v / 6.0), 1e-5) << "element " << i;
  }
}

TEST(CommonPatternDropout, DroppedShareIsFloorOfRatioTimesParameters) {
  torch::manual_seed(3);
  const int64_t p = 1001;
  const torch::Tensor target = torch::randn({p});
  const torch::Tensor start = torch::randn({p});
  for (double ratio : {0.125, 0.25, 0.375, 0.5, 0.75}) {
    for (DropCriterion c : {DropCriterion::Loss, DropCriterion::Random}) {
      const torch::Tensor theta = (target + torch::randn({p})).requires_grad_(true);
      trajectory_match_loss(theta, start, target, ratio, c).backward();
      const int64_t zero = (theta.grad() == 0).sum().item<int64_t>();
      EXPECT_EQ(zero, static_cast<int64_t>(ratio * p)) << "ratio " << ratio;
      if (c == DropCriterion::Loss) {  // every dropped loss is at most every kept one
        const torch::Tensor l = (theta.detach() - target).pow(2);
        const torch::Tensor dropped = theta.grad() == 0;
        EXPECT_LE(l.masked_select(dropped).max().item<double>(), l.masked_select(~dropped).min().item<double>());
      }
    }
  }
}

// Table 7's static criteria (ddbench's reading): the same floor(ratio * P) elements dropped, where the name says.
TEST(CommonPatternDropout, StaticCriteriaDropTheirFixedShareWhereTheNameSays) {
  const std::vector<int64_t> sizes = {10, 3, 7};  // P = 20; ratio 0.25 drops 5
  auto dropped = [&](DropCriterion c) {
    const torch::Tensor keep = static_dropout_keep(c, 0.25, sizes);
    std::vector<int64_t> out;
    std::vector<char> kept(20, 0);
    for (int64_t i = 0; i < keep.numel(); ++i) kept[static_cast<size_t>(keep[i].item<int64_t>())] = 1;
    for (int64_t i = 0; i < 20; ++i)
      if (!kept[static_cast<size_t>(i)]) out.push_back(i);
    return out;
  };
  EXPECT_EQ(dropped(DropCriterion::First), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(dropped(DropCriterion::Last), (std::vector<int64_t>{15, 16, 17, 18, 19}));
  EXPECT_EQ(dropped(DropCriterion::Middle), (std::vector<int64_t>{7, 8, 9, 10, 11}));
  // Uniform: exact shares 2.5, 0.75, 1.75 -> floors 2, 0, 1 (3), the 2 left to the largest remainders (0.75, 0.75):
  // tensor 1 (size 3) and tensor 2 (size 7) -> 2, 1, 2; evenly spaced: {2, 7}, {10 + 1}, {13 + 1, 13 + 5}.
  EXPECT_EQ(dropped(DropCriterion::Uniform), (std::vector<int64_t>{2, 7, 11, 14, 18}));
  // In the loss: the static keep is what counts, with or without it a clear error.
  const torch::Tensor target = torch::zeros({20});
  const torch::Tensor start = torch::ones({20});
  const torch::Tensor theta = torch::arange(20, torch::kFloat32).requires_grad_(true);
  const torch::Tensor keep = static_dropout_keep(DropCriterion::Last, 0.25, sizes);
  trajectory_match_loss(theta, start, target, 0.25, DropCriterion::Last, keep).backward();
  EXPECT_EQ((theta.grad().narrow(0, 15, 5) == 0).sum().item<int64_t>(), 5);
  EXPECT_EQ((theta.grad().narrow(0, 1, 14) != 0).sum().item<int64_t>(), 14);
  EXPECT_THROW(trajectory_match_loss(theta, start, target, 0.25, DropCriterion::Last), std::logic_error);
}

// ---------------------------------------------------------------- sequential generation

TEST(Datm, StartEpochBoundWidensLikeDatmPy) {
  TrajectoryConfig c;
  c.max_start_epoch = 20;
  c.current_max_start_epoch = 10;
  c.expansion_end_epoch = 1000;
  EXPECT_EQ(start_epoch_bound(c, 0), 10);
  EXPECT_EQ(start_epoch_bound(c, 500), 15);
  EXPECT_EQ(start_epoch_bound(c, 999), 19);  // 10 + int(10 * 999 / 1000)
  EXPECT_EQ(start_epoch_bound(c, 1000), 20);
  EXPECT_EQ(start_epoch_bound(c, 9999), 20);
  c.current_max_start_epoch = 0;  // off
  EXPECT_EQ(start_epoch_bound(c, 0), 20);
  // A start bound above max_start_epoch would make DATM.py's window shrink and then fail (randint(0, <= 0)).
  const MethodInfo& info = MethodRegistry::instance().get("datm");
  EXPECT_THROW(datm_config("datm", Options(resolve_options(info, {{"current_max_start_epoch", 20}, {"max_start_epoch", 10}}))),
               UserError);
  EXPECT_NO_THROW(datm_config("datm", Options(resolve_options(info, {{"current_max_start_epoch", 10}, {"max_start_epoch", 20}}))));
}

// ---------------------------------------------------------------- DATM's initialisation

// Expert A: a trained toy trajectory's final parameters; expert B: all zeros (every logit 0, argmax 0, so
// B is "correct" on class-0 images only). Per image the label init is the mean logits of the correct experts.
TEST(Datm, LabelInitAveragesTheExpertsThatClassifyCorrectly) {
  const auto traj = toy_trajectory("ConvNetW32", 3);
  const auto& d = toy();
  Net net = make_net("ConvNetW32", d.info.shape, d.info.num_classes);
  ParamBinding b(*net);
  const torch::Tensor a = traj.back(), zero = torch::zeros_like(traj.back());
  const FinalParams experts = [&](int64_t e) { return e == 0 ? a : zero; };
  const torch::Tensor x = d.train.images.narrow(0, 0, 40);
  const torch::Tensor y = d.train.labels.narrow(0, 0, 40);
  const ExpertLogits got = correct_expert_logits(*net, b, x, y, experts, 2, torch::kCPU);
  torch::Tensor la;
  {
    torch::NoGradGuard ng;
    net->eval();
    la = b.forward(a, x);
  }
  const torch::Tensor a_ok = la.argmax(1) == y;
  const torch::Tensor b_ok = y == 0;
  int64_t none = 0;
  for (int64_t i = 0; i < x.size(0); ++i) {
    const bool ao = a_ok[i].item<bool>(), bo = b_ok[i].item<bool>();
    torch::Tensor want;
    if (ao && bo) want = la[i] / 2;         // mean of A and the zero logits
    else if (ao) want = la[i];              // A alone
    else if (bo) want = torch::zeros_like(la[i]);  // B alone
    else want = la[i] / 2, ++none;          // nobody: the mean over all experts
    EXPECT_TRUE(torch::allclose(got.logits[i], want, 1e-5, 1e-5)) << "image " << i;
  }
  EXPECT_EQ(got.images_without_correct_expert, none);
}

TEST(Datm, InitialImagesAreOnesExpertZeroClassifiesCorrectly) {
  const auto traj = toy_trajectory("ConvNetW32", 3);
  const auto& d = toy();
  Net net = make_net("ConvNetW32", d.info.shape, d.info.num_classes);
  ParamBinding b(*net);
  torch::manual_seed(5);
  const CorrectlyClassifiedInit ci =
      correctly_classified_init(d, 2, *net, b, [&](int64_t) { return traj.back(); }, 1, torch::kCPU);
  ASSERT_EQ(ci.set.images.size(0), 2 * d.info.num_classes);
  EXPECT_TRUE(torch::equal(ci.set.labels, torch::arange(d.info.num_classes).repeat_interleave(2)));
  torch::NoGradGuard ng;
  net->eval();
  const torch::Tensor pred = b.forward(traj.back(), ci.set.images).argmax(1);
  const int64_t wrong = (pred != ci.set.labels).sum().item<int64_t>();
  EXPECT_EQ(wrong, ci.misclassified_fill);  // only the recorded fill is misclassified
  EXPECT_LT(ci.misclassified_fill, ci.set.images.size(0));
  // Each image is a training image of its class.
  for (int64_t i = 0; i < ci.set.images.size(0); ++i) {
    const torch::Tensor same = (d.train.images - ci.set.images[i]).abs().flatten(1).amax(1) == 0;
    ASSERT_TRUE(same.any().item<bool>());
    EXPECT_EQ(d.train.labels.masked_select(same)[0].item<int64_t>(), ci.set.labels[i].item<int64_t>());
  }
}

// ---------------------------------------------------------------- the loop

json datm_options() {
  return {{"iterations", 2},     {"syn_steps", 3},           {"expert_epochs", 1},          {"max_start_epoch", 2},
          {"lr_img", 10.0},      {"lr_lr", 1e-6},            {"num_experts", 1},            {"expert_train_epochs", 3},
          {"dsa_strategy", "none"}, {"current_max_start_epoch", 0}, {"lr_label", 5.0}};
}

SyntheticSet run_datm(const std::string& method, const json& options,
                      const std::function<void(int64_t, const torch::Tensor&)>& observer = nullptr,
                      const ImageGradientHook* hook = nullptr) {
  const Options o(resolve_options(MethodRegistry::instance().get(method), options));
  const TrajectoryConfig cfg = method == "edf" ? edf_config(o) : datm_config(method, o);
  static const std::vector<torch::Tensor> traj = toy_trajectory("ConvNetW32", 3);
  ExpertSource src{1, [](int64_t) { return traj; }};
  ImageGradientHook dae;
  if (method == "edf" && !hook) {
    if (const auto settings = edf_dae_settings(o)) {  // as edf.cpp: Grad-CAM of expert 0's final parameters
      Net cam = make_net("ConvNetW32", toy().info.shape, toy().info.num_classes);
      load_flat_parameters(*cam, traj.back());
      dae = discriminative_area_hook(*settings, cam, torch::kCPU, json("expert 0"));
      hook = &dae;
    }
  }
  torch::manual_seed(4);
  DistillContext ctx{toy(), 1, "ConvNetW32", o, 4};
  return run_trajectory_matching(cfg, ctx, src, observer, nullptr, hook);
}

TEST(Datm, LearnsSoftLabelsAndRecordsItsInitialisation) {
  json o = datm_options();
  o["threshold"] = 1e9;
  torch::Tensor before;
  const SyntheticSet out = run_datm("datm", o, [&](int64_t it, const torch::Tensor& x) {
    if (it == -1) before = x.clone();
  });
  ASSERT_EQ(out.labels.dim(), 2);
  EXPECT_TRUE(torch::allclose(out.labels.sum(1), torch::ones({out.labels.size(0)})));
  EXPECT_GT((out.images - before).abs().max().item<double>(), 1e-6);
  EXPECT_EQ(out.meta.at("iterations_skipped_by_threshold").get<int64_t>(), 0);
  EXPECT_TRUE(out.meta.at("init").contains("label_init_accuracy"));
  EXPECT_TRUE(out.meta.at("init").contains("misclassified_fill"));
}

TEST(Datm, IterationsOverTheLossThresholdDoNotUpdate) {
  json o = datm_options();
  o["threshold"] = 1e-12;  // every matching loss exceeds it
  torch::Tensor before;
  const SyntheticSet out = run_datm("datm", o, [&](int64_t it, const torch::Tensor& x) {
    if (it == -1) before = x.clone();
  });
  EXPECT_TRUE(torch::equal(out.images, before));
  EXPECT_NEAR(out.learned_lr.item<double>(), 0.01, 1e-9);
  EXPECT_EQ(out.meta.at("iterations_skipped_by_threshold").get<int64_t>(), 2);
}

// ---------------------------------------------------------------- Discriminative Area Enhancement

TEST(DiscriminativeArea, WeightIsMapPlusBetaWhereAtLeastTheThresholdElseOne) {
  // One 2x2 map: values 0, 0.2, 0.6, 1.0 (mean 0.45); another constant 0.5 (mean 0.5: every pixel counts).
  const torch::Tensor maps = torch::tensor({0.0, 0.2, 0.6, 1.0, 0.5, 0.5, 0.5, 0.5}).reshape({2, 2, 2});
  const torch::Tensor w = discriminative_area_weights(maps, 2.0, std::nullopt);
  ASSERT_EQ(w.sizes(), (std::vector<int64_t>{2, 1, 2, 2}));
  EXPECT_TRUE(torch::allclose(w.flatten(), torch::tensor({1.0, 1.0, 2.6, 3.0, 2.5, 2.5, 2.5, 2.5}).to(torch::kFloat32)));
  const torch::Tensor f = discriminative_area_weights(maps, 1.0, 0.8);
  EXPECT_TRUE(torch::allclose(f.flatten(), torch::tensor({1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0}).to(torch::kFloat32)));
}

TEST(DiscriminativeArea, HookScalesTheImageGradientByTheMapsOfItsRefresh) {
  const auto traj = toy_trajectory("ConvNetW32", 3);
  const auto& d = toy();
  Net cam = make_net("ConvNetW32", d.info.shape, d.info.num_classes);
  load_flat_parameters(*cam, traj.back());
  DiscriminativeAreaSettings st;
  st.beta = 1.5;
  st.update_freq = 2;
  const ImageGradientHook hook = discriminative_area_hook(st, cam, torch::kCPU, json("toy"));
  SyntheticState s;
  s.images = d.train.images.narrow(0, 0, 4).clone().requires_grad_(true);
  s.hard_labels = d.train.labels.narrow(0, 0, 4);
  const torch::Tensor want = discriminative_area_weights(grad_cam(*cam, s.images.detach(), s.hard_labels, torch::kCPU),
                                                         1.5, std::nullopt);
  s.images.mutable_grad() = torch::ones_like(s.images);
  hook.apply(0, s, traj);
  EXPECT_TRUE(torch::allclose(s.images.grad(), want.expand_as(s.images)));
  // Iteration 1: no refresh (K = 2), the same maps though the images changed.
  s.images.data().add_(torch::randn_like(s.images));
  s.images.mutable_grad() = torch::ones_like(s.images);
  hook.apply(1, s, traj);
  EXPECT_TRUE(torch::allclose(s.images.grad(), want.expand_as(s.images)));
  EXPECT_EQ(hook.describe().at("refreshes").get<int64_t>(), 1);
  hook.apply(2, s, traj);
  EXPECT_EQ(hook.describe().at("refreshes").get<int64_t>(), 2);
}

TEST(Edf, AblationSwitchesChangeTheResultAndModulesAreRecorded) {
  json o = datm_options();
  o["threshold"] = 1e9;
  const SyntheticSet datm = run_datm("datm", o);
  o["dae"] = false;
  o["cpd"] = false;
  const SyntheticSet none = run_datm("edf", o);
  EXPECT_TRUE(torch::equal(none.images, datm.images));  // EDF with neither module is DATM
  o["cpd"] = true;
  o["drop_ratio"] = 0.5;
  const SyntheticSet cpd = run_datm("edf", o);
  EXPECT_FALSE(torch::equal(cpd.images, none.images));
  EXPECT_EQ(cpd.meta.at("common_pattern_dropout").at("ratio").get<double>(), 0.5);
  o["cpd"] = false;
  o["dae"] = true;
  o["enhance_factor"] = 2.0;
  const SyntheticSet dae = run_datm("edf", o);
  EXPECT_FALSE(torch::equal(dae.images, none.images));
  EXPECT_EQ(dae.meta.at("image_gradient").at("refreshes").get<int64_t>(), 1);  // K = 100 > 2 iterations
  o["cpd"] = true;
  o["dropout_criterion"] = "layerwise";
  EXPECT_THROW(run_datm("edf", o), UserError);
  o["dropout_criterion"] = "last";  // a static criterion runs and is recorded
  const SyntheticSet last = run_datm("edf", o);
  EXPECT_EQ(last.meta.at("common_pattern_dropout").at("criterion"), "last");
  EXPECT_TRUE(last.meta.at("common_pattern_dropout").at("static").get<bool>());
}

TEST(DiscriminativeArea, ShareCountsPixelsAtOrAboveTheMapMeanOrAFixedThreshold) {
  const torch::Tensor maps = torch::tensor({0.0, 0.2, 0.6, 1.0, 0.5, 0.5, 0.5, 0.5}).reshape({2, 2, 2});
  const torch::Tensor by_mean = discriminative_area_share(maps, std::nullopt);  // means 0.45 and 0.5
  EXPECT_NEAR(by_mean[0].item<double>(), 0.5, 1e-12);
  EXPECT_NEAR(by_mean[1].item<double>(), 1.0, 1e-12);
  const torch::Tensor fixed = discriminative_area_share(maps, 0.8);
  EXPECT_NEAR(fixed[0].item<double>(), 0.25, 1e-12);
  EXPECT_NEAR(fixed[1].item<double>(), 0.0, 1e-12);
}

// Fig. 5b's statistic: the stored set's record holds, per image, the area of the initial image (the
// images before the first update) and of the stored image under the same CAM net; the set metrics read it.
TEST(Edf, RecordsTheDiscriminativeAreaOfEveryImageBeforeAndAfterAndTheMetricsReadIt) {
  json o = datm_options();
  o["threshold"] = 1e9;
  o["cpd"] = false;
  o["dae"] = true;
  o["enhance_factor"] = 2.0;
  torch::Tensor before;
  const SyntheticSet out = run_datm("edf", o, [&](int64_t it, const torch::Tensor& x) {
    if (it == -1) before = x.clone();
  });
  const json& rec = out.meta.at("image_gradient").at("stored_set");
  const auto traj = toy_trajectory("ConvNetW32", 3);
  Net cam = make_net("ConvNetW32", toy().info.shape, toy().info.num_classes);
  load_flat_parameters(*cam, traj.back());
  const int64_t classes = toy().info.num_classes;  // class-major: each image's own class
  const torch::Tensor targets = torch::arange(classes).repeat_interleave(out.size() / classes);
  const torch::Tensor a0 = discriminative_area_share(grad_cam(*cam, before, targets, torch::kCPU), std::nullopt) * 100.0;
  const torch::Tensor a1 = discriminative_area_share(grad_cam(*cam, out.images, targets, torch::kCPU), std::nullopt) * 100.0;
  const auto initial = rec.at("area_initial_pct").get<std::vector<double>>();
  const auto stored = rec.at("area_stored_pct").get<std::vector<double>>();
  const auto gain = rec.at("gain_pp").get<std::vector<double>>();
  ASSERT_EQ(static_cast<int64_t>(gain.size()), out.size());
  double sum = 0;
  for (int64_t i = 0; i < out.size(); ++i) {
    EXPECT_NEAR(initial[i], a0[i].item<double>(), 1e-9) << "image " << i;
    EXPECT_NEAR(stored[i], a1[i].item<double>(), 1e-9) << "image " << i;
    EXPECT_NEAR(gain[i], stored[i] - initial[i], 1e-9);
    sum += gain[i];
  }
  EXPECT_GT((out.images - before).abs().max().item<double>(), 1e-6);  // the images did change
  const int64_t smallest = a0.argmin().item<int64_t>();
  EXPECT_EQ(rec.at("smallest_initial_image").get<int64_t>(), smallest);

  const SetMetricFn* mean = SetMetricRegistry::instance().find("discriminative_area_gain");
  const SetMetricFn* small = SetMetricRegistry::instance().find("discriminative_area_gain_smallest");
  ASSERT_TRUE(mean && small);
  EXPECT_NEAR((*mean)(out, toy(), json::object(), 0, torch::kCPU), sum / out.size(), 1e-9);
  EXPECT_NEAR((*small)(out, toy(), json::object(), 0, torch::kCPU), gain[smallest], 1e-9);
  // A set without the record (DATM: no DAE) is an error that says which sets have one.
  o["dae"] = false;
  const SyntheticSet plain = run_datm("edf", o);
  try {
    (*mean)(plain, toy(), json::object(), 0, torch::kCPU);
    ADD_FAILURE() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("dae: true"), std::string::npos) << e.what();
  }
}

TEST(Datm, RegisteredWithTheSuiteOptionNames) {
  const json datm = resolve_options(MethodRegistry::instance().get("datm"), json::object());
  for (const char* k : {"syn_steps", "expert_epochs", "zca", "lr_img", "lr_teacher", "ema_decay", "iterations", "lr_label",
                        "momentum_label", "threshold", "pix_init", "learn_end_epoch", "batch_train", "min_start_epoch",
                        "initial_step", "max_start_epoch", "lr_lr", "current_max_start_epoch", "expansion_end_epoch"})
    EXPECT_TRUE(datm.contains(k)) << "datm lacks " << k;
  const json edf = resolve_options(MethodRegistry::instance().get("edf"), json::object());
  for (const char* k : {"dae", "cpd", "dropout_criterion", "activation_threshold", "drop_ratio", "enhance_factor",
                        "update_freq", "batch_syn"})
    EXPECT_TRUE(edf.contains(k)) << "edf lacks " << k;
  EXPECT_EQ(datm.at("pix_init"), "samples_predicted_correctly");
}

}  // namespace
