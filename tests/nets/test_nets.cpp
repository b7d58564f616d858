// Tests for harness/nets: shapes, parameter counts against the reference layer definitions
// (VICO-UoE/DatasetCondensation networks.py + utils.py get_network), initialisation, the one-channel
// padding tricks, backward, BatchNorm reporting and the factory's error.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "harness/nets/net.h"
#include "harness/types.h"

namespace {

using ddb::ImageShape;
using ddb::make_net;
using ddb::Net;

const ImageShape kMnist{1, 28, 28};  // MNIST / FashionMNIST
const ImageShape kCifar{3, 32, 32};  // CIFAR10/100, SVHN
const ImageShape kTiny{3, 64, 64};   // TinyImageNet

int64_t count_params(const Net& net) {
  int64_t n = 0;
  for (const auto& p : net->parameters()) n += p.numel();
  return n;
}

std::shared_ptr<torch::nn::Module> submodule(const Net& net, const std::string& name) {
  auto modules = net->named_modules();
  auto* found = modules.find(name);
  if (found == nullptr) throw std::runtime_error("no submodule " + name);
  return *found;
}

std::vector<std::string> all_names() {
  std::vector<std::string> names;
  for (const auto& d : ddb::list_nets()) names.push_back(d.name);
  return names;
}

bool is_bn_name(const std::string& name) { return name.find("BN") != std::string::npos; }
bool is_idc_resnet_ap(const std::string& name) { return name.rfind("ResNet10_AP", 0) == 0; }

// ------------------------------------------------------------------------------------ ConvNet

TEST(ConvNet, OutputAndEmbedShapes) {
  torch::manual_seed(0);
  {
    auto net = make_net("ConvNet", kMnist, 10);
    auto x = torch::randn({4, 1, 28, 28});
    EXPECT_EQ(net->forward(x).sizes(), (std::vector<int64_t>{4, 10}));
    // 28 px, first conv padding 3 -> 32 -> 16 -> 8 -> 4: 128*4*4.
    EXPECT_EQ(net->embed(x).sizes(), (std::vector<int64_t>{4, 2048}));
  }
  {
    auto net = make_net("ConvNet", kCifar, 100);
    auto x = torch::randn({4, 3, 32, 32});
    EXPECT_EQ(net->forward(x).sizes(), (std::vector<int64_t>{4, 100}));
    EXPECT_EQ(net->embed(x).sizes(), (std::vector<int64_t>{4, 2048}));
  }
  {
    auto net = make_net("ConvNetD4", kTiny, 200);
    auto x = torch::randn({2, 3, 64, 64});
    EXPECT_EQ(net->forward(x).sizes(), (std::vector<int64_t>{2, 200}));
    EXPECT_EQ(net->embed(x).sizes(), (std::vector<int64_t>{2, 2048}));  // 64/2^4 = 4: 128*4*4
  }
}

TEST(ConvNet, DeepVariantsOnLargeImages) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  {
    auto net = make_net("ConvNetD5", ImageShape{3, 128, 128}, 10);
    EXPECT_EQ(net->embed(torch::randn({1, 3, 128, 128})).size(1), 2048);  // 128/2^5 = 4
  }
  {
    auto net = make_net("ConvNetD6", ImageShape{3, 256, 256}, 10);
    auto out = net->forward(torch::randn({1, 3, 256, 256}));
    EXPECT_EQ(out.sizes(), (std::vector<int64_t>{1, 10}));
  }
  // The reference halves the map in every block: depth 6 leaves nothing of a 32 px image.
  EXPECT_THROW(make_net("ConvNetD6", kCifar, 10), ddb::UserError);
  // ConvNetD4 on 32 px: 2x2 map.
  auto d4 = make_net("ConvNetD4", kCifar, 10);
  EXPECT_EQ(d4->embed(torch::randn({1, 3, 32, 32})).size(1), 128 * 2 * 2);
}

TEST(ConvNet, FirstConvPaddingForOneChannel) {
  torch::NoGradGuard no_grad;
  // networks.py: padding=3 if channel == 1 and d == 0 else 1, so 28x28 becomes 32x32.
  auto mnist = make_net("ConvNet", kMnist, 10);
  auto conv0 = submodule(mnist, "features.0")->as<torch::nn::Conv2d>();
  ASSERT_NE(conv0, nullptr);
  EXPECT_EQ(conv0->forward(torch::zeros({1, 1, 28, 28})).sizes(), (std::vector<int64_t>{1, 128, 32, 32}));
  auto conv1 = submodule(mnist, "features.4")->as<torch::nn::Conv2d>();  // second block: padding 1
  ASSERT_NE(conv1, nullptr);
  EXPECT_EQ(conv1->forward(torch::zeros({1, 128, 16, 16})).sizes(), (std::vector<int64_t>{1, 128, 16, 16}));

  auto cifar = make_net("ConvNet", kCifar, 10);
  auto c0 = submodule(cifar, "features.0")->as<torch::nn::Conv2d>();
  ASSERT_NE(c0, nullptr);
  EXPECT_EQ(c0->forward(torch::zeros({1, 3, 32, 32})).sizes(), (std::vector<int64_t>{1, 128, 32, 32}));

  // The same trick in VGG (padding 3), AlexNet (padding 4 vs 2) and LeNet (padding 2 vs 0).
  auto vgg = make_net("VGG11", kMnist, 10);
  EXPECT_EQ(
      submodule(vgg, "features.0")->as<torch::nn::Conv2d>()->forward(torch::zeros({1, 1, 28, 28})).size(2),
      32);
  auto alex1 = make_net("AlexNet", kMnist, 10);
  EXPECT_EQ(
      submodule(alex1, "features.0")->as<torch::nn::Conv2d>()->forward(torch::zeros({1, 1, 28, 28})).size(2),
      32);
  auto alex3 = make_net("AlexNet", kCifar, 10);
  EXPECT_EQ(
      submodule(alex3, "features.0")->as<torch::nn::Conv2d>()->forward(torch::zeros({1, 3, 32, 32})).size(2),
      32);
  auto lenet1 = make_net("LeNet", kMnist, 10);
  EXPECT_EQ(
      submodule(lenet1, "features.0")->as<torch::nn::Conv2d>()->forward(torch::zeros({1, 1, 28, 28})).size(2),
      28);
  auto lenet3 = make_net("LeNet", kCifar, 10);
  EXPECT_EQ(
      submodule(lenet3, "features.0")->as<torch::nn::Conv2d>()->forward(torch::zeros({1, 3, 32, 32})).size(2),
      28);
}

TEST(ConvNet, VariantLayers) {
  // Activation (index 2 in a block with a norm).
  EXPECT_NE(submodule(make_net("ConvNetAS", kCifar, 10), "features.2")->as<torch::nn::Sigmoid>(), nullptr);
  EXPECT_NE(submodule(make_net("ConvNetAR", kCifar, 10), "features.2")->as<torch::nn::ReLU>(), nullptr);
  // Keep the nets alive: as<>() returns a raw pointer into them.
  auto al_net = make_net("ConvNetAL", kCifar, 10);
  auto leaky = submodule(al_net, "features.2")->as<torch::nn::LeakyReLU>();
  ASSERT_NE(leaky, nullptr);
  EXPECT_DOUBLE_EQ(leaky->options.negative_slope(), 0.01);
  EXPECT_NE(submodule(make_net("ConvNetASwish", kCifar, 10), "features.2")->as<torch::nn::SiLU>(), nullptr);

  // Norms: 'instancenorm' = GroupNorm(C, C); 'groupnorm' = GroupNorm(4, C); LayerNorm([C, H, W]).
  auto in_net = make_net("ConvNet", kCifar, 10);
  auto in = submodule(in_net, "features.1")->as<torch::nn::GroupNorm>();
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->options.num_groups(), 128);
  EXPECT_EQ(in->options.num_channels(), 128);
  EXPECT_TRUE(in->options.affine());
  EXPECT_DOUBLE_EQ(in->options.eps(), 1e-5);
  auto gn_net = make_net("ConvNetGN", kCifar, 10);
  auto gn = submodule(gn_net, "features.1")->as<torch::nn::GroupNorm>();
  ASSERT_NE(gn, nullptr);
  EXPECT_EQ(gn->options.num_groups(), 4);
  auto ln_net = make_net("ConvNetLN", kMnist, 10);
  auto ln = submodule(ln_net, "features.1")->as<torch::nn::LayerNorm>();
  ASSERT_NE(ln, nullptr);
  EXPECT_EQ(ln->options.normalized_shape(), (std::vector<int64_t>{128, 32, 32}));  // 28 px -> 32 px map
  auto ln2 = submodule(ln_net, "features.5")->as<torch::nn::LayerNorm>();
  ASSERT_NE(ln2, nullptr);
  EXPECT_EQ(ln2->options.normalized_shape(), (std::vector<int64_t>{128, 16, 16}));
  EXPECT_NE(submodule(make_net("ConvNetBN", kCifar, 10), "features.1")->as<torch::nn::BatchNorm2d>(),
            nullptr);
  EXPECT_NE(submodule(make_net("ConvNetNN", kCifar, 10), "features.1")->as<torch::nn::ReLU>(), nullptr);

  // Pooling.
  EXPECT_NE(submodule(make_net("ConvNet", kCifar, 10), "features.3")->as<torch::nn::AvgPool2d>(), nullptr);
  EXPECT_NE(submodule(make_net("ConvNetMP", kCifar, 10), "features.3")->as<torch::nn::MaxPool2d>(), nullptr);
  auto np = make_net("ConvNetNP", kCifar, 10);
  EXPECT_NE(submodule(np, "features.3")->as<torch::nn::Conv2d>(), nullptr);
  EXPECT_EQ(np->embed(torch::randn({1, 3, 32, 32})).size(1), 128 * 32 * 32);
}

TEST(ConvNet, ParameterNamesMatchReferenceStateDict) {
  auto net = make_net("ConvNet", kCifar, 10);
  std::vector<std::string> keys;
  for (const auto& kv : net->named_parameters()) keys.push_back(kv.key());
  const std::vector<std::string> expected = {
      "features.0.weight", "features.0.bias",   "features.1.weight", "features.1.bias",   "features.4.weight",
      "features.4.bias",   "features.5.weight", "features.5.bias",   "features.8.weight", "features.8.bias",
      "features.9.weight", "features.9.bias",   "classifier.weight", "classifier.bias"};
  EXPECT_EQ(keys, expected);

  auto resnet = make_net("ResNet18_AP", kCifar, 10);
  auto params = resnet->named_parameters();
  for (const char* key : {"conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer1.1.bn2.bias",
                          "layer2.0.shortcut.0.weight", "layer2.0.shortcut.2.weight", "layer4.1.conv2.weight",
                          "classifier.weight"}) {
    EXPECT_NE(params.find(key), nullptr) << key;
  }
  auto resnet_bn = make_net("ResNet18BN", kCifar, 10);
  EXPECT_NE(resnet_bn->named_parameters().find("layer3.0.shortcut.1.weight"), nullptr);
  EXPECT_NE(resnet_bn->named_buffers().find("bn1.running_mean"), nullptr);
}

// ---------------------------------------------------------------- ResNet10_AP (IDC ResNetAP)

// The RDD cells' inputs: ImageNet subsets at 128 px (datasets/manifests/rdd.yaml).
const ImageShape kIn128{3, 128, 128};

TEST(ResNet10AP, StateDictKeysFollowReference) {
  auto net = make_net("ResNet10_AP", kIn128, 10);
  std::vector<std::string> keys;
  for (const auto& kv : net->named_parameters()) keys.push_back(kv.key());
  // IDC ResNetAP: layer0 = IntroBlock(conv1, bn1), BasicBlock(conv1, bn1, conv2, bn2, downsample =
  // Sequential(conv1x1, AvgPool2d, norm)), fc.
  std::vector<std::string> expected = {"layer0.conv1.weight", "layer0.bn1.weight", "layer0.bn1.bias"};
  for (int i = 1; i <= 4; ++i) {
    const std::string b = "layer" + std::to_string(i) + ".0.";
    for (const char* k : {"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias"})
      expected.push_back(b + k);
    if (i > 1) {
      for (const char* k : {"downsample.0.weight", "downsample.2.weight", "downsample.2.bias"})
        expected.push_back(b + k);
    }
  }
  expected.push_back("fc.weight");
  expected.push_back("fc.bias");
  EXPECT_EQ(keys, expected);
  EXPECT_NE(submodule(net, "layer2.0.downsample.1")->as<torch::nn::AvgPool2d>(), nullptr);
  auto gn = submodule(net, "layer0.bn1")->as<torch::nn::GroupNorm>();
  ASSERT_NE(gn, nullptr);
  EXPECT_EQ(gn->options.num_groups(), 64);  // 'instance' = GroupNorm(C, C)
  EXPECT_EQ(gn->options.num_channels(), 64);
  EXPECT_FALSE(net->has_batchnorm());
}

TEST(ResNet10AP, StemAndShapesPerInputSize) {
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  struct Case {
    const char* name;
    ImageShape shape;
    int64_t stem_kernel, channels, map;  // map: side of the last stage's output
  };
  // 128 px 'mid': conv3x3, AvgPool 2 -> 64, stages /1 /2 /2 /2 -> 8. 224 px 'large': conv7x7, AvgPool 4
  // -> 56 -> 7. 64 / 32 px 'small': no stem pool -> 8 / 4. CIFAR branch 32 px -> 4 with 256 channels.
  const Case cases[] = {{"ResNet10_AP", kIn128, 3, 512, 8},
                        {"ResNet10_AP", {3, 224, 224}, 7, 512, 7},
                        {"ResNet10_AP", kTiny, 3, 512, 8},
                        {"ResNet10_AP", kCifar, 3, 512, 4},
                        {"ResNet10_AP_CIFAR", kCifar, 3, 256, 4}};
  for (const Case& c : cases) {
    auto net = make_net(c.name, c.shape, 10);
    net->eval();
    const auto stem = net->named_parameters()["layer0.conv1.weight"];
    EXPECT_EQ(stem.sizes(), (std::vector<int64_t>{c.channels / 8, c.shape.channels, c.stem_kernel, c.stem_kernel}))
        << c.name << " " << c.shape.height;
    auto x = torch::randn({2, c.shape.channels, c.shape.height, c.shape.width});
    auto [map, logits] = net->feature_map_and_logits(x);
    EXPECT_EQ(map.sizes(), (std::vector<int64_t>{2, c.channels, c.map, c.map})) << c.name << " " << c.shape.height;
    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 10})) << c.name;
    EXPECT_TRUE(torch::allclose(net->forward(x), logits, 1e-5, 1e-5)) << c.name;
    EXPECT_EQ(net->embed(x).sizes(), (std::vector<int64_t>{2, c.channels})) << c.name;
  }
  EXPECT_THROW(make_net("ResNet10_AP", ImageShape{3, 4, 4}, 10), ddb::UserError);
}

// The forward recomputed with plain tensor ops from the registered weights, in the order of the
// reference's forward (stem pool after relu; block pool after relu(bn1(conv1)); downsample conv ->
// pool -> norm; global avg_pool2d with kernel = map width).
TEST(ResNet10AP, ForwardMatchesReferenceOrderOfOps) {
  torch::manual_seed(4);
  torch::NoGradGuard no_grad;
  auto net = make_net("ResNet10_AP", kIn128, 10);
  net->eval();
  auto p = net->named_parameters();
  auto conv = [&](const torch::Tensor& x, const std::string& k) {
    const auto& w = p[k + ".weight"];
    return torch::conv2d(x, w, {}, 1, w.size(-1) / 2);
  };
  auto norm = [&](const torch::Tensor& x, const std::string& k) {
    return torch::group_norm(x, x.size(1), p[k + ".weight"], p[k + ".bias"], 1e-5);
  };
  auto pool = [](const torch::Tensor& x, int64_t k) { return torch::avg_pool2d(x, k, k); };
  auto x = torch::randn({2, 3, 128, 128});
  auto out = pool(torch::relu(norm(conv(x, "layer0.conv1"), "layer0.bn1")), 2);
  for (int i = 1; i <= 4; ++i) {
    const std::string b = "layer" + std::to_string(i) + ".0.";
    auto y = torch::relu(norm(conv(out, b + "conv1"), b + "bn1"));
    if (i > 1) y = pool(y, 2);
    y = norm(conv(y, b + "conv2"), b + "bn2");
    auto res = i > 1 ? norm(pool(conv(out, b + "downsample.0"), 2), b + "downsample.2") : out;
    out = torch::relu(y + res);
  }
  out = pool(out, out.size(-1)).flatten(1);
  auto expected = torch::linear(out, p["fc.weight"], p["fc.bias"]);
  EXPECT_TRUE(torch::allclose(net->forward(x), expected, 1e-4, 1e-5));
}

TEST(ResNet10AP, HundredClassesCount) {
  // ImageNet-100 cells: fc Linear(512, 100) = 51300 instead of 5130 -> 4949412.
  EXPECT_EQ(count_params(make_net("ResNet10_AP", kIn128, 100)), 4949412);
}

// ----------------------------------------------------------------------- parameter counts

struct CountCase {
  const char* name;
  ImageShape shape;
  int64_t expected;
};

// Hand arithmetic from the reference layer shapes, 10 classes. conv(i,o,k) = i*o*k*k + o (bias),
// norm = 2*C for GroupNorm/BatchNorm (weight + bias), Linear(i,o) = i*o + o.
//
// ConvNet 3x32x32: conv 3*128*9+128 = 3584, norm 256, conv 128*128*9+128 = 147584, norm 256,
//   conv 147584, norm 256, Linear(2048,10) = 20490 -> 320010.
// ConvNet 1x28x28: first conv 1*128*9+128 = 1280 (-2304) -> 317706.
// ConvNetNN 3x32: 320010 - 3*256 = 319242.
// ConvNetLN 3x32: 319242 + 2*128*(32*32 + 16*16 + 8*8) = 319242 + 344064 = 663306;
//   1x28 (maps 32/16/8 thanks to the padding): 317706 - 768 + 344064 = 661002.
// ConvNetW32 3x32: 896 + 64 + 9248 + 64 + 9248 + 64 + Linear(32*4*4,10) 5130 = 24714.
// ConvNetW256 3x32: 7168 + 2*590080 + 3*512 + Linear(256*16,10) 40970 = 1229834.
// ConvNetD1 3x32: 3584 + 256 + Linear(128*16*16,10) 327690 = 331530.
// ConvNetD4 3x32: 3584 + 3*147584 + 4*256 + Linear(128*2*2,10) 5130 = 452490;
//   3x64: ... + Linear(128*4*4,10) 20490 = 467850.
// ConvNetD5 3x128: 3584 + 4*147584 + 5*256 + 20490 = 615690.
// ConvNetD6 3x256: 3584 + 5*147584 + 6*256 + 20490 = 763530.
// ConvNetNP 3x32: 3584 + 2*147584 + 3*256 + Linear(128*32*32,10) 1310730 = 1610250.
// MLP 1x28: 784*128+128 + 128*128+128 + 128*10+10 = 100480 + 16512 + 1290 = 118282;
//   3x32: 3072*128+128 = 393344 -> 411146.
// LeNet 3x32: conv 3*6*25+6 = 456, conv 6*16*25+16 = 2416, 400*120+120 = 48120, 120*84+84 = 10164,
//   84*10+10 = 850 -> 62006; 1x28: first conv 156 -> 61706.
// AlexNet 3x32: 3*128*25+128 = 9728, 128*192*25+192 = 614592, 192*256*9+256 = 442624,
//   256*192*9+192 = 442560, 192*192*9+192 = 331968, Linear(192*4*4,10) 30730 -> 1872202;
//   1x28: first conv 1*128*25+128 = 3328 -> 1865802; AlexNetBN: + 2*(128+192+256+192+192) = 1874122.
// VGG11 3x32: convs 1792 + 73856 + 295168 + 590080 + 1180160 + 3*2359808 = 9220480,
//   norms 2*(64+128+256+256+512*4) = 5504, Linear(512,10) 5130 -> 9231114; 1x28: -1152 -> 9229962.
// ResNet18 3x32 (convs without bias): stem 3*64*9 = 1728 + norm 128;
//   layer1 2*(2*36864 + 256) = 147968;
//   layer2 (73728 + 147456 + 512 + shortcut 64*128 + 256) + (2*147456 + 512) = 230144 + 295424 = 525568;
//   layer3 (294912 + 589824 + 1024 + 32768 + 512) + (2*589824 + 1024) = 919040 + 1180672 = 2099712;
//   layer4 (1179648 + 2359296 + 2048 + 131072 + 1024) + (2*2359296 + 2048) = 3673088 + 4720640 = 8393728;
//   Linear(512,10) 5130 -> 11173962 (BN variant: same); 1x28: stem 576 -> 11172810.
// ResNet18_AP: same convs/norms, Linear(512*4*4,10) = 81930 -> 11250762 (3x32);
//   1x28: Linear(512*3*3,10) = 46090 and stem 576 -> 11213770.
// ResNet10_AP (IDC models/resnet_ap.py ResNetAP, ImageNet branch, depth 10 = one BasicBlock per stage,
//   GroupNorm(C,C), convs without bias, downsample conv1x1 + AvgPool + norm): stem conv3x3 3*64*9 = 1728
//   + norm 128 = 1856 ('small' <= 64 px and 'mid' <= 128 px); layer1 2*36864 + 2*128 = 73984;
//   layer2 73728 + 147456 + 2*256 + 64*128 + 256 = 230144; layer3 919040; layer4 3673088 (as ResNet18's
//   first block of each stage); fc Linear(512,10) 5130 -> 4903242 at 3x128 (the RDD cells), 3x64 and 3x32;
//   3x224 ('large' stem conv7x7 3*64*49 = 9408): 4903242 - 1728 + 9408 = 4910922; 1x28: stem 576 ->
//   4902090; 100 classes at 3x128: fc 51300 -> 4949412.
// ResNet10_AP_CIFAR (the CIFAR branch: 32/64/128/256): stem 3*32*9 + 64 = 928; layer1 2*9216 + 128 =
//   18560; layer2 18432 + 36864 + 256 + 32*64 + 128 = 57728; layer3 230144; layer4 919040; fc
//   Linear(256,10) 2570 -> 1228970 (3x32); 1x28: stem 288 -> 1228394.
//   (Cross-checked with a throwaway torch module built from the same reading; no reference code kept.)
// clang-format off
const CountCase kCounts[] = {
    {"ConvNet", kCifar, 320010},       {"ConvNet", kMnist, 317706},         {"ConvNetIN", kCifar, 320010},
    {"ConvNetBN", kCifar, 320010},     {"ConvNetGN", kCifar, 320010},       {"ConvNetNN", kCifar, 319242},
    {"ConvNetLN", kCifar, 663306},     {"ConvNetLN", kMnist, 661002},       {"ConvNetW32", kCifar, 24714},
    {"ConvNetW128", kCifar, 320010},   {"ConvNetW256", kCifar, 1229834},    {"ConvNetD1", kCifar, 331530},
    {"ConvNetD4", kCifar, 452490},     {"ConvNetD4", kTiny, 467850},        {"ConvNetD5", {3, 128, 128}, 615690},
    {"ConvNetD5BN", {3, 128, 128}, 615690},
    {"ConvNetD6", {3, 256, 256}, 763530}, {"ConvNetNP", kCifar, 1610250},   {"ConvNetMP", kCifar, 320010},
    {"ConvNetAS", kCifar, 320010},     {"ConvNetASwishBN", kCifar, 320010}, {"MLP", kMnist, 118282},
    {"MLP", kCifar, 411146},           {"LeNet", kCifar, 62006},            {"LeNet", kMnist, 61706},
    {"AlexNet", kCifar, 1872202},      {"AlexNet", kMnist, 1865802},        {"AlexNetBN", kCifar, 1874122},
    {"VGG11", kCifar, 9231114},        {"VGG11", kMnist, 9229962},          {"VGG11BN", kCifar, 9231114},
    {"ResNet18", kCifar, 11173962},    {"ResNet18", kMnist, 11172810},      {"ResNet18BN", kCifar, 11173962},
    {"ResNet18_AP", kCifar, 11250762}, {"ResNet18_AP", kMnist, 11213770},   {"ResNet18BN_AP", kCifar, 11250762},
    {"ResNet10_AP", {3, 128, 128}, 4903242}, {"ResNet10_AP", {3, 224, 224}, 4910922},
    {"ResNet10_AP", kTiny, 4903242},   {"ResNet10_AP", kCifar, 4903242},    {"ResNet10_AP", kMnist, 4902090},
    {"ResNet10_AP_CIFAR", kCifar, 1228970}, {"ResNet10_AP_CIFAR", kMnist, 1228394},
};
// clang-format on

class ParameterCount : public ::testing::TestWithParam<CountCase> {};

TEST_P(ParameterCount, MatchesReference) {
  const CountCase& c = GetParam();
  auto net = make_net(c.name, c.shape, 10);
  EXPECT_EQ(count_params(net), c.expected)
      << c.name << " on " << c.shape.channels << "x" << c.shape.height << "x" << c.shape.width;
}

INSTANTIATE_TEST_SUITE_P(Reference, ParameterCount, ::testing::ValuesIn(kCounts),
                         [](const ::testing::TestParamInfo<CountCase>& info) {
                           const auto& s = info.param.shape;
                           return std::string(info.param.name) + "_" + std::to_string(s.channels) + "x" +
                                  std::to_string(s.height) + "x" + std::to_string(s.width);
                         });

// ------------------------------------------------------------------------------ every name

class EveryNet : public ::testing::TestWithParam<std::string> {};
// (name, 0: 1x28x28 | 1: 3x32x32): one test per net and input, to keep each one short.
class EveryNetInput : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

struct EmbedCase {
  ImageShape shape;
  int64_t embed_dim;
};

// Expected embed dimension of `name` on 1x28x28 and 3x32x32.
std::vector<EmbedCase> embed_cases(const std::string& name) {
  // ConvNetD<d>BN embeds as ConvNetD<d> (BatchNorm has no effect on the shape).
  if (name.size() == 11 && name.rfind("ConvNetD", 0) == 0 && name.substr(9) == "BN") return embed_cases(name.substr(0, 9));
  auto both = [](int64_t d) { return std::vector<EmbedCase>{{kMnist, d}, {kCifar, d}}; };
  if (name == "ConvNetD1") return both(128 * 16 * 16);
  if (name == "ConvNetD2") return both(128 * 8 * 8);
  if (name == "ConvNetD4") return both(128 * 2 * 2);
  if (name == "ConvNetD5") return both(128);
  if (name == "ConvNetD6") return {};  // needs >= 64 px (see DeepVariantsOnLargeImages)
  if (name == "ViT") return {};  // sides must be multiples of 16 (28 is not): tests/nets/test_vit.cpp
  if (name == "ConvNetW32") return both(32 * 16);
  if (name == "ConvNetW64") return both(64 * 16);
  if (name == "ConvNetW256") return both(256 * 16);
  if (name == "ConvNetNP") return both(128 * 32 * 32);
  // Same code at width 1024 (a forward of which costs seconds here): KipConvNetW128 stands for them.
  if (name == "KipConvNet" || name == "KipConvNet3") return {};
  if (name == "KipConvNetW128") return {{kMnist, 128 * 3 * 3}, {kCifar, 128 * 4 * 4}};  // SAME convs, 3 pools
  if (name.rfind("ConvNet", 0) == 0) return both(2048);
  if (name == "MLP") return both(128);
  if (name == "LeNet") return both(84);
  if (name.rfind("AlexNet", 0) == 0) return both(192 * 4 * 4);
  if (name == "AlexCifarNet") return both(192);  // relu(fc2(...)): tests/bilevel/test_ld.cpp checks the layers
  if (name.rfind("VGG11", 0) == 0) return both(512);
  if (name == "ResNet18" || name == "ResNet18BN") return both(512);
  if (name == "ResNet18_AP" || name == "ResNet18BN_AP") return {{kMnist, 512 * 3 * 3}, {kCifar, 512 * 4 * 4}};
  if (name == "ResNet10_AP") return both(512);  // global avg_pool2d over the last map
  if (name == "ResNet10_AP_CIFAR") return both(256);
  ADD_FAILURE() << "no expected embed size for " << name;
  return {};
}

TEST_P(EveryNetInput, ForwardEmbedBackward) {
  const std::string name = std::get<0>(GetParam());
  const auto cases = embed_cases(name);
  if (cases.empty()) GTEST_SKIP() << name << " needs a larger input";
  torch::manual_seed(1);
  {
    const EmbedCase& c = cases.at(std::get<1>(GetParam()));
    auto net = make_net(name, c.shape, 10);
    net->train();
    auto x = torch::randn({2, c.shape.channels, c.shape.height, c.shape.width});
    auto logits = net->forward(x);
    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 10})) << name;
    auto loss = torch::nn::functional::cross_entropy(logits, torch::tensor({1, 7}, torch::kLong));
    loss.backward();
    for (const auto& kv : net->named_parameters()) {
      const auto& g = kv.value().grad();
      ASSERT_TRUE(g.defined()) << name << " " << kv.key();
      EXPECT_TRUE(torch::isfinite(g).all().item<bool>()) << name << " " << kv.key();
    }
    // The classifier must receive gradient, and so must the first layer.
    auto params = net->parameters();
    EXPECT_GT(params.front().grad().abs().sum().item<double>(), 0.0) << name;
    EXPECT_GT(params[params.size() - 2].grad().abs().sum().item<double>(), 0.0) << name;

    // embed() is exactly the input of the last Linear (registered last: weight, bias).
    torch::NoGradGuard no_grad;
    net->eval();
    auto e = net->embed(x);
    EXPECT_EQ(e.sizes(), (std::vector<int64_t>{2, c.embed_dim})) << name;
    auto via_embed = torch::linear(e, params[params.size() - 2], params.back());
    EXPECT_TRUE(torch::allclose(net->forward(x), via_embed, 1e-5, 1e-5)) << name;
  }
}

TEST_P(EveryNet, PyTorchDefaultInitialisation) {
  const std::string name = GetParam();
  torch::manual_seed(2);
  const ImageShape shape = name.rfind("ConvNetD6", 0) == 0 ? ImageShape{3, 64, 64} : kCifar;
  auto net = make_net(name, shape, 10);
  int checked = 0;
  for (const auto& kv : net->named_modules()) {
    torch::nn::Module* m = kv.value().get();
    if (auto* gn = dynamic_cast<torch::nn::GroupNormImpl*>(m)) {
      EXPECT_TRUE(torch::all(gn->weight == 1).item<bool>()) << name << " " << kv.key();
      EXPECT_TRUE(torch::all(gn->bias == 0).item<bool>()) << name << " " << kv.key();
      ++checked;
    } else if (auto* ln = dynamic_cast<torch::nn::LayerNormImpl*>(m)) {
      EXPECT_TRUE(torch::all(ln->weight == 1).item<bool>()) << name << " " << kv.key();
      EXPECT_TRUE(torch::all(ln->bias == 0).item<bool>()) << name << " " << kv.key();
      ++checked;
    } else if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m)) {
      EXPECT_TRUE(torch::all(bn->weight == 1).item<bool>()) << name << " " << kv.key();
      EXPECT_TRUE(torch::all(bn->bias == 0).item<bool>()) << name << " " << kv.key();
      EXPECT_TRUE(torch::all(bn->running_mean == 0).item<bool>()) << name << " " << kv.key();
      EXPECT_TRUE(torch::all(bn->running_var == 1).item<bool>()) << name << " " << kv.key();
      EXPECT_DOUBLE_EQ(bn->options.momentum().value(), 0.1);
      EXPECT_DOUBLE_EQ(bn->options.eps(), 1e-5);
      ++checked;
    } else if (name.rfind("KipConvNet", 0) == 0 &&
               (dynamic_cast<torch::nn::Conv2dImpl*>(m) || dynamic_cast<torch::nn::LinearImpl*>(m))) {
      // stax's standard parameterisation: N(0, 2 / fan_in) weights, N(0, 0.1^2) biases.
      const torch::Tensor w = m->named_parameters(false)["weight"], b = m->named_parameters(false)["bias"];
      const double expected_std = std::sqrt(2.0 / static_cast<double>(w[0].numel()));
      if (w.numel() >= 1000) EXPECT_NEAR(w.std().item<double>(), expected_std, 0.1 * expected_std) << name << " " << kv.key();
      if (b.numel() >= 100) EXPECT_NEAR(b.std().item<double>(), 0.1, 0.02) << name << " " << kv.key();
      ++checked;
    } else if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(m); conv && is_idc_resnet_ap(name)) {
      // IDC's ResNetAP re-initialises convs: N(0, sqrt(2 / (k_h * k_w * out_channels))).
      const auto& w = conv->weight;
      const double expected_std = std::sqrt(2.0 / static_cast<double>(w.size(0) * w.size(2) * w.size(3)));
      EXPECT_FALSE(conv->bias.defined()) << name << " " << kv.key();
      if (w.numel() >= 1000) {
        EXPECT_NEAR(w.std().item<double>(), expected_std, 0.1 * expected_std) << name << " " << kv.key();
        EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.1 * expected_std) << name << " " << kv.key();
      }
      ++checked;
    } else {
      torch::Tensor weight, bias;
      if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(m)) {
        weight = conv->weight;
        bias = conv->bias;
      } else if (auto* lin = dynamic_cast<torch::nn::LinearImpl*>(m)) {
        weight = lin->weight;
        bias = lin->bias;
      } else {
        continue;
      }
      // kaiming_uniform_(a=sqrt(5)): U(-b, b) with b = sqrt(6 / ((1 + 5) * fan_in)) = 1/sqrt(fan_in);
      // bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
      const double fan_in = static_cast<double>(weight[0].numel());
      const double bound = 1.0 / std::sqrt(fan_in);
      EXPECT_LE(weight.abs().max().item<double>(), bound * (1 + 1e-6)) << name << " " << kv.key();
      if (weight.numel() >= 1000) {
        EXPECT_GT(weight.abs().max().item<double>(), 0.9 * bound) << name << " " << kv.key();
        const double expected_std = bound / std::sqrt(3.0);
        EXPECT_NEAR(weight.std().item<double>(), expected_std, 0.1 * expected_std) << name << " " << kv.key();
      }
      if (bias.defined())
        EXPECT_LE(bias.abs().max().item<double>(), bound * (1 + 1e-6)) << name << " " << kv.key();
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << name;
}

TEST_P(EveryNet, HasBatchnormMatchesLayers) {
  const std::string name = GetParam();
  const ImageShape shape = name.rfind("ConvNetD6", 0) == 0 ? ImageShape{3, 64, 64} : kCifar;
  auto net = make_net(name, shape, 10);
  bool has_bn_layer = false;
  for (const auto& m : net->modules())
    has_bn_layer |= dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get()) != nullptr;
  EXPECT_EQ(net->has_batchnorm(), has_bn_layer) << name;
  EXPECT_EQ(net->has_batchnorm(), is_bn_name(name)) << name;
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryNet, ::testing::ValuesIn(all_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Registry, EveryNetInput,
                         ::testing::Combine(::testing::ValuesIn(all_names()), ::testing::Values(0, 1)),
                         [](const ::testing::TestParamInfo<std::tuple<std::string, int>>& info) {
                           return std::get<0>(info.param) +
                                  (std::get<1>(info.param) == 0 ? "_1x28x28" : "_3x32x32");
                         });

// ---------------------------------------------------------------------------------- factory

TEST(Factory, BatchNormVariantsReportIt) {
  for (const char* name :
       {"ConvNetBN", "ConvNetASwishBN", "AlexNetBN", "VGG11BN", "ResNet18BN", "ResNet18BN_AP"}) {
    EXPECT_TRUE(make_net(name, kCifar, 10)->has_batchnorm()) << name;
  }
  for (const char* name :
       {"ConvNet", "ConvNetIN", "ConvNetLN", "ResNet18", "VGG11", "AlexNet", "MLP", "LeNet"}) {
    EXPECT_FALSE(make_net(name, kCifar, 10)->has_batchnorm()) << name;
  }
}

TEST(Factory, ListsEveryNameOnceWithDescription) {
  const auto nets = ddb::list_nets();
  std::set<std::string> seen;
  for (const auto& d : nets) {
    EXPECT_TRUE(seen.insert(d.name).second) << "duplicate " << d.name;
    EXPECT_FALSE(d.description.empty()) << d.name;
    EXPECT_EQ(d.description.find('\n'), std::string::npos) << d.name;
  }
  for (const char* required :
       {"ConvNet",    "ConvNetD1",   "ConvNetD2",     "ConvNetD3",   "ConvNetD4",   "ConvNetD5",
        "ConvNetD6",  "ConvNetW32",  "ConvNetW64",    "ConvNetW128", "ConvNetW256", "ConvNetAS",
        "ConvNetAR",  "ConvNetAL",   "ConvNetASwish", "ConvNetNN",   "ConvNetBN",   "ConvNetLN",
        "ConvNetIN",  "ConvNetGN",   "ConvNetNP",     "ConvNetMP",   "ConvNetAP",   "ResNet18",
        "ResNet18BN", "ResNet18_AP", "ResNet18BN_AP", "VGG11",       "VGG11BN",     "AlexNet",
        "MLP",        "LeNet",       "ResNet10_AP",   "ResNet10_AP_CIFAR"}) {
    EXPECT_EQ(seen.count(required), 1u) << required;
  }
}

TEST(Factory, UnknownNameListsValidNames) {
  try {
    make_net("ConvNetXL", kCifar, 10);
    FAIL() << "expected UserError";
  } catch (const ddb::UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("ConvNetXL"), std::string::npos) << msg;
    for (const auto& d : ddb::list_nets()) EXPECT_NE(msg.find(d.name), std::string::npos) << d.name;
  }
}

TEST(Factory, RejectsBadArguments) {
  EXPECT_THROW(make_net("ConvNet", ImageShape{0, 32, 32}, 10), ddb::UserError);
  EXPECT_THROW(make_net("ConvNet", kCifar, 0), ddb::UserError);
  EXPECT_THROW(make_net("ResNet18", ImageShape{3, 8, 8}, 10), ddb::UserError);
  try {
    make_net("ConvNetD6", kCifar, 10);
    FAIL() << "expected UserError";
  } catch (const ddb::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("ConvNetD6"), std::string::npos) << e.what();
  }
}

TEST(Factory, FreshNetsDiffer) {
  // Each call builds a freshly initialised network from the global RNG.
  torch::manual_seed(3);
  auto a = make_net("ConvNet", kCifar, 10);
  auto b = make_net("ConvNet", kCifar, 10);
  EXPECT_FALSE(torch::equal(a->parameters()[0], b->parameters()[0]));
  torch::manual_seed(3);
  auto c = make_net("ConvNet", kCifar, 10);
  EXPECT_TRUE(torch::equal(a->parameters()[0], c->parameters()[0]));
}

}  // namespace
