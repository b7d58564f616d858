// TrustDD end to end on toy data (seconds): the OE term, OE / POE distillation through dsa, the
// outliers on disk, and the trustdd protocol's rows.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "datasets/registry.h"
#include "harness/eval_protocol.h"
#include "harness/synset_io.h"
#include "harness/train.h"
#include "methods/common.h"
#include "methods/method.h"
#include "../unit/test_helpers.h"

using namespace ddb;

namespace {

const LoadedDataset& toy() {
  static const LoadedDataset d = load_dataset("toy28", {});
  return d;
}

SyntheticSet distill_dsa(const json& given) {
  torch::manual_seed(3);
  const MethodInfo& info = MethodRegistry::instance().get("dsa");
  DistillContext ctx{toy(), 1, "ConvNetW32", Options(resolve_options(info, given)), 3, torch::kCPU, nullptr};
  return info.make()->distill(ctx);
}

const json kSmall = {{"iterations", 1}, {"batch_real", 8}, {"batch_oe", 8}, {"batch_train", 8}};

}  // namespace

TEST(OutlierExposure, UniformCrossEntropyIsLogKForFlatLogitsAndGrowsWithConfidence) {
  const torch::Tensor flat = torch::zeros({4, 10});
  EXPECT_NEAR(uniform_cross_entropy(flat).item<double>(), std::log(10.0), 1e-6);
  torch::Tensor peaked = torch::zeros({4, 10});
  peaked.index_put_({torch::indexing::Slice(), 0}, 8.0);
  EXPECT_GT(uniform_cross_entropy(peaked).item<double>(), std::log(10.0) + 1.0);
  // Invariant to a constant shift of the logits, like softmax.
  EXPECT_NEAR(uniform_cross_entropy(peaked + 3.0).item<double>(), uniform_cross_entropy(peaked).item<double>(), 1e-5);
}

TEST(OutlierExposure, PoeDistilsOneOutlierSlotPerClassBesideTheImages) {
  json o = kSmall;
  o["poe"] = true;
  const SyntheticSet s = distill_dsa(o);
  ASSERT_TRUE(s.outliers.defined());
  EXPECT_EQ(s.outliers.sizes(), s.images.sizes());  // |S_out| = |S_in|
  EXPECT_TRUE(torch::isfinite(s.outliers).all().item<bool>());
  EXPECT_EQ(s.meta.at("outliers").at("kind"), "poe");
  EXPECT_EQ(s.meta.at("outliers").at("corruptions"), json({"jigsaw", "invert", "mosaic", "speckle"}));
  EXPECT_GT(s.meta.at("final_loss_oe").get<double>(), 0.0);
  // Without oe/poe there is no S_out, and the set is the plain dsa set.
  EXPECT_FALSE(distill_dsa(kSmall).outliers.defined());
}

TEST(OutlierExposure, OeMatchesTheAuxiliarySetAndChecksItsOptions) {
  json o = kSmall;
  o["oe"] = true;
  o["oe_data"] = "toy32";  // converted to the InD's 1x28x28
  o["num_oe_per_class"] = 20;
  const SyntheticSet s = distill_dsa(o);
  ASSERT_TRUE(s.outliers.defined());
  EXPECT_EQ(s.meta.at("outliers").at("kind"), "oe");
  EXPECT_EQ(s.meta.at("outliers").at("per_slot"), 20);
  json both = o;
  both["poe"] = true;
  EXPECT_THROW(distill_dsa(both), UserError);
  json no_data = kSmall;
  no_data["oe"] = true;
  EXPECT_THROW(distill_dsa(no_data), UserError);
  json bad = kSmall;
  bad["poe"] = true;
  bad["poe_corruptions"] = json::array({"jigsaw", "blur"});
  try {
    distill_dsa(bad);
    FAIL() << "unknown corruption accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("'blur'"), std::string::npos) << e.what();
  }
}

TEST(OutlierExposure, TheOutliersTravelWithTheSetFile) {
  SyntheticSet s = real_init(toy(), 1);
  s.outliers = torch::randn({10, 1, 28, 28});
  const auto dir = ddb::testing_support::temp_dir("trustdd-io");
  save_synset(s, (dir / "s.pt").string());
  const SyntheticSet back = load_synset((dir / "s.pt").string());
  ASSERT_TRUE(back.outliers.defined());
  EXPECT_TRUE(torch::equal(back.outliers, s.outliers));
  SyntheticSet plain = s;
  plain.outliers = torch::Tensor();
  EXPECT_NE(synset_content_hash(plain), synset_content_hash(s));
}

TEST(TrustddProtocol, ScoresEveryOodSetWithEveryScoreAndTheirMean) {
  SyntheticSet s = real_init(toy(), 2);
  s.outliers = torch::randn({20, 1, 28, 28});
  const EvalSpec spec = EvalSpec::from_json({{"protocol", "trustdd"}, {"net", "ConvNetW32"}, {"epochs", 3},
                                             {"test_every", 1}, {"keep_from", 0},
                                             {"ood", {"gaussian-noise", "uniform-noise"}}});
  const EvalRunResult r = evaluate_once(s, toy(), spec, 5, torch::kCPU);
  std::map<std::string, double> rows;
  for (const auto& v : r.values) rows[v.metric] = v.value;
  EXPECT_EQ(rows.size(), 1u + 4 * 3 * 3);  // accuracy + 4 metrics x 3 scores x (2 sets + mean)
  EXPECT_EQ(rows.at("accuracy"), r.accuracy);
  for (const char* metric : {"fpr95", "auroc", "aupr_in", "aupr_out"})
    for (const char* score : {"msp", "mls", "energy"}) {
      const std::string row = std::string(metric) + ":" + score;
      const double g = rows.at(row + "@gaussian-noise"), u = rows.at(row + "@uniform-noise");
      EXPECT_NEAR(rows.at(row + "@mean"), (g + u) / 2, 1e-9) << row;
      EXPECT_GE(g, 0.0);
      EXPECT_LE(g, 100.0);
    }
  // The same seed replays the same numbers.
  const EvalRunResult again = evaluate_once(s, toy(), spec, 5, torch::kCPU);
  for (size_t i = 0; i < r.values.size(); ++i) EXPECT_EQ(again.values[i].value, r.values[i].value) << r.values[i].metric;
}

// TrustDD's whole-dataset rows (Appendix Table 11): `full` with poe carries every corruption of the
// whole training set as S_out, with oe the auxiliary pool; the trustdd protocol trains with them.
TEST(OutlierExposure, FullCarriesTheWholeOutlierPoolForTheWholeDatasetRows) {
  const MethodInfo& info = MethodRegistry::instance().get("full");
  auto distill_full = [&](const json& given) {
    torch::manual_seed(4);
    DistillContext ctx{toy(), 0, "ConvNetW32", Options(resolve_options(info, given)), 4, torch::kCPU, nullptr};
    return info.make()->distill(ctx);
  };
  const int64_t n = toy().train.size();
  EXPECT_FALSE(distill_full(json::object()).outliers.defined());  // the plain upper bound: no S_out

  const SyntheticSet poe = distill_full({{"poe", true}, {"poe_corruptions", {"jigsaw", "invert", "mosaic"}}});
  EXPECT_EQ(poe.images.size(0), n);
  ASSERT_TRUE(poe.outliers.defined());
  EXPECT_EQ(poe.outliers.size(0), 3 * n);  // every corruption of every training image
  EXPECT_EQ(poe.outliers.sizes().slice(1), poe.images.sizes().slice(1));
  EXPECT_TRUE(torch::isfinite(poe.outliers).all().item<bool>());
  EXPECT_EQ(poe.meta.at("outliers").at("kind"), "poe");
  EXPECT_EQ(poe.meta.at("outliers").at("images"), 3 * n);
  // Not the training images themselves: an inverted image differs from every original.
  EXPECT_GT((poe.outliers.narrow(0, 0, 50) - poe.images.narrow(0, 0, 50)).abs().mean().item<double>(), 0.1);

  const SyntheticSet oe = distill_full({{"oe", true}, {"oe_data", "toy32"}, {"num_oe_per_class", 7}});
  ASSERT_TRUE(oe.outliers.defined());
  EXPECT_EQ(oe.outliers.size(0), 7 * toy().info.num_classes);
  EXPECT_EQ(oe.meta.at("outliers").at("kind"), "oe");
  EXPECT_THROW(distill_full({{"poe", true}, {"batch_oe", 8}}), UserError);  // the evaluation's batch applies

  // The trustdd protocol trains on T_in with T_out's H(U; f) term: a different model than without it.
  SyntheticSet small = poe;  // a slice keeps the test fast
  small.images = poe.images.narrow(0, 0, 40);
  small.labels = poe.labels.narrow(0, 0, 40);
  small.outliers = poe.outliers.narrow(0, 0, 40);
  const EvalSpec spec = EvalSpec::from_json({{"protocol", "trustdd"}, {"net", "ConvNetW32"}, {"epochs", 2},
                                             {"test_every", 1}, {"keep_from", 0}, {"ood", {"gaussian-noise"}}});
  SyntheticSet without = small;
  without.outliers = torch::Tensor();
  EXPECT_NE(evaluate_once(small, toy(), spec, 6, torch::kCPU).train_loss,
            evaluate_once(without, toy(), spec, 6, torch::kCPU).train_loss);
}

TEST(OutlierExposure, RandomOutliersAreRealOutliersThatAreNeverDistilled) {
  json o = kSmall;
  o["poe"] = true;
  o["random_outliers"] = true;
  json none = o;
  none["iterations"] = 0;
  json two = o;
  two["iterations"] = 2;
  const SyntheticSet start = distill_dsa(none), after = distill_dsa(two);
  ASSERT_TRUE(after.outliers.defined());
  EXPECT_TRUE(torch::equal(start.outliers, after.outliers));  // S_out kept as drawn
  EXPECT_FALSE(torch::equal(start.images, after.images));     // S_in distilled
  EXPECT_FALSE(after.meta.contains("final_loss_oe"));
  EXPECT_TRUE(after.meta.at("outliers").contains("random_outliers"));
  // The distilled variant (-D) moves S_out from the same start: the comparison above can fail.
  json distilled = two;
  distilled.erase("random_outliers");
  json distilled_start = distilled;
  distilled_start["iterations"] = 0;
  EXPECT_FALSE(torch::equal(distill_dsa(distilled_start).outliers, distill_dsa(distilled).outliers));
}

TEST(OutlierExposure, SingleSetPutsTheOutliersIntoTheInDistributionMatch) {
  json o = kSmall;
  o["poe"] = true;
  o["single_set"] = true;
  o["lambda_oe"] = 1.0;
  const SyntheticSet s = distill_dsa(o);
  EXPECT_FALSE(s.outliers.defined());  // S_single only
  EXPECT_TRUE(s.meta.at("outliers").contains("single_set"));
  EXPECT_TRUE(torch::isfinite(s.images).all().item<bool>());
  json no_term = o;
  no_term["lambda_oe"] = 0.0;  // the same draws, without H(U; f(T_out)) in the real gradient
  EXPECT_FALSE(torch::equal(s.images, distill_dsa(no_term).images));
  json alone = kSmall;
  alone["single_set"] = true;
  EXPECT_THROW(distill_dsa(alone), UserError);  // needs oe or poe
  json both = o;
  both["random_outliers"] = true;
  EXPECT_THROW(distill_dsa(both), UserError);
}
