// ResNet18 / ResNet18BN (networks.py ResNet + BasicBlock) and ResNet18_AP / ResNet18BN_AP
// (ResNet_AP + BasicBlock_AP: stride-2 convs replaced by stride-1 conv + AvgPool2d(2, 2)).
#include <string>

#include "harness/nets/modules.h"

namespace ddb::nets {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

nn::Conv2d conv_no_bias(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false));
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride, bool batchnorm,
                               bool avgpool_downsample)
    : stride_(stride), avgpool_downsample_(avgpool_downsample) {
  // Registration order (conv1, bn1, conv2, bn2, shortcut) and names follow the reference.
  const int64_t conv1_stride = avgpool_downsample ? 1 : stride;
  conv1_ = register_module("conv1", conv_no_bias(in_planes, planes, 3, conv1_stride, 1));
  bn1_ = make_norm2d(batchnorm, planes);
  register_module("bn1", bn1_.ptr());
  conv2_ = register_module("conv2", conv_no_bias(planes, planes, 3, 1, 1));
  bn2_ = make_norm2d(batchnorm, planes);
  register_module("bn2", bn2_.ptr());
  if (stride != 1 || in_planes != planes) {  // expansion = 1
    shortcut_ = nn::Sequential();
    if (avgpool_downsample) {
      shortcut_->push_back(conv_no_bias(in_planes, planes, 1, 1, 0));
      shortcut_->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(2)));
    } else {
      shortcut_->push_back(conv_no_bias(in_planes, planes, 1, stride, 0));
    }
    shortcut_->push_back(make_norm2d(batchnorm, planes));
    register_module("shortcut", shortcut_);
  }
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  auto out = torch::relu(bn1_.forward(conv1_->forward(x)));
  if (avgpool_downsample_ && stride_ != 1) out = F::avg_pool2d(out, F::AvgPool2dFuncOptions(2).stride(2));
  out = bn2_.forward(conv2_->forward(out));
  out = out + (shortcut_ ? shortcut_->forward(x) : x);
  return torch::relu(out);
}

ResNet::ResNet(const ResNetConfig& config, const ImageShape& shape, int64_t num_classes) : config_(config) {
  if (config.blocks.size() != 4) throw UserError("ResNet: expected 4 stages");
  conv1_ = register_module("conv1", conv_no_bias(shape.channels, 64, 3, 1, 1));
  bn1_ = make_norm2d(config.batchnorm, 64);
  register_module("bn1", bn1_.ptr());

  int64_t h = conv_out(shape.height, 3, 1, 1);
  int64_t w = conv_out(shape.width, 3, 1, 1);
  const int64_t planes[4] = {64, 128, 256, 512};
  const int64_t strides[4] = {1, 2, 2, 2};
  int64_t in_planes = 64;
  for (int i = 0; i < 4; ++i) {
    nn::Sequential layer;
    for (int64_t b = 0; b < config.blocks[i]; ++b) {
      const int64_t stride = b == 0 ? strides[i] : 1;
      layer->push_back(BasicBlock(in_planes, planes[i], stride, config.batchnorm, config.avgpool_downsample));
      in_planes = planes[i];
      if (stride != 1) {
        // BasicBlock: conv3x3 stride 2 padding 1 (the 1x1 stride-2 shortcut gives the same size);
        // BasicBlock_AP: avg_pool2d(2, 2).
        h = config.avgpool_downsample ? h / 2 : conv_out(h, 3, stride, 1);
        w = config.avgpool_downsample ? w / 2 : conv_out(w, 3, stride, 1);
      }
    }
    layers_.push_back(register_module("layer" + std::to_string(i + 1), layer));
  }
  if (!config.avgpool_downsample) {  // F.avg_pool2d(out, 4)
    h /= 4;
    w /= 4;
  }  // ResNet_AP: F.avg_pool2d(out, kernel_size=1, stride=1), an identity
  if (h < 1 || w < 1) {
    throw UserError("ResNet needs a larger input than " + std::to_string(shape.height) + "x" +
                    std::to_string(shape.width));
  }
  // Reference: Linear(512) for ResNet (1x1 after the pool on 28/32 px) and Linear(512*3*3 if
  // channel == 1 else 512*4*4) for ResNet_AP (28 px -> 3x3, 32 px -> 4x4).
  feature_dim_ = in_planes * h * w;
  classifier_ = register_module("classifier", nn::Linear(feature_dim_, num_classes));
}

torch::Tensor ResNet::embed(torch::Tensor x) {
  auto out = torch::relu(bn1_.forward(conv1_->forward(x)));
  for (auto& layer : layers_) out = layer->forward(out);
  if (!config_.avgpool_downsample) out = F::avg_pool2d(out, F::AvgPool2dFuncOptions(4).stride(4));
  return out.flatten(1);
}

torch::Tensor ResNet::forward(torch::Tensor x) { return classifier_->forward(embed(x)); }

std::pair<torch::Tensor, torch::Tensor> ResNet::feature_map_and_logits(torch::Tensor x) {
  auto map = torch::relu(bn1_.forward(conv1_->forward(x)));
  for (auto& layer : layers_) map = layer->forward(map);
  auto out = config_.avgpool_downsample ? map : F::avg_pool2d(map, F::AvgPool2dFuncOptions(4).stride(4));
  return {map, classifier_->forward(out.flatten(1))};
}

}  // namespace ddb::nets
