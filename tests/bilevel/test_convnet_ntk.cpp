// The infinite-width ConvNet kernels (methods/bilevel/convnet_ntk.h) against what they are the limit of: the
// empirical NTK and NNGP of wide finite networks of the same architecture in the NTK parameterisation,
// computed here from parameter gradients with autograd (an independent route: no banding, no closed forms).
#include <gtest/gtest.h>

#include <cmath>

#include "methods/bilevel/convnet_ntk.h"

namespace ddb {
namespace {

// A finite ConvNet in the NTK parameterisation: standard-normal weights scaled by w_std / sqrt(fan_in).
struct FiniteConvNet {
  std::vector<torch::Tensor> conv_w, conv_b;
  torch::Tensor dense_w, dense_b;
  ConvNtkConfig cfg;

  FiniteConvNet(const ConvNtkConfig& c, int64_t channels, int64_t width, int64_t side) : cfg(c) {
    const int64_t convs = c.depth + (c.prepend_conv ? 1 : 0);
    int64_t in = channels;
    for (int64_t i = 0; i < convs; ++i) {
      conv_w.push_back(torch::randn({width, in, 3, 3}, torch::kDouble).requires_grad_());
      conv_b.push_back(torch::randn({width}, torch::kDouble).requires_grad_());
      in = width;
    }
    for (int64_t d = 0; d < c.depth; ++d) side /= 2;
    dense_w = torch::randn({1, width * side * side}, torch::kDouble).requires_grad_();
    dense_b = torch::randn({1}, torch::kDouble).requires_grad_();
  }

  torch::Tensor conv(const torch::Tensor& x, size_t i) const {
    const double scale = cfg.w_std / std::sqrt(static_cast<double>(x.size(1) * 9));
    return scale * torch::conv2d(x, conv_w[i], {}, 1, 1) + cfg.b_std * conv_b[i].view({1, -1, 1, 1});
  }

  torch::Tensor forward(const torch::Tensor& x) const {
    torch::Tensor h = x;
    size_t i = 0;
    if (cfg.prepend_conv) h = torch::relu(conv(h, i++));
    for (int64_t d = 0; d < cfg.depth; ++d) h = torch::avg_pool2d(torch::relu(conv(h, i++)), 2);
    const torch::Tensor flat = h.flatten(1);
    const double scale = cfg.w_std / std::sqrt(static_cast<double>(flat.size(1)));
    return (scale * torch::matmul(flat, dense_w.t()) + cfg.b_std * dense_b).squeeze(1);
  }

  std::vector<torch::Tensor> params() const {
    std::vector<torch::Tensor> p = conv_w;
    p.insert(p.end(), conv_b.begin(), conv_b.end());
    p.push_back(dense_w);
    p.push_back(dense_b);
    return p;
  }

  // Gradient of the scalar output for one image, flattened per parameter.
  std::vector<torch::Tensor> grads(const torch::Tensor& x) const {
    const auto g = torch::autograd::grad({forward(x.unsqueeze(0)).sum()}, params());
    return std::vector<torch::Tensor>(g.begin(), g.end());
  }
};

// Empirical NTK and NNGP (the readout layer's share of the NTK plus b_std^2 is the last hidden layer's
// NNGP estimate) of one finite net, between x1[i] and x2[j].
void empirical(const FiniteConvNet& net, const torch::Tensor& x1, const torch::Tensor& x2, torch::Tensor& ntk, torch::Tensor& nngp) {
  ntk = torch::zeros({x1.size(0), x2.size(0)}, torch::kDouble);
  nngp = torch::zeros_like(ntk);
  std::vector<std::vector<torch::Tensor>> g1, g2;
  for (int64_t i = 0; i < x1.size(0); ++i) g1.push_back(net.grads(x1[i]));
  for (int64_t j = 0; j < x2.size(0); ++j) g2.push_back(net.grads(x2[j]));
  const size_t dense = g1[0].size() - 2;
  for (int64_t i = 0; i < x1.size(0); ++i)
    for (int64_t j = 0; j < x2.size(0); ++j) {
      double all = 0, last = 0;
      for (size_t p = 0; p < g1[i].size(); ++p) {
        const double d = (g1[i][p] * g2[j][p]).sum().item<double>();
        all += d;
        if (p >= dense) last += d;
      }
      ntk[i][j] = all;
      nngp[i][j] = last;
    }
}

void expect_close_to_finite_width(const ConvNtkConfig& cfg, int64_t channels, int64_t side, int nets = 4, int64_t width = 256) {
  torch::manual_seed(3);
  const torch::Tensor x1 = torch::randn({3, channels, side, side}, torch::kDouble);
  const torch::Tensor x2 = torch::randn({2, channels, side, side}, torch::kDouble);
  const ConvNetKernel kernel(cfg);
  const torch::Tensor ntk = kernel(x1, x2, KernelKind::Ntk), nngp = kernel(x1, x2, KernelKind::Nngp);
  ASSERT_EQ(ntk.sizes(), (std::vector<int64_t>{3, 2}));
  // Average over a few wide nets: the finite-width fluctuations shrink like 1/sqrt(width).
  torch::Tensor e_ntk = torch::zeros_like(ntk), e_nngp = torch::zeros_like(nngp);
  for (int n = 0; n < nets; ++n) {
    torch::Tensor a, b;
    empirical(FiniteConvNet(cfg, channels, width, side), x1, x2, a, b);
    e_ntk += a / nets;
    e_nngp += b / nets;
  }
  // Different inputs give clearly different kernel values, so a relative match of a few percent on every
  // entry is a test of the recursion, not of the scale alone.
  const double ntk_err = ((e_ntk - ntk).abs() / ntk.abs()).max().item<double>();
  const double nngp_err = ((e_nngp - nngp).abs() / nngp.abs()).max().item<double>();
  EXPECT_LT(ntk_err, 0.08) << "analytic\n" << ntk << "\nempirical\n" << e_ntk;
  EXPECT_LT(nngp_err, 0.08) << "analytic\n" << nngp << "\nempirical\n" << e_nngp;
  EXPECT_GT((ntk - nngp).min().item<double>(), 0.0);  // the NTK adds every earlier layer's share
}

TEST(ConvNetKernel, MatchesWideFiniteNetworksWithAPrependedConv) {
  expect_close_to_finite_width(ConvNtkConfig{2, true}, 2, 8);
}

TEST(ConvNetKernel, MatchesWideFiniteNetworksOnOddSidesWithoutThePrependedConv) {
  // 7 px: the pools drop the last row and column (VALID), 7 -> 3 -> 1.
  // One input channel and a 1 x 1 last map: fewer readout features, so more nets for the same precision.
  expect_close_to_finite_width(ConvNtkConfig{2, false}, 1, 7, /*nets=*/16);
}

TEST(ConvNetKernel, IsSymmetricAndBlocksAgreeWithTheWholeMatrix) {
  torch::manual_seed(4);
  const torch::Tensor x = torch::randn({5, 1, 8, 8});
  const ConvNetKernel kernel(ConvNtkConfig{2, true});
  const torch::Tensor whole = kernel(x, x, KernelKind::Ntk);
  EXPECT_TRUE(torch::allclose(whole, whole.t(), 1e-10, 1e-12));
  const auto v = kernel.variances(x);
  const torch::Tensor block = kernel.cross(x.slice(0, 1, 3), x.slice(0, 2, 5), {v[0].slice(0, 1, 3), v[1].slice(0, 1, 3), v[2].slice(0, 1, 3)},
                                           {v[0].slice(0, 2, 5), v[1].slice(0, 2, 5), v[2].slice(0, 2, 5)}, KernelKind::Ntk);
  EXPECT_TRUE(torch::allclose(block, whole.slice(0, 1, 3).slice(1, 2, 5), 1e-10, 1e-12));
  // Positive definite: a Gram matrix of distinct inputs.
  EXPECT_GT(torch::linalg_eigvalsh(whole, "L").min().item<double>(), 0.0);
}

TEST(ConvNetKernel, GradientMatchesFiniteDifferences) {
  torch::manual_seed(6);
  const torch::Tensor x1 = torch::randn({2, 1, 6, 6}, torch::kDouble).requires_grad_();
  const torch::Tensor x2 = torch::randn({2, 1, 6, 6}, torch::kDouble);
  const ConvNetKernel kernel(ConvNtkConfig{1, true});
  const torch::Tensor weights = torch::randn({2, 2}, torch::kDouble);
  (kernel(x1, x2, KernelKind::Ntk) * weights).sum().backward();
  const torch::Tensor analytic = x1.grad().clone();
  const double h = 1e-6;
  for (int64_t idx : {0, 7, 20, 41, 66}) {
    torch::Tensor plus = x1.detach().clone(), minus = x1.detach().clone();
    plus.view(-1)[idx] += h;
    minus.view(-1)[idx] -= h;
    const double fd = ((kernel(plus, x2, KernelKind::Ntk) - kernel(minus, x2, KernelKind::Ntk)) * weights).sum().item<double>() / (2 * h);
    EXPECT_NEAR(analytic.view(-1)[idx].item<double>(), fd, 1e-6 * std::max(1.0, std::abs(fd))) << "element " << idx;
  }
}

}  // namespace
}  // namespace ddb
