// IDC's evaluation (harness/protocols/idc.cpp) and the schedule pieces it added to train_classifier:
// MultiStepLR milestones, exactly E epochs, CutMix on the batch; and the VICO loop every other protocol
// uses, pinned against a plain loop written out here (so those additions leave it bit-identical).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "datasets/registry.h"
#include "ddbench_config.h"
#include "harness/augment/cutmix.h"
#include "harness/eval_protocol.h"
#include "harness/nets/net.h"
#include "harness/plan.h"
#include "harness/runtime.h"
#include "harness/train.h"
#include "../unit/test_helpers.h"

namespace ddb {
namespace {

std::vector<torch::Tensor> params_of(NetImpl& net) {
  std::vector<torch::Tensor> out;
  for (const auto& p : net.parameters()) out.push_back(p.detach().clone());
  return out;
}

bool same_params(NetImpl& a, NetImpl& b) {
  const auto pa = params_of(a), pb = params_of(b);
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); ++i)
    if (!torch::equal(pa[i], pb[i])) return false;
  return true;
}

TEST(IdcSchedule, LrAtTheMilestonesOfAThousandEpochs) {
  TrainSchedule s;
  s.epochs = 1000;
  s.lr = 0.01;
  s.lr_drop = false;
  s.lr_milestones = {2 * 1000 / 3, 5 * 1000 / 6};  // [666, 833]
  s.lr_gamma = 0.2;
  EXPECT_EQ(s.lr_milestones, (std::vector<int64_t>{666, 833}));
  // MultiStepLR steps after each epoch: epoch index 666 (the 667th) is the first at 0.002.
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 0), 0.01);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 665), 0.01);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 666), 0.01 * 0.2);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 832), 0.01 * 0.2);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 833), 0.01 * 0.2 * 0.2);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 999), 0.01 * 0.2 * 0.2);
  // A milestone listed twice (E = 2: [1, 1]) applies gamma twice, as Counter(milestones) does.
  s.lr_milestones = {2 * 2 / 3, 5 * 2 / 6};
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1), 0.01 * 0.2 * 0.2);
  // The VICO drop: x0.1 after epoch Epoch//2 + 1.
  TrainSchedule v;
  v.epochs = 300;
  EXPECT_DOUBLE_EQ(scheduled_lr(v, 151), 0.01);
  EXPECT_DOUBLE_EQ(scheduled_lr(v, 152), 0.001);
}

TEST(IdcSchedule, TrainsExactlyEEpochsAndAppliesTheMilestoneInPlace) {
  torch::manual_seed(0);
  Net net = make_net("ConvNetW32", {1, 28, 28}, 10);
  const torch::Tensor x = torch::randn({8, 1, 28, 28});
  const torch::Tensor y = torch::arange(8) % 10;
  TrainSchedule s;
  s.epochs = 3;
  s.extra_epoch = false;
  s.lr_drop = false;
  s.lr_milestones = {1};
  s.lr_gamma = 0.0;  // lr 0 from the second epoch on: nothing moves after the first
  std::vector<torch::Tensor> after_first;
  long total = 0;
  s.after_epoch = [&](int64_t ep) {
    if (ep == 0) after_first = params_of(*net);
  };
  train_classifier(*net, x, y, s, [&](const std::string&, long, long t) { total = t; });
  EXPECT_EQ(total, 3);
  const auto final_params = params_of(*net);
  ASSERT_EQ(final_params.size(), after_first.size());
  for (size_t i = 0; i < final_params.size(); ++i) EXPECT_TRUE(torch::equal(final_params[i], after_first[i]));
}

TEST(IdcSchedule, CutMixMixesTheLabelsOfTheBatch) {
  // One epoch, one batch, lr 0: the loss train_classifier reports is the area-weighted CutMix loss of the
  // batch it drew -- replayed here from the same seed (randperm of the loader, then CutMix's draws).
  torch::manual_seed(0);
  Net net = make_net("ConvNetW32", {1, 16, 16}, 4);
  const torch::Tensor x = torch::arange(6, torch::kFloat).view({6, 1, 1, 1}).expand({6, 1, 16, 16}).contiguous();
  const torch::Tensor y = torch::tensor({0, 1, 2, 3, 0, 1}, torch::kLong);
  TrainSchedule s;
  s.epochs = 1;
  s.extra_epoch = false;
  s.lr = 0;
  s.batch = 6;
  s.cutmix_prob = 1.0;
  torch::manual_seed(21);
  const torch::Tensor perm = torch::randperm(6, torch::TensorOptions().dtype(torch::kLong));
  const torch::Tensor xb = x.index_select(0, perm), yb = y.index_select(0, perm);
  const CutMixed m = cutmix(xb, yb, 1.0, 1.0);
  ASSERT_TRUE(m.mixed);
  // The mixed batch: each image keeps `ratio` of its pixels and takes the rest from its partner, whose
  // label gets weight 1 - ratio.
  for (int64_t i = 0; i < 6; ++i) {
    if (m.labels_b[i].item<int64_t>() == yb[i].item<int64_t>()) continue;
    const double own = (m.images[i] == xb[i][0][0][0]).to(torch::kDouble).mean().item<double>();
    EXPECT_NEAR(own, m.ratio, 1e-9);
  }
  net->train();
  const torch::Tensor logits = net->forward(m.images);
  namespace F = torch::nn::functional;
  const double want = (F::cross_entropy(logits, yb) * m.ratio + F::cross_entropy(logits, m.labels_b) * (1 - m.ratio)).item<double>();
  torch::manual_seed(21);
  EXPECT_NEAR(train_classifier(*net, x, y, s), want, 1e-6);
  // Soft labels cannot be mixed this way.
  EXPECT_THROW(train_classifier(*net, x, torch::softmax(torch::randn({6, 4}), 1), s), UserError);
}

TEST(IdcSchedule, TheVicoLoopIsUnchanged) {
  // The loop written out (VICO evaluate_synset / the dc protocol): Epoch + 1 epochs over a randperm,
  // SGD(lr, momentum 0.9, wd 5e-4), after epoch Epoch//2 + 1 a new SGD at lr x0.1.
  const torch::Tensor x = torch::randn({10, 1, 28, 28}, torch::TensorOptions().dtype(torch::kFloat));
  const torch::Tensor y = torch::arange(10) % 10;
  torch::manual_seed(5);
  Net a = make_net("ConvNetW32", {1, 28, 28}, 10);
  torch::manual_seed(5);
  Net b = make_net("ConvNetW32", {1, 28, 28}, 10);
  ASSERT_TRUE(same_params(*a, *b));
  TrainSchedule s;
  s.epochs = 4;
  s.batch = 4;
  torch::manual_seed(9);
  const double loss_a = train_classifier(*a, x, y, s);
  torch::manual_seed(9);
  b->train();
  double lr = 0.01, last = 0;
  auto sgd = [&](double l) {
    return std::make_unique<torch::optim::SGD>(b->parameters(), torch::optim::SGDOptions(l).momentum(0.9).weight_decay(5e-4));
  };
  auto opt = sgd(lr);
  for (int64_t ep = 0; ep < s.epochs + 1; ++ep) {
    const torch::Tensor perm = torch::randperm(10, torch::TensorOptions().dtype(torch::kLong));
    double sum = 0;
    int n = 0;
    for (int64_t st = 0; st < 10; st += 4) {
      const torch::Tensor idx = perm.narrow(0, st, std::min<int64_t>(4, 10 - st));
      const torch::Tensor loss = torch::nn::functional::cross_entropy(b->forward(x.index_select(0, idx)), y.index_select(0, idx));
      opt->zero_grad();
      loss.backward();
      opt->step();
      sum += loss.item<double>();
      ++n;
    }
    last = sum / n;
    if (ep == s.epochs / 2 + 1) opt = sgd(lr *= 0.1);
  }
  EXPECT_TRUE(same_params(*a, *b));
  EXPECT_EQ(loss_a, last);
}

TEST(IdcProtocol, TinyRunProducesAccuracyAndTheShiftedRowsReplayably) {
  const LoadedDataset data = load_dataset("toy28", LoadOptions{});
  SyntheticSet set;
  set.images = data.train.images.narrow(0, 0, 40);
  set.labels = data.train.labels.narrow(0, 0, 40);
  // IDC's defaults where the cell gives none: batch 64, 1000 epochs, dsa+cutmix.
  const EvalSpec d = EvalSpec::from_json({{"protocol", "idc"}});
  EXPECT_EQ(d.batch_train, 64);
  EXPECT_EQ(d.epochs, 1000);
  EXPECT_EQ(d.augment, "dsa+cutmix");
  EXPECT_THROW(EvalSpec::from_json({{"protocol", "idc"}, {"augment", "dc_aug"}}), UserError);
  EXPECT_NO_THROW(EvalSpec::from_json({{"protocol", "idc"}, {"augment", "imagenet+cutmix"}}));
  const EvalSpec spec = EvalSpec::from_json({{"protocol", "idc"}, {"net", "ConvNetW32"}, {"epochs", 4},
                                             {"ood", {"rdd-kmeans10", "rdd-noise", "rdd-blur", "rdd-invert"}}});
  long total = 0;
  const EvalRunResult r = evaluate_once(set, data, spec, 3, torch::kCPU, [&](const std::string&, long, long t) { total = t; });
  EXPECT_EQ(total, 4);  // E epochs, not E + 1
  std::map<std::string, double> v;
  for (const auto& m : r.values) v[m.metric] = m.value;
  EXPECT_EQ(v.size(), 9u);
  EXPECT_DOUBLE_EQ(v.at("accuracy"), r.accuracy);
  EXPECT_GT(r.accuracy, 10.0);  // toy28 is easy; chance is 10 %
  EXPECT_DOUBLE_EQ(v.at("accuracy_drop@rdd-noise"), r.accuracy - v.at("accuracy@rdd-noise"));
  EXPECT_TRUE(v.count("worst_group_accuracy@rdd-kmeans10"));
  const EvalRunResult again = evaluate_once(set, data, spec, 3, torch::kCPU);
  EXPECT_DOUBLE_EQ(again.accuracy, r.accuracy);
  EXPECT_DOUBLE_EQ(again.train_loss, r.train_loss);
  // Plain dsa and none run too; the registry says what idc produces.
  for (const char* aug : {"dsa", "none"}) {
    const EvalSpec other = EvalSpec::from_json({{"protocol", "idc"}, {"net", "ConvNetW32"}, {"epochs", 2}, {"augment", aug}});
    EXPECT_EQ(evaluate_once(set, data, other, 3, torch::kCPU).values.size(), 1u) << aug;
  }
  const ProtocolInfo* info = find_protocol("idc");
  ASSERT_NE(info, nullptr);
  EXPECT_TRUE(info->produces("worst_group_accuracy@rdd-kmeans10"));
  EXPECT_TRUE(info->produces("accuracy@rdd-blur"));
  EXPECT_FALSE(find_protocol("trustdd")->produces("accuracy@rdd-blur"));
}

TEST(IdcProtocol, ImagenetCutmixTrainsRgbSetsReplayably) {
  // IDC's ImageNet evaluation: transform_imagenet per image (harness/augment/imagenet_transform.h), no
  // DSA, CutMix p 1.0; on toy32 (RGB) here.
  const ProtocolInfo* info = find_protocol("idc");
  ASSERT_NE(info, nullptr);
  EXPECT_TRUE(info->supports_augment("imagenet+cutmix"));
  const LoadedDataset data = load_dataset("toy32", LoadOptions{});
  SyntheticSet set;
  set.images = data.train.images.narrow(0, 0, 20);
  set.labels = data.train.labels.narrow(0, 0, 20);
  const EvalSpec spec = EvalSpec::from_json(
      {{"protocol", "idc"}, {"net", "ConvNetW32"}, {"epochs", 2}, {"augment", "imagenet+cutmix"}, {"ood", {"rdd-noise"}}});
  const EvalRunResult r = evaluate_once(set, data, spec, 5, torch::kCPU);
  EXPECT_TRUE(std::isfinite(r.train_loss));
  EXPECT_EQ(r.values.size(), 3u);  // accuracy, accuracy@rdd-noise, accuracy_drop@rdd-noise
  const EvalRunResult again = evaluate_once(set, data, spec, 5, torch::kCPU);
  EXPECT_DOUBLE_EQ(again.train_loss, r.train_loss);
  EXPECT_DOUBLE_EQ(again.accuracy, r.accuracy);
  // Not the dsa+cutmix run of the same seed.
  EvalSpec dsa = spec;
  dsa.augment = "dsa+cutmix";
  EXPECT_NE(evaluate_once(set, data, dsa, 5, torch::kCPU).train_loss, r.train_loss);
  // A grey-scale set cannot take the RGB jitter / lighting: a clear error.
  const LoadedDataset grey = load_dataset("toy28", LoadOptions{});
  SyntheticSet g;
  g.images = grey.train.images.narrow(0, 0, 10);
  g.labels = grey.train.labels.narrow(0, 0, 10);
  const EvalSpec gs = EvalSpec::from_json({{"protocol", "idc"}, {"net", "ConvNetW32"}, {"epochs", 1}, {"augment", "imagenet+cutmix"}});
  EXPECT_THROW(evaluate_once(g, grey, gs, 5, torch::kCPU), UserError);
}

TEST(IdcProtocol, RddImagenetCellsAreNoLongerUnimplemented) {
  // The RDD cells naming eval {protocol: idc, augment: imagenet+cutmix}: the augment no longer blocks
  // them (they may still wait for a GPU, the ImageNet-10 files, or another planned name).
  int cells = 0;
  for (const char* table : {"t1", "t2"}) {
    const Suite s = load_suite(source_root() + "/suites/rdd/" + table + ".yaml");
    const auto plan = plan_suite(s, testing_support::cpu_env());
    for (const auto& p : plan) {
      const json& eval = p.cell->spec.contains("eval") ? p.cell->spec["eval"] : json::object();
      if (!eval.is_object() || eval.value("augment", "") != "imagenet+cutmix") continue;
      ++cells;
      EXPECT_NE(p.status, Status::Invalid) << table << " " << p.cell->id << ": " << p.reason;
      EXPECT_EQ(p.reason.find("eval.augment"), std::string::npos) << table << " " << p.cell->id << ": " << p.reason;
    }
  }
  EXPECT_GT(cells, 10);
  // One such cell on its own (ConvNet: the RDD cells' ResNet10_AP is a network still to come): what stops
  // it here is the data, not the code -- in the planner and in `ddbench suites coverage`.
  const std::string defaults = R"(  dataset: imagenet10-idc
  method: random
  ipc: 1
  distill_net: null
  eval: {protocol: idc, net: ConvNet, epochs: 2, augment: imagenet+cutmix}
  seeds: 1
  metric: accuracy
  paper: {value: 50}
)";
  const Suite one = testing_support::suite_with("t.idcimagenet", defaults, "  - {id: r1}\n");
  const auto p = plan_suite(one, testing_support::cpu_env());
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].status, Status::Unimplemented) << p[0].reason;
  EXPECT_NE(p[0].status, Status::Invalid) << p[0].reason;
  const std::string cmd = std::string(DDBENCH_BINARY) + " suites coverage " + one.path + " 2>&1";
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buf[4096];
  while (fgets(buf, sizeof buf, pipe)) out += buf;
  EXPECT_EQ(pclose(pipe), 0) << out;
  EXPECT_EQ(out.find("unimplemented"), std::string::npos) << out;
  EXPECT_NE(out.find("| t.idcimagenet |"), std::string::npos) << out;
}

}  // namespace
}  // namespace ddb
