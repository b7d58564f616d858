// R ConvNets stacked into one model (harness/nets/stacked_convnet.h): the same logits and the same
// SGD step as each net alone, up to float rounding; the nets that cannot stack say why.
#include <gtest/gtest.h>

#include "harness/nets/fused_block.h"
#include "harness/nets/net.h"
#include "harness/nets/stacked_convnet.h"

using namespace ddb;

namespace {

const ImageShape kShape{1, 16, 16};

std::vector<Net> fresh_nets(const std::string& name, int runs, uint64_t seed = 1) {
  std::vector<Net> nets;
  for (int r = 0; r < runs; ++r) {
    torch::manual_seed(seed + static_cast<uint64_t>(r));
    nets.push_back(make_net(name, kShape, 10));
  }
  return nets;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

class StackedConvNetByName : public ::testing::TestWithParam<std::string> {};

// Every run's logits equal its own net's, in train mode (batch statistics) and in eval mode.
TEST_P(StackedConvNetByName, LogitsEqualEachNetsOwn) {
  const int runs = 3;
  std::vector<Net> nets = fresh_nets(GetParam(), runs);
  StackedConvNet stacked(nets);
  torch::manual_seed(7);
  const torch::Tensor x = torch::randn({runs, 5, 1, 16, 16});
  const torch::Tensor logits = stacked->forward(x);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{runs, 5, 10}));
  for (int r = 0; r < runs; ++r) EXPECT_LT(max_abs_diff(logits[r], nets[r]->forward(x[r])), 2e-5) << "run " << r;
}

// One SGD step (momentum, weight decay) on the sum of the runs' losses gives each run's parameters
// the step its own net takes on its own loss.
TEST_P(StackedConvNetByName, OneSgdStepEqualsEachNetsOwnStep) {
  const int runs = 3;
  std::vector<Net> nets = fresh_nets(GetParam(), runs);
  std::vector<Net> alone = fresh_nets(GetParam(), runs);
  StackedConvNet stacked(nets);
  torch::manual_seed(8);
  const torch::Tensor x = torch::randn({runs, 6, 1, 16, 16});
  const torch::Tensor y = torch::randint(0, 10, {runs, 6}, torch::kLong);
  const auto sgd = torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(5e-4);
  torch::optim::SGD opt(stacked->parameters(), sgd);  // momentum buffers carry over to the second step
  for (int step = 0; step < 2; ++step) {
    const torch::Tensor logits = stacked->forward(x);
    torch::Tensor loss = torch::zeros({});
    for (int r = 0; r < runs; ++r) loss = loss + torch::nn::functional::cross_entropy(logits[r], y[r]);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  for (int r = 0; r < runs; ++r) {
    torch::optim::SGD own(alone[r]->parameters(), sgd);
    for (int step = 0; step < 2; ++step) {
      own.zero_grad();
      torch::nn::functional::cross_entropy(alone[r]->forward(x[r]), y[r]).backward();
      own.step();
    }
  }
  stacked->unstack_into(nets);
  for (int r = 0; r < runs; ++r) {
    const auto a = nets[r]->named_parameters(), b = alone[r]->named_parameters();
    for (const auto& p : a) EXPECT_LT(max_abs_diff(p.value(), b[p.key()]), 1e-5) << GetParam() << " run " << r << " " << p.key();
    const auto ab = nets[r]->named_buffers(), bb = alone[r]->named_buffers();
    for (const auto& p : ab)  // BatchNorm's running statistics and batch count
      EXPECT_LT(max_abs_diff(p.value().to(torch::kDouble), bb[p.key()].to(torch::kDouble)), 1e-5) << p.key();
  }
}

INSTANTIATE_TEST_SUITE_P(Nets, StackedConvNetByName,
                         ::testing::Values("ConvNet", "ConvNetBN", "ConvNetGN", "ConvNetNN", "ConvNetMP", "ConvNetAS",
                                           "ConvNetD4", "ConvNetNP"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(StackedConvNet, FusedAndUnfusedKernelsGiveTheSameLogits) {
  std::vector<Net> nets = fresh_nets("ConvNet", 2);
  StackedConvNet stacked(nets);
  const torch::Tensor x = torch::randn({2, 4, 1, 16, 16});
  const torch::Tensor fused = stacked->forward(x);
  nets::UnfusedScope unfused;
  EXPECT_LT(max_abs_diff(fused, stacked->forward(x)), 2e-5);
}

TEST(StackedConvNet, UnstackingWithoutTrainingGivesBackTheSameWeights) {
  std::vector<Net> nets = fresh_nets("ConvNetBN", 3);
  std::vector<Net> copy = fresh_nets("ConvNetBN", 3);
  StackedConvNet stacked(nets);
  stacked->unstack_into(copy);
  for (int r = 0; r < 3; ++r) {
    const auto a = nets[r]->named_parameters(), b = copy[r]->named_parameters();
    for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key();
  }
}

TEST(StackedConvNet, SaysWhyNetsCannotStack) {
  EXPECT_NE(stacking_unsupported({make_net("ResNet18", {3, 32, 32}, 10)}).find("not a ConvNet"), std::string::npos);
  EXPECT_NE(stacking_unsupported({make_net("ConvNetLN", kShape, 10)}).find("LayerNorm"), std::string::npos);
  EXPECT_NE(stacking_unsupported({make_net("ConvNet", kShape, 10), make_net("ConvNetW32", kShape, 10)}).find("differ"),
            std::string::npos);
  EXPECT_EQ(stacking_unsupported(fresh_nets("ConvNetW32", 2)), "");
  EXPECT_THROW(StackedConvNet(std::vector<Net>{make_net("ConvNetLN", kShape, 10)}), UserError);
}
