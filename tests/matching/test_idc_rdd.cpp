// IDC (multi-formation decode, a tiny distillation) and RDD's network objective through the seam.
#include <gtest/gtest.h>

#include "datasets/registry.h"
#include "harness/nets/net.h"
#include "methods/matching/cvar.h"
#include "methods/matching/seam.h"
#include "methods/method.h"

namespace ddb {
namespace {

namespace F = torch::nn::functional;

Options idc_options(json given) { return Options(resolve_options(MethodRegistry::instance().get("idc"), given)); }

torch::Tensor upsample(const torch::Tensor& x, int64_t h) {
  return F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, h}).mode(torch::kBilinear).align_corners(false));
}

TEST(Idc, DecodeCutsEachImageIntoFactorSquaredCropsRowMajorAndUpsamples) {
  const MethodInfo& info = MethodRegistry::instance().get("idc");
  SyntheticSet s;
  s.images = torch::arange(2 * 16, torch::kFloat).reshape({2, 1, 4, 4});
  s.labels = torch::tensor({3, 5}, torch::kLong);
  const SyntheticSet d = info.make()->decode(s, idc_options({{"factor", 2}}));
  ASSERT_EQ(d.images.sizes(), (std::vector<int64_t>{8, 1, 4, 4}));
  // decode_zoom: crops (i, j) in row-major order, each over the whole batch, labels repeated per crop.
  EXPECT_TRUE(torch::allclose(d.images.narrow(0, 0, 2), upsample(s.images.narrow(2, 0, 2).narrow(3, 0, 2), 4)));
  EXPECT_TRUE(torch::allclose(d.images.narrow(0, 2, 2), upsample(s.images.narrow(2, 0, 2).narrow(3, 2, 2), 4)));
  EXPECT_TRUE(torch::allclose(d.images.narrow(0, 4, 2), upsample(s.images.narrow(2, 2, 2).narrow(3, 0, 2), 4)));
  EXPECT_TRUE(torch::equal(d.labels, torch::tensor({3, 5, 3, 5, 3, 5, 3, 5}, torch::kLong)));
  // factor 3 on a side of 4: padded to 6 with the pad value (pixel 0.5; here recorded as 0.25), crops of 2.
  s.meta["pad_value"] = std::vector<float>{0.25f};
  const SyntheticSet d3 = info.make()->decode(s, idc_options({{"factor", 3}}));
  ASSERT_EQ(d3.images.size(0), 18);
  // The last crop (2, 2) is all padding.
  EXPECT_TRUE(torch::allclose(d3.images[17], torch::full({1, 4, 4}, 0.25f)));
  // factor 1: identity.
  EXPECT_TRUE(torch::equal(info.make()->decode(s, idc_options({{"factor", 1}})).images, s.images));
}

TEST(Idc, DistillsAMultiFormationSetThatStaysInPixelRange) {
  const LoadedDataset data = load_dataset("toy28", {});
  const MethodInfo& info = MethodRegistry::instance().get("idc");
  torch::manual_seed(3);
  DistillContext ctx{data, 2, "ConvNetW32", idc_options({{"factor", 2}, {"iterations", 1}, {"inner_loop", 2}, {"n_data", 32},
                                                       {"batch_real", 16}, {"metric", "mse"}, {"lr_img", 0.01}}),
                     3, torch::kCPU, nullptr};
  const SyntheticSet s = info.make()->distill(ctx);
  EXPECT_EQ(s.images.sizes(), (std::vector<int64_t>{2 * data.info.num_classes, 1, 28, 28}));
  EXPECT_EQ(s.meta["outer_iterations"], 1);
  EXPECT_TRUE(torch::isfinite(s.images).all().item<bool>());
  EXPECT_EQ(info.make()->decode(s, ctx.options).images.size(0), 8 * data.info.num_classes);
}

TEST(Rdd, OptionsExistOnlyOnTheMethodsWhoseNetworkUpdateItChanges) {
  auto has = [](const std::string& method, const std::string& option) {
    for (const auto& o : MethodRegistry::instance().get(method).options)
      if (o.name == option) return true;
    return false;
  };
  EXPECT_TRUE(has("idc", "rdd"));
  EXPECT_TRUE(has("idc", "cvar_alpha"));
  EXPECT_TRUE(has("idm", "rdd"));  // IDM's model-queue training
  EXPECT_FALSE(has("dm", "rdd"));   // DM trains no network: rdd would silently do nothing there
  EXPECT_FALSE(has("dsa", "rdd"));
  EXPECT_TRUE(has("dsa", "fyi"));   // modifiers without hosts still reach every matching method
}

TEST(Rdd, ChangesIdmsQueueTrainingAndIsRecordedInTheSetsMeta) {
  const LoadedDataset data = load_dataset("toy28", {});
  const MethodInfo& info = MethodRegistry::instance().get("idm");
  auto run = [&](bool rdd) {
    torch::manual_seed(5);
    json o = {{"iterations", 3}, {"batch_real", 8}, {"queue_batch", 16}, {"train_steps", 3}, {"queue_init", 1},
              {"interval", 100}, {"rdd", rdd}, {"cvar_every", 1}, {"cvar_batch", 32}};
    DistillContext ctx{data, 1, "ConvNetW32", Options(resolve_options(info, o)), 5, torch::kCPU, nullptr};
    return info.make()->distill(ctx);
  };
  const SyntheticSet plain = run(false), robust = run(true);
  EXPECT_FALSE(plain.meta.contains("modifier_settings"));
  ASSERT_TRUE(robust.meta.contains("modifier_settings"));
  EXPECT_EQ(robust.meta["modifier_settings"]["rdd"]["cvar_batch"], 32);
  // Same seed, different queue training: from the second iteration on, matching uses the trained queue nets.
  EXPECT_FALSE(torch::allclose(plain.images, robust.images));
}

TEST(Rdd, NetworkLossIsCePlusMeanAndMaxOfPerClusterCvarWithinClass) {
  // Pixel space makes the assignment known: 2 classes x 2 centres; every real sample sits on one centre.
  const MatchingSeam seam(idc_options({{"rdd", true}, {"cluster_space", "pixel"}, {"cvar_every", 1}, {"cvar_alpha", 0.5}}));
  EXPECT_EQ(seam.network_batch(64), 256);
  ASSERT_TRUE(seam.needs_centres());
  Net net = make_net("ConvNetW32", {1, 28, 28}, 2);
  const torch::Tensor centres = torch::stack({torch::zeros({1, 28, 28}), torch::ones({1, 28, 28}),
                                              torch::full({1, 28, 28}, 2.0f), torch::full({1, 28, 28}, 3.0f)});
  const torch::Tensor centre_labels = torch::tensor({0, 0, 1, 1}, torch::kLong);
  // Samples: class 0 at centres 0,0,1 ; class 1 at centre 3 (nearest of its own class although centre 1
  // of class 0 is as near as anything for the 1.1 sample) and 2.
  const torch::Tensor images = torch::stack({centres[0], centres[0] + 0.01, centres[1], centres[3], centres[2] - 0.9});
  const torch::Tensor labels = torch::tensor({0, 0, 0, 1, 1}, torch::kLong);
  const torch::Tensor losses = torch::tensor({1.0, 3.0, 2.0, 4.0, 0.5}, torch::kFloat).requires_grad_(true);
  NetworkBatch b;
  b.net = net.get();
  b.images = images;
  b.labels = labels;
  b.per_sample = losses;
  b.centres = centres;
  b.centre_labels = centre_labels;
  const torch::Tensor got = seam.network_loss(b);
  // Clusters: {1, 3} (class 0 centre 0), {2} (class 0 centre 1), {4} (class 1 centre 3), {0.5} (class 1 centre 2:
  // 1.1 is nearer centre 1 of class 0, which is out of reach).
  const double c1 = cvar(torch::tensor({1.0, 3.0}), 0.5).item<double>();  // = 1 (lowest half)
  const double want = losses.mean().item<double>() + (c1 + 2.0 + 4.0 + 0.5) / 4 + 4.0;
  EXPECT_NEAR(c1, 1.0, 1e-6);
  EXPECT_NEAR(got.item<double>(), want, 1e-5);
  got.backward();  // differentiable in the losses (the released code detaches its CVaR)
  EXPECT_GT(losses.grad()[3].item<double>(), 1.0);  // the worst cluster's loss gets the max term too
  // Not a CVaR batch: the host's mean.
  const MatchingSeam every3(idc_options({{"rdd", true}, {"cvar_every", 3}}));
  b.step = 0;
  EXPECT_NEAR(every3.network_loss(b).item<double>(), losses.mean().item<double>(), 1e-6);
}

}  // namespace
}  // namespace ddb
