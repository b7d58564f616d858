// The reference's evaluation quirks: Epoch+1 epochs, the lr drop after epoch Epoch//2+1 with a new
// optimizer, a diverging run reported as such.
#include <gtest/gtest.h>

#include <cstdio>

#include "datasets/registry.h"
#include "harness/eval_protocol.h"
#include "harness/nets/net.h"
#include "harness/train.h"

using namespace ddb;

TEST(TrainProtocol, LrDropEpochIsEpochHalfPlusOne) {
  EXPECT_EQ(lr_drop_epoch(300), 151);
  EXPECT_EQ(lr_drop_epoch(1000), 501);
  EXPECT_EQ(lr_drop_epoch(5), 3);
}

TEST(TrainProtocol, TrainsEpochPlusOneEpochs) {
  torch::manual_seed(0);
  Net net = make_net("ConvNetW32", {1, 28, 28}, 10);
  const torch::Tensor x = torch::randn({8, 1, 28, 28});
  const torch::Tensor y = torch::arange(8) % 10;
  TrainSchedule s;
  s.epochs = 4;
  long calls = 0, last_total = 0;
  train_classifier(*net, x, y, s, [&](const std::string&, long, long total) {
    ++calls;
    last_total = total;
  });
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(last_total, 5);
}

TEST(TrainProtocol, LrDropRebuildsOptimizerSoMomentumRestarts) {
  // With momentum, a fresh optimizer's first step equals lr * grad exactly (no buffer). We check the
  // schedule indirectly: with lr 0 before the drop nothing moves, and the drop itself is x0.1 of 0.
  torch::manual_seed(0);
  Net net = make_net("ConvNetW32", {1, 28, 28}, 10);
  std::vector<torch::Tensor> before;
  for (const auto& p : net->parameters()) before.push_back(p.detach().clone());
  TrainSchedule s;
  s.epochs = 2;
  s.lr = 0.0;
  train_classifier(*net, torch::randn({4, 1, 28, 28}), torch::arange(4), s);
  size_t i = 0;
  for (const auto& p : net->parameters()) {
    // weight decay with lr 0 also moves nothing
    EXPECT_TRUE(torch::equal(p.detach(), before[i++]));
  }
}

TEST(TrainProtocol, NonFiniteLossIsReportedAsDivergence) {
  Net net = make_net("ConvNetW32", {1, 28, 28}, 10);
  torch::Tensor x = torch::randn({4, 1, 28, 28});
  x[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  TrainSchedule s;
  s.epochs = 1;
  EXPECT_THROW(train_classifier(*net, x, torch::arange(4), s), Diverged);
}

TEST(TrainProtocol, SoftLabelsAreAccepted) {
  Net net = make_net("ConvNetW32", {1, 28, 28}, 10);
  TrainSchedule s;
  s.epochs = 1;
  const double loss = train_classifier(*net, torch::randn({4, 1, 28, 28}), torch::softmax(torch::randn({4, 10}), 1), s);
  EXPECT_TRUE(std::isfinite(loss));
}

TEST(EvalProtocol, EvaluatesOnToyDataAndIsReplayable) {
  LoadOptions lo;
  const LoadedDataset data = load_dataset("toy28", lo);
  SyntheticSet set;
  set.images = data.train.images.narrow(0, 0, 50);
  set.labels = data.train.labels.narrow(0, 0, 50);
  EvalSpec spec;
  spec.net = "ConvNetW32";
  spec.epochs = 3;
  const auto a = evaluate_once(set, data, spec, 42, torch::kCPU);
  const auto b = evaluate_once(set, data, spec, 42, torch::kCPU);
  EXPECT_GE(a.accuracy, 0.0);
  EXPECT_LE(a.accuracy, 100.0);
  EXPECT_DOUBLE_EQ(a.accuracy, b.accuracy);  // seeded from the run identity, not the clock
}

// Counts below their floor used to run: runs 0 reported "every run diverged", epochs -5 trained one epoch.
TEST(EvalProtocol, CountsBelowTheirFloorAreErrors) {
  const auto message = [](const json& j) {
    try {
      EvalSpec::from_json(j);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(message({{"runs", 0}}).find("eval.runs must be >= 1"), std::string::npos);
  EXPECT_NE(message({{"epochs", -5}}).find("eval.epochs must be >= 0"), std::string::npos);
  EXPECT_NE(message({{"batch_train", 0}}).find("eval.batch_train must be >= 1"), std::string::npos);
  EXPECT_NE(message({{"protocol", "trustdd"}, {"keep_from", -2}}).find("eval.keep_from must be >= 0"), std::string::npos);
  EXPECT_NE(message({{"protocol", "kip"}, {"steps", 0}}).find("eval.steps"), std::string::npos);
  EXPECT_EQ(message({{"epochs", 0}, {"runs", 1}, {"batch_train", 1}}), "(accepted)");
  EXPECT_EQ(message({{"protocol", "kd"}, {"batch_train", 0}}), "(accepted)");  // kd: 0 = RDED's batch by IPC
  EXPECT_NE(message({{"protocol", "kd"}, {"batch_train", -1}}).find("eval.batch_train must be >= 0"), std::string::npos);
}

TEST(EvalProtocol, UnknownOrUnimplementedProtocolsAreErrors) {
  EXPECT_THROW(EvalSpec::from_json({{"protocol", "nope"}}), UserError);
  EXPECT_THROW(EvalSpec::from_json({{"augment", "mixup"}}), UserError);
  // Planned protocols are data (planned/evaluation.yaml): known, valid in a suite, not registered.
  EXPECT_EQ(find_protocol("transfer_finetune"), nullptr);
  EXPECT_TRUE(protocol_registry().is_planned("transfer_finetune"));
  EXPECT_NO_THROW(EvalSpec::from_json({{"protocol", "transfer_finetune"}}));
  EXPECT_THROW(evaluate_once(SyntheticSet{}, LoadedDataset{}, EvalSpec::from_json({{"protocol", "transfer_finetune"}}), 1,
                             torch::kCPU),
               UserError);
}

// test_accuracy runs in inference mode with a batch chosen by device and image size (test_batch_for):
// the count of correct argmaxes must not depend on the batch, on a trained net. 3,000 images (toy28
// test + train + noise), so every batch below leaves a partial last batch.
TEST(TrainProtocol, TestAccuracyDoesNotDependOnTheBatch) {
  const LoadedDataset data = load_dataset("toy28", LoadOptions{});
  torch::manual_seed(3);
  Net net = make_net("ConvNetW32", {1, 28, 28}, 10);
  TrainSchedule s;
  s.epochs = 2;
  train_classifier(*net, data.train.images, data.train.labels, s);
  TensorSplit test;
  test.images = torch::cat({data.test.images, data.train.images, 0.3 * torch::randn({1800, 1, 28, 28}) + 0.5}, 0);
  test.labels = torch::cat({data.test.labels, data.train.labels, torch::randint(0, 10, {1800}, torch::kLong)}, 0);
  EXPECT_EQ(test_batch_for({1, 28, 28}, torch::kCPU), 256);
  EXPECT_EQ(test_batch_for({1, 28, 28}, torch::Device(torch::kCUDA, 0)), 2000);
  EXPECT_EQ(test_batch_for({3, 128, 128}, torch::Device(torch::kCUDA, 0)), 256);  // never below the reference's 256
  const double by_256 = test_accuracy(*net, test, torch::kCPU, 256);
  EXPECT_GT(by_256, 10.0);  // trained: the argmaxes are not all one class
  for (int64_t batch : {int64_t{0}, int64_t{1000}, int64_t{2000}, int64_t{2999}, test.size()})
    EXPECT_EQ(test_accuracy(*net, test, torch::kCPU, batch), by_256) << "batch " << batch;
  EXPECT_TRUE(net->is_training());  // back in train mode
  // map_batches: inference mode inside, an ordinary tensor out (callers may write to it).
  torch::Tensor logits = map_batches(*net, test.images, torch::kCPU, 1000, [&net](const torch::Tensor& x) { return net->forward(x); });
  EXPECT_FALSE(logits.is_inference());
  logits.mul_(2);
  torch::Tensor by_one;
  {
    torch::NoGradGuard no_grad;
    net->eval();
    by_one = net->forward(test.images) * 2;
    net->train();
  }
  std::printf("map_batches(1000) vs one forward of %lld: max |logit difference| = %.3g\n",
              static_cast<long long>(test.size()), (logits - by_one).abs().max().item<double>());
  EXPECT_TRUE(torch::allclose(logits, by_one, 1e-4, 1e-4));
}
