// The evaluation protocol's two costs on Fashion-MNIST-shaped data (1x28x28, 10 classes, ConvNet
// width 128): one training epoch of a synthetic set, and the test pass over the 10,000-image test
// split. Random data stands in for the dataset (the cost does not depend on pixel values).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "harness/nets/net.h"
#include "harness/run_streams.h"
#include "harness/train.h"
#include "harness/train_stacked.h"
#include "methods/common.h"

namespace {

constexpr int64_t kClasses = 10;
const ddb::ImageShape kFashion{1, 28, 28};

// BM_EvalEpoch28: one epoch of train_classifier (the dc protocol's loop: SGD momentum 0.9, wd 5e-4,
// batch 256, no augmentation) over ipc x 10 images. Arg: ipc. Items = images.
void BM_EvalEpoch28(benchmark::State& state) {
  const int64_t ipc = state.range(0);
  torch::manual_seed(0);
  ddb::Net net = ddb::make_net("ConvNet", kFashion, kClasses);
  const torch::Tensor x = torch::randn({kClasses * ipc, 1, 28, 28});
  const torch::Tensor y = ddb::class_major_labels(kClasses, ipc);
  ddb::TrainSchedule s;
  s.epochs = 0;  // train_classifier trains epochs + 1 = one epoch
  for (auto _ : state) benchmark::DoNotOptimize(ddb::train_classifier(*net, x, y, s));
  state.SetItemsProcessed(state.iterations() * kClasses * ipc);
}
BENCHMARK(BM_EvalEpoch28)->ArgNames({"ipc"})->Arg(1)->Arg(10)->Arg(50)->Unit(benchmark::kMillisecond)->UseRealTime();

// BM_EvalEpochStacked28: the same epoch for R runs trained as one stacked model
// (train_classifiers_stacked: grouped convolutions, each run's own data order). Args: ipc, runs.
// Items = images over all runs: compare items/s with BM_EvalEpoch28's.
void BM_EvalEpochStacked28(benchmark::State& state) {
  const int64_t ipc = state.range(0), runs = state.range(1);
  ddb::RunStreams streams(torch::kCPU);
  std::vector<ddb::Net> nets;
  for (int64_t r = 0; r < runs; ++r) {
    const size_t i = streams.add(static_cast<uint64_t>(r));
    nets.push_back(streams.with(i, [] { return ddb::make_net("ConvNet", kFashion, kClasses); }));
  }
  const torch::Tensor x = torch::randn({kClasses * ipc, 1, 28, 28});
  const torch::Tensor y = ddb::class_major_labels(kClasses, ipc);
  ddb::TrainSchedule s;
  s.epochs = 0;
  for (auto _ : state) benchmark::DoNotOptimize(ddb::train_classifiers_stacked(nets, x, y, s, streams));
  state.SetItemsProcessed(state.iterations() * kClasses * ipc * runs);
}
BENCHMARK(BM_EvalEpochStacked28)
    ->ArgNames({"ipc", "runs"})
    ->Args({1, 5})
    ->Args({10, 5})
    ->Args({50, 5})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// BM_TestPass: test_accuracy over 10,000 images. Args: batch (0 = test_accuracy's automatic batch,
// test_batch_for: 256 on the CPU),
// guard (0 = test_accuracy itself, under InferenceMode; 1 = the same loop under NoGradGuard, as
// test_accuracy ran before, for comparison). Items = images.
void BM_TestPass(benchmark::State& state) {
  const int64_t batch = state.range(0);
  const bool no_grad_loop = state.range(1) != 0;
  torch::manual_seed(0);
  ddb::Net net = ddb::make_net("ConvNet", kFashion, kClasses);
  ddb::TensorSplit test;
  test.images = torch::randn({10000, 1, 28, 28});
  test.labels = torch::randint(0, kClasses, {10000}, torch::kLong);
  for (auto _ : state) {
    if (!no_grad_loop) {
      benchmark::DoNotOptimize(ddb::test_accuracy(*net, test, torch::kCPU, batch));
      continue;
    }
    torch::NoGradGuard no_grad;
    net->eval();
    int64_t correct = 0;
    for (int64_t start = 0; start < test.size(); start += batch) {
      const int64_t len = std::min(batch, test.size() - start);
      correct += net->forward(test.images.narrow(0, start, len)).argmax(1).eq(test.labels.narrow(0, start, len)).sum().item<int64_t>();
    }
    net->train();
    benchmark::DoNotOptimize(correct);
  }
  state.SetLabel(no_grad_loop ? "NoGradGuard" : "InferenceMode");
  state.SetItemsProcessed(state.iterations() * test.size());
}
BENCHMARK(BM_TestPass)
    ->ArgNames({"batch", "no_grad"})
    ->Args({256, 1})
    ->Args({256, 0})
    ->Args({1000, 0})
    ->Args({2000, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
