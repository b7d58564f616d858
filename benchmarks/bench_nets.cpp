// ConvNet throughput: one training step (forward + cross-entropy + backward) and inference forward,
// batch 256 (the reference batch_train / test batch), on 1x28x28 (MNIST/FashionMNIST) and 3x32x32
// (CIFAR). Items = images.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "harness/nets/net.h"

namespace {

constexpr int64_t kBatch = 256;

ddb::ImageShape shape_from(const benchmark::State& state) {
  const int64_t channels = state.range(0);
  const int64_t size = state.range(1);
  return ddb::ImageShape{channels, size, size};
}

void BM_ConvNetForwardBackward(benchmark::State& state) {
  torch::manual_seed(0);
  const auto shape = shape_from(state);
  auto net = ddb::make_net("ConvNet", shape, 10);
  net->train();
  auto x = torch::randn({kBatch, shape.channels, shape.height, shape.width});
  auto y = torch::randint(0, 10, {kBatch}, torch::kLong);
  for (auto _ : state) {
    net->zero_grad();
    auto loss = torch::nn::functional::cross_entropy(net->forward(x), y);
    loss.backward();
    benchmark::DoNotOptimize(loss.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_ConvNetForwardBackward)
    ->Args({1, 28})
    ->Args({3, 32})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_ConvNetForward(benchmark::State& state) {
  torch::manual_seed(0);
  const auto shape = shape_from(state);
  auto net = ddb::make_net("ConvNet", shape, 10);
  net->eval();
  auto x = torch::randn({kBatch, shape.channels, shape.height, shape.width});
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    auto out = net->forward(x);
    benchmark::DoNotOptimize(out.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_ConvNetForward)->Args({1, 28})->Args({3, 32})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
