// dc / dsa: the reference's loop constants, gradient distances, the inner-loop optimizer, BatchNorm
// freezing, the FYI seam and end-to-end distillation on toy28 (width-32 nets, seconds).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "datasets/registry.h"
#include "methods/common.h"
#include "methods/matching/gradient_distance.h"
#include "methods/matching/gradient_matching.h"

#include "toy_data.h"

using namespace ddb;

namespace {

const LoadedDataset& toy() { return testing_support::toy28_data(); }
const LoadedDataset& toy2() { return testing_support::toy28_two_classes(); }

Options options_of(const std::string& method, const json& given) {
  return Options(resolve_options(MethodRegistry::instance().get(method), given));
}

SyntheticSet distill(const std::string& method, int64_t ipc, const json& given) {
  torch::manual_seed(7);
  DistillContext ctx{toy(), ipc, "ConvNetW32", options_of(method, given), 7, torch::kCPU, nullptr};
  return MethodRegistry::instance().get(method).make()->distill(ctx);
}

double sum_terms(const std::vector<torch::Tensor>& terms) {
  double s = 0;
  for (const auto& t : terms) s += t.item<double>();
  return s;
}

std::vector<torch::Tensor> clone_all(const std::vector<torch::Tensor>& ts) {
  std::vector<torch::Tensor> out;
  for (const auto& t : ts) out.push_back(t.detach().clone());
  return out;
}

}  // namespace

TEST(GradientMatchingLoops, ReferenceTable) {
  const std::vector<std::array<int64_t, 3>> table{{1, 1, 1},   {10, 10, 50}, {20, 20, 25},
                                                  {30, 30, 20}, {40, 40, 15}, {50, 50, 10}};
  for (const auto& [ipc, outer, inner] : table) {
    EXPECT_EQ(get_loops(ipc).outer, outer) << ipc;
    EXPECT_EQ(get_loops(ipc).inner, inner) << ipc;
  }
  try {
    get_loops(2);
    FAIL();
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("1, 10, 20, 30, 40, 50"), std::string::npos) << msg;
    EXPECT_NE(msg.find("outer_loop"), std::string::npos) << msg;
    EXPECT_NE(msg.find("inner_loop"), std::string::npos) << msg;
  }
}

TEST(GradientMatchingLoops, OptionsOverrideTheTable) {
  EXPECT_EQ(resolve_loops(10, 0, 0).inner, 50);
  EXPECT_EQ(resolve_loops(10, 3, 0).outer, 3);
  EXPECT_EQ(resolve_loops(10, 3, 0).inner, 50);
  EXPECT_EQ(resolve_loops(2, 4, 5).outer, 4);  // an IPC outside the table with both given
  EXPECT_EQ(resolve_loops(2, 4, 5).inner, 5);
  EXPECT_THROW(resolve_loops(2, 4, 0), UserError);
  EXPECT_THROW(resolve_loops(1, -1, 1), UserError);
}

TEST(GradientDistance, OursIgnoresOneDimensionalParameters) {
  torch::manual_seed(0);
  const std::vector<torch::Tensor> real{torch::randn({3, 2, 3, 3}), torch::randn({3}), torch::randn({4, 5})};
  std::vector<torch::Tensor> syn{torch::randn({3, 2, 3, 3}), torch::randn({3}), torch::randn({4, 5})};
  const auto base = gradient_distance_terms(real, syn, "ours");
  EXPECT_EQ(base.size(), 2u);  // the conv and the linear weight; the bias gives no term
  syn[1] = syn[1] * 10 + 3;    // only the bias gradient changes
  EXPECT_DOUBLE_EQ(sum_terms(gradient_distance_terms(real, syn, "ours")), sum_terms(base));
  syn[2] = syn[2] + 1;  // a weight change does move it
  EXPECT_NE(sum_terms(gradient_distance_terms(real, syn, "ours")), sum_terms(base));
}

TEST(GradientDistance, OursByHand) {
  // rows (output units): (1,0) vs (1,0): cos 1; (0,1) vs (1,1): cos 1/sqrt(2).
  const torch::Tensor a = torch::tensor({{1.0, 0.0}, {0.0, 1.0}});
  const torch::Tensor b = torch::tensor({{1.0, 0.0}, {1.0, 1.0}});
  const double expected = (1 - 1 / (1 + 1e-6)) + (1 - 1 / (std::sqrt(2.0) + 1e-6));
  EXPECT_NEAR(sum_terms(gradient_distance_terms({a}, {b}, "ours")), expected, 1e-6);
  // a 4-D conv gradient (out=2, in=1, 1x2) and a 3-D one (2, 1, 2) reshape to the same rows
  EXPECT_NEAR(sum_terms(gradient_distance_terms({a.reshape({2, 1, 1, 2})}, {b.reshape({2, 1, 1, 2})}, "ours")),
              expected, 1e-6);
  EXPECT_NEAR(sum_terms(gradient_distance_terms({a.reshape({2, 1, 2})}, {b.reshape({2, 1, 2})}, "ours")), expected,
              1e-6);
  // rows are output units (dim 0): (1,0).(1,0) and (1,0).(0,1) -> 0 + 1; by columns it would be
  // (1,1).(1,0) and (0,0).(0,1) -> (1 - 1/sqrt(2)) + 1
  const torch::Tensor c = torch::tensor({{1.0, 0.0}, {1.0, 0.0}});
  const torch::Tensor d = torch::tensor({{1.0, 0.0}, {0.0, 1.0}});
  EXPECT_NEAR(sum_terms(gradient_distance_terms({c}, {d}, "ours")), (1 - 1 / (1 + 1e-6)) + 1.0, 1e-6);
}

TEST(GradientDistance, MseAndCosByHand) {
  const std::vector<torch::Tensor> real{torch::tensor({{1.0, 2.0}}), torch::tensor({3.0})};
  const std::vector<torch::Tensor> syn{torch::tensor({{0.0, 0.0}}), torch::tensor({1.0})};
  // mse sums over every parameter, 1-D included: 1 + 4 + 4
  EXPECT_NEAR(sum_terms(gradient_distance_terms(real, syn, "mse")), 9.0, 1e-6);
  // cos over the concatenation (1,2,3) . (0,0,1) = 3; norms sqrt(14), 1
  const auto cos = gradient_distance_terms(real, syn, "cos");
  ASSERT_EQ(cos.size(), 1u);
  EXPECT_NEAR(cos[0].item<double>(), 1 - 3 / (std::sqrt(14.0) + 1e-6), 1e-6);
}

TEST(GradientDistance, UnknownMetricListsTheValidOnes) {
  try {
    gradient_distance_terms({torch::ones({2, 2})}, {torch::ones({2, 2})}, "l2");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("ours, mse, cos"), std::string::npos) << e.what();
  }
  EXPECT_THROW(distill("dc", 1, {{"dis_metric", "l2"}, {"iterations", 0}}), UserError);
}

TEST(GradientMatchingSchema, DefaultsDifferOnlyWhereTheReferenceDoes) {
  const json dc = resolve_options(MethodRegistry::instance().get("dc"), json::object());
  const json dsa = resolve_options(MethodRegistry::instance().get("dsa"), json::object());
  EXPECT_EQ(dc["init"], "noise");
  EXPECT_EQ(dsa["init"], "real");
  EXPECT_FALSE(dc.contains("dsa_strategy"));
  EXPECT_EQ(dsa["dsa_strategy"], "");
  for (const json* j : {&dc, &dsa}) {
    EXPECT_EQ((*j)["iterations"], 1000);
    EXPECT_DOUBLE_EQ((*j)["lr_img"].get<double>(), 0.1);
    EXPECT_DOUBLE_EQ((*j)["lr_net"].get<double>(), 0.01);
    EXPECT_DOUBLE_EQ((*j)["momentum"].get<double>(), 0.5);
    EXPECT_EQ((*j)["batch_real"], 256);
    EXPECT_EQ((*j)["batch_train"], 256);
    EXPECT_EQ((*j)["outer_loop"], 0);
    EXPECT_EQ((*j)["inner_loop"], 0);
    EXPECT_EQ((*j)["dis_metric"], "ours");
    EXPECT_EQ((*j)["fyi"], false);  // matching = true: the seam's options are attached
  }
}

TEST(GradientMatchingInnerLoop, PlainSgdNoMomentumNoWeightDecay) {
  const TrainSchedule s = inner_loop_schedule(0.01, 50, 256, nullptr);
  EXPECT_EQ(s.epochs + 1, 50);  // train_classifier trains epochs + 1
  EXPECT_EQ(s.momentum, 0.0);
  EXPECT_EQ(s.weight_decay, 0.0);
  EXPECT_FALSE(s.lr_drop);

  // Behaviour: two epochs on 6 images in one batch equal two hand-made plain SGD steps. Momentum
  // (0.9) or weight decay (5e-4 at lr 1) would move the parameters by > 1e-5.
  const double lr = 1.0;
  const Options o = options_of("dc", {{"lr_net", lr}, {"batch_train", 256}});
  GradientMatchingStep step(toy(), 1, o, /*use_dsa=*/false, 1, torch::kCPU);
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({6, 1, 28, 28}) * 0.5;
  const torch::Tensor y = torch::arange(6, torch::kLong);
  torch::manual_seed(11);
  Net trained = make_net("ConvNetW32", toy().info.shape, 10);
  torch::manual_seed(11);
  Net by_hand = make_net("ConvNetW32", toy().info.shape, 10);
  step.train_net(*trained, x, y, /*inner_loop=*/2);
  for (int e = 0; e < 2; ++e) {
    const auto params = by_hand->parameters();
    const auto g = torch::autograd::grad({torch::nn::functional::cross_entropy(by_hand->forward(x), y)}, params);
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) params[i].sub_(lr * g[i]);
  }
  const auto a = trained->parameters(), b = by_hand->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_LT((a[i] - b[i]).abs().max().item<double>(), 2e-6) << i;
}

TEST(GradientMatchingStep, BatchNormStatisticsFrozenDuringMatching) {
  const Options o = options_of("dc", {{"batch_real", 4}});
  GradientMatchingStep step(toy2(), 1, o, false, 1, torch::kCPU);
  auto running = [](NetImpl& net) {
    std::vector<torch::Tensor> out;
    for (const auto& b : net.named_buffers())
      if (b.key().find("running_mean") != std::string::npos) out.push_back(b.value().clone());
    return out;
  };
  torch::manual_seed(5);
  Net expected = make_net("ConvNetBN", toy().info.shape, 10);
  torch::manual_seed(5);
  Net net = make_net("ConvNetBN", toy().info.shape, 10);
  const torch::Tensor syn = torch::randn({2, 1, 28, 28}).requires_grad_(true);
  const torch::Tensor labels = class_major_labels(2, 1);
  torch::optim::SGD opt({syn}, torch::optim::SGDOptions(0.1).momentum(0.5));

  torch::manual_seed(9);  // same real images for the statistics in both
  ASSERT_TRUE(freeze_batchnorm_stats(*expected, toy2(), 16, torch::kCPU));
  torch::manual_seed(9);
  step.outer_step(*net, syn, labels, opt);

  const auto want = running(*expected), got = running(*net);
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_GT(got[i].abs().max().item<double>(), 0.0) << "statistics were computed";
    // one statistics forward only: the 4 matching forwards (real + synthetic, 2 classes) left them
    EXPECT_TRUE(torch::allclose(got[i], want[i])) << i;
  }
  for (const auto& m : net->modules(false))
    if (m->name().find("BatchNorm") != std::string::npos) EXPECT_FALSE(m->is_training());
  EXPECT_TRUE(net->is_training());
  // the inner loop trains the BatchNorm layers again (the reference's epoch('train') calls net.train())
  step.train_net(*net, syn, labels, 1);
  for (const auto& m : net->modules(false)) EXPECT_TRUE(m->is_training());
  EXPECT_FALSE(freeze_batchnorm_stats(*make_net("ConvNetW32", toy().info.shape, 10), toy(), 16, torch::kCPU));
}

TEST(GradientMatchingStep, FyiDoublesTheSyntheticBatchAndGradientReachesTheImages) {
  auto pixel_grad = [](bool fyi, int64_t* batch) {
    const Options o = options_of("dc", {{"batch_real", 8}, {"fyi", fyi}});
    GradientMatchingStep step(toy2(), 2, o, false, 1, torch::kCPU);
    torch::manual_seed(4);
    Net net = make_net("ConvNetW32", toy().info.shape, 10);
    const torch::Tensor syn = torch::randn({4, 1, 28, 28}).requires_grad_(true);
    torch::optim::SGD opt({syn}, torch::optim::SGDOptions(0.1));
    step.outer_step(*net, syn, class_major_labels(2, 2), opt);
    *batch = step.last_synthetic_batch();
    EXPECT_EQ(step.seam().active().size(), fyi ? 1u : 0u);
    return syn.grad().clone();
  };
  int64_t plain_batch = 0, fyi_batch = 0;
  const torch::Tensor plain = pixel_grad(false, &plain_batch);
  const torch::Tensor flipped = pixel_grad(true, &fyi_batch);
  EXPECT_EQ(plain_batch, 2);
  EXPECT_EQ(fyi_batch, 4);
  // every stored image gets a gradient, and it is not the plain one
  EXPECT_GT(flipped.abs().flatten(1).sum(1).min().item<double>(), 0.0);
  EXPECT_GT((flipped - plain).abs().max().item<double>(), 1e-6);
}

// FYI's code passes batch_aug to the inner loop's utils.epoch: each training batch of the synthetic
// set is concatenated with its flip (labels duplicated). One batch holds everything here, so the
// result must equal plain SGD on the concatenated set, and differ from training without FYI.
TEST(GradientMatchingInnerLoop, FyiTrainsOnTheFlipConcatenatedBatch) {
  const double lr = 1.0;
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({6, 1, 28, 28}) * 0.5;
  const torch::Tensor y = torch::arange(6, torch::kLong);
  const auto trained_with = [&](bool fyi, const torch::Tensor& images, const torch::Tensor& labels) {
    const Options o = options_of("dc", {{"lr_net", lr}, {"batch_train", 256}, {"fyi", fyi}});
    GradientMatchingStep step(toy(), 1, o, /*use_dsa=*/false, 1, torch::kCPU);
    torch::manual_seed(11);
    Net net = make_net("ConvNetW32", toy().info.shape, 10);
    step.train_net(*net, images, labels, /*inner_loop=*/2);
    return net;
  };
  const Net with_fyi = trained_with(true, x, y);
  const Net on_concatenation = trained_with(false, torch::cat({x, x.flip({-1})}), torch::cat({y, y}));
  const Net plain = trained_with(false, x, y);
  const auto a = with_fyi->parameters(), b = on_concatenation->parameters(), c = plain->parameters();
  double from_plain = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LT((a[i] - b[i]).abs().max().item<double>(), 2e-6) << i;
    from_plain = std::max(from_plain, (a[i] - c[i]).abs().max().item<double>());
  }
  EXPECT_GT(from_plain, 1e-4);
}

namespace {
void expect_distilled(const SyntheticSet& s, const torch::Tensor& init) {
  ASSERT_EQ(s.images.sizes(), (std::vector<int64_t>{10, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(s.labels, class_major_labels(10, 1)));
  EXPECT_TRUE(torch::isfinite(s.images).all().item<bool>());
  EXPECT_TRUE(std::isfinite(s.meta["final_loss"].get<double>()));
  EXPECT_EQ(s.meta["outer_loop"], 1);  // get_loops(1)
  EXPECT_GT((s.images - init).abs().max().item<double>(), 1e-4);  // 3 pixel steps moved them
}
const json kTiny{{"iterations", 2}, {"batch_real", 4}};
}  // namespace

TEST(GradientMatchingMethods, DcDistillsToy28FromNoise) {
  const SyntheticSet dc = distill("dc", 1, kTiny);
  torch::manual_seed(7);
  expect_distilled(dc, noise_init(toy().info, 1).images);  // dc's init draw with the same seed
}

TEST(GradientMatchingMethods, DsaDistillsToy28FromRealImagesReproducibly) {
  const SyntheticSet dsa = distill("dsa", 1, kTiny);
  torch::manual_seed(7);
  expect_distilled(dsa, real_init(toy(), 1).images);
  // the run's seed fixes everything (Siamese seeds come from it, not the clock)
  EXPECT_TRUE(torch::equal(dsa.images, distill("dsa", 1, kTiny).images));
}

TEST(GradientMatchingMethods, InnerLoopRunsBetweenOuterSteps) {
  // IPC 2 is outside get_loops: the options give the loops; 2 outer steps with 1 inner epoch.
  const SyntheticSet s = distill("dc", 2, {{"iterations", 1}, {"batch_real", 8}, {"outer_loop", 2}, {"inner_loop", 1}});
  EXPECT_EQ(s.images.size(0), 20);
  EXPECT_EQ(s.meta["outer_loop"], 2);
  EXPECT_THROW(distill("dc", 2, {{"iterations", 0}}), UserError);
}
