// ConvNet, the default backbone of the dataset-distillation literature (networks.py ConvNet with
// utils.py get_default_convnet_setting()), and the norm helper shared by the other nets.
#include <string>

#include "harness/nets/fused_block.h"
#include "harness/nets/modules.h"

namespace ddb::nets {

namespace nn = torch::nn;

nn::AnyModule make_norm2d(bool batchnorm, int64_t channels) {
  if (batchnorm) return nn::AnyModule(nn::BatchNorm2d(nn::BatchNorm2dOptions(channels).affine(true)));
  return nn::AnyModule(nn::GroupNorm(nn::GroupNormOptions(channels, channels).affine(true)));
}

namespace {

nn::AnyModule make_activation(Act act) {
  switch (act) {
    case Act::Sigmoid:
      return nn::AnyModule(nn::Sigmoid());
    case Act::ReLU:
      return nn::AnyModule(nn::ReLU());
    case Act::LeakyReLU:
      return nn::AnyModule(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.01)));
    case Act::Swish:  // the reference's Swish: x * sigmoid(x), i.e. SiLU
      return nn::AnyModule(nn::SiLU());
  }
  throw std::logic_error("ConvNet: unhandled activation");
}

// The norm after a conv whose output is [channels, h, w].
nn::AnyModule make_norm(Norm norm, int64_t channels, int64_t h, int64_t w) {
  switch (norm) {
    case Norm::BatchNorm:
      return make_norm2d(/*batchnorm=*/true, channels);
    case Norm::InstanceNorm:  // the reference's 'instancenorm' is GroupNorm(C, C), not InstanceNorm2d
      return make_norm2d(/*batchnorm=*/false, channels);
    case Norm::GroupNorm:
      return nn::AnyModule(nn::GroupNorm(nn::GroupNormOptions(4, channels).affine(true)));
    case Norm::LayerNorm:
      return nn::AnyModule(nn::LayerNorm(nn::LayerNormOptions({channels, h, w}).elementwise_affine(true)));
    case Norm::None:
      break;
  }
  throw std::logic_error("ConvNet: no norm module for Norm::None");
}

nn::AnyModule make_pool(Pool pool) {
  if (pool == Pool::Max) return nn::AnyModule(nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)));
  return nn::AnyModule(nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(2)));
}

}  // namespace

ConvNet::ConvNet(const ConvNetConfig& config, const ImageShape& shape, int64_t num_classes)
    : config_(config) {
  if (config.depth < 1 || config.width < 1) throw UserError("ConvNet: depth and width must be >= 1");
  features_ = nn::Sequential();
  int64_t in_channels = shape.channels;
  int64_t h = shape.height;
  int64_t w = shape.width;
  for (int64_t d = 0; d < config.depth; ++d) {
    // Reference: padding=3 if channel == 1 and d == 0 else 1. A 28x28 one-channel image becomes a
    // 32x32 map here, which is what the reference's `im_size == 28 -> (32, 32)` assumes.
    const int64_t padding = (shape.channels == 1 && d == 0) ? 3 : 1;
    features_->push_back(nn::Conv2d(nn::Conv2dOptions(in_channels, config.width, 3).padding(padding)));
    h = conv_out(h, 3, 1, padding);
    w = conv_out(w, 3, 1, padding);
    if (config.norm != Norm::None) features_->push_back(make_norm(config.norm, config.width, h, w));
    features_->push_back(make_activation(config.act));
    in_channels = config.width;
    if (config.pool != Pool::None) {
      features_->push_back(make_pool(config.pool));
      h /= 2;  // kernel 2, stride 2, floor: the reference's shape_feat //= 2
      w /= 2;
    }
    if (h < 1 || w < 1) {
      throw UserError("ConvNet of depth " + std::to_string(config.depth) + " needs a larger input than " +
                      std::to_string(shape.height) + "x" + std::to_string(shape.width) +
                      " (each block halves the feature map)");
    }
  }
  feature_dim_ = config.width * h * w;
  register_module("features", features_);
  classifier_ = register_module("classifier", nn::Linear(feature_dim_, num_classes));
}

torch::Tensor ConvNet::embed(torch::Tensor x) {
  // The default block (instancenorm, relu, avgpooling) runs its tail as one fused kernel
  // (harness/nets/fused_block.h); the modules and their parameters stay as registered, so names,
  // state dicts and ParamBinding (which rebinds `weight`/`bias`) are unchanged.
  if (config_.norm != Norm::InstanceNorm || config_.act != Act::ReLU || config_.pool != Pool::Avg)
    return features_->forward(x).flatten(1);
  for (int64_t d = 0; d < config_.depth; ++d) {
    x = features_->at<nn::Conv2dImpl>(4 * d).forward(x);
    auto& norm = features_->at<nn::GroupNormImpl>(4 * d + 1);
    x = instance_norm_relu_avgpool(x, norm.weight, norm.bias, norm.options.eps());
  }
  return x.flatten(1);
}

torch::Tensor ConvNet::forward(torch::Tensor x) { return classifier_->forward(embed(x)); }

ConvNet::BlockTrace ConvNet::trace_blocks(torch::Tensor x) {
  // Each block: conv, [norm], activation, [pool] (the constructor above).
  const size_t per_block = 2 + (config_.norm != Norm::None ? 1 : 0) + (config_.pool != Pool::None ? 1 : 0);
  const size_t activation_at = config_.norm != Norm::None ? 2 : 1;
  BlockTrace trace;
  size_t i = 0;
  for (auto& m : *features_) {
    x = m.forward(x);
    if (i++ % per_block == activation_at) trace.activations.push_back(x);
  }
  trace.output = x;
  return trace;
}

std::pair<torch::Tensor, torch::Tensor> ConvNet::feature_map_and_logits(torch::Tensor x) {
  // The last block's pool (if any) is the last module: the map is taken just before it.
  const size_t n = features_->size();
  const size_t before_pool = config_.pool != Pool::None ? n - 1 : n;
  torch::Tensor map;
  size_t i = 0;
  for (auto& m : *features_) {
    if (i++ == before_pool) map = x;
    x = m.forward(x);
  }
  if (!map.defined()) map = x;
  return {map, classifier_->forward(x.flatten(1))};
}

}  // namespace ddb::nets
