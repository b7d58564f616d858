// The evaluation runs of a job trained together (harness/train_stacked.h, train_and_test_together):
// each run's data order, augmentation and initial weights come from its own seed, so its training
// equals train_classifier's for that seed up to float rounding. How close: parameters within 1e-4
// after 5 epochs of 3 steps with DSA and the lr drop, losses within 1e-4; test accuracy within 1
// point (200 test images) after a short dc protocol run.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "datasets/registry.h"
#include "harness/augment/dsa.h"
#include "harness/devices.h"
#include "harness/eval_protocol.h"
#include "harness/nets/net.h"
#include "harness/run_streams.h"
#include "harness/train.h"
#include "harness/train_stacked.h"
#include "methods/common.h"

using namespace ddb;

namespace {

const ImageShape kShape{1, 16, 16};
const std::vector<uint64_t> kSeeds = {11, 22, 33};

TrainSchedule small_schedule() {
  TrainSchedule s;
  s.epochs = 4;  // 5 trained; the lr drops after epoch 3 with a new optimizer
  s.batch = 8;   // 20 images: 3 steps per epoch, the last one short
  s.lr = 0.02;
  const Dsa dsa("color_crop_cutout_flip_scale_rotate");
  s.augment = [dsa](const torch::Tensor& x) { return dsa(x, -1); };  // per-sample draws, as evaluation
  return s;
}

struct Data {
  torch::Tensor images, labels;
};

Data small_data() {
  torch::manual_seed(5);
  return {torch::randn({20, 1, 16, 16}), torch::arange(20, torch::kLong) % 10};
}

double max_param_diff(const Net& a, const Net& b) {
  double m = 0;
  const auto pb = b->named_parameters();
  for (const auto& p : a->named_parameters()) m = std::max(m, (p.value() - pb[p.key()]).abs().max().item<double>());
  return m;
}

}  // namespace

TEST(TrainStacked, EachRunEqualsItsSequentialTraining) {
  const Data d = small_data();
  const TrainSchedule s = small_schedule();
  std::vector<Net> sequential;
  std::vector<double> losses;
  for (uint64_t seed : kSeeds) {
    torch::manual_seed(seed);
    sequential.push_back(make_net("ConvNetW32", kShape, 10));
    losses.push_back(train_classifier(*sequential.back(), d.images, d.labels, s));
  }
  RunStreams streams(torch::kCPU);
  std::vector<Net> stacked;
  for (uint64_t seed : kSeeds) {
    const size_t r = streams.add(seed);
    stacked.push_back(streams.with(r, [] { return make_net("ConvNetW32", kShape, 10); }));
  }
  long reports = 0;
  const auto trained = train_classifiers_stacked(stacked, d.images, d.labels, s, streams,
                                                 [&](const std::string&, long, long) { ++reports; });
  EXPECT_EQ(reports, 5);  // one phase for all runs, one report per epoch
  for (size_t r = 0; r < kSeeds.size(); ++r) {
    EXPECT_EQ(trained[r].failure, "");
    EXPECT_NEAR(trained[r].last_loss, losses[r], 1e-4) << "run " << r;
    EXPECT_LT(max_param_diff(stacked[r], sequential[r]), 1e-4) << "run " << r;
  }
  // The runs did differ from each other (their own seeds, data orders and draws).
  EXPECT_GT(max_param_diff(stacked[0], stacked[1]), 1e-2);
}

// The same on a GPU (augmentation draws from the device's generator, which RunStreams also keeps per run).
// Looser: cuDNN convolutions run in TF32 by default and pick algorithms per shape, so the grouped and the
// plain convolutions round differently; a wrong stream or a mixed-up run differs by 1e-1 and more.
TEST(TrainStacked, OnCudaEachRunEqualsItsSequentialTraining) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device: the GPU check (ci/gpu-check.sh) runs this";
  const torch::Device cuda(torch::kCUDA);
  const Data d = small_data();
  const torch::Tensor images = d.images.to(cuda), labels = d.labels.to(cuda);
  const TrainSchedule s = small_schedule();
  RunStreams streams(cuda);
  std::vector<Net> stacked;
  for (uint64_t seed : kSeeds) {
    const size_t r = streams.add(seed);
    stacked.push_back(streams.with(r, [&] {
      Net n = make_net("ConvNetW32", kShape, 10);
      n->to(cuda);
      return n;
    }));
  }
  const auto trained = train_classifiers_stacked(stacked, images, labels, s, streams);
  for (size_t r = 0; r < kSeeds.size(); ++r) {
    torch::manual_seed(kSeeds[r]);
    Net alone = make_net("ConvNetW32", kShape, 10);
    alone->to(cuda);
    const double loss = train_classifier(*alone, images, labels, s);
    EXPECT_EQ(trained[r].failure, "");
    EXPECT_NEAR(trained[r].last_loss, loss, 1e-2) << "run " << r;
    EXPECT_LT(max_param_diff(stacked[r], alone), 1e-2) << "run " << r;
  }
}

TEST(TrainStacked, SoftLabelsToo) {
  const Data d = small_data();
  TrainSchedule s = small_schedule();
  s.augment = nullptr;
  const torch::Tensor soft = torch::softmax(torch::randn({20, 10}), 1);
  torch::manual_seed(kSeeds[0]);
  Net alone = make_net("ConvNetW32", kShape, 10);
  const double loss = train_classifier(*alone, d.images, soft, s);
  RunStreams streams(torch::kCPU);
  std::vector<Net> nets;
  for (uint64_t seed : {kSeeds[0], kSeeds[1]}) {
    const size_t r = streams.add(seed);
    nets.push_back(streams.with(r, [] { return make_net("ConvNetW32", kShape, 10); }));
  }
  const auto trained = train_classifiers_stacked(nets, d.images, soft, s, streams);
  EXPECT_NEAR(trained[0].last_loss, loss, 1e-4);
  EXPECT_LT(max_param_diff(nets[0], alone), 1e-4);
}

// A run whose loss becomes NaN is failed with train_classifier's message; the others train on and
// still equal their sequential runs (no parameter is shared).
TEST(TrainStacked, ADivergingRunFailsAloneAndTheOthersGoOn) {
  const Data d = small_data();
  const TrainSchedule s = small_schedule();
  RunStreams streams(torch::kCPU);
  std::vector<Net> nets;
  for (uint64_t seed : kSeeds) {
    const size_t r = streams.add(seed);
    nets.push_back(streams.with(r, [] { return make_net("ConvNetW32", kShape, 10); }));
  }
  {
    torch::NoGradGuard no_grad;
    nets[1]->named_parameters()["classifier.weight"].fill_(std::numeric_limits<float>::quiet_NaN());
  }
  const auto trained = train_classifiers_stacked(nets, d.images, d.labels, s, streams);
  EXPECT_EQ(trained[1].failure.rfind("training loss became ", 0), 0u) << trained[1].failure;
  EXPECT_NE(trained[1].failure.find("nan at epoch 0"), std::string::npos) << trained[1].failure;
  for (size_t r : {size_t{0}, size_t{2}}) {
    torch::manual_seed(kSeeds[r]);
    Net alone = make_net("ConvNetW32", kShape, 10);
    const double loss = train_classifier(*alone, d.images, d.labels, s);
    EXPECT_EQ(trained[r].failure, "");
    EXPECT_NEAR(trained[r].last_loss, loss, 1e-4);
    EXPECT_LT(max_param_diff(nets[r], alone), 1e-4);
  }
}

TEST(TrainStacked, SchedulesThatCannotStackSayWhy) {
  TrainSchedule s;
  EXPECT_EQ(stacked_schedule_unsupported(s), "");
  s.cutmix_prob = 0.5;
  EXPECT_NE(stacked_schedule_unsupported(s).find("CutMix"), std::string::npos);
  s = TrainSchedule{};
  s.outliers = torch::zeros({4, 1, 16, 16});
  s.lambda_oe = 0.5;
  EXPECT_NE(stacked_schedule_unsupported(s).find("outlier"), std::string::npos);
  s = TrainSchedule{};
  s.after_epoch = [](int64_t) {};
  EXPECT_NE(stacked_schedule_unsupported(s).find("callback"), std::string::npos);
  RunStreams streams(torch::kCPU);
  streams.add(1);
  EXPECT_THROW(train_classifiers_stacked({make_net("ConvNetW32", kShape, 10)}, torch::zeros({2, 1, 16, 16}),
                                         torch::zeros({2}, torch::kLong), s, streams),
               UserError);
}

// The dc protocol's runs, together and one by one: the same accuracies up to a prediction or two.
TEST(TrainStacked, DcProtocolRunsTogetherMatchTheSequentialRuns) {
  const LoadedDataset data = load_dataset("toy28", {});
  torch::manual_seed(3);
  const SyntheticSet set = real_init(data, 2);
  EvalSpec es = EvalSpec::from_json({{"protocol", "dc"}, {"net", "ConvNetW32"}, {"epochs", 6}, {"runs", 3}, {"augment", "dsa"}});
  ASSERT_EQ(stacked_runs_unsupported(es, data.info), "");
  const auto together = evaluate_together(set, data, es, kSeeds, torch::kCPU);
  ASSERT_EQ(together.size(), kSeeds.size());
  for (size_t r = 0; r < kSeeds.size(); ++r) {
    const EvalRunResult alone = evaluate_once(set, data, es, kSeeds[r], torch::kCPU);
    ASSERT_EQ(together[r].failure, "");
    EXPECT_NEAR(together[r].result.accuracy, alone.accuracy, 1.0) << "run " << r;
    EXPECT_NEAR(together[r].result.train_loss, alone.train_loss, 1e-3) << "run " << r;
    ASSERT_FALSE(together[r].result.values.empty());
    EXPECT_EQ(together[r].result.values[0].metric, "accuracy");
  }
}

TEST(TrainStacked, NetsAndProtocolsThatCannotStackRunOneAfterTheOther) {
  const LoadedDataset data = load_dataset("toy28", {});
  torch::manual_seed(3);
  const SyntheticSet set = real_init(data, 1);
  EvalSpec es = EvalSpec::from_json({{"protocol", "dc"}, {"net", "MLP"}, {"epochs", 2}, {"runs", 2}});
  EXPECT_NE(stacked_runs_unsupported(es, data.info).find("not a ConvNet"), std::string::npos);
  const auto together = evaluate_together(set, data, es, {1, 2}, torch::kCPU);
  for (size_t r = 0; r < 2; ++r)  // the same code path: identical
    EXPECT_EQ(together[r].result.accuracy, evaluate_once(set, data, es, r + 1, torch::kCPU).accuracy);
  es.runs = 1;
  EXPECT_EQ(stacked_runs_unsupported(es, data.info), "one run");
  const EvalSpec trustdd = EvalSpec::from_json({{"protocol", "trustdd"}, {"net", "ConvNetW32"}, {"runs", 2}, {"ood", "toy32"}});
  EXPECT_NE(stacked_runs_unsupported(trustdd, data.info).find("one after the other"), std::string::npos);
}
