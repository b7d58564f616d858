// The empirical NTK Gram matrix (harness/empirical_ntk.h) that KIP's transfer protocol takes its learning rate
// from: built chunk by chunk under a memory budget, it must equal J J^T from the whole Jacobian.
#include <gtest/gtest.h>

#include "harness/empirical_ntk.h"

namespace ddb {
namespace {

struct TinyNet {
  torch::Tensor w1 = torch::randn({6, 5}, torch::kFloat).requires_grad_();
  torch::Tensor b1 = torch::randn({6}, torch::kFloat).requires_grad_();
  torch::Tensor w2 = torch::randn({3, 6}, torch::kFloat).requires_grad_();
  torch::Tensor unused = torch::randn({4}, torch::kFloat).requires_grad_();  // never reaches the output
  torch::Tensor forward(const torch::Tensor& x) const {
    return torch::matmul(torch::tanh(torch::matmul(x, w1.t()) + b1), w2.t()).sum(1) / std::sqrt(3.0);
  }
  std::vector<torch::Tensor> params() const { return {w1, b1, unused, w2}; }
};

// J J^T from a Jacobian written out row by row, the unused parameter's columns zero.
torch::Tensor reference_gram(const TinyNet& net, const torch::Tensor& x) {
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < x.size(0); ++i) {
    const auto grads = torch::autograd::grad({net.forward(x.slice(0, i, i + 1)).sum()}, {net.w1, net.b1, net.w2});
    rows.push_back(torch::cat({grads[0].reshape(-1), grads[1].reshape(-1), grads[2].reshape(-1)}));
  }
  const torch::Tensor j = torch::stack(rows).to(torch::kDouble);
  return torch::matmul(j, j.t());
}

TEST(EmpiricalNtk, ChunkRowsFollowTheBudget) {
  // 100 parameters, 50 images: one chunk holds all 50 float64 rows, or two chunks share the budget.
  EXPECT_EQ(ntk_chunk_rows(/*parameters=*/100, /*images=*/50, /*max_jacobian_bytes=*/50 * 100 * 8), 50);
  EXPECT_EQ(ntk_chunk_rows(100, 50, 50 * 100 * 8 - 1), 24);
  EXPECT_EQ(ntk_chunk_rows(100, 50, 2 * 100 * 8), 1);
  EXPECT_EQ(ntk_chunk_rows(100, 50, 1), 1);  // never fewer than one row
  // KipConvNet at 32 px (28.5M parameters), 50 images, the protocol's 2 GiB: 4 rows per chunk.
  EXPECT_EQ(ntk_chunk_rows(28'500'000, 50, int64_t{2} << 30), 4);
}

TEST(EmpiricalNtk, ChunkedGramEqualsTheWholeJacobiansGram) {
  torch::manual_seed(3);
  const TinyNet net;
  const torch::Tensor x = torch::randn({7, 5});
  const torch::Tensor want = reference_gram(net, x);
  const auto out = [&](const torch::Tensor& images) { return net.forward(images); };
  // 58 parameters (30 + 6 + 4 unused + 18): chunks of 1 row, of 3 rows (7 = 3 + 3 + 1), one chunk of 7.
  for (const int64_t budget : {int64_t{1}, int64_t{2 * 3 * 58 * 8}, int64_t{1} << 30}) {
    const torch::Tensor got = empirical_ntk_gram(out, net.params(), x, budget);
    ASSERT_EQ(got.scalar_type(), torch::kDouble);
    ASSERT_EQ(got.sizes(), (std::vector<int64_t>{7, 7}));
    EXPECT_TRUE(torch::allclose(got, want, 1e-12, 1e-12))
        << "budget " << budget << ": max diff " << (got - want).abs().max().item<double>();
    EXPECT_TRUE(torch::allclose(got, got.t(), 1e-14, 1e-14)) << "budget " << budget;
  }
}

TEST(EmpiricalNtk, NoTrainableParametersIsAClearError) {
  EXPECT_THROW(empirical_ntk_gram([](const torch::Tensor& x) { return x.sum(1); }, {}, torch::ones({2, 3}), 1 << 20),
               UserError);
}

}  // namespace
}  // namespace ddb
