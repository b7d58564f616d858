// POE corruptions (harness/augment/poe_corruptions.h) against the reference's definitions
// (mashijie1028/TrustDD utils/gen_ood_loader_cifar.py) and PIL. The PIL figures below were produced
// once by tests/ood/pil_reference.py with Debian's python3-pil 9.4.0 and pasted here.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <string>
#include <vector>

#include "core/errors.h"
#include "harness/augment/poe_corruptions.h"

namespace ddb {
namespace {

using torch::indexing::Slice;

torch::Tensor images(int64_t n, int64_t c, int64_t h, int64_t w, int64_t seed = 0) {
  torch::manual_seed(seed);
  return torch::rand({n, c, h, w});
}

// The ramp of pil_reference.py, as an 8-bit image scaled to [0,1].
torch::Tensor ramp(int64_t n) {
  auto t = torch::empty({1, 1, n, n});
  auto a = t.accessor<float, 4>();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c) a[0][0][r][c] = static_cast<float>((r * 7 + c * 13 + (r * c) % 11) % 256) / 255.f;
  return t;
}

TEST(PoeJigsaw, IsAPermutationThatMovesPixelsWhereTheReferencePutsThem) {
  auto x = images(2, 3, 32, 32);
  auto y = poe_jigsaw(x);
  ASSERT_EQ(y.sizes(), x.sizes());
  EXPECT_FALSE(torch::equal(y, x));
  // Same multiset of values per image and channel.
  EXPECT_TRUE(torch::equal(std::get<0>(y.flatten(2).sort(-1)), std::get<0>(x.flatten(2).sort(-1))));
  // Follow single pixels through the reference lambda (rows, cols at 32x32).
  auto at = [](const torch::Tensor& t, int64_t r, int64_t c) { return t.index({1, 2, r, c}).item<float>(); };
  EXPECT_EQ(at(y, 8, 0), at(x, 0, 0));     // TL quadrant, top 8 rows go below its bottom 8 rows
  EXPECT_EQ(at(y, 0, 0), at(x, 8, 0));
  EXPECT_EQ(at(y, 0, 16), at(x, 16, 0));   // BL quadrant moves to the top right
  EXPECT_EQ(at(y, 16, 0), at(x, 16, 16));  // BR quadrant moves to the bottom left
  EXPECT_EQ(at(y, 16, 16), at(x, 0, 24));  // TR quadrant: its right 8 columns first
  EXPECT_EQ(at(y, 31, 31), at(x, 15, 23));
  // The whole image against a direct transcription of the reference's slicing on C x H x W.
  auto s = x[0];
  auto ref = torch::cat({torch::cat({torch::cat({s.index({Slice(), Slice(8, 16), Slice(0, 16)}),
                                                 s.index({Slice(), Slice(0, 8), Slice(0, 16)})}, 1),
                                     s.index({Slice(), Slice(16, 32), Slice(0, 16)})}, 2),
                         torch::cat({s.index({Slice(), Slice(16, 32), Slice(16, 32)}),
                                     torch::cat({s.index({Slice(), Slice(0, 16), Slice(24, 32)}),
                                                 s.index({Slice(), Slice(0, 16), Slice(16, 24)})}, 2)}, 2)},
                        1);
  EXPECT_TRUE(torch::equal(y[0], ref));
}

TEST(PoeJigsaw, OtherEvenSizesAndErrors) {
  for (int64_t hw : {28, 30, 64, 4}) {
    auto x = images(1, 1, hw, hw, hw);
    auto y = poe_jigsaw(x);
    EXPECT_TRUE(torch::equal(std::get<0>(y.flatten().sort()), std::get<0>(x.flatten().sort()))) << hw;
    EXPECT_FALSE(torch::equal(y, x)) << hw;
  }
  auto x = images(1, 1, 28, 28);  // 28: h = 14, quarter 7
  EXPECT_EQ(poe_jigsaw(x).index({0, 0, 7, 0}).item<float>(), x.index({0, 0, 0, 0}).item<float>());
  EXPECT_THROW(poe_jigsaw(images(1, 3, 31, 32)), UserError);
  EXPECT_THROW(poe_jigsaw(images(1, 3, 2, 2)), UserError);
  EXPECT_THROW(poe_jigsaw(torch::rand({3, 32, 32})), UserError);
}

TEST(PoeInvert, ExactValues) {
  auto x = images(2, 3, 8, 8);
  auto y = poe_invert(x);
  EXPECT_TRUE(torch::equal(y.index({Slice(), 0}), x.index({Slice(), 0})));
  EXPECT_TRUE(torch::equal(y.index({Slice(), 1}), 1 - x.index({Slice(), 1})));
  EXPECT_TRUE(torch::equal(y.index({Slice(), 2}), 1 - x.index({Slice(), 2})));
  auto g = images(2, 1, 8, 8);  // one channel: inverted (keeping it would be the identity)
  EXPECT_TRUE(torch::equal(poe_invert(g), 1 - g));
  EXPECT_GE(y.min().item<float>(), 0.f);
  EXPECT_LE(y.max().item<float>(), 1.f);
}

TEST(PoeMosaic, ConstantStaysConstant) {
  for (bool pil : {true, false}) {
    auto x = torch::full({2, 3, 32, 32}, 0.4f);
    auto y = poe_mosaic(x, 0.2, pil);
    ASSERT_EQ(y.sizes(), x.sizes());
    const float expect = pil ? 102.f / 255.f : 0.4f;  // the 8-bit path rounds 0.4 to 102/255
    EXPECT_TRUE(torch::allclose(y, torch::full_like(y, expect), 0, 1e-6)) << pil;
  }
}

TEST(PoeMosaic, BlockIsTheBoxAverage) {
  // 32 -> 6: blocks 5,6,5,5,6,5; block (1,1) is rows and columns 5..10, a 6 x 6 mean.
  auto x = images(1, 3, 32, 32);
  auto y = poe_mosaic(x, 0.2, false);
  for (int64_t c = 0; c < 3; ++c) {
    const double mean = x.index({0, c, Slice(5, 11), Slice(5, 11)}).to(torch::kDouble).mean().item<double>();
    auto block = y.index({0, c, Slice(5, 11), Slice(5, 11)});
    EXPECT_TRUE(torch::allclose(block, torch::full_like(block, mean), 0, 1e-6));
    // block (0,0): rows/cols 0..4 (5 x 5)
    const double m0 = x.index({0, c, Slice(0, 5), Slice(0, 5)}).to(torch::kDouble).mean().item<double>();
    EXPECT_NEAR(y.index({0, c, 4, 4}).item<float>(), m0, 1e-6);
    EXPECT_NEAR(y.index({0, c, 5, 5}).item<float>(), mean, 1e-6);
  }
}

struct PilCase {
  int64_t n;
  std::vector<int64_t> starts;
  std::vector<std::vector<int>> l;      // PIL mode "L" (8-bit, the reference's path), block values
  std::vector<std::vector<double>> f;   // PIL mode "F" (float32)
};

TEST(PoeMosaic, MatchesPil) {
  const std::vector<PilCase> cases{
      {32, {0, 5, 11, 16, 21, 27},
       {{43, 117, 186, 140, 67, 140}, {84, 155, 193, 44, 107, 179}, {120, 194, 109, 74, 144, 217},
        {157, 186, 54, 109, 180, 140}, {194, 96, 81, 147, 197, 51}, {193, 50, 121, 186, 129, 73}},
       {{0.16737255454063416, 0.45725491642951965, 0.7281568646430969, 0.549490213394165, 0.2622222304344177, 0.5480784177780151},
        {0.3278431296348572, 0.607516348361969, 0.7547712326049805, 0.17346405982971191, 0.4189542531967163, 0.7007843255996704},
        {0.46933335065841675, 0.7592157125473022, 0.4277646839618683, 0.28925490379333496, 0.5641829967498779, 0.8500392436981201},
        {0.6147451400756836, 0.7295424938201904, 0.21176470816135406, 0.4291764795780182, 0.7064052224159241, 0.548235297203064},
        {0.7602614164352417, 0.37712419033050537, 0.3171241879463196, 0.576993465423584, 0.770370364189148, 0.2007843255996704},
        {0.7560784220695496, 0.1949019581079483, 0.4735686480998993, 0.7311372756958008, 0.506405234336853, 0.2880000174045563}}},
      {28, {0, 6, 11, 17, 22},
       {{54, 127, 197, 90, 84}, {94, 165, 160, 52, 124}, {131, 204, 96, 91, 161}, {171, 170, 58, 129, 201},
        {193, 59, 95, 168, 167}},
       {{0.20980392396450043, 0.4959477186203003, 0.770588219165802, 0.353986918926239, 0.3274509906768799},
        {0.3665359616279602, 0.647215723991394, 0.6261438131332397, 0.20407843589782715, 0.48418301343917847},
        {0.5117647051811218, 0.7979084849357605, 0.3753812909126282, 0.3547712564468384, 0.6294117569923401},
        {0.6684967279434204, 0.6680784225463867, 0.2253594845533371, 0.5060392618179321, 0.7861437797546387},
        {0.757952094078064, 0.2298039197921753, 0.3705882430076599, 0.6567320227622986, 0.6525054574012756}}}};
  for (const auto& pc : cases) {
    SCOPED_TRACE(pc.n);
    auto x = ramp(pc.n);
    auto yl = poe_mosaic(x, 0.2, true), yf = poe_mosaic(x, 0.2, false);
    const auto k = static_cast<int64_t>(pc.starts.size());
    for (int64_t bi = 0; bi < k; ++bi)
      for (int64_t bj = 0; bj < k; ++bj) {
        const int64_t r0 = pc.starts[bi], r1 = bi + 1 < k ? pc.starts[bi + 1] : pc.n;
        const int64_t c0 = pc.starts[bj], c1 = bj + 1 < k ? pc.starts[bj + 1] : pc.n;
        auto bl = yl.index({0, 0, Slice(r0, r1), Slice(c0, c1)}) * 255;
        auto bf = yf.index({0, 0, Slice(r0, r1), Slice(c0, c1)});
        // 8-bit: exactly PIL's byte in the whole block; float: PIL's float32 result to float precision.
        EXPECT_TRUE(torch::equal(bl.round(), torch::full_like(bl, pc.l[bi][bj]))) << bi << "," << bj;
        EXPECT_LT((bl - bl.round()).abs().max().item<float>(), 1e-3);
        EXPECT_TRUE(torch::allclose(bf, torch::full_like(bf, pc.f[bi][bj]), 0, 1e-6)) << bi << "," << bj;
      }
  }
}

TEST(PoeSpeckle, ReproducibleAndInRange) {
  auto x = images(4, 3, 16, 16);
  auto a = poe_speckle(x, uint64_t{7}), b = poe_speckle(x, uint64_t{7}), c = poe_speckle(x, uint64_t{8});
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  EXPECT_FALSE(torch::equal(a, x));
  EXPECT_GE(a.min().item<float>(), 0.f);
  EXPECT_LE(a.max().item<float>(), 1.f);
  EXPECT_GT((a == 1).sum().item<int64_t>(), 0);  // Gaussian speckle saturates some pixels
  // x + x * n: where it is not clamped, (y - x) / x is the N(0,1) draw of the same generator.
  auto gen = at::detail::createCPUGenerator(7);
  auto n = torch::randn(x.sizes(), gen, torch::kFloat);
  auto free = (a > 0) & (a < 1);
  EXPECT_TRUE(torch::allclose(a.masked_select(free), (x + x * n).masked_select(free)));
  // A generator continues its stream: two calls differ.
  auto g2 = at::detail::createCPUGenerator(7);
  EXPECT_TRUE(torch::equal(poe_speckle(x, g2), a));
  EXPECT_FALSE(torch::equal(poe_speckle(x, g2), a));
  EXPECT_THROW(poe_speckle(x, at::Generator()), UserError);
}

TEST(PoeFlip, DigitSkipLists) {
  EXPECT_EQ(poe_hflip_skipped_digits(), (std::vector<int64_t>{0, 1, 8}));
  EXPECT_EQ(poe_vflip_skipped_digits(), (std::vector<int64_t>{0, 1, 3, 8}));
  auto x = images(10, 1, 28, 28);
  auto labels = torch::arange(10);
  auto h = poe_hflip_digits(x, labels);
  EXPECT_TRUE(torch::equal(h.index, torch::tensor({2, 3, 4, 5, 6, 7, 9}, torch::kLong)));
  EXPECT_TRUE(torch::equal(h.images, x.index_select(0, h.index).flip({3})));
  auto v = poe_vflip_digits(x, labels);
  EXPECT_TRUE(torch::equal(v.index, torch::tensor({2, 4, 5, 6, 7, 9}, torch::kLong)));
  EXPECT_TRUE(torch::equal(v.images, x.index_select(0, v.index).flip({2})));
}

TEST(PoeFlip, MixedFlipSkipsAndFlipsThreesHorizontally) {
  auto x = images(200, 1, 28, 28);
  auto labels = torch::arange(200) % 10;
  auto r = poe_flip_digits(x, labels, at::detail::createCPUGenerator(3));
  auto kept = labels.index_select(0, r.index);
  EXPECT_EQ(r.index.size(0), 140);
  for (int64_t d : {0, 1, 8}) EXPECT_EQ((kept == d).sum().item<int64_t>(), 0) << d;
  int64_t hor = 0, ver = 0;
  for (int64_t i = 0; i < r.index.size(0); ++i) {
    const int64_t src = r.index[i].item<int64_t>();
    const bool is_h = torch::equal(r.images[i], x[src].flip({2}));
    const bool is_v = torch::equal(r.images[i], x[src].flip({1}));
    ASSERT_NE(is_h, is_v);
    if (labels[src].item<int64_t>() == 3) EXPECT_TRUE(is_h);
    (is_h ? hor : ver) += 1;
  }
  EXPECT_GT(hor, 40);
  EXPECT_GT(ver, 40);
  auto again = poe_flip_digits(x, labels, at::detail::createCPUGenerator(3));
  EXPECT_TRUE(torch::equal(again.images, r.images));
  EXPECT_THROW(poe_flip_digits(x, torch::arange(5), at::detail::createCPUGenerator(3)), UserError);
}

TEST(PoeRegistry, SlotsNamesAndErrors) {
  EXPECT_EQ(poe_corruption_set(PoeDomain::natural),
            (std::vector<std::string>{"jigsaw", "invert", "mosaic", "speckle"}));
  EXPECT_EQ(poe_corruption_set(PoeDomain::digits), (std::vector<std::string>{"jigsaw", "flip", "mosaic", "speckle"}));
  EXPECT_EQ(poe_corruption_for_slot(5, PoeDomain::natural), "invert");
  EXPECT_EQ(poe_corruption_for_slot(9, PoeDomain::digits), "flip");
  EXPECT_EQ(poe_corruption_for_slot(7, PoeDomain::digits), "speckle");
  EXPECT_EQ(poe_domain_for("MNIST"), PoeDomain::digits);
  EXPECT_EQ(poe_domain_for("svhn"), PoeDomain::digits);
  EXPECT_EQ(poe_domain_for("fashion-mnist"), PoeDomain::natural);
  EXPECT_EQ(poe_domain_for("cifar10"), PoeDomain::natural);
  EXPECT_THROW(poe_corruption_for_slot(-1, PoeDomain::natural), UserError);

  auto x = images(6, 3, 32, 32);
  auto labels = torch::arange(6);
  auto gen = at::detail::createCPUGenerator(1);
  for (const auto& name : poe_corruption_names()) {
    auto r = apply_poe_corruption(name, x, labels, gen);
    EXPECT_EQ(r.images.size(0), r.index.size(0)) << name;
    EXPECT_EQ(r.images.sizes().slice(1), x.sizes().slice(1)) << name;
    EXPECT_GE(r.images.min().item<float>(), 0.f) << name;
    EXPECT_LE(r.images.max().item<float>(), 1.f) << name;
  }
  EXPECT_TRUE(torch::equal(apply_poe_corruption("invert", x, {}, {}).images, poe_invert(x)));
  try {
    apply_poe_corruption("blur", x, labels, gen);
    FAIL() << "no throw";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("jigsaw, invert, mosaic, speckle, flip, hflip, vflip"), std::string::npos);
  }
}

}  // namespace
}  // namespace ddb
