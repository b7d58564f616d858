// Gradient matching (dc / dsa) cost per outer step, and one epoch of the dc evaluation protocol;
// whole distillation iterations of dm and dc.
//
// BM_GradientMatchingOuterStep: one outer step of main.py = for each of 10 classes a real batch of
// batch_real and the class's IPC synthetic images, parameter gradients of both (the synthetic one
// with create_graph), distance `ours`; then backward through all classes and one pixel step.
// Args: variant (0 = reference size: ConvNet width 128, 3x32x32 CIFAR-10 shape; 1 = ConvNetW32 on
// 1x28x28 Fashion-MNIST shape), dsa (0/1), batch_real. IPC 10. Random data stands in for the
// dataset (the cost does not depend on pixel values). Items = outer steps.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "harness/augment/dsa.h"
#include "harness/train.h"
#include "methods/common.h"
#include "methods/matching/distribution_matching.h"
#include "methods/matching/gradient_matching.h"
#include "methods/method.h"

namespace {

constexpr int64_t kClasses = 10;

ddb::LoadedDataset random_dataset(const std::string& name, ddb::ImageShape shape, int64_t per_class) {
  ddb::LoadedDataset d;
  d.info.name = name;
  d.info.shape = shape;
  d.info.num_classes = kClasses;
  d.train.images = torch::randn({kClasses * per_class, shape.channels, shape.height, shape.width});
  d.train.labels = torch::arange(kClasses, torch::kLong).repeat_interleave(per_class);
  d.index_classes();
  return d;
}

void BM_GradientMatchingOuterStep(benchmark::State& state) {
  const bool reference_size = state.range(0) == 0;
  const bool use_dsa = state.range(1) != 0;
  const int64_t batch_real = state.range(2);
  const int64_t ipc = 10;
  torch::manual_seed(0);
  const ddb::ImageShape shape = reference_size ? ddb::ImageShape{3, 32, 32} : ddb::ImageShape{1, 28, 28};
  const ddb::LoadedDataset data =
      random_dataset(reference_size ? "cifar10" : "fashion-mnist", shape, std::max<int64_t>(batch_real, 16) + 44);
  const std::string method = use_dsa ? "dsa" : "dc";
  const ddb::Options options(ddb::resolve_options(ddb::MethodRegistry::instance().get(method), {{"batch_real", batch_real}}));
  ddb::GradientMatchingStep step(data, ipc, options, use_dsa, 0, torch::kCPU);
  ddb::Net net = ddb::make_net(reference_size ? "ConvNet" : "ConvNetW32", shape, kClasses);
  net->train();
  const torch::Tensor syn = torch::randn({kClasses * ipc, shape.channels, shape.height, shape.width}).requires_grad_(true);
  const torch::Tensor labels = ddb::class_major_labels(kClasses, ipc);
  torch::optim::SGD opt({syn}, torch::optim::SGDOptions(0.1).momentum(0.5));
  for (auto _ : state) benchmark::DoNotOptimize(step.outer_step(*net, syn, labels, opt));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GradientMatchingOuterStep)
    ->ArgNames({"cifar_w128", "dsa", "batch_real"})
    ->Args({0, 0, 256})
    ->Args({0, 1, 256})
    ->Args({1, 0, 256})
    ->Args({1, 1, 256})
    ->Args({1, 0, 64})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One training epoch of the dc evaluation protocol with DSA (per-sample): ConvNet width 128,
// 500 images 3x32x32 (CIFAR-10 IPC 50), batch 256, SGD momentum 0.9, wd 5e-4. Items = images.
void BM_EvalEpoch(benchmark::State& state) {
  torch::manual_seed(0);
  const ddb::ImageShape shape{3, 32, 32};
  ddb::Net net = ddb::make_net("ConvNet", shape, kClasses);
  const torch::Tensor x = torch::randn({500, 3, 32, 32});
  const torch::Tensor y = ddb::class_major_labels(kClasses, 50);
  const ddb::Dsa dsa(ddb::Dsa::default_strategy_for("cifar10"));
  ddb::TrainSchedule s;
  s.epochs = 0;  // train_classifier trains epochs + 1 = one epoch
  s.augment = [&dsa](const torch::Tensor& b) { return dsa(b, -1); };
  for (auto _ : state) benchmark::DoNotOptimize(ddb::train_classifier(*net, x, y, s));
  state.SetItemsProcessed(state.iterations() * 500);
}
BENCHMARK(BM_EvalEpoch)->Unit(benchmark::kMillisecond)->UseRealTime();

// One distillation iteration of `method` (iterations = 1 through the registry: the fresh net, every
// class's batches, the pixel step; the set's init is a negligible part), Fashion-MNIST shape
// 1x28x28, ConvNet width 128, IPC `ipc`, batch_real 256.
double distill_one_iteration(const std::string& method, const ddb::LoadedDataset& data, int64_t ipc,
                             const ddb::json& options) {
  const ddb::MethodInfo& info = ddb::MethodRegistry::instance().get(method);
  ddb::json given = options;
  given["iterations"] = 1;
  ddb::DistillContext ctx{data, ipc, "ConvNet", ddb::Options(ddb::resolve_options(info, given)), 0, torch::kCPU, nullptr};
  return info.make()->distill(ctx).meta.value("final_loss", 0.0);
}

// BM_DmIteration: main_DM.py's iteration at IPC 10, batch_real 256, DSA (the default strategy).
// Arg images_per_forward: 0 = one forward per class (the reference's loop); -1 = ddbench's default
// (ClassForwardSettings: on the CPU the synthetic batches together, each real batch alone); n > 0 =
// consecutive classes share a forward up to n 28x28 images (2560 = all ten real batches in one).
// Items = iterations.
void BM_DmIteration(benchmark::State& state) {
  const int64_t images_per_forward = state.range(0);
  torch::manual_seed(0);
  const ddb::LoadedDataset data = random_dataset("fashion-mnist", {1, 28, 28}, 300);
  const ddb::ClassForwardSettings saved = ddb::class_forward();
  ddb::set_class_forward({images_per_forward == 0 ? ddb::ClassForward::PerClass : ddb::ClassForward::Batched,
                          std::max<int64_t>(0, images_per_forward) * 28 * 28});
  for (auto _ : state) benchmark::DoNotOptimize(distill_one_iteration("dm", data, 10, {{"batch_real", 256}}));
  ddb::set_class_forward(saved);
  state.SetLabel(images_per_forward == 0 ? "per-class forwards" : images_per_forward < 0 ? "default" : "classes batched");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DmIteration)
    ->ArgNames({"images_per_forward"})
    ->Arg(0)
    ->Arg(-1)
    ->Arg(512)
    ->Arg(2560)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// BM_DcIteration: main.py's iteration (a fresh net, outer_loop pixel steps, inner_loop epochs of net
// training between them) at IPC 1 (1 outer step, no training) and IPC 10 (10 outer steps, 9 x 50
// inner epochs), batch_real 256, without DSA. Items = iterations.
void BM_DcIteration(benchmark::State& state) {
  const int64_t ipc = state.range(0);
  torch::manual_seed(0);
  const ddb::LoadedDataset data = random_dataset("fashion-mnist", {1, 28, 28}, 300);
  for (auto _ : state) benchmark::DoNotOptimize(distill_one_iteration("dc", data, ipc, {{"batch_real", 256}}));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DcIteration)->ArgNames({"ipc"})->Arg(1)->Arg(10)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
