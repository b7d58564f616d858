// Tests for harness/nets/vit.cpp, the "ViT" of GLaD / RDD utils.get_network: parameter counts and
// state_dict names against the reference module, its forward on fixed weights, its initialisation under
// a seed, the shapes on the RDD cells' 128 px data, the patch-size check, dropout, and a tiny variant
// that learns a few toy images.
//
// The reference figures below were printed by a throwaway script (not kept) that ran the reference
// module itself, GeorgeCazenavette/glad networks/vit.py (byte-identical in Mming11/RobustDatasetDistillation
// @409626361), under /usr/bin/python3 (torch 1.13) with a few-line stand-in for the four einops patterns
// it uses, built as utils.get_network builds it: ViT(image_size, patch_size=16, num_classes, dim=512,
// depth=10, heads=8, mlp_dim=512, dropout=0.1, emb_dropout=0.1).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "harness/nets/net.h"
#include "harness/nets/vit.h"
#include "harness/types.h"

namespace {

using ddb::ImageShape;
using ddb::make_net;
using ddb::Net;
using ddb::nets::ViTConfig;

const ImageShape kIn128{3, 128, 128};  // the RDD cells' ImageNet subsets (--res 128)

int64_t count_params(const torch::nn::Module& net) {
  int64_t n = 0;
  for (const auto& p : net.parameters()) n += p.numel();
  return n;
}

std::vector<std::string> param_names(const torch::nn::Module& net) {
  std::vector<std::string> names;
  for (const auto& kv : net.named_parameters()) names.push_back(kv.key());
  return names;
}

// ------------------------------------------------------------------------- parameter counts

// By hand, n = (H/16)(W/16) patches, C channels, K classes:
//   patch Linear(C*256, 512) = C*256*512 + 512       (3 channels: 393,728)
//   pos_embedding (n+1)*512, cls_token 512             (128 px: n = 64 -> 33,280 + 512)
//   per layer: to_qkv Linear(512, 1536, no bias) 786,432 + to_out Linear(512, 512) 262,656
//              + FeedForward 2 x Linear(512, 512) 525,312 = 1,574,400; x 10 layers = 15,744,000
//   mlp_head Linear(512, K) = 512*K + K                (K = 10: 5,130)
// 3x128x128, K = 10: 393,728 + 33,280 + 512 + 15,744,000 + 5,130 = 16,176,650. The reference module
// counts the same (16176650; 3x32: 16145930; 3x224: 16244234; 3x128 with 100 classes: 16222820).
TEST(ViT, ParameterCountMatchesReference) {
  EXPECT_EQ(count_params(*make_net("ViT", kIn128, 10)), 16176650);
  EXPECT_EQ(count_params(*make_net("ViT", ImageShape{3, 32, 32}, 10)), 16145930);     // n = 4
  EXPECT_EQ(count_params(*make_net("ViT", ImageShape{3, 224, 224}, 10)), 16244234);   // n = 196
  EXPECT_EQ(count_params(*make_net("ViT", kIn128, 100)), 16222820);                   // head 51,300
  // Not in the reference (it fixes 3 channels): 1 channel, patch Linear(256, 512) = 131,584.
  EXPECT_EQ(count_params(*make_net("ViT", ImageShape{1, 32, 32}, 10)), 16145930 - 393728 + 131584);
}

TEST(ViT, StateDictNamesFollowReference) {
  // The reference's named_parameters() order: own parameters, then the submodules in order.
  std::vector<std::string> expected{"pos_embedding", "cls_token", "to_patch_embedding.1.weight",
                                    "to_patch_embedding.1.bias"};
  for (int i = 0; i < 10; ++i) {
    const std::string l = "transformer.layers." + std::to_string(i);
    for (const char* s : {".0.fn.to_qkv.weight", ".0.fn.to_out.0.weight", ".0.fn.to_out.0.bias",
                          ".1.fn.net.0.weight", ".1.fn.net.0.bias", ".1.fn.net.3.weight", ".1.fn.net.3.bias"})
      expected.push_back(l + s);
  }
  expected.push_back("mlp_head.0.weight");
  expected.push_back("mlp_head.0.bias");
  auto net = make_net("ViT", ImageShape{3, 32, 32}, 10);
  EXPECT_EQ(param_names(*net), expected);
  auto params = net->named_parameters();
  EXPECT_EQ(params["pos_embedding"].sizes(), (std::vector<int64_t>{1, 5, 512}));
  EXPECT_EQ(params["cls_token"].sizes(), (std::vector<int64_t>{1, 1, 512}));
  EXPECT_EQ(params["to_patch_embedding.1.weight"].sizes(), (std::vector<int64_t>{512, 768}));
  EXPECT_EQ(params["transformer.layers.0.0.fn.to_qkv.weight"].sizes(), (std::vector<int64_t>{1536, 512}));
  EXPECT_EQ(params["transformer.layers.9.1.fn.net.0.weight"].sizes(), (std::vector<int64_t>{512, 512}));
  EXPECT_EQ(params["mlp_head.0.weight"].sizes(), (std::vector<int64_t>{10, 512}));
}

// ------------------------------------------------------------------------- shapes and checks

TEST(ViT, ShapesOnTheRddCells) {
  torch::manual_seed(0);
  auto net = make_net("ViT", kIn128, 10);
  EXPECT_FALSE(net->has_batchnorm());
  auto* vit = dynamic_cast<ddb::nets::ViT*>(net.get());
  ASSERT_NE(vit, nullptr);
  EXPECT_EQ(vit->num_patches(), 64);
  torch::NoGradGuard no_grad;
  net->eval();
  const auto x = torch::randn({1, 3, 128, 128});
  const auto logits = net->forward(x);
  const auto e = net->embed(x);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{1, 10}));
  EXPECT_EQ(e.sizes(), (std::vector<int64_t>{1, 512}));
  // embed() is the head's input: forward = mlp_head.0(embed).
  auto params = net->named_parameters();
  EXPECT_TRUE(torch::allclose(logits, torch::linear(e, params["mlp_head.0.weight"], params["mlp_head.0.bias"]),
                              1e-5, 1e-5));
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
}

TEST(ViT, RejectsSidesNotDivisibleByThePatch) {
  for (const ImageShape& s : {ImageShape{1, 28, 28}, ImageShape{3, 64, 72}, ImageShape{3, 8, 8}}) {
    try {
      make_net("ViT", s, 10);
      FAIL() << "expected UserError for " << s.height << "x" << s.width;
    } catch (const ddb::UserError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("ViT"), std::string::npos) << msg;
      EXPECT_NE(msg.find("patch size 16"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::to_string(s.height) + "x" + std::to_string(s.width)), std::string::npos) << msg;
    }
  }
  EXPECT_NO_THROW(make_net("ViT", ImageShape{3, 16, 48}, 10));  // non-square, 1 x 3 patches
}

TEST(ViT, NoConvMapForGradCam) {
  auto net = make_net("ViT", ImageShape{3, 16, 16}, 10);
  EXPECT_THROW(net->feature_map_and_logits(torch::zeros({1, 3, 16, 16})), ddb::UserError);
}

// ------------------------------------------------------------------------- against the reference

// The reference built with image_size (16, 24), patch 8, 5 classes, dim 24, depth 2, heads 4,
// dim_head 8 (inner 32 != dim), mlp 40, in eval mode; parameter i (named_parameters order) set to
// a * sin(0.013 k^2 + 0.7 k + i + 1) over its flat index k, a = 0.1 (vectors), 1/sqrt(fan_in)
// (matrices), 0.5 (pos_embedding, cls_token); input [2, 3, 16, 24] = sin(0.37 j^1.1) over its flat index j.
// The logits printed for pool 'cls' and 'mean'. (Flattening the patches as (c p1 p2) instead of
// (p1 p2 c) moves the 'cls' logits by up to 0.2, so the patch layout is checked too.)
struct TinyRef {
  bool mean_pool;
  std::vector<double> logits;
};

std::shared_ptr<ddb::nets::ViT> tiny_with_fixed_weights(bool mean_pool) {
  ViTConfig c;
  c.patch = 8;
  c.dim = 24;
  c.depth = 2;
  c.heads = 4;
  c.dim_head = 8;
  c.mlp_dim = 40;
  c.mean_pool = mean_pool;
  auto net = std::make_shared<ddb::nets::ViT>(c, ImageShape{3, 16, 24}, 5);
  torch::NoGradGuard no_grad;
  int i = 0;
  for (auto& p : net->parameters()) {
    const auto k = torch::arange(p.numel(), torch::kFloat64);
    const double a = p.dim() == 1 ? 0.1 : p.dim() == 2 ? 1.0 / std::sqrt(static_cast<double>(p.size(1))) : 0.5;
    p.copy_((a * torch::sin(0.013 * k * k + 0.7 * k + (i + 1))).reshape(p.sizes()));
    ++i;
  }
  net->eval();
  return net;
}

TEST(ViT, ForwardMatchesReferenceOnFixedWeights) {
  const TinyRef refs[] = {
      {false,
       {1.722045, 0.375079, 0.129939, -0.201333, 0.512874, 1.704054, 0.346618, 0.278357, -0.277550, 0.634328}},
      {true,
       {0.701938, -0.079174, 0.324026, -0.277009, -0.291635, 0.742033, 0.045677, 0.158380, 0.063108, 0.468540}},
  };
  const auto j = torch::arange(2 * 3 * 16 * 24, torch::kFloat64);
  const auto x = torch::sin(0.37 * torch::pow(j, 1.1)).to(torch::kFloat32).reshape({2, 3, 16, 24});
  for (const TinyRef& r : refs) {
    auto net = tiny_with_fixed_weights(r.mean_pool);
    EXPECT_EQ(param_names(*net).size(), 20u);
    torch::NoGradGuard no_grad;
    const auto got = net->forward(x).flatten().to(torch::kFloat64);
    ASSERT_EQ(got.numel(), 10);
    for (int64_t q = 0; q < 10; ++q)
      EXPECT_NEAR(got[q].item<double>(), r.logits[q], 2e-5) << (r.mean_pool ? "mean" : "cls") << " logit " << q;
  }
}

// Created in the reference's order, the parameters draw the same random numbers: after
// torch.manual_seed(0), the reference ViT for 3x32x32 and 10 classes starts with these values.
TEST(ViT, InitialisationMatchesReferenceUnderASeed) {
  torch::manual_seed(0);
  auto net = make_net("ViT", ImageShape{3, 32, 32}, 10);
  auto params = net->named_parameters();
  const std::vector<std::pair<std::string, std::vector<double>>> first3{
      {"pos_embedding", {2.3268123, 0.1060313, -1.1103868}},
      {"cls_token", {0.5734752, 0.5634164, -1.067845}},
      {"to_patch_embedding.1.weight", {-0.0002702, 0.0193572, -0.0296991}},
      {"transformer.layers.0.1.fn.net.0.weight", {-0.0238837, 0.0292988, 0.0294601}},
      {"transformer.layers.0.1.fn.net.3.weight", {-0.0077949, -0.0297205, 0.0357384}},
      {"transformer.layers.9.1.fn.net.3.bias", {0.0175718, 0.0209967, 0.0003101}},
      {"mlp_head.0.weight", {0.0311868, 0.0023319, -0.0007896}},
  };
  for (const auto& [name, values] : first3) {
    const auto flat = params[name].flatten();
    for (size_t q = 0; q < values.size(); ++q)
      EXPECT_NEAR(flat[static_cast<int64_t>(q)].item<double>(), values[q], 1e-6) << name << "[" << q << "]";
  }
  // Sums over all 16,145,930 values, and weighted by the parameter's position (1..76), which any
  // other drawing order would change.
  double total = 0, weighted = 0;
  int64_t i = 0;
  for (const auto& p : net->parameters()) {
    const double sum = p.to(torch::kFloat64).sum().item<double>();
    total += sum;
    weighted += static_cast<double>(++i) * sum;
  }
  EXPECT_NEAR(total, 13.504330, 1e-3);
  EXPECT_NEAR(weighted, 5282.560386, 1e-2);
}

TEST(ViT, DefaultInitialisationDistributions) {
  torch::manual_seed(1);
  auto net = make_net("ViT", kIn128, 10);
  auto params = net->named_parameters();
  // torch.randn: N(0, 1).
  for (const char* name : {"pos_embedding", "cls_token"}) {
    const auto& p = params[name];
    const double tol = p.numel() > 10000 ? 0.03 : 0.15;
    EXPECT_NEAR(p.mean().item<double>(), 0.0, tol) << name;
    EXPECT_NEAR(p.std().item<double>(), 1.0, tol) << name;
  }
  // nn.Linear defaults: weight and bias within 1/sqrt(fan_in); to_qkv has no bias.
  for (const auto& m : net->modules(/*include_self=*/false)) {
    auto* lin = dynamic_cast<torch::nn::LinearImpl*>(m.get());
    if (!lin) continue;
    const double bound = 1.0 / std::sqrt(static_cast<double>(lin->weight.size(1)));
    EXPECT_LE(lin->weight.abs().max().item<double>(), bound * (1 + 1e-6));
    EXPECT_GT(lin->weight.abs().max().item<double>(), 0.9 * bound);
    if (lin->bias.defined()) EXPECT_LE(lin->bias.abs().max().item<double>(), bound * (1 + 1e-6));
  }
  EXPECT_FALSE(params.contains("transformer.layers.0.0.fn.to_qkv.bias"));
}

TEST(ViT, DropoutOnlyWhileTraining) {
  torch::manual_seed(2);
  auto net = make_net("ViT", ImageShape{3, 32, 32}, 10);
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 32, 32});
  net->eval();
  EXPECT_TRUE(torch::equal(net->forward(x), net->forward(x)));
  net->train();
  EXPECT_FALSE(torch::allclose(net->forward(x), net->forward(x)));
}

// ------------------------------------------------------------------------- learning

TEST(ViT, TinyVariantFitsAFewToyImages) {
  torch::manual_seed(3);
  ViTConfig c;
  c.patch = 4;
  c.dim = 32;
  c.depth = 2;
  c.heads = 2;
  c.dim_head = 16;
  c.mlp_dim = 64;
  auto net = std::make_shared<ddb::nets::ViT>(c, ImageShape{3, 8, 8}, 4);  // 4 patches
  const auto x = torch::randn({16, 3, 8, 8});
  const auto y = torch::arange(16, torch::kLong).remainder(4);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  net->train();
  double loss0 = 0, loss = 0;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    auto l = torch::nn::functional::cross_entropy(net->forward(x), y);
    l.backward();
    opt.step();
    if (step == 0) loss0 = l.item<double>();
    loss = l.item<double>();
  }
  net->eval();
  torch::NoGradGuard no_grad;
  const double acc = net->forward(x).argmax(1).eq(y).to(torch::kFloat64).mean().item<double>();
  std::cout << "[ tiny ViT ] loss " << loss0 << " -> " << loss << ", train accuracy " << acc << "\n";
  EXPECT_LT(loss, 0.2 * loss0) << "first " << loss0 << " last " << loss;
  EXPECT_EQ(acc, 1.0);
}

}  // namespace
