// KIP's finite ConvNet (see kip_convnet.h).
#include "harness/nets/kip_convnet.h"

#include <cmath>

namespace ddb::nets {

namespace {

constexpr double kWStd = 1.4142135623730951;  // nn_training.ipynb W_std = 2 ** 0.5
constexpr double kBStd = 0.1;                 // b_std

// stax's standard-parameterisation initialisation: N(0, W_std^2 / fan_in) weights, N(0, b_std^2) biases.
void init_like_stax(torch::Tensor weight, torch::Tensor bias, int64_t fan_in) {
  torch::NoGradGuard no_grad;
  weight.normal_(0.0, kWStd / std::sqrt(static_cast<double>(fan_in)));
  bias.normal_(0.0, kBStd);
}

}  // namespace

KipConvNet::KipConvNet(int64_t width, int64_t depth, bool prepend_conv, const ImageShape& shape, int64_t num_classes)
    : prepend_(prepend_conv) {
  int64_t in = shape.channels, h = shape.height, w = shape.width;
  const int64_t convs = depth + (prepend_conv ? 1 : 0);
  for (int64_t i = 0; i < convs; ++i) {
    auto conv = register_module("conv" + std::to_string(i),
                                torch::nn::Conv2d(torch::nn::Conv2dOptions(in, width, 3).padding(1)));
    init_like_stax(conv->weight, conv->bias, in * 9);
    convs_.push_back(conv);
    in = width;
  }
  for (int64_t d = 0; d < depth; ++d) {
    h /= 2;
    w /= 2;
  }
  if (h < 1 || w < 1) throw UserError("KipConvNet: the input is too small for " + std::to_string(depth) + " pools");
  classifier_ = register_module("classifier", torch::nn::Linear(width * h * w, num_classes));
  init_like_stax(classifier_->weight, classifier_->bias, width * h * w);
}

torch::Tensor KipConvNet::embed(torch::Tensor x) {
  size_t i = 0;
  if (prepend_) x = torch::relu(convs_[i++]->forward(x));
  for (; i < convs_.size(); ++i) x = torch::avg_pool2d(torch::relu(convs_[i]->forward(x)), 2);
  return x.flatten(1);
}

torch::Tensor KipConvNet::forward(torch::Tensor x) { return classifier_->forward(embed(x)); }

}  // namespace ddb::nets
