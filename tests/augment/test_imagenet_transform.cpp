// IDC's ImageNet training transform (harness/augment/imagenet_transform.h): the crop's scale/ratio
// ranges, the flip, the jitter factors, the PCA lighting offset, the normalisation round trip and
// replay from a seed. Tiny tensors.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <set>

#include "harness/augment/imagenet_transform.h"
#include "harness/types.h"

namespace ddb {
namespace {

// Every augmentation off; tests switch on the one they check.
ImagenetTransformParams nothing() {
  ImagenetTransformParams p;
  p.scale_min = p.scale_max = 1.0;
  p.ratio_min = p.ratio_max = 1.0;
  p.flip_prob = 0;
  p.brightness = p.contrast = p.saturation = 0;
  p.lighting_std = 0;
  return p;
}

at::Generator gen(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// Channel 0 holds the column index, channel 1 the row index, channel 2 a constant.
torch::Tensor coordinates(int64_t n, int64_t h, int64_t w) {
  const torch::Tensor cols = torch::arange(w, torch::kFloat).view({1, w}).expand({h, w});
  const torch::Tensor rows = torch::arange(h, torch::kFloat).view({h, 1}).expand({h, w});
  return torch::stack({cols, rows, torch::full({h, w}, 0.5f)}, 0).unsqueeze(0).expand({n, 3, h, w}).contiguous();
}

TEST(ImagenetTransform, CropBoxesRespectScaleAndRatio) {
  const ImagenetTransformParams p;  // scale (0.5, 1), ratio (3/4, 4/3)
  at::Generator g = gen(1);
  std::set<int64_t> widths;
  for (int i = 0; i < 300; ++i) {
    const ImagenetDraw d = imagenet_aug::crop_box(64, 64, p, g);
    ASSERT_GT(d.height, 0);
    ASSERT_GT(d.width, 0);
    ASSERT_GE(d.top, 0);
    ASSERT_GE(d.left, 0);
    ASSERT_LE(d.top + d.height, 64);
    ASSERT_LE(d.left + d.width, 64);
    // w, h are rounded from sqrt(area * aspect): allow half a pixel on each side.
    const double area = static_cast<double>(d.height * d.width) / (64.0 * 64.0);
    EXPECT_GE(area, 0.5 * (1 - 1.0 / 64) * (1 - 1.0 / 64) - 1e-9) << d.height << "x" << d.width;
    EXPECT_LE(area, 1.0);
    const double ratio = static_cast<double>(d.width) / static_cast<double>(d.height);
    EXPECT_GE(ratio, 0.75 * (1 - 1.0 / d.width) / (1 + 1.0 / d.height));
    EXPECT_LE(ratio, 4.0 / 3.0 * (1 + 1.0 / d.width) / (1 - 1.0 / d.height));
    widths.insert(d.width);
  }
  EXPECT_GT(widths.size(), 10u);  // the boxes vary
  // A ratio range the image cannot hold (8 x 64, ratio <= 4/3 needs h >= 48): torchvision's centre fallback.
  const ImagenetDraw f = imagenet_aug::crop_box(8, 64, p, g);
  EXPECT_EQ(f.height, 8);
  EXPECT_EQ(f.width, 11);  // round(8 * 4/3) = round(10.67)
  EXPECT_EQ(f.top, 0);
  EXPECT_EQ(f.left, (64 - 11) / 2);
}

TEST(ImagenetTransform, GeneratedImagesShowTheCropAndItsResize) {
  // Only the crop: each output is the box of a coordinate image resized back to 16 x 16, so its
  // column/row values stay inside the box and span it (bilinear, align_corners false: the ends are
  // within half a source pixel of the box's first and last pixel centres).
  ImagenetTransformParams p = nothing();
  p.scale_min = 0.5;
  p.ratio_min = 3.0 / 4.0;
  p.ratio_max = 4.0 / 3.0;
  const ImagenetTransform t({}, {}, p);
  const torch::Tensor x = coordinates(20, 16, 16);
  const auto draws = t.draw(20, 16, 16, gen(2));
  const torch::Tensor y = t.apply_pixels(x, draws);
  ASSERT_EQ(y.sizes(), x.sizes());
  for (int64_t i = 0; i < 20; ++i) {
    const ImagenetDraw& d = draws[static_cast<size_t>(i)];
    const double sx = static_cast<double>(d.width) / 16, sy = static_cast<double>(d.height) / 16;
    EXPECT_GE(d.height * d.width, 0.5 * 256 * 0.85);
    EXPECT_NEAR(y[i][0].min().item<double>(), d.left + std::max(0.0, 0.5 * sx - 0.5), 1e-4);
    EXPECT_NEAR(y[i][0].max().item<double>(), d.left + d.width - 1 - std::max(0.0, 0.5 * sx - 0.5), 1e-4);
    EXPECT_NEAR(y[i][1].min().item<double>(), d.top + std::max(0.0, 0.5 * sy - 0.5), 1e-4);
    EXPECT_NEAR(y[i][1].max().item<double>(), d.top + d.height - 1 - std::max(0.0, 0.5 * sy - 0.5), 1e-4);
    EXPECT_TRUE(torch::allclose(y[i][2], torch::full({16, 16}, 0.5f)));
  }
}

TEST(ImagenetTransform, FlipMirrorsAlongTheWidth) {
  ImagenetTransformParams p = nothing();
  p.flip_prob = 1.0;
  const ImagenetTransform always({}, {}, p);
  const torch::Tensor x = torch::rand({3, 3, 6, 6});  // square: scale 1 / ratio 1 crop the whole image
  EXPECT_TRUE(torch::equal(always.apply_pixels(x, always.draw(3, 6, 6, gen(0))), x.flip({3})));
  p.flip_prob = 0.5;  // about half of the images
  const auto draws = ImagenetTransform({}, {}, p).draw(400, 5, 7, gen(4));
  int flipped = 0;
  for (const auto& d : draws) flipped += d.flip;
  EXPECT_GT(flipped, 150);
  EXPECT_LT(flipped, 250);
}

TEST(ImagenetTransform, JitterFactorsStayInRangeInARandomOrder) {
  const ImagenetTransform t({}, {}, ImagenetTransformParams{});
  const auto draws = t.draw(300, 4, 4, gen(5));
  std::set<std::vector<int>> orders;
  for (const auto& d : draws) {
    ASSERT_EQ(d.jitter_order.size(), 3u);
    EXPECT_EQ(std::set<int>(d.jitter_order.begin(), d.jitter_order.end()), (std::set<int>{0, 1, 2}));
    orders.insert(d.jitter_order);
    for (double a : d.jitter_alpha) {
      EXPECT_GE(a, -0.4);
      EXPECT_LE(a, 0.4);
    }
  }
  EXPECT_EQ(orders.size(), 6u);  // every order occurs
  // Only brightness: the image is scaled by 1 - alpha, a factor in [0.6, 1.4].
  ImagenetTransformParams b = nothing();
  b.brightness = 0.4;
  const ImagenetTransform tb({}, {}, b);
  const torch::Tensor x = torch::rand({50, 3, 4, 4}) + 0.1;
  const auto db = tb.draw(50, 4, 4, gen(6));
  const torch::Tensor y = tb.apply_pixels(x, db);
  for (int64_t i = 0; i < 50; ++i) {
    ASSERT_EQ(db[static_cast<size_t>(i)].jitter_order, std::vector<int>{0});
    const torch::Tensor factor = y[i] / x[i];
    EXPECT_NEAR(factor.max().item<double>(), factor.min().item<double>(), 1e-5);
    EXPECT_NEAR(factor.mean().item<double>(), 1 - db[static_cast<size_t>(i)].jitter_alpha[0], 1e-5);
    EXPECT_GE(factor.min().item<double>(), 0.6 - 1e-6);
    EXPECT_LE(factor.max().item<double>(), 1.4 + 1e-6);
  }
}

TEST(ImagenetTransform, ContrastAndSaturationLerpTowardsTheGreyImage) {
  const torch::Tensor img = torch::rand({3, 4, 5});
  const torch::Tensor g = img[0] * 0.299 + img[1] * 0.587 + img[2] * 0.114;
  // Saturation alpha 1 gives the grey image in every channel.
  EXPECT_TRUE(torch::allclose(imagenet_aug::jitter_op(img, 2, 1.0), g.unsqueeze(0).expand({3, 4, 5})));
  EXPECT_TRUE(torch::allclose(imagenet_aug::jitter_op(img, 2, 0.3), img * 0.7 + g.unsqueeze(0) * 0.3));
  // Contrast: towards one value, the mean grey.
  EXPECT_TRUE(torch::allclose(imagenet_aug::jitter_op(img, 1, 1.0), torch::full({3, 4, 5}, g.mean().item<float>())));
  EXPECT_TRUE(torch::allclose(imagenet_aug::jitter_op(img, 1, -0.2), img * 1.2 - g.mean() * 0.2));
  EXPECT_TRUE(torch::allclose(imagenet_aug::jitter_op(img, 0, 0.25), img * 0.75));
}

TEST(ImagenetTransform, LightingAddsOneRgbOffsetPerImageAlongThePcaAxes) {
  ImagenetTransformParams p = nothing();
  p.lighting_std = 0.1;
  const ImagenetTransform t({}, {}, p);
  const torch::Tensor x = torch::rand({200, 3, 4, 4});
  const auto draws = t.draw(200, 4, 4, gen(7));
  const torch::Tensor y = t.apply_pixels(x, draws);
  double sum_sq = 0;
  for (int64_t i = 0; i < 200; ++i) {
    const ImagenetDraw& d = draws[static_cast<size_t>(i)];
    const torch::Tensor off = y[i] - x[i];
    // Constant within each channel.
    EXPECT_LT((off - off.mean({1, 2}, true)).abs().max().item<double>(), 1e-5);
    // rgb = eigvec * (alpha * eigval), written out with the reference's numbers.
    const double a0 = d.lighting_alpha[0] * 0.2175, a1 = d.lighting_alpha[1] * 0.0188, a2 = d.lighting_alpha[2] * 0.0045;
    const double want[3] = {-0.5675 * a0 + 0.7192 * a1 + 0.4009 * a2, -0.5808 * a0 - 0.0045 * a1 - 0.8140 * a2,
                            -0.5836 * a0 - 0.6948 * a1 + 0.4203 * a2};
    for (int64_t c = 0; c < 3; ++c) EXPECT_NEAR(off[c][0][0].item<double>(), want[c], 1e-5);
    for (double a : d.lighting_alpha) sum_sq += a * a;
  }
  EXPECT_NEAR(std::sqrt(sum_sq / 600), 0.1, 0.015);  // alpha ~ N(0, 0.1)
}

TEST(ImagenetTransform, NormalisedImagesRoundTripAndRunsReplayFromTheSeed) {
  const std::vector<double> mean = {0.485, 0.456, 0.406}, sd = {0.229, 0.224, 0.225};
  const torch::Tensor x = torch::randn({6, 3, 12, 12});
  // Nothing on: the normalisation is undone and redone, nothing else.
  EXPECT_TRUE(torch::allclose(ImagenetTransform(mean, sd, nothing())(x, gen(0)), x, 1e-5, 1e-5));
  // Only brightness: it scales the pixels, not the normalised values.
  ImagenetTransformParams b = nothing();
  b.brightness = 0.4;
  const ImagenetTransform tb(mean, sd, b);
  const auto db = tb.draw(6, 12, 12, gen(3));
  const torch::Tensor m = torch::tensor(mean).view({1, 3, 1, 1}).to(torch::kFloat);
  const torch::Tensor s = torch::tensor(sd).view({1, 3, 1, 1}).to(torch::kFloat);
  const torch::Tensor want = (tb.apply_pixels(x * s + m, db) - m) / s;
  EXPECT_TRUE(torch::allclose(tb(x, gen(3)), want, 1e-5, 1e-5));
  // The whole transform: same seed, same images; another seed, others. From the global generator too.
  const ImagenetTransform t(mean, sd);
  EXPECT_TRUE(torch::equal(t(x, gen(11)), t(x, gen(11))));
  EXPECT_FALSE(torch::equal(t(x, gen(11)), t(x, gen(12))));
  torch::manual_seed(4);
  const torch::Tensor a = t(x);
  torch::manual_seed(4);
  EXPECT_TRUE(torch::equal(a, t(x)));
  // Not RGB: a clear error.
  EXPECT_THROW(t(torch::zeros({2, 1, 8, 8})), UserError);
  EXPECT_THROW((void)ImagenetTransform({0.5}, {0.3}), UserError);
}

}  // namespace
}  // namespace ddb
