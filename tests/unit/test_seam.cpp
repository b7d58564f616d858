// The matching seam: modifiers register once and reach every matching method through its options.
#include <gtest/gtest.h>

#include "methods/matching/fyi.h"
#include "datasets/registry.h"
#include "harness/plan.h"
#include "methods/matching/seam.h"

namespace ddb {
namespace {

Options fyi_options(bool on, const std::string& kind = "hflip") {
  return Options(json{{"fyi", on}, {"fyi_transform", kind}});
}

TEST(MatchingSeam, FyiOptionsAppearOnMatchingMethodsOnly) {
  const auto has = [](const MethodInfo& m, const std::string& opt) {
    for (const auto& o : m.options)
      if (o.name == opt) return true;
    return false;
  };
  const MethodInfo& dm = MethodRegistry::instance().get("dm");
  EXPECT_TRUE(dm.matching);
  EXPECT_TRUE(has(dm, "fyi"));
  EXPECT_TRUE(has(dm, "fyi_transform"));
  const MethodInfo& random = MethodRegistry::instance().get("random");
  EXPECT_FALSE(has(random, "fyi"));
  EXPECT_THROW(resolve_options(random, json{{"fyi", true}}), UnknownOption);
  EXPECT_EQ(resolve_options(dm, json::object()).at("fyi"), false);
}

// A modifier at its option defaults must be off: that is what lets its options stay out of the
// configuration hash (OptionSpec::neutral_default) without two different behaviours sharing a seed.
TEST(MatchingSeam, EveryModifierIsOffAtItsDefaults) {
  json defaults = json::object();
  for (const auto& spec : ModifierRegistry::instance().option_specs()) {
    EXPECT_TRUE(spec.neutral_default) << spec.name;
    defaults[spec.name] = spec.default_value;
  }
  for (const auto& info : ModifierRegistry::instance().all()) EXPECT_FALSE(info.enabled(Options(defaults))) << info.name;
}

// Adding a modifier must not reseed existing configurations: its options at their defaults are not
// part of the configuration's identity; switched on, they are.
TEST(MatchingSeam, ModifierOptionsAtDefaultsStayOutOfTheConfigurationHash) {
  const MethodInfo& dm = MethodRegistry::instance().get("dm");
  const auto config = [&](const json& given) {
    return json{{"method", "dm"}, {"options", resolve_options(dm, given)}, {"dataset", "toy28"}, {"ipc", 1}};
  };
  json without = config(json::object());
  for (const auto& spec : ModifierRegistry::instance().option_specs()) without["options"].erase(spec.name);
  EXPECT_EQ(config_hash(config(json::object())), config_hash(without));
  EXPECT_EQ(config_hash(config(json{{"fyi", false}})), config_hash(without));
  EXPECT_NE(config_hash(config(json{{"fyi", true}})), config_hash(without));
  EXPECT_NE(config_hash(config(json{{"unequalness_distance", "dc"}})), config_hash(without));
  EXPECT_NE(config_hash(config(json{{"lr_img", 0.5}})), config_hash(without));
}

TEST(MatchingSeam, WithoutModifiersItIsTheIdentityAndASum) {
  const MatchingSeam seam(fyi_options(false));
  EXPECT_TRUE(seam.active().empty());
  const torch::Tensor x = torch::rand({3, 1, 4, 4});
  const SynBatch out = seam.transform_synthetic({x, torch::tensor({0, 1, 2})});
  EXPECT_TRUE(out.images.equal(x));
  EXPECT_DOUBLE_EQ(seam.reduce(torch::tensor({1.0, 2.5})).item<double>(), 3.5);
}

TEST(MatchingSeam, FyiConcatenatesTheFlipAndDuplicatesLabels) {
  const MatchingSeam seam(fyi_options(true));
  ASSERT_EQ(seam.active(), std::vector<std::string>{"fyi"});
  const torch::Tensor x = torch::arange(2 * 1 * 2 * 3, torch::kFloat).reshape({2, 1, 2, 3});
  const SynBatch out = seam.transform_synthetic({x, torch::tensor({4, 7})});
  ASSERT_EQ(out.images.sizes(), (std::vector<int64_t>{4, 1, 2, 3}));
  EXPECT_TRUE(out.images.narrow(0, 0, 2).equal(x));
  EXPECT_TRUE(out.images.narrow(0, 2, 2).equal(torch::flip(x, {-1})));
  EXPECT_TRUE(out.labels.equal(torch::tensor({4, 7, 4, 7})));
}

TEST(MatchingSeam, FyiTransformVariants) {
  const torch::Tensor x = torch::rand({2, 3, 8, 8});
  EXPECT_TRUE(fyi_transform(x, "vflip").equal(torch::flip(x, {-2})));
  const torch::Tensor r = fyi_transform(x, "rotate15");
  EXPECT_EQ(r.sizes(), x.sizes());
  EXPECT_FALSE(r.allclose(x));
  const torch::Tensor s = fyi_transform(x, "scale1.2");
  EXPECT_EQ(s.sizes(), x.sizes());
  EXPECT_FALSE(s.allclose(x));
  try {
    MatchingSeam bad(fyi_options(true, "shear"));
    FAIL() << "an unknown fyi_transform must be rejected";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("hflip, vflip, rotate15 or scale1.2"), std::string::npos) << e.what();
  }
}

TEST(MatchingSeam, PixelGradientHookLeavesGradientAloneWithoutModifiers) {
  const MatchingSeam seam(fyi_options(true));  // FYI does not touch pixel gradients
  torch::Tensor x = torch::rand({2, 1, 3, 3}).requires_grad_(true);
  (x * 2).sum().backward();
  seam.on_pixel_gradient(x);
  EXPECT_TRUE(x.grad().equal(torch::full_like(x, 2.0)));
}

TEST(MatchingSeam, DmWithFyiDistillsAndRecordsTheModifier) {
  // FYI changes the loss DM minimises, so the same seed gives different images with and without it.
  LoadOptions lo;
  const LoadedDataset data = load_dataset("toy28", lo);
  const MethodInfo& info = MethodRegistry::instance().get("dm");
  auto run = [&](bool fyi) {
    const Options o(resolve_options(info, json{{"iterations", 2}, {"batch_real", 8}, {"fyi", fyi}}));
    torch::manual_seed(3);
    DistillContext ctx{data, 1, "ConvNetW32", o, 3};
    return info.make()->distill(ctx);
  };
  const SyntheticSet plain = run(false), flipped = run(true);
  EXPECT_FALSE(plain.images.allclose(flipped.images));
  EXPECT_EQ(flipped.meta.at("modifiers"), json::array({"fyi"}));
  EXPECT_TRUE(torch::isfinite(flipped.images).all().item<bool>());
}

}  // namespace
}  // namespace ddb
