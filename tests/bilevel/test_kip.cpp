// KIP (methods/bilevel/kip.cpp), its preprocessing (harness/layernorm_zca.h) and its transfer protocol
// (harness/protocols/kip.cpp): the block-by-block gradient against one autograd graph, the objective going down
// under Adam, the method's set on generated data, and the protocol training a net on a real-image set.
#include <gtest/gtest.h>

#include "harness/eval_protocol.h"
#include "harness/layernorm_zca.h"
#include "methods/bilevel/kip.h"
#include "methods/common.h"
#include "methods/method.h"
#include "../protocols/toy_sets.h"

namespace ddb {
namespace {

using testing_support::toy28;
using testing_support::toy28_real_set;

torch::Tensor centred(const torch::Tensor& labels, int64_t k) { return kip_regression_targets(labels, k); }

TEST(KipObjective, BlockwiseGradientEqualsOneAutogradGraph) {
  torch::manual_seed(1);
  const ConvNetKernel kernel(ConvNtkConfig{2, true});
  const torch::Tensor xs0 = torch::randn({4, 1, 8, 8});
  const torch::Tensor ys0 = centred(torch::tensor({0, 1, 2, 0}), 3);
  const torch::Tensor xt = torch::randn({5, 1, 8, 8});
  const torch::Tensor yt = centred(torch::tensor({0, 1, 2, 1, 0}), 3);
  // Blocks of 3 pairs: neither matrix is a whole number of blocks.
  const torch::Tensor xs = xs0.clone().requires_grad_(), ys = ys0.clone().requires_grad_();
  const KipObjective blocked = kip_objective(kernel, KernelKind::Ntk, xs, ys, xt, yt, 1e-6, 3);
  // The same loss with the kernel matrices inside one graph.
  const torch::Tensor xs2 = xs0.clone().requires_grad_(), ys2 = ys0.clone().requires_grad_();
  const torch::Tensor kss = kernel(xs2, xs2, KernelKind::Ntk), kts = kernel(xt, xs2, KernelKind::Ntk);
  const torch::Tensor reg = 1e-6 * kss.trace() / 4 * torch::eye(4, torch::kDouble);
  const torch::Tensor pred = torch::matmul(kts, torch::linalg_solve(kss + reg, ys2.to(torch::kDouble)));
  const torch::Tensor loss = 0.5 * (pred - yt.to(torch::kDouble)).pow(2).mean();
  loss.backward();
  EXPECT_NEAR(blocked.loss, loss.item<double>(), 1e-12);
  EXPECT_TRUE(torch::allclose(xs.grad(), xs2.grad(), 1e-5, 1e-7)) << xs.grad().flatten().slice(0, 0, 6) << "\n"
                                                                   << xs2.grad().flatten().slice(0, 0, 6);
  EXPECT_TRUE(torch::allclose(ys.grad(), ys2.grad(), 1e-5, 1e-7));
  EXPECT_GT(xs.grad().abs().max().item<float>(), 0.0f);
}

TEST(KipObjective, AdamOnTheSupportImagesLowersTheLossOnAFixedTargetBatch) {
  torch::manual_seed(2);
  const ConvNetKernel kernel(ConvNtkConfig{2, false});
  // Targets: two classes told apart by the sign of their mean; the support starts as noise.
  const torch::Tensor labels = torch::arange(2).repeat(10);
  const torch::Tensor xt = torch::randn({20, 1, 8, 8}) * 0.5 + (labels.to(torch::kFloat) * 2 - 1).view({-1, 1, 1, 1});
  const torch::Tensor yt = centred(labels, 2);
  const torch::Tensor xs = torch::randn({2, 1, 8, 8}).requires_grad_();
  const torch::Tensor ys = centred(torch::arange(2), 2);
  torch::optim::Adam opt({xs}, torch::optim::AdamOptions(0.05));
  double first = 0, last = 0;
  for (int step = 0; step < 15; ++step) {
    opt.zero_grad();
    last = kip_objective(kernel, KernelKind::Ntk, xs, ys, xt, yt, 1e-6, 16).loss;
    if (step == 0) first = last;
    opt.step();
  }
  EXPECT_LT(last, 0.8 * first) << first << " -> " << last;
}

TEST(LayerNormZca, WhitensTheLayerNormalisedTrainingImagesUpToTheRegulariser) {
  torch::manual_seed(3);
  // Correlated features: a random mixing of independent ones.
  const torch::Tensor x = torch::matmul(torch::randn({400, 12}), torch::randn({12, 12})).view({400, 3, 2, 2});
  const LayerNormZca z = fit_layernorm_zca(x, 0.1);
  EXPECT_TRUE(torch::allclose(z.transform, z.transform.t(), 1e-4, 1e-5));
  const torch::Tensor w = z.apply(x).view({400, 12}).to(torch::kDouble);
  // cov(whitened) = U diag(s / (s + reg)) U^T: eigenvalues below 1, the large ones close to it.
  const torch::Tensor evals = torch::linalg_eigvalsh(torch::matmul(w.t(), w) / 400, "L");
  EXPECT_LT(evals.max().item<double>(), 1.0);
  EXPECT_GT(evals.max().item<double>(), 0.8);
  // Layer norm first: a rescaled image whitens to the same thing.
  EXPECT_TRUE(torch::allclose(z.apply(x.slice(0, 0, 3) * 7), z.apply(x.slice(0, 0, 3)), 1e-4, 1e-5));
  EXPECT_THROW(kip_preprocess(toy28(), x, "pca", 0.1), UserError);
}

SyntheticSet distill_kip(const json& options, const std::string& net = "ConvNet") {
  const MethodInfo& info = MethodRegistry::instance().get("kip");
  DistillContext ctx{toy28()};
  ctx.ipc = 1;
  ctx.net = net;
  ctx.options = Options(resolve_options(info, options));
  torch::manual_seed(4);
  return info.make()->distill(ctx);
}

TEST(KipMethod, DistilsInItsPreprocessedSpaceAndRecordsIt) {
  const int64_t k = toy28().info.num_classes;
  // One step on 10 support images and 10 targets (200 kernel pairs at 28 px: seconds here).
  const SyntheticSet set = distill_kip({{"iterations", 1}, {"target_batch", k}, {"architecture", "ConvNet3"},
                                        {"block_pairs", 128}, {"learn_labels", true}});
  ASSERT_EQ(set.images.sizes(), (std::vector<int64_t>{k, 1, 28, 28}));
  ASSERT_EQ(set.labels.sizes(), (std::vector<int64_t>{k, k}));
  EXPECT_EQ(set.meta.at("kip").at("preprocess"), "zca_normalize");
  EXPECT_TRUE(torch::isfinite(set.images).all().item<bool>());
  // It started from the whitened real images of the same draw, with centred one-hot labels, and moved both.
  torch::manual_seed(4);
  const SyntheticSet init = real_init(toy28(), 1);
  const torch::Tensor start = kip_preprocess(toy28(), init.images, "zca_normalize", 0.1);
  const double moved = (set.images - start).abs().max().item<double>();
  EXPECT_GT(moved, 1e-6);
  EXPECT_LT(moved, 1.0);  // one Adam step of lr 0.04 moves each pixel by at most about that much
  EXPECT_GT((set.labels - centred(init.labels, k)).abs().max().item<float>(), 1e-4f);
  EXPECT_THROW(distill_kip({{"target_batch", k + 1}}), UserError);
  EXPECT_THROW(distill_kip({{"kernel", "rbf"}, {"iterations", 1}, {"target_batch", k}}), UserError);
  EXPECT_THROW(distill_kip({{"iterations", 1}, {"target_batch", k}}, "ResNet18"), UserError);  // would be ignored
}

TEST(KipProtocol, TrainsANetOnTheSetWithTheMseLossAndScoresTheTestSplit) {
  const EvalSpec spec = EvalSpec::from_json({{"protocol", "kip"}, {"net", "MLP"}, {"steps", 300}});
  EXPECT_EQ(spec.batch_train, 100);  // the notebook's, where the cell gives none
  EXPECT_EQ(spec.to_json().at("steps"), 300);
  EXPECT_EQ(EvalSpec::from_json({{"protocol", "kip"}}).net, "KipConvNet");
  EXPECT_THROW(EvalSpec::from_json({{"protocol", "dc"}, {"steps", 5}}), UserError);
  SyntheticSet set = toy28_real_set(10);
  const EvalRunResult hard = evaluate_once(set, toy28(), spec, 7, torch::kCPU);
  const double chance = 100.0 / toy28().info.num_classes;
  EXPECT_GT(hard.accuracy, chance + 30) << hard.accuracy;
  // A set in KIP's whitened space with soft labels: the test split is whitened the same way.
  set.images = kip_preprocess(toy28(), set.images, "zca_normalize", 0.1);
  set.labels = centred(set.labels, toy28().info.num_classes);
  set.meta["kip"] = {{"preprocess", "zca_normalize"}, {"zca_reg", 0.1}};
  // (Whitening equalises toy28's template directions with its pixel noise, so an MLP learns less from it than
  // from the raw images -- 31.5% here -- but far above chance only if the test split is whitened alike.)
  const EvalRunResult whitened = evaluate_once(set, toy28(), spec, 7, torch::kCPU);
  EXPECT_GT(whitened.accuracy, chance + 15) << whitened.accuracy;
}

}  // namespace
}  // namespace ddb
