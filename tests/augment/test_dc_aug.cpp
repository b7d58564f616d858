// DC evaluation augmentation (harness/augment/dc_aug.h) against the reference's utils.py augment().
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>

#include "harness/augment/dc_aug.h"
#include "harness/types.h"

namespace ddb {
namespace {

using torch::indexing::Slice;

torch::Tensor images(int64_t n, int64_t c, int64_t hw, int64_t seed = 0) {
  torch::manual_seed(seed);
  return torch::rand({n, c, hw, hw});
}

TEST(DcAug, NoneIsIdentity) {
  auto x = images(3, 1, 28);
  EXPECT_TRUE(torch::equal(dc_augment(x, "none"), x));
  EXPECT_TRUE(torch::equal(dc_augment(x, ""), x));
  EXPECT_THROW(dc_augment(x, "crop_blur"), UserError);
}

TEST(DcAug, StrategyPerDatasetAndModel) {
  EXPECT_EQ(dc_aug_strategy_for("mnist", "ConvNet"), "crop_scale_rotate");
  EXPECT_EQ(dc_aug_strategy_for("MNIST", "LeNet"), "crop_scale_rotate");
  EXPECT_EQ(dc_aug_strategy_for("fashion-mnist", "ConvNet"), "none");
  EXPECT_EQ(dc_aug_strategy_for("cifar10", "ConvNet"), "none");
  EXPECT_EQ(dc_aug_strategy_for("cifar10", "ConvNetBN"), "crop_noise");
  EXPECT_EQ(dc_aug_strategy_for("mnist", "ConvNetBN"), "crop_noise");  // the model check wins
}

TEST(DcAug, ShapeDtypeAndInputUntouched) {
  for (const std::string s : {"crop", "scale", "rotate", "noise", "crop_scale_rotate", "crop_noise"}) {
    for (auto x : {images(6, 1, 28), images(5, 3, 32)}) {
      auto before = x.clone();
      auto y = dc_augment(x, s);
      EXPECT_EQ(y.sizes(), x.sizes()) << s;
      EXPECT_EQ(y.scalar_type(), x.scalar_type());
      EXPECT_TRUE(torch::equal(x, before)) << s << " modified its input";
      EXPECT_TRUE(torch::isfinite(y).all().item<bool>()) << s;
    }
  }
  auto d = images(2, 1, 28).to(torch::kDouble);
  EXPECT_EQ(dc_augment(d, "crop_scale_rotate").scalar_type(), torch::kDouble);
}

// Every image is its shifted self, shifts in [-4, 3], padding = the channel mean of the batch.
TEST(DcAug, CropIsMeanFilledShift) {
  const int64_t n = 6, c = 3, hw = 16, crop = 4;
  auto x = images(n, c, hw, 3);
  auto mean = x.mean({0, 2, 3});
  torch::manual_seed(9);
  auto y = dc_augment(x, "crop");
  int shifted = 0;
  for (int64_t i = 0; i < n; ++i) {
    auto pad = mean.reshape({c, 1, 1}).expand({c, hw + 2 * crop, hw + 2 * crop}).clone();
    pad.index_put_({Slice(), Slice(crop, crop + hw), Slice(crop, crop + hw)}, x[i]);
    bool found = false;
    for (int64_t r = 0; r < 2 * crop && !found; ++r)
      for (int64_t q = 0; q < 2 * crop && !found; ++q)
        if (torch::allclose(y[i], pad.index({Slice(), Slice(r, r + hw), Slice(q, q + hw)}))) {
          found = true;
          shifted += (r != crop || q != crop);
        }
    EXPECT_TRUE(found) << "image " << i << " is not a mean-filled shift of its input";
  }
  EXPECT_GT(shifted, 0);
}

// Nearest resampling: every output pixel is 0 (zero canvas) or a pixel of the same image/channel.
TEST(DcAug, ScaleIsNearestResizeOnZeroCanvas) {
  auto x = images(8, 1, 28, 4) + 1.0;  // strictly positive, so canvas zeros are recognisable
  torch::manual_seed(5);
  auto y = dc_augment(x, "scale");
  int changed = 0;
  for (int64_t i = 0; i < 8; ++i) {
    auto vals = y[i].flatten();
    auto ok = torch::isin(vals, x[i].flatten()) | (vals == 0);
    EXPECT_TRUE(ok.all().item<bool>()) << "image " << i;
    changed += torch::equal(y[i], x[i]) ? 0 : 1;
  }
  EXPECT_GE(changed, 6);
  // A constant image keeps its value where covered; zeros appear only as a centred frame.
  auto ones = torch::ones({16, 1, 28, 28});
  auto z = dc_augment(ones, "scale");
  for (int64_t i = 0; i < 16; ++i) {
    auto nz = z[i][0] != 0;
    auto rows = nz.any(1).sum().item<int64_t>(), cols = nz.any(0).sum().item<int64_t>();
    EXPECT_EQ(nz.sum().item<int64_t>(), rows * cols);
    EXPECT_GE(rows, static_cast<int64_t>(0.8 * 28) - 1);
    EXPECT_GE(cols, static_cast<int64_t>(0.8 * 28) - 1);
  }
}

// The reference's scalefun for given sizes, built from PyTorch's own nearest F.interpolate.
torch::Tensor reference_scale(const torch::Tensor& img, int64_t h, int64_t w) {
  namespace F = torch::nn::functional;
  const int64_t c = img.size(0), H = img.size(1), W = img.size(2), m = std::max({h, w, H, W});
  auto tmp = F::interpolate(img.unsqueeze(0),
                            F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kNearest))[0];
  auto canvas = torch::zeros({c, m, m});
  canvas.index_put_({Slice(), Slice((m - h) / 2, (m - h) / 2 + h), Slice((m - w) / 2, (m - w) / 2 + w)}, tmp);
  return canvas.index({Slice(), Slice((m - H) / 2, (m - H) / 2 + H), Slice((m - W) / 2, (m - W) / 2 + W)});
}

// Each scaled image equals the reference procedure for some h, w = int(U(0.8, 1.2) * 28).
TEST(DcAug, ScaleMatchesInterpolateProcedure) {
  auto x = images(5, 2, 28, 12);
  torch::manual_seed(13);
  auto y = dc_augment(x, "scale");
  for (int64_t i = 0; i < 5; ++i) {
    bool found = false;
    for (int64_t h = 22; h <= 33 && !found; ++h)
      for (int64_t w = 22; w <= 33 && !found; ++w) found = torch::equal(y[i], reference_scale(x[i], h, w));
    EXPECT_TRUE(found) << "image " << i;
  }
}

TEST(DcAug, RotateFillsWithTheMean) {
  // A constant image rotated with mean fill stays constant (a zero fill would darken corners).
  auto x = torch::full({8, 1, 28, 28}, 0.7f);
  auto y = dc_augment(x, "rotate");
  EXPECT_TRUE(torch::allclose(y, x, 1e-5, 1e-5));
  // Real images change (angle 0 has probability 1/90 per image).
  auto r = images(8, 1, 28, 6);
  torch::manual_seed(7);
  auto ry = dc_augment(r, "rotate");
  int changed = 0;
  for (int64_t i = 0; i < 8; ++i) changed += torch::allclose(ry[i], r[i]) ? 0 : 1;
  EXPECT_GE(changed, 6);
  // The image mean is roughly kept (fill = mean).
  EXPECT_NEAR(ry.mean().item<double>(), r.mean().item<double>(), 0.02);
}

TEST(DcAug, NoiseIsSmall) {
  auto x = images(4, 3, 32);
  auto y = dc_augment(x, "noise");
  auto d = (y - x).abs();
  EXPECT_GT(d.max().item<double>(), 0.0);
  EXPECT_LT(d.max().item<double>(), 0.01);
  EXPECT_NEAR((y - x).std().item<double>(), 0.001, 0.0002);
}

TEST(DcAug, OneOpPerImage) {
  // With crop_noise, each image is either a mean-filled shift (exact values) or noisy.
  auto x = images(16, 1, 28, 8);
  torch::manual_seed(10);
  auto y = dc_augment(x, "crop_noise");
  int noisy = 0;
  for (int64_t i = 0; i < 16; ++i) {
    auto d = (y[i] - x[i]).abs().max().item<double>();
    if (d > 0 && d < 0.01) ++noisy;
  }
  EXPECT_GT(noisy, 0);
  EXPECT_LT(noisy, 16);
}

TEST(DcAug, NoAutogradHistory) {
  auto x = images(2, 1, 28).requires_grad_(true);
  auto y = dc_augment(x, "crop_scale_rotate");
  EXPECT_FALSE(y.requires_grad());
}

}  // namespace
}  // namespace ddb
