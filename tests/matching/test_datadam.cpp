// datadam: the spatial attention map against a hand computation, the rows it matches (which blocks,
// which widths), the class loss, and end-to-end distillation on toy28 (width-32 ConvNet, two classes,
// small batches: seconds).
#include <gtest/gtest.h>

#include <cmath>

#include "datasets/registry.h"
#include "harness/nets/net.h"
#include "methods/matching/datadam.h"
#include "methods/matching/distribution_matching.h"
#include "methods/method.h"

#include "toy_data.h"

using namespace ddb;

namespace {

const LoadedDataset& toy() { return testing_support::toy28_data(); }
const LoadedDataset& toy2() { return testing_support::toy28_two_classes(); }

SyntheticSet distill(json given, int64_t ipc = 2, const std::string& net = "ConvNetW32", uint64_t seed = 5) {
  if (!given.contains("batch_real")) given["batch_real"] = 32;
  const MethodInfo& info = MethodRegistry::instance().get("datadam");
  torch::manual_seed(static_cast<int64_t>(seed));
  DistillContext ctx{toy2(), ipc, net, Options(resolve_options(info, given)), seed, torch::kCPU, nullptr};
  return info.make()->distill(ctx);
}

// DataDAM's loss (weights 100 / 1, power 4) of a set against fixed real batches, summed over nets it
// never saw.
double loss_on(const SyntheticSet& set, const std::vector<torch::Tensor>& reals, int64_t ipc) {
  torch::NoGradGuard no_grad;
  double total = 0;
  for (int seed : {91, 92, 93}) {
    torch::manual_seed(seed);
    Net net = make_net("ConvNetW32", toy2().info.shape, 2);
    for (size_t c = 0; c < reals.size(); ++c) {
      const DamRows r = datadam_rows(*net, reals[c], 4.0);
      const DamRows s = datadam_rows(*net, set.images.narrow(0, static_cast<int64_t>(c) * ipc, ipc), 4.0);
      total += datadam_class_loss(r.rows, s.rows, r.segments, 100.0, 1.0).item<double>();
    }
  }
  return total;
}

}  // namespace

TEST(DataDam, SpatialAttentionIsTheNormalisedChannelSumOfPowers) {
  // One sample, two channels, a 1 x 2 map: channel 0 = (1, -2), channel 1 = (3, 0).
  const torch::Tensor f = torch::tensor({1.f, -2.f, 3.f, 0.f}).view({1, 2, 1, 2});
  const torch::Tensor p1 = spatial_attention(f, 1.0);  // (|1| + |3|, |-2| + 0) = (4, 2)
  EXPECT_NEAR(p1[0][0].item<double>(), 4 / std::sqrt(20.0), 1e-6);
  EXPECT_NEAR(p1[0][1].item<double>(), 2 / std::sqrt(20.0), 1e-6);
  const torch::Tensor p2 = spatial_attention(f, 2.0);  // (1 + 9, 4 + 0) = (10, 4)
  EXPECT_NEAR(p2[0][0].item<double>(), 10 / std::sqrt(116.0), 1e-6);
  EXPECT_NEAR(p2[0][1].item<double>(), 4 / std::sqrt(116.0), 1e-6);
  const torch::Tensor p4 = spatial_attention(f, 4.0);  // (1 + 81, 16) = (82, 16)
  EXPECT_NEAR(p4[0][0].item<double>(), 82 / std::sqrt(82.0 * 82 + 256), 1e-6);
}

TEST(DataDam, RowsAreTheAttentionOfEveryBlockButTheLastThenTheEmbedding) {
  torch::manual_seed(1);
  Net net = make_net("ConvNetW32", toy().info.shape, 10);
  const torch::Tensor x = toy().train.images.narrow(0, 0, 5);
  const DamRows r = datadam_rows(*net, x, 4.0);
  // toy28 is 1 x 28 x 28: the first conv pads 3, so the blocks' activations are 32x32 and 16x16 (the
  // third block's 8x8 is not matched); the embedding is 32 channels x 4 x 4.
  EXPECT_EQ(r.segments, (std::vector<int64_t>{32 * 32, 16 * 16, 32 * 4 * 4}));
  ASSERT_EQ(r.rows.sizes(), (std::vector<int64_t>{5, 32 * 32 + 16 * 16 + 512}));
  const auto parts = r.rows.split_with_sizes(r.segments, 1);
  for (int s = 0; s < 2; ++s)  // attention maps: unit L2 norm per sample
    EXPECT_TRUE(torch::allclose(parts[s].norm(2, 1), torch::ones({5}), 1e-5, 1e-5));
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(parts[2], net->embed(x), 1e-5, 1e-5));
  Net mlp = make_net("MLP", toy().info.shape, 10);
  EXPECT_FALSE(datadam_supports(*mlp));
  EXPECT_THROW(datadam_rows(*mlp, x, 4.0), UserError);
}

TEST(DataDam, ClassLossWeighsAttentionAndEmbeddingTermsOfTheClassMeans) {
  // Two segments: an "attention" of width 2 and an "embedding" of width 1.
  const torch::Tensor real = torch::tensor({1.f, 0.f, 2.f, 3.f, 2.f, 4.f}).view({2, 3});  // means (2, 1, 3)
  const torch::Tensor syn = torch::tensor({0.f, 1.f, 5.f}).view({1, 3});
  // attention: (2-0)^2 + (1-1)^2 = 4; embedding: (3-5)^2 = 4.
  EXPECT_NEAR(datadam_class_loss(real, syn, {2, 1}, 100.0, 1.0).item<double>(), 404.0, 1e-4);
  EXPECT_NEAR(datadam_class_loss(real, syn, {2, 1}, 1.0, 0.5).item<double>(), 6.0, 1e-5);
  EXPECT_NEAR(datadam_class_loss(real, real.mean(0, true), {2, 1}, 100.0, 1.0).item<double>(), 0.0, 1e-6);
}

TEST(DataDam, DistillationMatchesTheAttentionOfUnseenNetsAndKeepsShapeAndLabels) {
  const SyntheticSet init = distill({{"iterations", 0}});
  const SyntheticSet set = distill({{"iterations", 30}});
  ASSERT_EQ(set.images.sizes(), (std::vector<int64_t>{4, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(set.labels, torch::tensor({0, 0, 1, 1}, torch::kLong)));
  EXPECT_TRUE(torch::isfinite(set.images).all().item<bool>());
  torch::manual_seed(98);
  const std::vector<torch::Tensor> reals{toy2().sample_class(0, 128), toy2().sample_class(1, 128)};
  const double before = loss_on(init, reals, 2), after = loss_on(set, reals, 2);
  EXPECT_LT(after, 0.8 * before) << "before " << before << " after " << after;
  // Without a step size nothing moves (the comparison above can fail).
  const SyntheticSet frozen = distill({{"iterations", 30}, {"lr_img", 0.0}});
  EXPECT_TRUE(torch::equal(frozen.images, init.images));
  EXPECT_TRUE(torch::equal(distill({{"iterations", 30}}).images, set.images));  // same seed, same set
}

TEST(DataDam, GroupedClassForwardsGiveThePerClassSet) {
  const SyntheticSet batched = distill({{"iterations", 4}});
  set_class_forward({ClassForward::PerClass, 0});
  const SyntheticSet per_class = distill({{"iterations", 4}});
  set_class_forward({});
  EXPECT_TRUE(torch::allclose(batched.images, per_class.images, 1e-4, 1e-5))
      << (batched.images - per_class.images).abs().max().item<double>();
}

TEST(DataDam, PowerDsaAndTheSeamChangeTheSetAndBatchNormNetsRun) {
  const SyntheticSet base = distill({{"iterations", 3}});
  EXPECT_FALSE(torch::equal(base.images, distill({{"iterations", 3}, {"power", 1.0}}).images));
  EXPECT_FALSE(torch::equal(base.images, distill({{"iterations", 3}, {"dsa", false}}).images));
  const SyntheticSet fyi = distill({{"iterations", 3}, {"fyi", true}});
  EXPECT_FALSE(torch::equal(base.images, fyi.images));
  EXPECT_EQ(fyi.meta["modifiers"], json::array({"fyi"}));
  // The code's encoder (BatchNorm: one forward over every class's batch).
  const SyntheticSet bn = distill({{"iterations", 3}}, 2, "ConvNetBN");
  EXPECT_TRUE(torch::isfinite(bn.images).all().item<bool>());
  EXPECT_FALSE(torch::equal(bn.images, distill({{"iterations", 0}}, 2, "ConvNetBN").images));
}

TEST(DataDam, RejectsBadOptionsAndNetsWithoutBlocks) {
  EXPECT_THROW(distill({{"iterations", -1}}), UserError);
  EXPECT_THROW(distill({{"iterations", 1}, {"power", 0.5}}), UserError);
  EXPECT_THROW(distill({{"iterations", 1}, {"task_balance", -1.0}}), UserError);
  EXPECT_THROW(distill({{"iterations", 1}, {"batch_real", 0}}), UserError);
  EXPECT_THROW(distill({{"iterations", 1}, {"init", "zeros"}}), UserError);
  EXPECT_THROW(distill({{"iterations", 1}, {"dsa_strategy", "wobble"}}), UserError);
  EXPECT_THROW(distill({{"iterations", 1}}, 1, "MLP"), UserError);
}
