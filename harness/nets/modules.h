// Private to harness/nets: the concrete architectures behind make_net().
//
// Every class follows the layer shapes of VICO-UoE/DatasetCondensation networks.py (ConvNet, MLP,
// LeNet, AlexNet(BN), VGG11(BN), ResNet18(BN), ResNet18(BN)_AP) and registers its submodules under
// the same names, so named_parameters() gives the reference state_dict keys ("features.0.weight",
// "layer2.0.shortcut.0.weight", "classifier.bias", ...).
//
// One generalisation: the reference hard-codes the classifier input for the input sizes it was used
// with (2048 for ConvNet on 28/32 px, 512 for VGG/ResNet, 192*4*4 for AlexNet, 16*5*5 for LeNet,
// 28*28 or 32*32*3 for MLP). Here it is computed from the layer arithmetic for the given ImageShape;
// the two agree wherever the reference runs, and other sizes (64 px ResNet, ...) work instead of
// failing with a shape mismatch. Inputs too small for the architecture throw UserError.
#pragma once
#include <vector>

#include "harness/nets/net.h"

namespace ddb::nets {

// Spatial size after a convolution/pool (floor division, like PyTorch); 0 when nothing remains.
inline int64_t conv_out(int64_t in, int64_t kernel, int64_t stride, int64_t padding) {
  const int64_t span = in + 2 * padding - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

// GroupNorm(c, c, affine) (the reference's 'instancenorm') or BatchNorm2d(c).
torch::nn::AnyModule make_norm2d(bool batchnorm, int64_t channels);

// ---------------------------------------------------------------- ConvNet (networks.py ConvNet)
enum class Act { Sigmoid, ReLU, LeakyReLU, Swish };
enum class Norm { None, BatchNorm, LayerNorm, InstanceNorm, GroupNorm };
enum class Pool { None, Max, Avg };

// utils.py get_default_convnet_setting(): 128, 3, relu, instancenorm, avgpooling.
struct ConvNetConfig {
  int64_t width = 128;
  int64_t depth = 3;
  Act act = Act::ReLU;
  Norm norm = Norm::InstanceNorm;
  Pool pool = Pool::Avg;
};

// depth x [Conv2d(k3, padding 1; padding 3 for the first conv of 1-channel input) -> norm -> act ->
// pool(2,2)] -> flatten -> Linear(features, classes).
class ConvNet : public NetImpl {
 public:
  ConvNet(const ConvNetConfig& config, const ImageShape& shape, int64_t num_classes);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor embed(torch::Tensor x) override;
  std::pair<torch::Tensor, torch::Tensor> feature_map_and_logits(torch::Tensor x) override;
  bool has_batchnorm() const override { return config_.norm == Norm::BatchNorm; }
  int64_t feature_dim() const { return feature_dim_; }
  // One forward through the blocks by their modules (not the fused kernel), keeping what the methods
  // that match intermediate layers read (CAFE, DataDAM): each block's activation output, before its
  // pool (what a forward hook on the reference's activation module sees), and the last block's output
  // after its pool (the embedding, unflattened).
  struct BlockTrace {
    std::vector<torch::Tensor> activations;  // one per block, first block first
    torch::Tensor output;
  };
  BlockTrace trace_blocks(torch::Tensor x);
  // For harness/nets/stacked_convnet.cpp, which stacks the parameters of several ConvNets.
  const ConvNetConfig& config() const { return config_; }
  torch::nn::Sequential& features() { return features_; }
  torch::nn::Linear& classifier() { return classifier_; }

 private:
  ConvNetConfig config_;
  int64_t feature_dim_ = 0;
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};

// ---------------------------------------------------------------- ResNet / ResNet_AP
// BasicBlock (stride in conv1 and the 1x1 shortcut) or, with avgpool_downsample, BasicBlock_AP
// (all convs stride 1; AvgPool2d(2,2) after relu(bn1(conv1)) and after the shortcut conv).
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride, bool batchnorm, bool avgpool_downsample);
  torch::Tensor forward(torch::Tensor x);

 private:
  int64_t stride_;
  bool avgpool_downsample_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::AnyModule bn1_;
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::AnyModule bn2_;
  torch::nn::Sequential shortcut_{nullptr};  // null: identity
};
TORCH_MODULE(BasicBlock);

struct ResNetConfig {
  std::vector<int64_t> blocks{2, 2, 2, 2};  // ResNet18
  bool batchnorm = false;                   // false: GroupNorm(C, C) ('instancenorm')
  bool avgpool_downsample = false;          // the _AP variant
};

// conv3x3(64, stride 1, no bias) -> norm -> relu -> layer1..4 (64/128/256/512, strides 1/2/2/2)
// -> avg_pool2d(4) (ResNet) or identity (ResNet_AP) -> flatten -> Linear.
class ResNet : public NetImpl {
 public:
  ResNet(const ResNetConfig& config, const ImageShape& shape, int64_t num_classes);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor embed(torch::Tensor x) override;
  std::pair<torch::Tensor, torch::Tensor> feature_map_and_logits(torch::Tensor x) override;
  bool has_batchnorm() const override { return config_.batchnorm; }
  int64_t feature_dim() const { return feature_dim_; }

 private:
  ResNetConfig config_;
  int64_t feature_dim_ = 0;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::AnyModule bn1_;
  std::vector<torch::nn::Sequential> layers_;
  torch::nn::Linear classifier_{nullptr};
};

// ---------------------------------------------------------------- ResNetAP (IDC, models/resnet_ap.py)
// IDC's (snu-mllab/Efficient-Dataset-Condensation) ResNetAP with instance norm = GroupNorm(C, C): every
// conv stride 1 without bias, downsampling by average pooling. Submodule names follow the reference
// state_dict ("layer0.conv1.weight", "layer2.0.downsample.0.weight", "fc.bias"). Facts and line
// numbers: harness/nets/resnet_ap.cpp.
class ResNetAPBlockImpl : public torch::nn::Module {
 public:
  ResNetAPBlockImpl(int64_t in_planes, int64_t planes, int64_t stride);
  torch::Tensor forward(torch::Tensor x);

 private:
  int64_t stride_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::AnyModule bn1_;
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::AnyModule bn2_;
  torch::nn::Sequential downsample_{nullptr};  // null: identity
};
TORCH_MODULE(ResNetAPBlock);

struct ResNetAPConfig {
  std::vector<int64_t> blocks{1, 1, 1, 1};  // depth 10
  // false: the reference's ImageNet branch (stage widths 64/128/256/512 x width, stem chosen by the
  // image side: <= 64 'small', <= 128 'mid', else 'large'); true: its CIFAR branch (dataset name
  // 'cifar*': stage widths 32/64/128/256, 'small' stem whatever the size).
  bool cifar = false;
  double width = 1.0;  // ImageNet branch only
};

// layer0 (stem: conv -> norm -> relu [-> AvgPool2d]) -> layer1..4 -> avg_pool2d(kernel = map width)
// -> flatten -> fc.
class ResNetAP : public NetImpl {
 public:
  ResNetAP(const ResNetAPConfig& config, const ImageShape& shape, int64_t num_classes);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor embed(torch::Tensor x) override;
  std::pair<torch::Tensor, torch::Tensor> feature_map_and_logits(torch::Tensor x) override;
  int64_t feature_dim() const { return feature_dim_; }

 private:
  torch::Tensor features(torch::Tensor x);  // output of layer4
  static torch::Tensor global_pool(const torch::Tensor& map);

  int64_t stem_pool_ = 0;  // 0: none ('small'), 2 ('mid'), 4 ('large')
  int64_t feature_dim_ = 0;
  torch::nn::Conv2d stem_conv_{nullptr};  // layer0.conv1
  torch::nn::AnyModule stem_norm_;         // layer0.bn1
  std::vector<torch::nn::Sequential> layers_;
  torch::nn::Linear fc_{nullptr};
};

// ---------------------------------------------------------------- VGG
// cfg entries: channel count, or kMaxPool.
class VGG : public NetImpl {
 public:
  static constexpr int64_t kMaxPool = -1;
  static std::vector<int64_t> cfg_vgg11();
  VGG(const std::vector<int64_t>& cfg, bool batchnorm, const ImageShape& shape, int64_t num_classes);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor embed(torch::Tensor x) override;
  bool has_batchnorm() const override { return batchnorm_; }

 private:
  bool batchnorm_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};

// ---------------------------------------------------------------- AlexNet / AlexNetBN
class AlexNet : public NetImpl {
 public:
  AlexNet(bool batchnorm, const ImageShape& shape, int64_t num_classes);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor embed(torch::Tensor x) override;
  bool has_batchnorm() const override { return batchnorm_; }

 private:
  bool batchnorm_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

// ---------------------------------------------------------------- AlexCifarNet
// The CIFAR AlexNet of Dataset Distillation (Wang et al. 2018) and of LD (Bohdal et al. 2020,
// model_architectures.py AlexCifarNet): conv5(64)-ReLU-maxpool(3,2,1)-LRN(4)-conv5(64)-ReLU-LRN(4)-
// maxpool(3,2,1)-FC384-ReLU-FC192-ReLU-FC, LRN alpha 0.001/9, beta 0.75, k 1. The "AlexNet" those
// papers' numbers come from, not DC's AlexNet above.
class AlexCifarNet : public NetImpl {
 public:
  AlexCifarNet(const ImageShape& shape, int64_t num_classes);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor embed(torch::Tensor x) override;  // relu(fc2(relu(fc1(features)))), 192-d

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr}, fc3_{nullptr};
};

// ---------------------------------------------------------------- LeNet
class LeNet : public NetImpl {
 public:
  LeNet(const ImageShape& shape, int64_t num_classes);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor embed(torch::Tensor x) override;  // relu(fc_2(relu(fc_1(features)))), 84-d

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear fc_1_{nullptr}, fc_2_{nullptr}, fc_3_{nullptr};
};

// ---------------------------------------------------------------- MLP
class MLP : public NetImpl {
 public:
  MLP(const ImageShape& shape, int64_t num_classes);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor embed(torch::Tensor x) override;  // relu(fc_2(relu(fc_1(x)))), 128-d

 private:
  torch::nn::Linear fc_1_{nullptr}, fc_2_{nullptr}, fc_3_{nullptr};
};

}  // namespace ddb::nets
