// Trajectory matching cost. BM_MttUnrollStep: one student step as MTT unrolls it (bound forward
// over a flat parameter vector, cross-entropy, gradient with create_graph, θ − lr·g), batch_syn =
// all images. BM_MttMetaGradient: a whole iteration's meta-gradient (syn_steps steps + the backward
// to images and lr), unrolled (mtt) or adjoint (tesla). Args: channels, size, net width, images.
// Items = synthetic images through the student per step.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "harness/nets/net.h"
#include "methods/trajectory/param_binding.h"
#include "methods/trajectory/trajectory_matching.h"

namespace {

std::string convnet_of_width(int64_t width) { return width == 128 ? "ConvNet" : "ConvNetW" + std::to_string(width); }

void BM_MttUnrollStep(benchmark::State& state) {
  torch::manual_seed(0);
  const ddb::ImageShape shape{state.range(0), state.range(1), state.range(1)};
  const int64_t n = state.range(3);
  ddb::Net net = ddb::make_net(convnet_of_width(state.range(2)), shape, 10);
  net->train();
  ddb::ParamBinding student(*net);
  const torch::Tensor images = torch::randn({n, shape.channels, shape.height, shape.width}).requires_grad_(true);
  const torch::Tensor labels = torch::arange(10, torch::kLong).repeat_interleave(n / 10);
  const torch::Tensor lr = torch::tensor(0.01f).requires_grad_(true);
  const torch::Tensor theta0 = student.flat_parameters().requires_grad_(true);
  for (auto _ : state) {
    const torch::Tensor ce = torch::nn::functional::cross_entropy(student.forward(theta0, images), labels);
    const torch::Tensor g = torch::autograd::grad({ce}, {theta0}, {}, true, /*create_graph=*/true)[0];
    const torch::Tensor next = theta0 - lr * g;
    benchmark::DoNotOptimize(next.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
// Reference size (CIFAR-10 IPC 10: ConvNet-128, 3x32x32, 100 images) and the cpu tier's
// Fashion-MNIST ConvNetW32 at IPC 10.
BENCHMARK(BM_MttUnrollStep)->Args({3, 32, 128, 100})->Args({1, 28, 32, 100})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_MttMetaGradient(benchmark::State& state) {
  torch::manual_seed(0);
  const ddb::ImageShape shape{state.range(0), state.range(1), state.range(1)};
  const int64_t n = state.range(3);
  const int64_t steps = state.range(4);
  ddb::Net net = ddb::make_net(convnet_of_width(state.range(2)), shape, 10);
  net->train();
  ddb::ParamBinding student(*net);
  ddb::SyntheticState s;
  s.images = torch::randn({n, shape.channels, shape.height, shape.width}).requires_grad_(true);
  s.hard_labels = torch::arange(10, torch::kLong).repeat_interleave(n / 10);
  s.syn_lr = torch::tensor(0.01f).requires_grad_(true);
  const torch::Tensor start = student.flat_parameters();
  const torch::Tensor target = start + 0.01 * torch::randn_like(start);
  ddb::UnrollSettings st;
  st.syn_steps = steps;
  st.gradient = state.range(5) ? ddb::MetaGradient::Adjoint : ddb::MetaGradient::Unrolled;
  for (auto _ : state) {
    s.images.mutable_grad() = torch::Tensor();
    s.syn_lr.mutable_grad() = torch::Tensor();
    benchmark::DoNotOptimize(ddb::trajectory_meta_gradient(student, s, start, target, st));
  }
  state.SetLabel(state.range(5) ? "adjoint (tesla)" : "unrolled (mtt)");
  state.SetItemsProcessed(state.iterations() * n * steps);
}
// Fashion-MNIST ConvNetW32 IPC 10, 10 steps: the cpu tier's setting, both gradients.
BENCHMARK(BM_MttMetaGradient)
    ->Args({1, 28, 32, 100, 10, 0})
    ->Args({1, 28, 32, 100, 10, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
