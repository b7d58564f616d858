// DSA and DC augmentation throughput: one call on a real-batch-sized input.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "harness/augment/dc_aug.h"
#include "harness/augment/dsa.h"

namespace {

// Args: channels, side, siamese (1) or per-sample (0). Batch 256, default strategy for the shape
// (flip included for 3 x 32 x 32, digit strategy for 1 x 28 x 28). The Siamese seed changes every
// call, so the op groups rotate as in distillation.
void BM_Dsa(benchmark::State& state) {
  const int64_t c = state.range(0), hw = state.range(1);
  const bool siamese = state.range(2) != 0;
  torch::manual_seed(0);
  auto x = torch::rand({256, c, hw, hw});
  ddb::Dsa dsa(ddb::Dsa::default_strategy_for(c == 1 ? "mnist" : "cifar10"));
  int64_t seed = 0;
  for (auto _ : state) {
    auto y = dsa(x, siamese ? seed++ : -1);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * 256);
}
BENCHMARK(BM_Dsa)
    ->ArgNames({"C", "HW", "siamese"})
    ->Args({3, 32, 1})
    ->Args({3, 32, 0})
    ->Args({1, 28, 1})
    ->Args({1, 28, 0})
    ->Unit(benchmark::kMicrosecond);

// DSA forward + backward to the input (what distillation pays per class and step).
void BM_DsaBackward(benchmark::State& state) {
  const int64_t c = state.range(0), hw = state.range(1);
  torch::manual_seed(0);
  auto x = torch::rand({256, c, hw, hw}).requires_grad_(true);
  ddb::Dsa dsa(ddb::Dsa::default_strategy_for(c == 1 ? "mnist" : "cifar10"));
  int64_t seed = 0;
  for (auto _ : state) {
    dsa(x, seed++).sum().backward();
    benchmark::DoNotOptimize(x.grad().data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * 256);
}
BENCHMARK(BM_DsaBackward)->ArgNames({"C", "HW"})->Args({3, 32})->Args({1, 28})->Unit(benchmark::kMicrosecond);

// DC evaluation augmentation (MNIST: crop_scale_rotate) on a batch of 256.
void BM_DcAugment(benchmark::State& state) {
  torch::manual_seed(0);
  auto x = torch::rand({256, 1, 28, 28});
  for (auto _ : state) {
    auto y = ddb::dc_augment(x, "crop_scale_rotate");
    benchmark::DoNotOptimize(y.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * 256);
}
BENCHMARK(BM_DcAugment)->Unit(benchmark::kMicrosecond);

}  // namespace
