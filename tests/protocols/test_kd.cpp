// The kd protocol (harness/protocols/kd.cpp), the cached teacher it and RDED share (harness/teacher.h),
// RDED's training transform (harness/augment/rded_transform.h) and the rded method (methods/coreset/rded.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "datasets/registry.h"
#include "toy_sets.h"
#include "harness/augment/rded_transform.h"
#include "harness/eval_protocol.h"
#include "harness/protocols/kd.h"
#include "harness/teacher.h"
#include "methods/method.h"
#include "../unit/test_helpers.h"

namespace ddb {
namespace {

namespace fs = std::filesystem;

const LoadedDataset& toy() { return testing_support::toy28(); }

TeacherSpec small_teacher() {
  TeacherSpec t;
  t.net = "ConvNetW32";
  t.epochs = 2;
  t.augment = "none";
  return t;
}

// ------------------------------------------------------------------------------ schedule pieces

TEST(KdSchedule, RdedBatchSizeByIpcAndClasses) {
  EXPECT_EQ(rded_batch_size(1, 10, "imagenette"), 10);
  EXPECT_EQ(rded_batch_size(10, 10, "imagenette"), 50);
  EXPECT_EQ(rded_batch_size(50, 10, "imagewoof"), 100);
  EXPECT_EQ(rded_batch_size(10, 100, "imagenet-100"), 100);  // x2 for 100 classes
  EXPECT_EQ(rded_batch_size(50, 1000, "imagenet"), 200);
  EXPECT_EQ(rded_batch_size(1, 200, "tinyimagenet"), 100);   // Tiny-ImageNet: 100 whatever the IPC
  EXPECT_EQ(rded_batch_size(1, 5, "toy"), 5);                // never above ipc x classes
  EXPECT_EQ(rded_batch_size(5, 10, "imagenette"), 0);        // no rule
}

TEST(KdSchedule, QuarterCosineEndsAtHalfTheLr) {
  EXPECT_DOUBLE_EQ(rded_lr_factor(0, 300), 1.0);
  EXPECT_NEAR(rded_lr_factor(150, 300), 0.5 * (1 + std::cos(M_PI / 4)), 1e-12);
  EXPECT_NEAR(rded_lr_factor(299, 300), 0.5 * (1 + std::cos(M_PI * 299 / 600)), 1e-12);
  EXPECT_NEAR(rded_lr_factor(300, 300), 0.5, 1e-12);
  EXPECT_EQ(rded_lr_factor(301, 300), 0.0);
}

// ------------------------------------------------------------------------------ ShufflePatches

// The four 4x4 quadrants of a [1, 8, 8] image, row-major.
std::vector<torch::Tensor> quadrants(const torch::Tensor& img) {
  std::vector<torch::Tensor> q;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 2; ++c) q.push_back(img.narrow(1, 4 * r, 4).narrow(2, 4 * c, 4));
  return q;
}

TEST(ShufflePatches, PermutesWholeStripsAlongBothAxes) {
  const torch::Tensor img = torch::arange(64, torch::kFloat).reshape({1, 8, 8});
  torch::manual_seed(3);
  std::set<std::vector<float>> arrangements;
  for (int trial = 0; trial < 40; ++trial) {
    const torch::Tensor out = shuffle_patches(img, 2);
    ASSERT_EQ(out.sizes(), img.sizes());
    // Rows and columns move as wholes: the output's first row is some input row, re-ordered by halves.
    const auto in_q = quadrants(img), out_q = quadrants(out);
    for (const auto& q : out_q) {
      bool found = false;
      for (const auto& p : in_q) found |= torch::equal(q, p);
      EXPECT_TRUE(found) << "a quadrant of the output is not a quadrant of the input";
    }
    arrangements.insert({out[0][0][0].item<float>(), out[0][0][4].item<float>(), out[0][4][0].item<float>()});
  }
  EXPECT_EQ(arrangements.size(), 4u) << "both shuffles should be drawn: 2 x 2 arrangements";
}

TEST(ShufflePatches, ColumnsPastFactorTimesStripAreDropped) {
  // w = 9, factor 2: strips [0, 4) and [4, 8); the reference's last-strip test compares the offset 4 with
  // factor - 1 = 1, so column 8 is not kept (and likewise row 8).
  const torch::Tensor img = torch::arange(81, torch::kFloat).reshape({1, 9, 9});
  torch::manual_seed(0);
  const torch::Tensor out = shuffle_patches(img, 2);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{1, 8, 8}));
  EXPECT_FALSE(torch::any(out.remainder(9) == 8).item<bool>());  // no pixel of column 8
  EXPECT_FALSE(torch::any(out >= 72).item<bool>());               // no pixel of row 8
}

TEST(RdedTransform, KeepsTheSizeAndReplaysWithTheSeed) {
  const torch::Tensor x = torch::randn({4, 3, 16, 16});
  torch::manual_seed(7);
  const torch::Tensor a = rded_transform(x, 2);
  torch::manual_seed(7);
  const torch::Tensor b = rded_transform(x, 2);
  EXPECT_EQ(a.sizes(), x.sizes());
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, x));
}

// ------------------------------------------------------------------------------ teacher cache

TEST(Teacher, TrainedOnceThenLoadedAndTheCallersStreamIsKept) {
  const fs::path cache = testing_support::temp_dir("teacher");
  int reports = 0;
  const ProgressFn count = [&reports](const std::string& phase, long, long) { reports += phase == "teacher"; };
  torch::manual_seed(11);
  const double expected = torch::rand({1}).item<double>();

  torch::manual_seed(11);
  const Teacher first = load_or_train_teacher(cache.string(), toy(), small_teacher(), torch::kCPU, count);
  EXPECT_DOUBLE_EQ(torch::rand({1}).item<double>(), expected) << "training the teacher advanced the caller's stream";
  EXPECT_EQ(reports, 2) << "one report per epoch";
  EXPECT_GT(first.test_accuracy, 30.0) << "toy28 is easy: a trained teacher is far above chance";
  EXPECT_TRUE(fs::exists(first.path));
  EXPECT_TRUE(fs::exists(fs::path(first.path).parent_path() / "meta.json"));

  torch::manual_seed(11);
  const Teacher second = load_or_train_teacher(cache.string(), toy(), small_teacher(), torch::kCPU, count);
  EXPECT_DOUBLE_EQ(torch::rand({1}).item<double>(), expected);
  EXPECT_EQ(reports, 2) << "the second call loads, it does not train";
  EXPECT_EQ(second.key, first.key);
  EXPECT_DOUBLE_EQ(second.test_accuracy, first.test_accuracy);
  const torch::Tensor x = toy().test.images.narrow(0, 0, 8);
  EXPECT_TRUE(torch::equal(first.net->forward(x), second.net->forward(x)));
  for (const auto& p : second.net->parameters()) EXPECT_FALSE(p.requires_grad());

  TeacherSpec other = small_teacher();
  other.epochs = 1;
  EXPECT_NE(load_or_train_teacher(cache.string(), toy(), other, torch::kCPU).key, first.key);
  fs::remove_all(cache);
}

TEST(Teacher, ACorruptFileIsNamed) {
  const fs::path cache = testing_support::temp_dir("teacher-corrupt");
  TeacherSpec spec = small_teacher();
  spec.epochs = 1;
  const Teacher t = load_or_train_teacher(cache.string(), toy(), spec, torch::kCPU);
  std::ofstream(t.path, std::ios::trunc) << "not a tensor file";
  try {
    load_or_train_teacher(cache.string(), toy(), spec, torch::kCPU);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(t.path), std::string::npos) << e.what();
  }
  fs::remove_all(cache);
}

// ------------------------------------------------------------------------------ the protocol

EvalSpec kd_spec(int64_t epochs) {
  return EvalSpec::from_json(json{{"protocol", "kd"},     {"net", "ConvNetW32"}, {"epochs", epochs},
                                  {"teacher_epochs", 2}, {"runs", 1}});
}

SyntheticSet real_set(int64_t ipc) { return testing_support::toy28_real_set(ipc); }

TEST(KdProtocol, SpecDefaultsAreRdedsAndItsFieldsAreKdOnly) {
  const EvalSpec s = EvalSpec::from_json(json{{"protocol", "kd"}});
  EXPECT_EQ(s.epochs, 300);
  EXPECT_EQ(s.batch_train, 0);
  EXPECT_DOUBLE_EQ(s.lr_net, 0.001);
  EXPECT_DOUBLE_EQ(s.temperature, 20.0);
  EXPECT_EQ(s.augment, "rded");
  const json j = s.to_json();
  EXPECT_EQ(j.at("teacher_epochs"), 50);
  EXPECT_EQ(j.at("temperature"), 20.0);
  EXPECT_THROW(EvalSpec::from_json(json{{"protocol", "dc"}, {"teacher_net", "ConvNet"}}), UserError);
  EXPECT_THROW(EvalSpec::from_json(json{{"protocol", "dc"}, {"temperature", 4}}), UserError);
  EXPECT_THROW(EvalSpec::from_json(json{{"protocol", "kd"}, {"lambda_oe", 1}}), UserError);
  EXPECT_THROW(EvalSpec::from_json(json{{"protocol", "kd"}, {"augment", "dsa"}}), UserError);
  EXPECT_FALSE(EvalSpec::from_json(json{{"protocol", "dc"}}).to_json().contains("teacher_net"))
      << "other protocols' configuration hashes stay";
}

TEST(KdProtocol, TheStudentLearnsFromTheTeacherNotFromTheLabels) {
  const fs::path cache = testing_support::temp_dir("kd");
  const EvalSpec spec = kd_spec(10);
  SyntheticSet set = real_set(1);
  const EvalPaths paths(LoadOptions{}, cache.string());
  const EvalRunResult a = evaluate_once(set, toy(), spec, 42, torch::kCPU, nullptr, "eval", paths);
  ASSERT_EQ(a.values.size(), 2u);
  EXPECT_EQ(a.values[0].metric, "accuracy");
  EXPECT_EQ(a.values[1].metric, "teacher_accuracy");
  EXPECT_GT(a.values[1].value, 30.0);
  EXPECT_GT(a.accuracy, 15.0) << "10 images and a good teacher: above chance (10%)";
  // Same seed: the same number. Labels scrambled: the same number (the protocol never reads them).
  const EvalRunResult b = evaluate_once(set, toy(), spec, 42, torch::kCPU, nullptr, "eval", paths);
  EXPECT_DOUBLE_EQ(b.accuracy, a.accuracy);
  set.labels = set.labels.roll(1);
  const EvalRunResult c = evaluate_once(set, toy(), spec, 42, torch::kCPU, nullptr, "eval", paths);
  EXPECT_DOUBLE_EQ(c.accuracy, a.accuracy);
  EXPECT_DOUBLE_EQ(c.train_loss, a.train_loss);
  // Another seed: another run.
  const EvalRunResult d = evaluate_once(set, toy(), spec, 43, torch::kCPU, nullptr, "eval", paths);
  EXPECT_NE(d.train_loss, a.train_loss);
  fs::remove_all(cache);
}

TEST(KdProtocol, AnIpcWithoutRdedsBatchRuleNeedsABatch) {
  const fs::path cache = testing_support::temp_dir("kd-batch");
  const EvalPaths paths(LoadOptions{}, cache.string());
  try {
    evaluate_once(real_set(3), toy(), kd_spec(1), 1, torch::kCPU, nullptr, "eval", paths);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("eval.batch_train"), std::string::npos) << e.what();
  }
  json j = kd_spec(1).to_json();
  j["batch_train"] = 15;
  j.erase("protocol");
  j["protocol"] = "kd";
  EXPECT_NO_THROW(evaluate_once(real_set(3), toy(), EvalSpec::from_json(j), 1, torch::kCPU, nullptr, "eval", paths));
  fs::remove_all(cache);
}

TEST(SoftLabelCe, TrainsOnTheTeachersSoftLabelsOfTheStoredImages) {
  const fs::path cache = testing_support::temp_dir("slce");
  const EvalPaths paths(LoadOptions{}, cache.string());
  const EvalSpec spec = EvalSpec::from_json(json{{"protocol", "soft_label_ce"}, {"net", "ConvNetW32"}, {"epochs", 50},
                                                 {"teacher_epochs", 2}, {"runs", 1}});
  EXPECT_EQ(spec.augment, "rded");
  EXPECT_TRUE(spec.to_json().contains("teacher_epochs"));
  EXPECT_FALSE(spec.to_json().contains("temperature"));
  EXPECT_THROW(EvalSpec::from_json(json{{"protocol", "soft_label_ce"}, {"temperature", 4}}), UserError);
  SyntheticSet set = real_set(1);
  const EvalRunResult a = evaluate_once(set, toy(), spec, 42, torch::kCPU, nullptr, "eval", paths);
  EXPECT_GT(a.accuracy, 15.0) << "chance is 10%";
  set.labels = set.labels.roll(1);  // the set's own labels are not read
  const EvalRunResult b = evaluate_once(set, toy(), spec, 42, torch::kCPU, nullptr, "eval", paths);
  EXPECT_DOUBLE_EQ(b.accuracy, a.accuracy);
  // Not the kd protocol under another name: the same set, seed and teacher train differently.
  json kd = spec.to_json();
  kd["protocol"] = "kd";
  kd.erase("augment");
  const EvalRunResult k = evaluate_once(set, toy(), EvalSpec::from_json(kd), 42, torch::kCPU, nullptr, "eval", paths);
  EXPECT_NE(k.train_loss, a.train_loss);
  fs::remove_all(cache);
}

// ------------------------------------------------------------------------------ rded

TEST(Rded, StitchesTheTeachersMostConfidentCropsInScoreOrder) {
  const fs::path cache = testing_support::temp_dir("rded");
  const MethodInfo& info = MethodRegistry::instance().get("rded");
  const int64_t ipc = 2;
  const json opts = resolve_options(info, json{{"num_crop", 2}, {"mipc", 20}, {"teacher_epochs", 2}});
  DistillContext ctx{toy()};
  ctx.ipc = ipc;
  ctx.net = "ConvNetW32";
  ctx.options = Options(opts);
  ctx.cache_dir = cache.string();
  torch::manual_seed(9);
  const SyntheticSet set = info.make()->distill(ctx);
  const int64_t classes = toy().info.num_classes;
  ASSERT_EQ(set.images.sizes(), (std::vector<int64_t>{classes * ipc, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(set.labels, torch::arange(classes).repeat_interleave(ipc)));
  ASSERT_TRUE(set.meta.contains("teacher"));

  // The same teacher (cached): every cell's crop, padded back to 28 x 28, scores in the order of its
  // crop index k x ipc + i (ascending -log p(class)).
  TeacherSpec ts;
  ts.net = "ConvNetW32";
  ts.epochs = 2;
  const Teacher teacher = load_or_train_teacher(cache.string(), toy(), ts, torch::kCPU);
  EXPECT_EQ(set.meta["teacher"]["key"], teacher.key);
  torch::NoGradGuard no_grad;
  for (int64_t c = 0; c < classes; ++c) {
    std::vector<double> scores(4 * ipc);
    for (int64_t i = 0; i < ipc; ++i) {
      const torch::Tensor img = set.images[c * ipc + i];
      for (int64_t k = 0; k < 4; ++k) {
        const torch::Tensor cell = img.narrow(1, 14 * (k / 2), 14).narrow(2, 14 * (k % 2), 14);
        const torch::Tensor padded = torch::constant_pad_nd(cell.unsqueeze(0), {7, 7, 7, 7}, 0.0);
        scores[static_cast<size_t>(k * ipc + i)] = -torch::log_softmax(teacher.net->forward(padded), 1)[0][c].item<double>();
      }
    }
    for (size_t j = 1; j < scores.size(); ++j) EXPECT_LE(scores[j - 1], scores[j] + 1e-4) << "class " << c << " crop " << j;
  }
  fs::remove_all(cache);
}

// ------------------------------------------------------------------------------ sre2l

TEST(Sre2l, RecoversImagesTheTeacherCallsTheirClassWithinThePixelRange) {
  const fs::path cache = testing_support::temp_dir("sre2l");
  const MethodInfo& info = MethodRegistry::instance().get("sre2l");
  const int64_t ipc = 2;
  DistillContext ctx{toy()};
  ctx.ipc = ipc;
  ctx.net = "ConvNetBN";
  ctx.options = Options(resolve_options(info, json{{"iterations", 100}, {"teacher_epochs", 2}, {"jitter", 4}}));
  ctx.cache_dir = cache.string();
  torch::manual_seed(4);
  const SyntheticSet set = info.make()->distill(ctx);
  const int64_t classes = toy().info.num_classes;
  ASSERT_EQ(set.images.sizes(), (std::vector<int64_t>{classes * ipc, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(set.labels, torch::arange(classes).repeat_interleave(ipc)));
  const double m = toy().info.mean[0], s = toy().info.std[0];
  EXPECT_GE(set.images.min().item<double>(), -m / s - 1e-6);
  EXPECT_LE(set.images.max().item<double>(), (1 - m) / s + 1e-6);

  TeacherSpec ts;
  ts.net = "ConvNetBN";
  ts.epochs = 2;
  const Teacher teacher = load_or_train_teacher(cache.string(), toy(), ts, torch::kCPU);
  torch::NoGradGuard no_grad;
  const double recovered = torch::nn::functional::cross_entropy(teacher.net->forward(set.images), set.labels).item<double>();
  torch::manual_seed(4);
  const torch::Tensor noise = torch::randn_like(set.images).clamp(-m / s, (1 - m) / s);
  const double from_noise = torch::nn::functional::cross_entropy(teacher.net->forward(noise), set.labels).item<double>();
  EXPECT_LT(recovered, from_noise - 0.5) << "recovered " << recovered << ", noise " << from_noise;
  const double acc = teacher.net->forward(set.images).argmax(1).eq(set.labels).to(torch::kDouble).mean().item<double>();
  EXPECT_GE(acc, 0.7) << "chance is 0.1";
  fs::remove_all(cache);
}

TEST(Sre2l, ATeacherWithoutReachableBatchNormIsRefused) {
  const MethodInfo& info = MethodRegistry::instance().get("sre2l");
  DistillContext ctx{toy()};
  ctx.net = "ConvNetW32";
  ctx.options = Options(resolve_options(info, json{{"iterations", 1}}));
  ctx.cache_dir = testing_support::temp_dir("sre2l-refused").string();
  try {
    info.make()->distill(ctx);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("ConvNetD1BN .. ConvNetD6BN"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ddb
