// RDD's shifted test sets (harness/shifted_tests.h): the Noise / Blur / Invert transforms against their
// recipes and PIL, KMeans on constructed clusters, Cluster-min on a constructed net and test set, and the
// rows train_and_test returns.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "datasets/registry.h"
#include "ddbench_config.h"  // DDBENCH_PYTHON, DDBENCH_SOURCE_DIR
#include "harness/eval_protocol.h"
#include "harness/shifted_tests.h"

namespace ddb {
namespace {

// The image of pil_blur_reference.py: ((r * 7 + c * 13 + (r * c) % 11 + 37 * ch) % 256) as uint8.
torch::Tensor ramp(int64_t c, int64_t h, int64_t w) {
  torch::Tensor a = torch::empty({1, c, h, w}, torch::kUInt8);
  auto acc = a.accessor<uint8_t, 4>();
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t r = 0; r < h; ++r)
      for (int64_t col = 0; col < w; ++col) acc[0][ch][r][col] = static_cast<uint8_t>((r * 7 + col * 13 + (r * col) % 11 + 37 * ch) % 256);
  return a;
}

std::vector<int64_t> values(const torch::Tensor& u8) {
  const torch::Tensor f = u8.flatten().to(torch::kLong);
  return std::vector<int64_t>(f.data_ptr<int64_t>(), f.data_ptr<int64_t>() + f.numel());
}

TEST(ShiftedTests, PilBoxRadiusOfRadiusTwoIsOnePointThreeSevenFive) {
  // sigma^2 = 4/3, L = sqrt(17), l = 1, a = 3 (2 - 4) / (6 (4/3 - 4)) = 0.375.
  EXPECT_FLOAT_EQ(pil_box_radius(2.0f, 3), 1.375f);
}

TEST(ShiftedTests, BlurMatchesPilOnFixedImages) {
  // Printed by tests/robustness/pil_blur_reference.py (Pillow 9.4.0), GaussianBlur(radius=2).
  EXPECT_EQ(values(pil_gaussian_blur(ramp(1, 5, 7), 2.0f)),
            (std::vector<int64_t>{23, 28, 37, 49, 60, 69, 74, 26, 31, 40, 52, 63, 72, 77, 30, 36, 45, 57,
                                  68, 77, 82, 34, 40, 49, 61, 72, 81, 86, 37, 43, 52, 64, 75, 84, 89}));
  EXPECT_EQ(values(pil_gaussian_blur(ramp(3, 4, 6), 2.0f)),
            (std::vector<int64_t>{22,  28,  37,  47,  56,  61,  24,  30,  39,  50,  58,  64,  28,  33,  43,
                                  53,  62,  67,  30,  35,  45,  55,  64,  69,  59,  65,  74,  84,  93,  98,
                                  61,  67,  76,  87,  95,  101, 65,  70,  80,  90,  99,  104, 67,  72,  82,
                                  92,  101, 106, 96,  102, 111, 121, 130, 135, 98,  104, 113, 124, 132, 138,
                                  102, 107, 117, 127, 136, 141, 104, 109, 119, 129, 138, 143}));
  // A line shorter than the box (edge pixels repeated).
  EXPECT_EQ(values(pil_gaussian_blur(ramp(1, 3, 1), 2.0f)), (std::vector<int64_t>{6, 7, 8}));
  // A constant image stays constant.
  const torch::Tensor flat = torch::full({2, 3, 9, 9}, 200, torch::kUInt8);
  EXPECT_TRUE(torch::equal(pil_gaussian_blur(flat, 2.0f), flat));
}

TEST(ShiftedTests, BlurAndInvertMatchPilRunLive) {
  const std::string py = DDBENCH_PYTHON;
  if (py.empty() || std::system((py + " -c 'import PIL, numpy' >/dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << "no python3 with PIL";
  const std::string script = std::string(DDBENCH_SOURCE_DIR) + "/tests/robustness/pil_blur_reference.py";
  const auto out = std::filesystem::temp_directory_path() / ("ddbench-pil-blur-" + std::to_string(::getpid()) + ".bin");
  for (const auto& [c, h, w, radius] : std::vector<std::tuple<int, int, int, float>>{
           {3, 32, 32, 2.0f}, {1, 28, 28, 2.0f}, {3, 17, 5, 2.0f}, {3, 20, 24, 1.0f}, {1, 12, 30, 3.5f}}) {
    char cmd[1024];
    std::snprintf(cmd, sizeof cmd, "%s %s %d %d %d %g %s", py.c_str(), script.c_str(), c, h, w, radius, out.c_str());
    ASSERT_EQ(std::system(cmd), 0) << cmd;
    std::ifstream in(out, std::ios::binary);
    const std::string want((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const int64_t n = int64_t{c} * h * w;
    ASSERT_EQ(static_cast<int64_t>(want.size()), 2 * n);
    const torch::Tensor img = ramp(c, h, w);
    const torch::Tensor blurred = pil_gaussian_blur(img, radius).contiguous();
    EXPECT_EQ(std::memcmp(blurred.data_ptr<uint8_t>(), want.data(), static_cast<size_t>(n)), 0) << cmd;
    // rdd_invert on ToTensor() values = PIL ImageOps.invert.
    const torch::Tensor inv = (rdd_invert(img.to(torch::kFloat).div(255)) * 255).round().to(torch::kUInt8).contiguous();
    EXPECT_EQ(std::memcmp(inv.data_ptr<uint8_t>(), want.data() + n, static_cast<size_t>(n)), 0) << cmd;
    if (radius == 2.0f) {  // rdd_blur: the same bytes, as ToTensor() values
      const torch::Tensor b = (rdd_blur(img.to(torch::kFloat).div(255)) * 255).round().to(torch::kUInt8).contiguous();
      EXPECT_TRUE(torch::equal(b, blurred));
    }
  }
  std::filesystem::remove(out);
}

TEST(ShiftedTests, InvertIsOneMinusXOnEightBitValues) {
  const torch::Tensor k = torch::arange(256, torch::kFloat).view({1, 1, 16, 16});
  const torch::Tensor inv = rdd_invert(k / 255);
  EXPECT_TRUE(torch::equal(inv, (255 - k) / 255));
  EXPECT_TRUE(torch::equal(rdd_invert(inv), k / 255));
  // Values between 8-bit levels are snapped first (PIL sees 8-bit images).
  EXPECT_FLOAT_EQ(rdd_invert(torch::full({1, 1, 1, 1}, 0.1001f)).item<float>(), (255.0f - 26.0f) / 255.0f);
}

TEST(ShiftedTests, NoiseFollowsTheCifarRecipeSeededAndClipped) {
  const torch::Tensor grey = torch::full({40, 3, 32, 32}, 0.5f);
  const torch::Tensor a = rdd_noise(grey, NoiseRecipe::Cifar, 7);
  EXPECT_TRUE(torch::equal(a, rdd_noise(grey, NoiseRecipe::Cifar, 7)));  // the same set every run
  EXPECT_FALSE(torch::equal(a, rdd_noise(grey, NoiseRecipe::Cifar, 8)));
  const torch::Tensor d = (a - grey).to(torch::kDouble);
  EXPECT_NEAR(d.mean().item<double>(), 0.0, 0.002);
  EXPECT_NEAR(d.std().item<double>(), std::sqrt(0.005), 0.002);  // variance 0.005, sigma 0.0707
  // Clipped to [0, 1]: on a black image about half the pixels stay at 0, none below.
  const torch::Tensor black = rdd_noise(torch::zeros({10, 1, 28, 28}), NoiseRecipe::Cifar, 1);
  EXPECT_GE(black.min().item<float>(), 0.0f);
  const double zeros = (black == 0).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(zeros, 0.5, 0.05);
  // The global RNG is untouched.
  torch::manual_seed(3);
  const torch::Tensor r1 = torch::rand({4});
  torch::manual_seed(3);
  rdd_noise(grey, NoiseRecipe::Cifar, 7);
  EXPECT_TRUE(torch::equal(torch::rand({4}), r1));
}

TEST(ShiftedTests, NoiseFollowsTheImageNetRecipeQuantisedByTruncation) {
  EXPECT_EQ(noise_recipe_for(ImageShape{3, 32, 32}), NoiseRecipe::Cifar);
  EXPECT_EQ(noise_recipe_for(ImageShape{1, 28, 28}), NoiseRecipe::Cifar);
  EXPECT_EQ(noise_recipe_for(ImageShape{3, 64, 64}), NoiseRecipe::ImageNet);
  EXPECT_EQ(noise_recipe_for(ImageShape{3, 128, 128}), NoiseRecipe::ImageNet);
  const torch::Tensor grey = torch::full({8, 3, 64, 64}, 128.0f / 255);
  const torch::Tensor a = rdd_noise(grey, NoiseRecipe::ImageNet, 5);
  const torch::Tensor k = a * 255;
  EXPECT_LT((k - k.round()).abs().max().item<float>(), 1e-3f);  // k / 255 (np.uint8)
  const torch::Tensor d = (a - grey).to(torch::kDouble);
  EXPECT_NEAR(d.std().item<double>(), 0.2, 0.01);
  // np.uint8 truncates: on average half a level below the clipped noisy value.
  EXPECT_NEAR(d.mean().item<double>(), -0.5 / 255, 0.006);
  EXPECT_GE(a.min().item<float>(), 0.0f);
  EXPECT_LE(a.max().item<float>(), 1.0f);
}

LoadedDataset pixel_dataset(const torch::Tensor& pixels, const torch::Tensor& labels, double mean, double sd) {
  LoadedDataset d;
  d.info.name = "constructed";
  d.info.shape = ImageShape{pixels.size(1), pixels.size(2), pixels.size(3)};
  d.info.num_classes = labels.max().item<int64_t>() + 1;
  d.info.mean.assign(static_cast<size_t>(pixels.size(1)), mean);
  d.info.std.assign(static_cast<size_t>(pixels.size(1)), sd);
  d.test.images = (pixels - mean) / sd;
  d.test.labels = labels;
  return d;
}

TEST(ShiftedTests, TransformedSetsAreInTheLoadersNormalisedSpace) {
  const torch::Tensor pixels = torch::randint(0, 256, {6, 3, 8, 8}).to(torch::kFloat) / 255;
  const LoadedDataset d = pixel_dataset(pixels, torch::arange(6) % 2, 0.4, 0.2);
  const torch::Tensor inv = shifted_test_images("rdd-invert", d);
  EXPECT_TRUE(torch::allclose(inv * 0.2 + 0.4, 1 - pixels, 0, 1e-5));
  const torch::Tensor noisy = shifted_test_images("rdd-noise", d);
  EXPECT_TRUE(torch::equal(noisy, shifted_test_images("rdd-noise", d)));
  EXPECT_EQ(noisy.sizes(), pixels.sizes());
  EXPECT_EQ(shifted_test_images("rdd-blur", d).sizes(), pixels.sizes());
  EXPECT_THROW(shifted_test_images("rdd-kmeans10", d), UserError);
  EXPECT_THROW(shifted_test_images("textures", d), UserError);
}

// Three blobs in 6-D, 20 points each, shuffled.
TEST(ShiftedTests, KMeansRecoversConstructedClusters) {
  torch::manual_seed(0);
  const torch::Tensor centres = torch::tensor({{0.f, 0.f, 0.f, 0.f, 0.f, 0.f}, {5.f, 5.f, 0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 9.f, -3.f, 1.f}});
  const torch::Tensor truth = torch::arange(3).repeat_interleave(20);
  const torch::Tensor perm = torch::randperm(60);
  const torch::Tensor t = truth.index_select(0, perm);
  const torch::Tensor x = centres.index_select(0, t) + 0.1 * torch::randn({60, 6});
  KMeansOptions o;
  o.clusters = 3;
  const KMeansResult r = kmeans(x, o);
  // The same partition up to the cluster names.
  for (int64_t i = 0; i < 60; ++i)
    for (int64_t j = 0; j < 60; ++j)
      ASSERT_EQ(r.labels[i].item<int64_t>() == r.labels[j].item<int64_t>(), t[i].item<int64_t>() == t[j].item<int64_t>());
  // The centres are the cluster means; the inertia the sum of squared distances to them.
  double inertia = 0;
  for (int64_t c = 0; c < 3; ++c) {
    const torch::Tensor members = x.index_select(0, (r.labels == c).nonzero().flatten());
    EXPECT_TRUE(torch::allclose(r.centers[c], members.mean(0), 1e-4, 1e-4));
    inertia += (members - members.mean(0)).pow(2).sum().item<double>();
  }
  EXPECT_NEAR(r.inertia, inertia, 1e-3 * inertia);
  // Seeded: the same labels again.
  EXPECT_TRUE(torch::equal(kmeans(x, o).labels, r.labels));
  // As many clusters as distinct points: each its own cluster, inertia 0.
  o.clusters = 4;
  const KMeansResult four = kmeans(torch::tensor({{0.f, 0.f}, {1.f, 0.f}, {0.f, 1.f}, {7.f, 7.f}}), o);
  EXPECT_EQ(std::set<int64_t>(four.labels.data_ptr<int64_t>(), four.labels.data_ptr<int64_t>() + 4).size(), 4u);
  EXPECT_NEAR(four.inertia, 0.0, 1e-9);
  o.clusters = 5;
  EXPECT_THROW(kmeans(torch::zeros({4, 2}), o), UserError);
}

TEST(ShiftedTests, GroupAccuraciesPerGroup) {
  const torch::Tensor pred = torch::tensor({0, 1, 1, 0, 2, 2}, torch::kLong);
  const torch::Tensor lab = torch::tensor({0, 1, 0, 0, 1, 2}, torch::kLong);
  const torch::Tensor grp = torch::tensor({0, 0, 1, 1, 2, 2}, torch::kLong);
  const std::vector<double> acc = group_accuracies(pred, lab, grp, 4);
  EXPECT_DOUBLE_EQ(acc[0], 100.0);
  EXPECT_DOUBLE_EQ(acc[1], 50.0);
  EXPECT_DOUBLE_EQ(acc[2], 50.0);
  EXPECT_TRUE(std::isnan(acc[3]));  // empty
}

// Predicts class 0 for everything (constant logits).
class ConstantNet : public NetImpl {
 public:
  explicit ConstantNet(int64_t classes) : classes_(classes) {}
  torch::Tensor forward(torch::Tensor x) override {
    torch::Tensor z = torch::zeros({x.size(0), classes_});
    z.select(1, 0).fill_(1);
    return z;
  }
  torch::Tensor embed(torch::Tensor x) override { return x.flatten(1); }

 private:
  int64_t classes_;
};

// Class 1 when the mean pixel (normalised space) is above 0, else class 0.
class BrightnessNet : public NetImpl {
 public:
  torch::Tensor forward(torch::Tensor x) override {
    const torch::Tensor m = x.flatten(1).mean(1);
    return torch::stack({-m, m}, 1);
  }
  torch::Tensor embed(torch::Tensor x) override { return x.flatten(1); }
};

TEST(ShiftedTests, ClusterMinOnAConstructedTestSet) {
  // Ten tight clusters of 10 images (a constant grey level each, far apart in pixel space); in cluster b
  // the first b + 1 images have label 0, so a net that always says 0 is (b + 1) * 10 % right there.
  torch::manual_seed(1);
  std::vector<torch::Tensor> imgs;
  std::vector<int64_t> labels;
  for (int64_t b = 0; b < 10; ++b)
    for (int64_t i = 0; i < 10; ++i) {
      imgs.push_back(torch::full({1, 1, 4, 4}, 0.05f + 0.1f * static_cast<float>(b)) + 0.002 * torch::randn({1, 1, 4, 4}));
      labels.push_back(i <= b ? 0 : 1);
    }
  const torch::Tensor perm = torch::randperm(100);
  const LoadedDataset d = pixel_dataset(torch::cat(imgs).index_select(0, perm),
                                        torch::tensor(labels, torch::kLong).index_select(0, perm), 0.5, 0.25);
  const torch::Tensor groups = test_split_clusters(d);
  ASSERT_EQ(groups.size(0), 100);
  // Each cluster is one grey level.
  const torch::Tensor level = ((d.test.images.flatten(1).mean(1) * 0.25 + 0.5 - 0.05) / 0.1).round().to(torch::kLong);
  for (int64_t i = 0; i < 100; ++i)
    for (int64_t j = 0; j < 100; ++j)
      ASSERT_EQ(groups[i].item<int64_t>() == groups[j].item<int64_t>(), level[i].item<int64_t>() == level[j].item<int64_t>());
  EXPECT_TRUE(torch::equal(test_split_clusters(d), groups));  // cached

  ConstantNet net(2);
  const double standard = 55.0;  // sum over b of (b + 1) images labelled 0
  const std::vector<MetricValue> rows = shifted_test_rows(net, d, {"rdd-kmeans10", "rdd-noise"}, standard, torch::kCPU);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].metric, "worst_group_accuracy@rdd-kmeans10");
  EXPECT_DOUBLE_EQ(rows[0].value, 10.0);  // cluster 0: 1 of 10
  EXPECT_EQ(rows[1].metric, "accuracy_drop@rdd-kmeans10");
  EXPECT_DOUBLE_EQ(rows[1].value, 45.0);
  EXPECT_EQ(rows[2].metric, "accuracy@rdd-noise");
  EXPECT_DOUBLE_EQ(rows[2].value, 55.0);  // a constant net does not care
  EXPECT_EQ(rows[3].metric, "accuracy_drop@rdd-noise");
  EXPECT_DOUBLE_EQ(rows[3].value, 0.0);
  EXPECT_THROW(shifted_test_rows(net, d, {"textures"}, standard, torch::kCPU), UserError);
}

TEST(ShiftedTests, InvertFlipsABrightnessClassifierBlurAndNoiseDoNot) {
  // Dark images (0.1) are class 0, bright ones (0.9) class 1; normalised with mean 0.5: the sign of the mean.
  const torch::Tensor pixels = torch::cat({torch::full({3, 3, 8, 8}, 0.1f), torch::full({3, 3, 8, 8}, 0.9f)});
  const LoadedDataset d = pixel_dataset(pixels, torch::tensor({0, 0, 0, 1, 1, 1}, torch::kLong), 0.5, 0.25);
  BrightnessNet net;
  const std::vector<MetricValue> rows =
      shifted_test_rows(net, d, {"rdd-invert", "rdd-blur", "rdd-noise"}, 100.0, torch::kCPU);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].metric, "accuracy@rdd-invert");
  EXPECT_DOUBLE_EQ(rows[0].value, 0.0);
  EXPECT_DOUBLE_EQ(rows[1].value, 100.0);
  EXPECT_EQ(rows[2].metric, "accuracy@rdd-blur");
  EXPECT_DOUBLE_EQ(rows[2].value, 100.0);
  EXPECT_EQ(rows[4].metric, "accuracy@rdd-noise");
  EXPECT_DOUBLE_EQ(rows[4].value, 100.0);
}

TEST(ShiftedTests, TrainAndTestReturnsEveryRow) {
  const LoadedDataset data = load_dataset("toy28", LoadOptions{});
  SyntheticSet set;
  set.images = data.train.images.narrow(0, 0, 30);
  set.labels = data.train.labels.narrow(0, 0, 30);
  EvalSpec spec = EvalSpec::from_json({{"protocol", "dc"}, {"net", "ConvNetW32"}, {"epochs", 2},
                                       {"ood", {"rdd-kmeans10", "rdd-noise", "rdd-blur", "rdd-invert"}}});
  const EvalRunResult r = evaluate_once(set, data, spec, 11, torch::kCPU);
  std::map<std::string, double> v;
  for (const auto& m : r.values) v[m.metric] = m.value;
  ASSERT_EQ(v.size(), 9u);
  EXPECT_DOUBLE_EQ(v.at("accuracy"), r.accuracy);
  for (const char* s : {"rdd-noise", "rdd-blur", "rdd-invert"}) {
    EXPECT_GE(v.at(std::string("accuracy@") + s), 0.0);
    EXPECT_DOUBLE_EQ(v.at(std::string("accuracy_drop@") + s), r.accuracy - v.at(std::string("accuracy@") + s));
  }
  EXPECT_LE(v.at("worst_group_accuracy@rdd-kmeans10"), r.accuracy);
  EXPECT_DOUBLE_EQ(v.at("accuracy_drop@rdd-kmeans10"), r.accuracy - v.at("worst_group_accuracy@rdd-kmeans10"));
  // The same seed gives the same rows (the noise set is fixed, the clustering cached).
  const EvalRunResult again = evaluate_once(set, data, spec, 11, torch::kCPU);
  ASSERT_EQ(again.values.size(), r.values.size());
  for (size_t i = 0; i < r.values.size(); ++i) EXPECT_DOUBLE_EQ(again.values[i].value, r.values[i].value) << r.values[i].metric;
  // Without eval.ood only accuracy, and the configuration hash stays what it was (no "ood" key).
  spec.ood.clear();
  EXPECT_EQ(evaluate_once(set, data, spec, 11, torch::kCPU).values.size(), 1u);
  EXPECT_FALSE(spec.to_json().contains("ood"));
}

}  // namespace
}  // namespace ddb
