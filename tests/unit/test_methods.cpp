#include <gtest/gtest.h>

#include "datasets/registry.h"
#include "methods/method.h"

using namespace ddb;

namespace {
const LoadedDataset& toy() {
  static const LoadedDataset d = load_dataset("toy28", {});
  return d;
}
SyntheticSet distill(const std::string& method, int64_t ipc, json options) {
  const MethodInfo& info = MethodRegistry::instance().get(method);
  torch::manual_seed(7);
  DistillContext ctx{toy(), ipc, "ConvNetW32", Options(resolve_options(info, options)), 7, torch::kCPU, nullptr};
  return info.make()->distill(ctx);
}
}  // namespace

TEST(Registry, UnknownMethodListsRegisteredOnes) {
  try {
    MethodRegistry::instance().get("dmm");
    FAIL();
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown method 'dmm'"), std::string::npos);
    EXPECT_NE(msg.find("dm"), std::string::npos);
    EXPECT_NE(msg.find("random"), std::string::npos);
  }
}

TEST(Registry, OptionsAreCheckedAgainstTheSchema) {
  const MethodInfo& dm = MethodRegistry::instance().get("dm");
  const json r = resolve_options(dm, {{"iterations", 5}});
  EXPECT_EQ(r["iterations"], 5);
  EXPECT_EQ(r["batch_real"], 256);  // default filled in
  EXPECT_DOUBLE_EQ(r["lr_img"].get<double>(), 1.0);
  try {
    resolve_options(dm, {{"iteration", 5}});
    FAIL();
  } catch (const UnknownOption& e) {
    EXPECT_NE(std::string(e.what()).find("valid options: iterations"), std::string::npos) << e.what();
  }
  EXPECT_THROW(resolve_options(dm, {{"iterations", "many"}}), UserError);
  EXPECT_EQ(resolve_options(dm, {{"lr_img", 2}})["lr_img"], 2.0);  // ints accepted for floats
  // An int option is a count: `-o iterations=-1` used to run zero iterations and save the initial set.
  try {
    resolve_options(dm, {{"iterations", -1}});
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("option 'iterations' of method 'dm' must be >= 0, got -1"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(resolve_options(dm, {{"iterations", 0}})["iterations"], 0);  // the initial set: a valid request
}

// `ddbench distill --ipc 0` used to save an empty set, and --ipc -1 crashed inside LibTorch.
TEST(Registry, IpcMustSuitTheMethod) {
  const auto& methods = MethodRegistry::instance();
  EXPECT_NO_THROW(check_ipc(methods.get("random"), 1));
  for (const int64_t bad : {int64_t{0}, int64_t{-1}}) {
    try {
      check_ipc(methods.get("random"), bad);
      FAIL() << bad;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find("method 'random' distills ipc >= 1"), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(check_ipc(methods.get("full"), 0));  // the whole training set is named with ipc 0
  EXPECT_THROW(check_ipc(methods.get("full"), 10), UserError);
}

TEST(Methods, RandomPicksRealImagesClassMajor) {
  const SyntheticSet s = distill("random", 3, json::object());
  ASSERT_EQ(s.images.size(0), 30);
  EXPECT_TRUE(torch::equal(s.labels, torch::arange(10).repeat_interleave(3)));
  // every image is a training image of its label
  for (int64_t i = 0; i < 30; i += 7) {
    const auto diff = (toy().train.images - s.images[i].unsqueeze(0)).abs().flatten(1).sum(1);
    const int64_t j = diff.argmin().item<int64_t>();
    EXPECT_EQ(diff[j].item<double>(), 0.0);
    EXPECT_EQ(toy().train.labels[j].item<int64_t>(), s.labels[i].item<int64_t>());
  }
}

TEST(Methods, SameSeedSameSet) {
  EXPECT_TRUE(torch::equal(distill("random", 2, json::object()).images, distill("random", 2, json::object()).images));
}

TEST(Methods, HerdingAndKCenterSelectIpcRealImagesPerClass) {
  for (const char* m : {"herding", "kcenter"}) {
    const SyntheticSet s = distill(m, 2, {{"feature_net", "ConvNetW32"}, {"feature_pretrain_epochs", 0}});
    EXPECT_EQ(s.images.size(0), 20) << m;
    EXPECT_TRUE(torch::equal(s.labels, torch::arange(10).repeat_interleave(2))) << m;
  }
}

// The IDM authors' ImageNet Subset herding: the images nearest the class-mean feature, a different pick
// from greedy herding's at ipc > 1; an unknown selection is refused.
TEST(Methods, HerdingNearestMeanIsAnotherSelection) {
  const json base = {{"feature_net", "ConvNetW32"}, {"feature_pretrain_epochs", 0}};
  json nearest = base;
  nearest["selection"] = "nearest_mean";
  const SyntheticSet greedy = distill("herding", 5, base), near = distill("herding", 5, nearest);
  EXPECT_EQ(near.images.sizes(), greedy.images.sizes());
  EXPECT_TRUE(torch::equal(near.labels, greedy.labels));
  EXPECT_FALSE(torch::equal(near.images, greedy.images));
  // The first pick of both is the sample nearest the mean (greedy herding's first step is the same rule).
  EXPECT_TRUE(torch::equal(near.images[0], greedy.images[0]));
  json bad = base;
  bad["selection"] = "farthest";
  EXPECT_THROW(distill("herding", 1, bad), UserError);
}

// Forgetting: ipc training images per class, the most often misclassified during a short training;
// the same seed gives the same set; both counts run; bad options are refused.
TEST(Methods, ForgettingKeepsTheMostForgettableRealImagesPerClass) {
  const json o = {{"score_net", "ConvNetW32"}, {"train_epochs", 2}};
  const SyntheticSet s = distill("forgetting", 3, o);
  ASSERT_EQ(s.images.size(0), 30);
  EXPECT_TRUE(torch::equal(s.labels, torch::arange(10).repeat_interleave(3)));
  for (int64_t i = 0; i < 30; i += 4) {  // real training images of their own class
    const auto diff = (toy().train.images - s.images[i].unsqueeze(0)).abs().flatten(1).sum(1);
    const int64_t j = diff.argmin().item<int64_t>();
    EXPECT_EQ(diff[j].item<double>(), 0.0);
    EXPECT_EQ(toy().train.labels[j].item<int64_t>(), s.labels[i].item<int64_t>());
  }
  EXPECT_TRUE(torch::equal(s.images, distill("forgetting", 3, o).images));
  EXPECT_EQ(s.meta.at("forgetting").at("count"), "incorrect");
  EXPECT_GT(s.meta.at("forgetting").at("mean_incorrect").get<double>(), 0.0);
  json events = o;
  events["count"] = "events";
  EXPECT_EQ(distill("forgetting", 3, events).images.size(0), 30);
  json bad = o;
  bad["count"] = "often";
  EXPECT_THROW(distill("forgetting", 1, bad), UserError);
  json too_many = o;
  EXPECT_THROW(distill("forgetting", 101, too_many), UserError);  // toy28 has 100 images per class
}

// Mislabelled samples are the forgettable ones: three class-0 images labelled 1 are class 1's picks.
TEST(Methods, ForgettingPicksMislabelledSamples) {
  LoadedDataset d = toy();
  d.train.labels = d.train.labels.clone();
  const torch::Tensor zeros = d.class_indices[0];
  const torch::Tensor moved = zeros.narrow(0, 0, 3);
  d.train.labels.index_fill_(0, moved, 1);
  d.class_indices[0] = zeros.narrow(0, 3, zeros.size(0) - 3);
  d.class_indices[1] = torch::cat({d.class_indices[1], moved});
  const MethodInfo& info = MethodRegistry::instance().get("forgetting");
  torch::manual_seed(7);
  DistillContext ctx{d, 3, "ConvNetW32",
                     Options(resolve_options(info, {{"score_net", "ConvNetW32"}, {"train_epochs", 8}})), 7, torch::kCPU,
                     nullptr};
  const SyntheticSet s = info.make()->distill(ctx);
  const torch::Tensor picks = s.images.narrow(0, 3, 3);  // class 1's
  for (int64_t i = 0; i < 3; ++i) {
    const auto diff = (d.train.images.index_select(0, moved) - picks[i].unsqueeze(0)).abs().flatten(1).sum(1);
    EXPECT_EQ(diff.min().item<double>(), 0.0) << "pick " << i << " of class 1 is not a mislabelled image";
  }
}

TEST(Methods, DmMovesPixelsAndKeepsLabels) {
  const SyntheticSet init = distill("random", 2, json::object());
  const SyntheticSet s = distill("dm", 2, {{"iterations", 3}, {"batch_real", 16}});
  EXPECT_EQ(s.images.sizes(), init.images.sizes());
  EXPECT_TRUE(torch::equal(s.labels, init.labels));
  // real init with the same seed, then 4 pixel steps: the images changed
  EXPECT_GT((s.images - init.images).abs().max().item<double>(), 0.0);
  EXPECT_TRUE(std::isfinite(s.meta["final_loss"].get<double>()));
}

// Defect 9: main_DM.py's --dsa_strategy defaults to color_crop_cutout_flip_scale_rotate for every dataset
// (flip included for digits), while DC/DSA drop the flip for MNIST. DM's "" must mean the former.
TEST(Methods, DmDefaultDsaStrategyKeepsTheFlipForDigits) {
  LoadedDataset digits = load_dataset("toy28", {});
  digits.info.name = "mnist";  // what decides the per-dataset default
  const MethodInfo& info = MethodRegistry::instance().get("dm");
  auto distill = [&](const std::string& strategy) {
    torch::manual_seed(5);
    const json options{{"iterations", 2}, {"batch_real", 8}, {"dsa_strategy", strategy}};
    DistillContext ctx{digits, 1, "ConvNetW32", Options(resolve_options(info, options)), 5, torch::kCPU, nullptr};
    return info.make()->distill(ctx).images;
  };
  const torch::Tensor by_default = distill("");
  EXPECT_TRUE(torch::equal(by_default, distill("color_crop_cutout_flip_scale_rotate")));
  EXPECT_FALSE(torch::equal(by_default, distill("color_crop_cutout_scale_rotate")));
}
