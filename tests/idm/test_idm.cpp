// IDM (methods/matching/idm*.cpp, model_queue.*), FYI's flip concatenation and the unequalness set
// metric (methods/matching/unequalness.cpp, harness/set_metrics.*).
#include <gtest/gtest.h>

#include <set>

#include "datasets/registry.h"
#include "harness/runner.h"
#include "harness/set_metrics.h"
#include "methods/matching/idm_partition.h"
#include "methods/matching/model_queue.h"
#include "methods/matching/seam.h"
#include "methods/method.h"

using namespace ddb;

namespace {

namespace F = torch::nn::functional;

const LoadedDataset& toy() {
  static const LoadedDataset d = load_dataset("toy28", {});
  return d;
}

torch::Tensor upsample_to(const torch::Tensor& x, int64_t h, int64_t w) {
  return F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
}

SyntheticSet distill_idm(const json& options) {
  const MethodInfo& info = MethodRegistry::instance().get("idm");
  torch::manual_seed(11);
  DistillContext ctx{toy(), 1, "ConvNetW32", Options(resolve_options(info, options)), 11, torch::kCPU, nullptr};
  return info.make()->distill(ctx);
}

double unequalness_of(const torch::Tensor& images, const torch::Tensor& labels, const std::string& distance) {
  const SetMetricFn* f = SetMetricRegistry::instance().find("unequalness");
  EXPECT_NE(f, nullptr);
  SyntheticSet s;
  s.images = images;
  s.labels = labels;
  const json config = {{"method", "dm"}, {"distill_net", "ConvNetW32"},
                       {"options", {{"unequalness_distance", distance}, {"fyi_transform", "hflip"}}}};
  return (*f)(s, toy(), config, 5, torch::kCPU);
}

}  // namespace

TEST(IdmPartition, ShapesForEachL) {
  const torch::Tensor x = torch::randn({3, 2, 28, 28});
  for (int64_t l : {1, 2, 3}) {
    const torch::Tensor y = partition_expand(x, l);
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3 * l * l, 2, 28, 28})) << "l=" << l;
    EXPECT_EQ(repeat_labels(torch::arange(3), l * l).sizes(), (std::vector<int64_t>{3 * l * l}));
  }
  EXPECT_TRUE(torch::equal(partition_expand(x, 1), x));
  EXPECT_THROW(partition_expand(x, 0), UserError);
}

TEST(IdmPartition, PiecesAreUpsampledTilesInTheReferenceOrder) {
  const torch::Tensor x = torch::randn({2, 1, 28, 28});
  const torch::Tensor y = partition_expand(x, 2);
  // number_sign_augment: [top-left, bottom-left, top-right, bottom-right], each for all images.
  const std::vector<std::pair<int64_t, int64_t>> origin{{0, 0}, {14, 0}, {0, 14}, {14, 14}};
  for (int64_t p = 0; p < 4; ++p) {
    const torch::Tensor tile = x.narrow(2, origin[p].first, 14).narrow(3, origin[p].second, 14);
    EXPECT_TRUE(torch::allclose(y.narrow(0, 2 * p, 2), upsample_to(tile, 28, 28))) << "piece " << p;
  }
  // l = 3 on 28 px: 9-px tiles (row 27 / column 27 unused), row-major within each column.
  const torch::Tensor z = partition_expand(x, 3);
  EXPECT_TRUE(torch::allclose(z.narrow(0, 2 * 1, 2), upsample_to(x.narrow(2, 9, 9).narrow(3, 0, 9), 28, 28)));
}

TEST(IdmPartition, GradientReachesTheStoredImage) {
  for (int64_t l : {2, 3}) {
    const torch::Tensor x = torch::randn({2, 1, 28, 28}).requires_grad_(true);
    const torch::Tensor y = partition_expand(x, l);
    (y * torch::randn_like(y)).sum().backward();
    ASSERT_TRUE(x.grad().defined());
    const int64_t used = 28 / l * l;
    // every pixel inside the tiled area gets gradient; the leftover border (l = 3) gets none
    EXPECT_GT(x.grad().narrow(2, 0, used).narrow(3, 0, used).abs().min().item<double>(), 0.0) << "l=" << l;
    if (used < 28) EXPECT_EQ(x.grad().narrow(2, used, 28 - used).abs().max().item<double>(), 0.0);
  }
}

TEST(IdmDecode, FourUpsampledQuadrantsWithRepeatedLabels) {
  const MethodInfo& info = MethodRegistry::instance().get("idm");
  const std::unique_ptr<Method> m = info.make();
  SyntheticSet stored;
  stored.images = torch::zeros({3, 1, 28, 28});
  stored.images.narrow(2, 0, 14).narrow(3, 0, 14).fill_(1.0);  // top-left quadrant of every image = 1
  stored.images[1].narrow(1, 14, 14).narrow(2, 14, 14).fill_(-2.0);  // image 1: bottom-right = -2
  stored.labels = torch::tensor({4, 7, 9}, torch::kLong);
  const SyntheticSet d = m->decode(stored, Options(resolve_options(info, {{"decode", 2}})));
  EXPECT_EQ(d.images.sizes(), (std::vector<int64_t>{12, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(d.labels, torch::tensor({4, 7, 9, 4, 7, 9, 4, 7, 9, 4, 7, 9}, torch::kLong)));
  EXPECT_TRUE(torch::allclose(d.images.narrow(0, 0, 3), torch::ones({3, 1, 28, 28})));  // piece 0: top-left
  EXPECT_TRUE(torch::allclose(d.images[3 * 3 + 1], torch::full({1, 28, 28}, -2.0)));   // piece 3 of image 1
  EXPECT_TRUE(torch::allclose(d.images.narrow(0, 3, 6), torch::zeros({6, 1, 28, 28})));
  const SyntheticSet same = m->decode(stored, Options(resolve_options(info, {{"decode", 1}})));
  EXPECT_TRUE(torch::equal(same.images, stored.images));
}

TEST(IdmDecode, MultiFormationInitTilesDecodeToTheirRealImages) {
  std::vector<torch::Tensor> tiles;
  for (int p = 0; p < 4; ++p) tiles.push_back(upsample_to(torch::rand({2, 1, 4, 4}), 28, 28));  // smooth images
  const torch::Tensor stored = multi_formation_tile(tiles, 2, torch::zeros({2, 1, 28, 28}));
  const torch::Tensor pieces = partition_expand(stored, 2);
  for (int p = 0; p < 4; ++p) {
    // downscale x0.5 then upsample x2 is a blur of the original: close, not equal
    const double err = (pieces.narrow(0, 2 * p, 2) - tiles[p]).abs().mean().item<double>();
    const double other = (pieces.narrow(0, 2 * p, 2) - tiles[(p + 1) % 4]).abs().mean().item<double>();
    EXPECT_LT(err, 0.5 * other) << "piece " << p;
  }
}

TEST(ModelQueue, PushPopAtCapacityTrainAndPick) {
  torch::manual_seed(3);
  ModelQueue q({"ConvNetW32", toy().info.shape, 10, /*capacity=*/3, 0.01, 0.9, 5e-4, torch::kCPU}, 1);
  for (int i = 0; i < 5; ++i) q.push();
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q.at(0).id, 2);  // the two oldest were dropped
  EXPECT_EQ(q.at(2).id, 4);

  const torch::Tensor before = q.at(1).net->parameters()[0].clone();
  const BatchSampler sample = [](int64_t n) {
    const torch::Tensor idx = torch::randperm(toy().train.size()).narrow(0, 0, n);
    return std::make_pair(toy().train.images.index_select(0, idx), toy().train.labels.index_select(0, idx));
  };
  q.train(1, 2, 8, sample);
  EXPECT_GT((q.at(1).net->parameters()[0] - before).abs().max().item<double>(), 0.0);
  EXPECT_EQ(q.at(1).seen, 16);
  EXPECT_EQ(q.at(1).steps_trained, 2);
  EXPECT_GE(q.at(1).accuracy_percent(), 0.0);
  EXPECT_EQ(q.at(0).seen, 0);  // the others untouched
  q.reset_accuracy();
  EXPECT_EQ(q.at(1).seen, 0);
  EXPECT_EQ(q.at(1).accuracy_percent(), 0.0);

  for (int k : {1, 2, 10}) {
    const auto picked = q.pick(k);
    EXPECT_EQ(picked.size(), std::min<size_t>(k, 3));
    EXPECT_EQ(std::set<size_t>(picked.begin(), picked.end()).size(), picked.size());  // distinct
    for (size_t i : picked) EXPECT_LT(i, q.size());
  }
}

// Issue 5: for f(cat(x, flip(x))), grad_x = df/da + flip(df/db) -- FYI's concatenation sends the
// flipped copy's gradient back, un-flipped, to the stored image.
TEST(Fyi, FlipConcatenationGradientIsDirectPlusUnflippedFlippedGradient) {
  const MethodInfo& dm = MethodRegistry::instance().get("dm");
  const MatchingSeam seam(Options(resolve_options(dm, {{"fyi", true}})));
  ASSERT_EQ(seam.active(), std::vector<std::string>{"fyi"});
  torch::manual_seed(2);
  Net net = make_net("ConvNetW32", toy().info.shape, 10);
  const auto f = [&](const torch::Tensor& z) { return (net->embed(z).mean(0) - 0.3).pow(2).sum(); };

  const torch::Tensor x = torch::randn({3, 1, 28, 28}).requires_grad_(true);
  const SynBatch b = seam.transform_synthetic({x, torch::tensor({1, 2, 3}, torch::kLong)});
  ASSERT_EQ(b.images.size(0), 6);
  EXPECT_TRUE(torch::equal(b.labels, torch::tensor({1, 2, 3, 1, 2, 3}, torch::kLong)));
  f(b.images).backward();

  const torch::Tensor a = x.detach().clone().requires_grad_(true);
  const torch::Tensor fb = torch::flip(x.detach(), {-1}).requires_grad_(true);
  f(torch::cat({a, fb}, 0)).backward();
  const torch::Tensor expected = a.grad() + torch::flip(fb.grad(), {-1});
  EXPECT_TRUE(torch::allclose(x.grad(), expected, 1e-5, 1e-7));
  EXPECT_GT((x.grad() - a.grad()).abs().max().item<double>(), 0.0);  // the flipped copy contributes
}

// Toy images of the first `classes` classes (the score averages over the classes present; fewer
// classes, faster).
std::pair<torch::Tensor, torch::Tensor> first_classes(int64_t classes) {
  const torch::Tensor idx = (toy().train.labels < classes).nonzero().flatten().narrow(0, 0, 8);
  return {toy().train.images.index_select(0, idx), toy().train.labels.index_select(0, idx)};
}

TEST(Unequalness, DmDistanceIsZeroForFlipSymmetricSetsPositiveOtherwise) {
  const auto [x, labels] = first_classes(2);
  const torch::Tensor symmetric = (x + torch::flip(x, {-1})) / 2;  // every image is its own mirror image
  EXPECT_EQ(unequalness_of(symmetric, labels, "dm"), 0.0);
  const double random = unequalness_of(x, labels, "dm");
  EXPECT_GT(random, 1e-3);
  // A set holding each image and its mirror image is flip-invariant as a set (equal class means up
  // to summation order).
  const torch::Tensor pairs = torch::cat({x, torch::flip(x, {-1})}, 0);
  EXPECT_LT(unequalness_of(pairs, torch::cat({labels, labels}), "dm"), 1e-6 * random);
}

TEST(Unequalness, GradientDistancesVanishForFlipSymmetricSets) {
  const auto [x, labels] = first_classes(1);
  const torch::Tensor symmetric = (x + torch::flip(x, {-1})) / 2;
  for (const char* d : {"dc", "dsa"}) {
    // Identical gradients are not at distance exactly 0 under the reference's `ours` distance: each
    // output unit contributes 1 - |g|^2 / (|g|^2 + 1e-6). That floor is all that is left.
    const double sym = unequalness_of(symmetric, labels, d);
    const double random = unequalness_of(x, labels, d);
    EXPECT_GE(sym, 0.0) << d;
    EXPECT_LT(sym, 1e-3 * random) << d;
    EXPECT_GT(random, 1.0) << d;
  }
}

TEST(Unequalness, RunnerEmitsItAsASetMetricRow) {
  const MethodInfo& dm = MethodRegistry::instance().get("dm");
  Job job = make_job(identify({{"method", "dm"},
                    {"options", resolve_options(dm, {{"iterations", 1}, {"batch_real", 8}, {"unequalness_distance", "dm"}})},
                    {"dataset", "toy28"},
                    {"ipc", 1},
                    {"distill_net", "ConvNetW32"},
                    {"eval", {{"protocol", "dc"}, {"net", "ConvNetW32"}, {"epochs", 2}, {"runs", 3}}},
                    {"metric", "unequalness"}}),
                     0);
  const JobOutput out = execute_job(job, toy(), RunnerOptions{}, nullptr, "");
  ASSERT_EQ(out.metrics.size(), 1u);  // no evaluation runs
  EXPECT_EQ(out.metrics[0].metric, "unequalness");
  EXPECT_EQ(out.metrics[0].eval_run, 0);
  EXPECT_GT(out.metrics[0].value, 0.0);
  // every matching method accepts the option
  EXPECT_EQ(resolve_options(MethodRegistry::instance().get("idm"), {{"unequalness_distance", "dsa"}})["unequalness_distance"],
            "dsa");
}

TEST(Idm, DistillsToy28Ipc1WithFiniteMovedImages) {
  const json opts = {{"iterations", 2}, {"batch_real", 8}, {"queue_batch", 8}, {"train_steps", 1},
                     {"interval", 2}, {"eval_interval", 2}};
  json frozen = opts;
  frozen["lr_img"] = 0.0;  // same draws, no pixel steps: the initial set
  const SyntheticSet init = distill_idm(frozen);
  const SyntheticSet s = distill_idm(opts);
  ASSERT_EQ(s.images.sizes(), (std::vector<int64_t>{10, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(s.labels, torch::arange(10)));
  EXPECT_TRUE(torch::isfinite(s.images).all().item<bool>());
  EXPECT_TRUE(std::isfinite(s.meta["final_loss"].get<double>()));
  EXPECT_GT((s.images - init.images).abs().max().item<double>(), 0.0);
  EXPECT_EQ(s.meta["queue_final_size"], 4);  // 3 initial + a push at iteration 0 (interval 2, 2 iterations)
  EXPECT_EQ(s.meta["multi_formation_init"], 2);
  const MethodInfo& info = MethodRegistry::instance().get("idm");
  EXPECT_EQ(info.make()->decode(s, Options(resolve_options(info, opts))).images.size(0), 40);
  // DM's fresh random network instead of the queue, no partition: the same loop runs
  const SyntheticSet plain = distill_idm({{"iterations", 1}, {"batch_real", 8}, {"model_queue", false},
                                          {"partition", 1}, {"decode", 1}});
  EXPECT_TRUE(torch::isfinite(plain.images).all().item<bool>());
  EXPECT_EQ(plain.meta["multi_formation_init"], 1);
  EXPECT_FALSE(plain.meta.contains("queue_final_size"));
}
