// The fused instancenorm -> relu -> avgpool kernel against LibTorch's own ops: values, first
// derivatives (input, gamma, beta), second derivatives (through the unfused fallback), odd sizes
// (the trailing row/column avg_pool2d drops), NaN propagation, and a whole ConvNet step.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "harness/nets/fused_block.h"
#include "harness/nets/net.h"

namespace {

using ddb::nets::instance_norm_relu_avgpool;
using ddb::nets::instance_norm_relu_avgpool_unfused;

struct Inputs {
  torch::Tensor x, w, b;
};

Inputs make_inputs(std::vector<int64_t> shape, uint64_t seed) {
  torch::manual_seed(seed);
  Inputs in;
  in.x = (torch::randn(shape) * 2 + 0.7).requires_grad_(true);  // an offset mean: the cancellation case
  in.w = (torch::rand({shape[1]}) + 0.5).requires_grad_(true);
  in.b = (torch::randn({shape[1]}) * 0.3).requires_grad_(true);
  return in;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

class FusedBlock : public ::testing::TestWithParam<std::vector<int64_t>> {
 protected:
  void SetUp() override { ddb::nets::set_fused_blocks(true); }
};

TEST_P(FusedBlock, ValuesAndFirstDerivativesMatchLibTorch) {
  const Inputs in = make_inputs(GetParam(), 1);
  const torch::Tensor y_ref = instance_norm_relu_avgpool_unfused(in.x, in.w, in.b, 1e-5);
  const torch::Tensor y = instance_norm_relu_avgpool(in.x, in.w, in.b, 1e-5);
  ASSERT_EQ(y.sizes(), y_ref.sizes());
  EXPECT_LT(max_abs_diff(y, y_ref), 2e-5);
  ASSERT_TRUE(y.grad_fn()) << "the fused path must be differentiable";

  const torch::Tensor gy = torch::randn_like(y_ref);
  const auto ref = torch::autograd::grad({y_ref}, {in.x, in.w, in.b}, {gy});
  const auto got = torch::autograd::grad({y}, {in.x, in.w, in.b}, {gy});
  EXPECT_LT(max_abs_diff(got[0], ref[0]), 2e-5) << "d/dx";
  EXPECT_LT(max_abs_diff(got[1], ref[1]), 1e-3 * (1 + ref[1].abs().max().item<double>())) << "d/dgamma";
  EXPECT_LT(max_abs_diff(got[2], ref[2]), 1e-3 * (1 + ref[2].abs().max().item<double>())) << "d/dbeta";
}

TEST_P(FusedBlock, SecondDerivativesGoThroughTheUnfusedComposition) {
  // Gradient matching differentiates a gradient: d/dx of sum((dL/dgamma)^2).
  const Inputs in = make_inputs(GetParam(), 2);
  auto second = [&](bool fused) {
    const torch::Tensor y = fused ? instance_norm_relu_avgpool(in.x, in.w, in.b, 1e-5)
                                  : instance_norm_relu_avgpool_unfused(in.x, in.w, in.b, 1e-5);
    const torch::Tensor loss = (y * y).sum();
    const auto g = torch::autograd::grad({loss}, {in.w}, {}, /*retain_graph=*/true, /*create_graph=*/true);
    return torch::autograd::grad({g[0].pow(2).sum()}, {in.x})[0];
  };
  const torch::Tensor ref = second(false);
  const torch::Tensor got = second(true);
  EXPECT_LT(max_abs_diff(got, ref), 1e-4 * (1 + ref.abs().max().item<double>()));
}

// Even, odd (trailing row and column dropped by the pool), the 28x28-padded-to-32 map, a non-square one.
INSTANTIATE_TEST_SUITE_P(Shapes, FusedBlock,
                         ::testing::Values(std::vector<int64_t>{4, 3, 8, 8}, std::vector<int64_t>{2, 5, 7, 9},
                                           std::vector<int64_t>{3, 16, 32, 32}, std::vector<int64_t>{2, 4, 6, 2}));

TEST(FusedBlockNaN, ANonFiniteInputStaysVisible) {
  ddb::nets::set_fused_blocks(true);
  Inputs in = make_inputs({2, 3, 4, 4}, 3);
  torch::NoGradGuard no_grad;
  torch::Tensor x = in.x.detach().clone();
  x[1][2][0][0] = std::numeric_limits<float>::quiet_NaN();
  const torch::Tensor y = instance_norm_relu_avgpool(x, in.w.detach(), in.b.detach(), 1e-5);
  EXPECT_TRUE(torch::isnan(y[1][2]).all().item<bool>()) << "the NaN plane must stay NaN, as in LibTorch";
  EXPECT_TRUE(torch::isfinite(y[0]).all().item<bool>());
}

TEST(FusedBlockConvNet, ATrainingStepMatchesTheUnfusedNet) {
  // The same ConvNet (same init) one SGD step with and without the fused kernel: equal logits and
  // gradients up to float reassociation.
  auto step = [](bool fused) {
    ddb::nets::set_fused_blocks(fused);
    torch::manual_seed(5);
    ddb::Net net = ddb::make_net("ConvNet", ddb::ImageShape{1, 28, 28}, 10);
    const torch::Tensor x = torch::randn({6, 1, 28, 28});
    const torch::Tensor y = torch::randint(0, 10, {6}, torch::kLong);
    const torch::Tensor logits = net->forward(x);
    torch::nn::functional::cross_entropy(logits, y).backward();
    std::vector<torch::Tensor> grads;
    for (const auto& p : net->parameters()) grads.push_back(p.grad().clone());
    return std::make_pair(logits.detach(), grads);
  };
  const auto ref = step(false);
  const auto got = step(true);
  ddb::nets::set_fused_blocks(true);
  EXPECT_LT(max_abs_diff(got.first, ref.first), 1e-4);
  ASSERT_EQ(got.second.size(), ref.second.size());
  for (size_t i = 0; i < ref.second.size(); ++i)
    EXPECT_LT(max_abs_diff(got.second[i], ref.second[i]), 1e-4 * (1 + ref.second[i].abs().max().item<double>()))
        << "parameter " << i;
}

}  // namespace

// The same values wherever the tensor lies in memory: a vectoriser that peels loop iterations to reach
// an aligned address would split each sum differently per address, and a job's numbers would then
// depend on what the process allocated before it (the same seed, another result).
TEST(FusedBlockReplay, ResultsDoNotDependOnTheInputsAddress) {
  ddb::nets::set_fused_blocks(true);
  for (const std::vector<int64_t> shape : {std::vector<int64_t>{4, 8, 15, 15}, std::vector<int64_t>{2, 16, 32, 32}}) {
    const Inputs in = make_inputs(shape, 5);
    const torch::Tensor gy = torch::randn({shape[0], shape[1], shape[2] / 2, shape[3] / 2});
    auto run = [&](int64_t offset) {  // the same values `offset` floats into a larger buffer
      torch::Tensor buffer = torch::zeros({in.x.numel() + offset});
      torch::Tensor x = buffer.narrow(0, offset, in.x.numel()).view(in.x.sizes());
      {
        torch::NoGradGuard no_grad;
        x.copy_(in.x);
      }
      x.requires_grad_(true);
      const torch::Tensor y = instance_norm_relu_avgpool(x, in.w, in.b, 1e-5);
      const auto g = torch::autograd::grad({y}, {x, in.w, in.b}, {gy});
      return std::vector<torch::Tensor>{y.detach(), g[0], g[1], g[2]};
    };
    const auto base = run(0);
    for (int64_t offset : {1, 2, 3, 5, 7, 8}) {
      const auto other = run(offset);
      for (size_t i = 0; i < base.size(); ++i)
        EXPECT_TRUE(torch::equal(base[i], other[i])) << "width " << shape[3] << " offset " << offset << " output " << i;
    }
  }
}
