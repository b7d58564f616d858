// CutMix as IDC uses it: the box arithmetic of rand_bbox, the label mixing weight and the loss.
#include <gtest/gtest.h>

#include "harness/augment/cutmix.h"
#include "harness/augment/dsa.h"

namespace ddb {
namespace {

TEST(CutMix, BoxFollowsRandBboxArithmetic) {
  // 32 x 32, lam 0.75: cut = int(32 * 0.5) = 16, half 8; centred at (10, 30): rows 2..18, cols 22..32 (clipped).
  const CutBox b = cutmix_box(32, 32, 0.75, 10, 30);
  EXPECT_EQ(b.r0, 2);
  EXPECT_EQ(b.r1, 18);
  EXPECT_EQ(b.c0, 22);
  EXPECT_EQ(b.c1, 32);
  // lam 1: no box.
  const CutBox e = cutmix_box(32, 32, 1.0, 5, 5);
  EXPECT_EQ(e.r1 - e.r0, 0);
}

TEST(CutMix, MixedBatchPastesAPermutedBoxAndWeightsLabelsByArea) {
  torch::manual_seed(3);
  // Image i is constant i: every pixel of the result says which image it came from.
  const torch::Tensor x = torch::arange(8, torch::kFloat).reshape({8, 1, 1, 1}).expand({8, 1, 16, 16}).contiguous();
  const torch::Tensor y = torch::arange(8, torch::kLong);
  int mixed = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const CutMixed m = cutmix(x, y, 1.0, 0.5);
    if (!m.mixed) {
      EXPECT_TRUE(torch::equal(m.images, x));
      continue;
    }
    ++mixed;
    for (int64_t i = 0; i < 8; ++i) {
      const torch::Tensor img = m.images[i][0];
      const double own = (img == static_cast<float>(i)).sum().item<double>();
      const double other = (img == m.labels_b[i].item<float>()).sum().item<double>();
      if (m.labels_b[i].item<int64_t>() == i) continue;  // pasted from itself
      // The pixels that kept their own value are the ratio's share of the image.
      EXPECT_NEAR(own / 256.0, m.ratio, 1e-9);
      EXPECT_NEAR(other / 256.0, 1.0 - m.ratio, 1e-9);
    }
  }
  EXPECT_GT(mixed, 5);   // p = 0.5 over 40 trials
  EXPECT_LT(mixed, 35);
}

TEST(CutMix, LossIsTheAreaWeightedSumOfTheTwoCrossEntropies) {
  torch::manual_seed(1);
  const torch::Tensor logits = torch::randn({4, 3});
  const torch::Tensor y = torch::tensor({0, 1, 2, 0}, torch::kLong);
  CutMixed m;
  m.mixed = true;
  m.ratio = 0.7;
  m.labels_b = torch::tensor({2, 2, 1, 1}, torch::kLong);
  namespace F = torch::nn::functional;
  const double want = 0.7 * F::cross_entropy(logits, y).item<double>() + 0.3 * F::cross_entropy(logits, m.labels_b).item<double>();
  EXPECT_NEAR(cutmix_loss(logits, y, m).item<double>(), want, 1e-6);
  EXPECT_NEAR(cutmix_loss(logits, y, m, true).mean().item<double>(), want, 1e-6);
}

TEST(DsaIdcComposition, AppliesColorAlwaysAndCutoutAlwaysWithOneGeometricGroup) {
  // Strategy color_cutout with IDC composition: both groups every call (VICO's mode picks one).
  torch::manual_seed(0);
  const torch::Tensor x = torch::ones({2, 1, 8, 8});
  const Dsa idc("color_cutout", {}, DsaComposition::Idc);
  for (int t = 0; t < 5; ++t) {
    const torch::Tensor y = idc(x, 10 + t);
    // cutout: a zero block of 4x4 (maybe clipped) in every image; colour: the rest is not 1 (brightness shift).
    EXPECT_GT((y == 0).sum().item<int64_t>(), 0);
    EXPECT_GT(((y != 0) & (y != 1)).sum().item<int64_t>(), 0);
    // Siamese: one parameter set for the batch.
    EXPECT_TRUE(torch::equal(y[0], y[1]));
  }
  // Geometric groups: exactly one per call, so crop alone and IDC crop_scale differ only by the choice.
  const Dsa one("crop_scale_rotate", {}, DsaComposition::Idc);
  EXPECT_EQ(one(x, 3).sizes(), x.sizes());
}

}  // namespace
}  // namespace ddb
