// ResNet10_AP: IDC's ResNetAP (snu-mllab/Efficient-Dataset-Condensation, models/resnet_ap.py at commit
// 086273c, line numbers below), the evaluation net of IDC / GLaD / RDD on ImageNet subsets. Our own code;
// the facts it follows:
//
// * Construction (train.py define_model l.48-55): ResNetAP(dataset, depth, nclass, width, norm_type,
//   size, nch) with argument.py defaults depth 10 (l.115), width 1.0 (l.116), norm_type 'instance'
//   (l.111-112), size 224 (l.97; the RDD cells' data are 128 px, datasets/manifests/rdd.yaml).
// * Norm 'instance' = nn.GroupNorm(C, C) with affine weight/bias (l.37-41); convs carry no bias unless
//   the norm is 'sn'/'none' (conv_stride1 l.9-21), all convs stride 1, padding kernel // 2.
// * Stem IntroBlock (l.49-77), chosen in l.165-170: dataset 'cifar*' or 0 < size <= 64 -> 'small'
//   (conv3x3, norm, relu); 64 < size <= 128 -> 'mid' (conv3x3, norm, relu, AvgPool2d(2, 2));
//   otherwise 'large' (conv7x7 padding 3, norm, relu, AvgPool2d(4, 4)). Here size = the image height.
// * BasicBlock (l.80-113): conv3x3 -> norm -> relu -> [avg_pool2d(stride, stride) when stride != 1]
//   -> conv3x3 -> norm, + residual, relu. Downsample when stride != 1 or in != out (l.225-235):
//   conv1x1 -> AvgPool2d(stride, stride) -> norm.
// * ImageNet branch (l.186-215): depth 10 -> BasicBlock x [1, 1, 1, 1] (l.188, l.197); stage widths
//   nc, 2nc, 4nc, 8nc with nc = int(64 * width), strides 1, 2, 2, 2; fc = Linear(8nc, classes) (l.215:
//   self.inplanes after the last stage). CIFAR branch (dataset 'cifar*', l.173-184): 'small' stem of
//   32 channels, stages 32/64/128/256 with n = int((depth - 2) / 6) = 1 block each, fc = Linear(256).
//   The nn.AvgPool2d(7) / (4) modules of l.183/l.214 are never called.
// * forward (l.251-262): layer0..layer4, F.avg_pool2d(x, x.shape[-1]) (kernel = stride = map width:
//   1x1 on square maps), flatten, fc.
// * Init (l.217-223): every conv weight ~ N(0, sqrt(2 / (k_h * k_w * out_channels))); norm weight 1,
//   bias 0; the Linear keeps PyTorch's default.
//
// Registered as "ResNet10_AP" (ImageNet branch: stem by image side) and "ResNet10_AP_CIFAR" (the
// reference's CIFAR branch, which it selects by dataset name; make_net sees only the shape, so that
// branch has its own name). Parameter counts, 10 classes (tests/nets/test_nets.cpp works them out):
//   ResNet10_AP 3x128x128 ('mid', the RDD cells) 4,903,242; 3x224x224 ('large') 4,910,922;
//   3x32x32 / 3x64x64 ('small') 4,903,242; ResNet10_AP_CIFAR 3x32x32 1,228,970.
#include <cmath>
#include <string>

#include "harness/nets/modules.h"

namespace ddb::nets {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

// conv_stride1: stride 1, padding kernel // 2, no bias (norm 'instance').
nn::Conv2d conv_s1(int64_t in, int64_t out, int64_t kernel) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(1).padding(kernel / 2).bias(false));
}

torch::Tensor avg_pool(const torch::Tensor& x, int64_t k) {
  return F::avg_pool2d(x, F::AvgPool2dFuncOptions(k).stride(k));
}

}  // namespace

ResNetAPBlockImpl::ResNetAPBlockImpl(int64_t in_planes, int64_t planes, int64_t stride) : stride_(stride) {
  conv1_ = register_module("conv1", conv_s1(in_planes, planes, 3));
  bn1_ = make_norm2d(/*batchnorm=*/false, planes);
  register_module("bn1", bn1_.ptr());
  conv2_ = register_module("conv2", conv_s1(planes, planes, 3));
  bn2_ = make_norm2d(/*batchnorm=*/false, planes);
  register_module("bn2", bn2_.ptr());
  if (stride != 1 || in_planes != planes) {
    downsample_ = nn::Sequential();
    downsample_->push_back(conv_s1(in_planes, planes, 1));
    downsample_->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(stride).stride(stride)));
    downsample_->push_back(make_norm2d(/*batchnorm=*/false, planes));
    register_module("downsample", downsample_);
  }
}

torch::Tensor ResNetAPBlockImpl::forward(torch::Tensor x) {
  auto out = torch::relu(bn1_.forward(conv1_->forward(x)));
  if (stride_ != 1) out = avg_pool(out, stride_);
  out = bn2_.forward(conv2_->forward(out));
  out = out + (downsample_ ? downsample_->forward(x) : x);
  return torch::relu(out);
}

ResNetAP::ResNetAP(const ResNetAPConfig& config, const ImageShape& shape, int64_t num_classes) {
  if (config.blocks.size() != 4) throw UserError("ResNetAP: expected 4 stages");
  const int64_t size = shape.height;
  int64_t stem_kernel = 3;
  if (config.cifar || size <= 64) {
    stem_pool_ = 0;  // 'small'
  } else if (size <= 128) {
    stem_pool_ = 2;  // 'mid'
  } else {
    stem_pool_ = 4;  // 'large'
    stem_kernel = 7;
  }
  const int64_t nc = config.cifar ? 32 : static_cast<int64_t>(64 * config.width);
  if (nc < 1) throw UserError("ResNetAP: width too small");

  auto layer0 = std::make_shared<nn::Module>();
  stem_conv_ = layer0->register_module("conv1", conv_s1(shape.channels, nc, stem_kernel));
  stem_norm_ = make_norm2d(/*batchnorm=*/false, nc);
  layer0->register_module("bn1", stem_norm_.ptr());
  register_module("layer0", layer0);

  int64_t h = stem_pool_ ? shape.height / stem_pool_ : shape.height;
  int64_t w = stem_pool_ ? shape.width / stem_pool_ : shape.width;
  int64_t in_planes = nc;
  for (int i = 0; i < 4; ++i) {
    const int64_t planes = nc << i;
    const int64_t stride = i == 0 ? 1 : 2;
    nn::Sequential layer;
    for (int64_t b = 0; b < config.blocks[i]; ++b) {
      layer->push_back(ResNetAPBlock(in_planes, planes, b == 0 ? stride : 1));
      in_planes = planes;
    }
    if (stride != 1) {
      h /= stride;
      w /= stride;
    }
    layers_.push_back(register_module("layer" + std::to_string(i + 1), layer));
  }
  // F.avg_pool2d(x, x.shape[-1]): kernel = stride = the map's width.
  const int64_t pooled_h = w < 1 ? 0 : h / w;
  if (h < 1 || w < 1 || pooled_h < 1) {
    throw UserError("ResNetAP needs a larger input than " + std::to_string(shape.height) + "x" +
                    std::to_string(shape.width));
  }
  feature_dim_ = in_planes * pooled_h;
  fc_ = register_module("fc", nn::Linear(feature_dim_, num_classes));

  // The reference's re-initialisation: convs N(0, sqrt(2 / (k*k*out))); GroupNorm 1 / 0 already.
  torch::NoGradGuard no_grad;
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = dynamic_cast<nn::Conv2dImpl*>(m.get())) {
      const auto& wt = conv->weight;  // [out, in, k_h, k_w]
      const double n = static_cast<double>(wt.size(0) * wt.size(2) * wt.size(3));
      conv->weight.normal_(0.0, std::sqrt(2.0 / n));
    }
  }
}

torch::Tensor ResNetAP::features(torch::Tensor x) {
  auto out = torch::relu(stem_norm_.forward(stem_conv_->forward(x)));
  if (stem_pool_) out = avg_pool(out, stem_pool_);
  for (auto& layer : layers_) out = layer->forward(out);
  return out;
}

torch::Tensor ResNetAP::global_pool(const torch::Tensor& map) { return avg_pool(map, map.size(-1)); }

torch::Tensor ResNetAP::embed(torch::Tensor x) { return global_pool(features(x)).flatten(1); }

torch::Tensor ResNetAP::forward(torch::Tensor x) { return fc_->forward(embed(x)); }

std::pair<torch::Tensor, torch::Tensor> ResNetAP::feature_map_and_logits(torch::Tensor x) {
  auto map = features(x);
  return {map, fc_->forward(global_pool(map).flatten(1))};
}

}  // namespace ddb::nets
