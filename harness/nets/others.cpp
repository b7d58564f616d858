// VGG11(BN), AlexNet(BN), LeNet and MLP as networks.py defines them, including the one-channel
// padding tricks that turn 28x28 inputs into the 32x32 maps the CIFAR layouts expect.
#include <string>

#include "harness/nets/modules.h"

namespace ddb::nets {

namespace nn = torch::nn;

namespace {

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t padding) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).padding(padding));
}

nn::MaxPool2d max_pool2() { return nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)); }

void require_features(const char* net, const ImageShape& shape, int64_t h, int64_t w) {
  if (h < 1 || w < 1) {
    throw UserError(std::string(net) + " needs a larger input than " + std::to_string(shape.height) + "x" +
                    std::to_string(shape.width));
  }
}

}  // namespace

// ---------------------------------------------------------------- VGG

std::vector<int64_t> VGG::cfg_vgg11() {
  const int64_t M = kMaxPool;
  return {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
}

VGG::VGG(const std::vector<int64_t>& cfg, bool batchnorm, const ImageShape& shape, int64_t num_classes)
    : batchnorm_(batchnorm) {
  features_ = nn::Sequential();
  int64_t in_channels = shape.channels;
  int64_t h = shape.height;
  int64_t w = shape.width;
  for (size_t ic = 0; ic < cfg.size(); ++ic) {
    const int64_t x = cfg[ic];
    if (x == kMaxPool) {
      features_->push_back(max_pool2());
      h /= 2;
      w /= 2;
    } else {
      // Reference: padding=3 if self.channel == 1 and ic == 0 else 1.
      const int64_t padding = (shape.channels == 1 && ic == 0) ? 3 : 1;
      features_->push_back(conv(in_channels, x, 3, padding));
      features_->push_back(make_norm2d(batchnorm, x));
      features_->push_back(nn::ReLU());
      h = conv_out(h, 3, 1, padding);
      w = conv_out(w, 3, 1, padding);
      in_channels = x;
    }
    require_features("VGG", shape, h, w);
  }
  features_->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(1).stride(1)));  // identity, kept for indices
  register_module("features", features_);
  // Reference: Linear(512) (1x1 map on 28/32 px).
  classifier_ = register_module("classifier", nn::Linear(in_channels * h * w, num_classes));
}

torch::Tensor VGG::embed(torch::Tensor x) { return features_->forward(x).flatten(1); }

torch::Tensor VGG::forward(torch::Tensor x) { return classifier_->forward(embed(x)); }

// ---------------------------------------------------------------- AlexNet

AlexNet::AlexNet(bool batchnorm, const ImageShape& shape, int64_t num_classes) : batchnorm_(batchnorm) {
  features_ = nn::Sequential();
  int64_t h = shape.height;
  int64_t w = shape.width;
  struct Layer {
    int64_t in, out, kernel, padding;
    bool pool_after;
  };
  // Reference: first conv padding 4 if channel == 1 else 2 (28 px -> 32 px map, 32 px stays 32).
  const Layer layers[] = {{shape.channels, 128, 5, shape.channels == 1 ? 4 : 2, true},
                          {128, 192, 5, 2, true},
                          {192, 256, 3, 1, false},
                          {256, 192, 3, 1, false},
                          {192, 192, 3, 1, true}};
  for (const auto& l : layers) {
    features_->push_back(conv(l.in, l.out, l.kernel, l.padding));
    if (batchnorm) features_->push_back(nn::BatchNorm2d(l.out));
    features_->push_back(nn::ReLU());
    h = conv_out(h, l.kernel, 1, l.padding);
    w = conv_out(w, l.kernel, 1, l.padding);
    if (l.pool_after) {
      features_->push_back(max_pool2());
      h /= 2;
      w /= 2;
    }
    require_features("AlexNet", shape, h, w);
  }
  register_module("features", features_);
  // Reference: Linear(192 * 4 * 4).
  fc_ = register_module("fc", nn::Linear(192 * h * w, num_classes));
}

torch::Tensor AlexNet::embed(torch::Tensor x) { return features_->forward(x).flatten(1); }

torch::Tensor AlexNet::forward(torch::Tensor x) { return fc_->forward(embed(x)); }

// ---------------------------------------------------------------- AlexCifarNet

AlexCifarNet::AlexCifarNet(const ImageShape& shape, int64_t num_classes) {
  const auto lrn = [] { return nn::LocalResponseNorm(nn::LocalResponseNormOptions(4).alpha(0.001 / 9.0).beta(0.75).k(1.0)); };
  const auto pool = [] { return nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)); };
  features_ = nn::Sequential(conv(shape.channels, 64, 5, 2), nn::ReLU(), pool(), lrn(),  //
                             conv(64, 64, 5, 2), nn::ReLU(), lrn(), pool());
  register_module("features", features_);
  int64_t h = conv_out(conv_out(shape.height, 3, 2, 1), 3, 2, 1);
  int64_t w = conv_out(conv_out(shape.width, 3, 2, 1), 3, 2, 1);
  require_features("AlexCifarNet", shape, h, w);
  // Reference: Linear(4096, 384) = 64 * 8 * 8 at 32 px.
  fc1_ = register_module("fc1", nn::Linear(64 * h * w, 384));
  fc2_ = register_module("fc2", nn::Linear(384, 192));
  fc3_ = register_module("fc3", nn::Linear(192, num_classes));
}

torch::Tensor AlexCifarNet::embed(torch::Tensor x) {
  x = features_->forward(x).flatten(1);
  return torch::relu(fc2_->forward(torch::relu(fc1_->forward(x))));
}

torch::Tensor AlexCifarNet::forward(torch::Tensor x) { return fc3_->forward(embed(x)); }

// ---------------------------------------------------------------- LeNet

LeNet::LeNet(const ImageShape& shape, int64_t num_classes) {
  // Reference: first conv padding 2 if channel == 1 else 0; both 28 and 32 px end at 16x5x5.
  const int64_t padding = shape.channels == 1 ? 2 : 0;
  features_ = nn::Sequential(conv(shape.channels, 6, 5, padding), nn::ReLU(), max_pool2(),  //
                             conv(6, 16, 5, 0), nn::ReLU(), max_pool2());
  register_module("features", features_);
  int64_t h = conv_out(shape.height, 5, 1, padding) / 2;
  int64_t w = conv_out(shape.width, 5, 1, padding) / 2;
  h = conv_out(h, 5, 1, 0) / 2;
  w = conv_out(w, 5, 1, 0) / 2;
  require_features("LeNet", shape, h, w);
  fc_1_ = register_module("fc_1", nn::Linear(16 * h * w, 120));
  fc_2_ = register_module("fc_2", nn::Linear(120, 84));
  fc_3_ = register_module("fc_3", nn::Linear(84, num_classes));
}

torch::Tensor LeNet::embed(torch::Tensor x) {
  auto out = features_->forward(x).flatten(1);
  out = torch::relu(fc_1_->forward(out));
  return torch::relu(fc_2_->forward(out));
}

torch::Tensor LeNet::forward(torch::Tensor x) { return fc_3_->forward(embed(x)); }

// ---------------------------------------------------------------- MLP

MLP::MLP(const ImageShape& shape, int64_t num_classes) {
  // Reference: Linear(28*28*1 if channel == 1 else 32*32*3, 128), i.e. C*H*W for MNIST/CIFAR.
  fc_1_ = register_module("fc_1", nn::Linear(shape.channels * shape.height * shape.width, 128));
  fc_2_ = register_module("fc_2", nn::Linear(128, 128));
  fc_3_ = register_module("fc_3", nn::Linear(128, num_classes));
}

torch::Tensor MLP::embed(torch::Tensor x) {
  auto out = torch::relu(fc_1_->forward(x.flatten(1)));
  return torch::relu(fc_2_->forward(out));
}

torch::Tensor MLP::forward(torch::Tensor x) { return fc_3_->forward(embed(x)); }

}  // namespace ddb::nets
