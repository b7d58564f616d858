// DM / IDM embed every class's batch in one forward where the net normalises per sample
// (methods/matching/distribution_matching.h: ClassForward). These tests check that the batched path
// gives the set the per-class path (the reference's loop) gives, up to float summation order, and
// that BatchNorm nets keep one forward per class.
#include <gtest/gtest.h>

#include <cstdio>

#include "datasets/registry.h"
#include "methods/matching/distribution_matching.h"
#include "methods/method.h"

using namespace ddb;

namespace {

const LoadedDataset& toy() {
  static const LoadedDataset d = load_dataset("toy28", {});
  return d;
}

// Sets the process-wide class-forward mode for one scope.
class ClassForwardScope {
 public:
  explicit ClassForwardScope(ClassForward mode, int64_t max_pixels = ClassForwardSettings{}.max_pixels)
      : saved_(class_forward()) {
    set_class_forward({mode, max_pixels});
  }
  ~ClassForwardScope() { set_class_forward(saved_); }

 private:
  ClassForwardSettings saved_;
};

torch::Tensor distill(const std::string& method, const std::string& net, int64_t ipc, const json& given,
                      ClassForward mode, int64_t max_pixels = ClassForwardSettings{}.max_pixels) {
  const ClassForwardScope scope(mode, max_pixels);
  const MethodInfo& info = MethodRegistry::instance().get(method);
  torch::manual_seed(13);
  DistillContext ctx{toy(), ipc, net, Options(resolve_options(info, given)), 13, torch::kCPU, nullptr};
  return info.make()->distill(ctx).images;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// The pixels move by lr_img x O(1) per step; 1e-4 absolute after a few steps is float summation
// order, not a different computation (a wrong class split or seed moves them by ~0.1-1).
constexpr double kTolerance = 1e-4;

}  // namespace

TEST(ClassForward, MapClassesGroupsUnderTheBudgetAndSplitsBack) {
  std::vector<torch::Tensor> parts;
  for (int64_t n : {3, 5, 1, 4}) parts.push_back(torch::randn({n, 1, 4, 4}));
  int calls = 0;
  const auto fn = [&calls](const torch::Tensor& x) {
    ++calls;
    return x.flatten(1) * 2;
  };
  const std::vector<torch::Tensor> one_each = map_classes(parts, /*batched=*/false, fn);
  EXPECT_EQ(calls, 4);
  calls = 0;
  std::vector<torch::Tensor> together;
  {
    const ClassForwardScope scope(ClassForward::Batched);
    together = map_classes(parts, /*batched=*/true, fn);
  }
  EXPECT_EQ(calls, 1);
  calls = 0;
  std::vector<torch::Tensor> grouped;
  {
    const ClassForwardScope scope(ClassForward::Batched, /*max_pixels=*/6 * 16);  // groups {3}, {5, 1}, {4}
    grouped = map_classes(parts, /*batched=*/true, fn);
  }
  EXPECT_EQ(calls, 3);
  ASSERT_EQ(together.size(), 4u);
  ASSERT_EQ(grouped.size(), 4u);
  for (size_t c = 0; c < 4; ++c) {
    EXPECT_TRUE(torch::equal(together[c], one_each[c])) << c;
    EXPECT_TRUE(torch::equal(grouped[c], one_each[c])) << c;
  }
}

TEST(ClassForward, OnlyNetsWithoutBatchNormBatch) {
  const ClassForwardScope scope(ClassForward::Batched);
  EXPECT_TRUE(batches_classes(*make_net("ConvNetW32", {1, 28, 28}, 10)));
  EXPECT_FALSE(batches_classes(*make_net("ConvNetBN", {1, 28, 28}, 10)));
  const ClassForwardScope per_class(ClassForward::PerClass);
  EXPECT_FALSE(batches_classes(*make_net("ConvNetW32", {1, 28, 28}, 10)));
}

TEST(ClassForward, DmBatchedEqualsPerClass) {
  const json options{{"iterations", 4}, {"batch_real", 16}};  // DSA on (the default)
  const torch::Tensor per_class = distill("dm", "ConvNetW32", 2, options, ClassForward::PerClass);
  const torch::Tensor batched = distill("dm", "ConvNetW32", 2, options, ClassForward::Batched);
  // Grouped: two or three classes per forward (16 x 28 x 28 pixels per class).
  const torch::Tensor grouped = distill("dm", "ConvNetW32", 2, options, ClassForward::Batched, 40 * 28 * 28);
  const double d = max_abs_diff(per_class, batched), dg = max_abs_diff(per_class, grouped);
  std::printf("dm: max |batched - per-class| = %.3g, grouped %.3g (pixels moved %.3g)\n", d, dg,
              max_abs_diff(per_class, distill("random", "ConvNetW32", 2, json::object(), ClassForward::PerClass)));
  EXPECT_LE(d, kTolerance);
  EXPECT_LE(dg, kTolerance);
}

TEST(ClassForward, DmBatchedEqualsPerClassWithFyiAndWithoutDsa) {
  // FYI doubles each class's synthetic batch (its flip appended): the split follows each part's size.
  for (const json& options : {json{{"iterations", 3}, {"batch_real", 12}, {"fyi", true}},
                              json{{"iterations", 3}, {"batch_real", 12}, {"dsa", false}}}) {
    const torch::Tensor per_class = distill("dm", "ConvNetW32", 3, options, ClassForward::PerClass);
    const torch::Tensor batched = distill("dm", "ConvNetW32", 3, options, ClassForward::Batched);
    const double d = max_abs_diff(per_class, batched);
    std::printf("dm %s: max |batched - per-class| = %.3g\n", options.dump().c_str(), d);
    EXPECT_LE(d, kTolerance) << options.dump();
  }
}

TEST(ClassForward, DmBatchNormNetKeepsOneForwardPerClass) {
  // ConvNetBN normalises over the batch: the batched setting must not change its result at all.
  const json options{{"iterations", 2}, {"batch_real", 12}};
  EXPECT_TRUE(torch::equal(distill("dm", "ConvNetBN", 1, options, ClassForward::PerClass),
                           distill("dm", "ConvNetBN", 1, options, ClassForward::Batched)));
}

TEST(ClassForward, IdmBatchedEqualsPerClass) {
  // Partition 2, model queue, CE regulariser, DSA: the real batches of all classes are embedded in
  // one forward before the per-class pixel steps.
  const json options{{"iterations", 3},  {"batch_real", 12},  {"train_steps", 1}, {"queue_init", 2},
                     {"interval", 2},    {"queue_batch", 16}, {"queue_size", 3},  {"eval_interval", 2}};
  const torch::Tensor per_class = distill("idm", "ConvNetW32", 1, options, ClassForward::PerClass);
  const torch::Tensor batched = distill("idm", "ConvNetW32", 1, options, ClassForward::Batched);
  const double d = max_abs_diff(per_class, batched);
  std::printf("idm: max |batched - per-class| = %.3g\n", d);
  EXPECT_LE(d, kTolerance);
}
