// Tests for harness/gradcam: a constructed net whose Grad-CAM answer is known (the map lies on the region
// whose activations carry the target logit, ~0 elsewhere), the [0,1] range and the upsampled shape on the
// ConvNet/ResNet hooks, and the clear error for nets without a conv feature map.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "harness/gradcam.h"
#include "harness/nets/net.h"

namespace {

using ddb::ImageShape;

// A = [relu(x), relu(-x)] pooled 4x4 (a 16x16 image gives a 4x4 map of 2 channels);
// y0 = sum A0, y1 = sum A1, y2 = sum A0 - 2 sum A1.
// Grad-CAM weights: class 0 (1, 0), class 1 (0, 1), class 2 (1, -2) (times 1/16).
class TwoChannelNet : public ddb::NetImpl {
 public:
  torch::Tensor forward(torch::Tensor x) override { return feature_map_and_logits(x).second; }
  torch::Tensor embed(torch::Tensor x) override { return feature_map_and_logits(x).first.flatten(1); }
  std::pair<torch::Tensor, torch::Tensor> feature_map_and_logits(torch::Tensor x) override {
    auto a = torch::cat({torch::relu(x), torch::relu(-x)}, 1);
    a = torch::avg_pool2d(a, 4);
    const auto s0 = a.select(1, 0).sum({1, 2});
    const auto s1 = a.select(1, 1).sum({1, 2});
    return {a, torch::stack({s0, s1, s0 - 2 * s1}, 1)};
  }
};

// Bright (+1) top-left 8x8 quadrant, dark (-1) bottom-right quadrant, 0 elsewhere.
torch::Tensor quadrant_image() {
  auto x = torch::zeros({1, 1, 16, 16});
  x.index_put_({0, 0, torch::indexing::Slice(0, 8), torch::indexing::Slice(0, 8)}, 1.0);
  x.index_put_({0, 0, torch::indexing::Slice(8, 16), torch::indexing::Slice(8, 16)}, -1.0);
  return x;
}

torch::Tensor quad(const torch::Tensor& m, int r, int c) {
  using torch::indexing::Slice;
  return m.index({Slice(r * 8, r * 8 + 8), Slice(c * 8, c * 8 + 8)});
}

}  // namespace

TEST(GradCam, MapLiesOnTheRegionThatDrivesTheTargetLogit) {
  TwoChannelNet net;
  const auto x = quadrant_image().repeat({3, 1, 1, 1});
  const auto maps = ddb::grad_cam(net, x, torch::tensor({0, 1, 2}, torch::kLong), torch::kCPU, /*batch=*/2);
  ASSERT_EQ(maps.sizes(), (std::vector<int64_t>{3, 16, 16}));
  // Class 0 (and 2, whose negative weight on the dark channel is cut by the ReLU): the bright quadrant.
  for (int k : {0, 2}) {
    const auto m = maps[k];
    using torch::indexing::Slice;
    EXPECT_NEAR(m.index({Slice(0, 6), Slice(0, 6)}).min().item<double>(), 1.0, 1e-5) << "class " << k;
    // Away from the 2-pixel band where bilinear upsampling blends neighbouring map cells: exactly 0.
    EXPECT_LT(quad(m, 1, 1).index({Slice(2, 8), Slice(2, 8)}).max().item<double>(), 1e-6) << "class " << k;
    EXPECT_LT(quad(m, 0, 1).index({Slice(), Slice(2, 8)}).max().item<double>(), 1e-6) << "class " << k;
    EXPECT_LT(quad(m, 1, 0).index({Slice(2, 8), Slice()}).max().item<double>(), 1e-6) << "class " << k;
  }
  // Class 1: the dark quadrant (relu(-x) channel), nothing at the bright one.
  using torch::indexing::Slice;
  EXPECT_NEAR(maps[1].index({Slice(10, 16), Slice(10, 16)}).min().item<double>(), 1.0, 1e-5);
  EXPECT_LT(quad(maps[1], 0, 0).index({Slice(0, 6), Slice(0, 6)}).max().item<double>(), 1e-6);
  // The fraction of pixels >= 0.5 is about a quarter for every class.
  const auto f = ddb::fraction_at_least(maps, 0.5);
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(f[k].item<double>(), 0.25, 0.05) << "class " << k;
}

TEST(GradCam, ConstantMapStaysZero) {
  TwoChannelNet net;
  const auto maps = ddb::grad_cam(net, torch::zeros({2, 1, 16, 16}), torch::tensor({0, 1}, torch::kLong), torch::kCPU);
  EXPECT_EQ(maps.abs().max().item<double>(), 0.0);
}

TEST(GradCam, ConvNetAndResNetHooksGiveUnitRangeMapsOfTheInputSize) {
  torch::manual_seed(3);
  for (const std::string name : {"ConvNet", "ConvNetBN", "ResNet18"}) {
    const ImageShape shape{1, 28, 28};
    auto net = ddb::make_net(name, shape, 10);
    net->train();
    const auto x = torch::randn({4, 1, 28, 28});
    net->eval();
    auto [map, logits] = net->feature_map_and_logits(x);
    EXPECT_EQ(map.dim(), 4) << name;
    EXPECT_TRUE(torch::allclose(logits, net->forward(x), 1e-5, 1e-5)) << name;
    net->train();
    const auto maps = ddb::grad_cam(*net, x, torch::tensor({0, 3, 5, 9}, torch::kLong), torch::kCPU);
    EXPECT_TRUE(net->is_training()) << name << ": mode restored";
    ASSERT_EQ(maps.sizes(), (std::vector<int64_t>{4, 28, 28})) << name;
    EXPECT_GE(maps.min().item<double>(), 0.0) << name;
    EXPECT_LE(maps.max().item<double>(), 1.0) << name;
    for (int i = 0; i < 4; ++i) {
      const double mx = maps[i].max().item<double>();
      EXPECT_TRUE(mx == 0.0 || std::abs(mx - 1.0) < 1e-6) << name << " image " << i << " max " << mx;
    }
  }
  // ConvNet: the map is the last block before its pool (28 px -> 32 -> 16 -> 8 -> pool 4).
  auto net = ddb::make_net("ConvNet", {1, 28, 28}, 10);
  EXPECT_EQ(net->feature_map_and_logits(torch::randn({1, 1, 28, 28})).first.sizes(),
            (std::vector<int64_t>{1, 128, 8, 8}));
}

TEST(GradCam, NetWithoutAConvMapSaysSo) {
  auto net = ddb::make_net("MLP", {1, 28, 28}, 10);
  try {
    ddb::grad_cam(*net, torch::randn({1, 1, 28, 28}), torch::tensor({0}, torch::kLong), torch::kCPU);
    FAIL() << "no error";
  } catch (const ddb::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("Grad-CAM needs a conv feature map"), std::string::npos) << e.what();
  }
}
