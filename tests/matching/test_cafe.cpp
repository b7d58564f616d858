// cafe: the layer-wise features and their alignment, the discrimination loss against a hand
// computation, the accuracy watchers of the bi-level loop, and end-to-end distillation on toy28
// (width-32 ConvNet, two classes, small batches and windows: seconds).
#include <gtest/gtest.h>

#include <cmath>

#include "datasets/registry.h"
#include "harness/nets/net.h"
#include "methods/matching/cafe.h"
#include "methods/method.h"

#include "toy_data.h"

using namespace ddb;

namespace {

const LoadedDataset& toy() { return testing_support::toy28_data(); }
const LoadedDataset& toy2() { return testing_support::toy28_two_classes(); }

// Small batches and windows, bounded loops: a few pixel steps per iteration.
json fast(json given) {
  const json base = {{"batch_real", 32}, {"batch_train", 16}, {"watch_batch", 16}, {"watch_window", 3},
                     {"max_pixel_steps", 4}, {"max_inner_epochs", 4}};
  for (auto it = base.begin(); it != base.end(); ++it)
    if (!given.contains(it.key())) given[it.key()] = it.value();
  return given;
}

SyntheticSet distill(const json& given, int64_t ipc = 2, const std::string& net = "ConvNetW32", uint64_t seed = 5) {
  const MethodInfo& info = MethodRegistry::instance().get("cafe");
  torch::manual_seed(static_cast<int64_t>(seed));
  DistillContext ctx{toy2(), ipc, net, Options(resolve_options(info, given)), seed, torch::kCPU, nullptr};
  return info.make()->distill(ctx);
}

// The layer-wise alignment (weights 1, 1, 0.1, 0.1) of a set against fixed real batches on one net.
double alignment_on(NetImpl& net, const SyntheticSet& set, const std::vector<torch::Tensor>& reals, int64_t ipc) {
  torch::NoGradGuard no_grad;
  double total = 0;
  for (size_t c = 0; c < reals.size(); ++c) {
    const CafeFeatures r = cafe_features(net, reals[c]);
    const CafeFeatures s = cafe_features(net, set.images.narrow(0, static_cast<int64_t>(c) * ipc, ipc));
    total += layer_alignment(r.layers, s.layers, {1.0, 1.0, 0.1, 0.1}).item<double>();
  }
  return total;
}

}  // namespace

TEST(Cafe, FeaturesAreTheReferencesBlocksAndTheirLogitsTheNetsOwn) {
  torch::manual_seed(1);
  Net net = make_net("ConvNetW32", toy().info.shape, 10);
  const torch::Tensor x = toy().train.images.narrow(0, 0, 6);
  const CafeFeatures f = cafe_features(*net, x);
  // toy28 is 1 x 28 x 28: the first conv pads 3, so the blocks see 32, 16, 8 pixels.
  ASSERT_EQ(f.layers.size(), 4u);
  EXPECT_EQ(f.layers[0].sizes(), (std::vector<int64_t>{6, 32, 4, 4}));    // f4: last pool
  EXPECT_EQ(f.layers[1].sizes(), (std::vector<int64_t>{6, 32, 8, 8}));    // f3: block 3 before its pool
  EXPECT_EQ(f.layers[2].sizes(), (std::vector<int64_t>{6, 32, 16, 16}));  // f2
  EXPECT_EQ(f.layers[3].sizes(), (std::vector<int64_t>{6, 32, 32, 32}));  // f1
  EXPECT_TRUE(torch::equal(f.embedding, f.layers[0].flatten(1)));
  EXPECT_LT((f.logits - net->forward(x)).abs().max().item<double>(), 1e-4);  // the fused forward agrees
  Net mlp = make_net("MLP", toy().info.shape, 10);
  EXPECT_FALSE(cafe_supports(*mlp));
  EXPECT_THROW(cafe_features(*mlp, x), UserError);
}

TEST(Cafe, LayerAlignmentIsZeroForMatchingClassMeansAndPositiveOtherwise) {
  torch::manual_seed(2);
  Net net = make_net("ConvNetW32", toy().info.shape, 10);
  torch::NoGradGuard no_grad;
  const torch::Tensor a = toy().train.images.narrow(0, 0, 8);
  const torch::Tensor b = toy().train.images.narrow(0, 100, 8);
  const CafeFeatures fa = cafe_features(*net, a);
  const std::vector<double> w{1.0, 1.0, 0.1, 0.1};
  EXPECT_EQ(layer_alignment(fa.layers, fa.layers, w).item<double>(), 0.0);
  // Only class means count: the same images in another order align exactly.
  const CafeFeatures shuffled = cafe_features(*net, a.flip({0}));
  EXPECT_LT(layer_alignment(fa.layers, shuffled.layers, w).item<double>(), 1e-6);
  const CafeFeatures fb = cafe_features(*net, b);
  const double d = layer_alignment(fa.layers, fb.layers, w).item<double>();
  EXPECT_GT(d, 1e-3);
  // Weighted sum of per-layer squared distances of the means.
  double by_hand = 0;
  for (size_t l = 0; l < 4; ++l)
    by_hand += w[l] * (fa.layers[l].mean(0) - fb.layers[l].mean(0)).pow(2).sum().item<double>();
  EXPECT_NEAR(d, by_hand, 1e-5 * by_hand);
  // A zero weight drops its layer; real features given as a class mean ([1, ...]) count the same.
  std::vector<torch::Tensor> means;
  for (const auto& l : fa.layers) means.push_back(l.mean(0, true));
  EXPECT_NEAR(layer_alignment(means, fb.layers, w).item<double>(), d, 1e-5 * d);
  EXPECT_LT(layer_alignment(fa.layers, fb.layers, {0.0, 1.0, 0.1, 0.1}).item<double>(), d);
}

TEST(Cafe, DiscriminationLossIsTheSummedCrossEntropyOfInnerProductsWithTheCentres) {
  const torch::Tensor real = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f}).reshape({3, 2});
  const torch::Tensor labels = torch::tensor({0, 1, 1}, torch::kLong);
  const torch::Tensor centres = torch::tensor({2.0f, 0.0f, 0.0f, 1.0f}).reshape({2, 2});
  // Logits (2, 0), (0, 1), (2, 1); -log softmax at the label, summed.
  const double by_hand = std::log(1 + std::exp(-2.0)) + std::log(1 + std::exp(-1.0)) + std::log(1 + std::exp(1.0));
  EXPECT_NEAR(discrimination_loss(real, labels, centres).item<double>(), by_hand, 1e-6);
}

TEST(Cafe, WatchersCarryTheSumAndStopOnTheirRange) {
  AccuracyWatcher carry(10, 0.0, AccuracyWatcher::Stop::Steady, 10);
  carry.push(0.5);
  EXPECT_DOUBLE_EQ(carry.value(), 0.5);
  carry.push(0.5);
  EXPECT_DOUBLE_EQ(carry.value(), 0.55);  // the reference's acc_test is not reset between rounds

  // Outer loop: stops once `window` values are within lambda_1 of each other.
  AccuracyWatcher steady(3, 0.04, AccuracyWatcher::Stop::Steady, 1000000);
  EXPECT_FALSE(steady.push(0.1));
  EXPECT_FALSE(steady.push(0.3));
  EXPECT_FALSE(steady.push(0.31));  // window full, range 0.21: go on, drop 0.1
  EXPECT_FALSE(steady.push(0.5));   // 0.3, 0.31, 0.5
  EXPECT_FALSE(steady.push(0.5));   // 0.31, 0.5, 0.5
  EXPECT_TRUE(steady.push(0.51));   // 0.5, 0.5, 0.51

  // Network update: stops once the window's range exceeds lambda_2.
  AccuracyWatcher moved(3, 0.03, AccuracyWatcher::Stop::Moved, 1000000);
  EXPECT_FALSE(moved.push(0.2));
  EXPECT_FALSE(moved.push(0.21));
  EXPECT_FALSE(moved.push(0.22));  // range 0.02
  EXPECT_FALSE(moved.push(0.23));  // 0.21 .. 0.23
  EXPECT_TRUE(moved.push(0.26));   // 0.22 .. 0.26
}

TEST(Cafe, DistillationAlignsTheSetAndKeepsItsShapeAndLabels) {
  const json given = fast({{"iterations", 3}});
  const SyntheticSet init = distill(fast({{"iterations", 0}}));
  const SyntheticSet set = distill(given);
  ASSERT_EQ(set.images.sizes(), (std::vector<int64_t>{4, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(set.labels, torch::tensor({0, 0, 1, 1}, torch::kLong)));
  EXPECT_TRUE(torch::isfinite(set.images).all().item<bool>());
  EXPECT_GT(set.meta["pixel_steps"].get<int64_t>(), 3);  // a window of 3 needs at least 3 per iteration
  // On a net and real batches it never saw, the distilled set is closer than its noise start.
  torch::manual_seed(99);
  Net net = make_net("ConvNetW32", toy2().info.shape, 2);
  const std::vector<torch::Tensor> reals{toy2().sample_class(0, 64), toy2().sample_class(1, 64)};
  const double before = alignment_on(*net, init, reals, 2);
  const double after = alignment_on(*net, set, reals, 2);
  EXPECT_LT(after, 0.8 * before) << "before " << before << " after " << after;
  // The same seed gives the same set.
  EXPECT_TRUE(torch::equal(distill(given).images, set.images));
}

TEST(Cafe, DsaAndTheSeamChangeTheSet) {
  const SyntheticSet plain = distill(fast({{"iterations", 1}}), 1);
  const SyntheticSet dsa = distill(fast({{"iterations", 1}, {"dsa", true}, {"dsa_strategy", "color_crop_cutout_flip_scale_rotate"}}), 1);
  EXPECT_FALSE(torch::equal(plain.images, dsa.images));
  // One pixel step and no network update (the step bound ends the iteration first): FYI can only act
  // through the matching batch (seam.transform_synthetic).
  const json one_step = fast({{"iterations", 1}, {"max_pixel_steps", 1}});
  json with_fyi = one_step;
  with_fyi["fyi"] = true;
  const SyntheticSet plain1 = distill(one_step, 1), fyi = distill(with_fyi, 1);
  EXPECT_EQ(plain1.meta["inner_epochs"], 0);
  EXPECT_FALSE(torch::equal(plain1.images, fyi.images));
  EXPECT_EQ(fyi.meta["modifiers"], json::array({"fyi"}));
}

TEST(Cafe, RejectsBadOptionsAndNetsWithoutBlocks) {
  EXPECT_THROW(distill(fast({{"iterations", 1}, {"watch_window", 1}})), UserError);
  EXPECT_THROW(distill(fast({{"iterations", 1}, {"lr_img", 0.0}})), UserError);
  EXPECT_THROW(distill(fast({{"iterations", 1}, {"inner_weight", -1.0}})), UserError);
  EXPECT_THROW(distill(fast({{"iterations", 1}, {"init", "zeros"}})), UserError);
  EXPECT_THROW(distill(fast({{"iterations", 1}, {"dsa", true}, {"dsa_strategy", "wobble"}})), UserError);
  EXPECT_THROW(distill(fast({{"iterations", -1}})), UserError);
  EXPECT_THROW(distill(fast({{"iterations", 1}}), 1, "MLP"), UserError);
}
