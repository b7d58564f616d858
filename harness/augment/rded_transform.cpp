#include "harness/augment/rded_transform.h"

#include "harness/augment/imagenet_transform.h"

namespace ddb {

namespace {

// The strips of `img` along dim 2, shuffled, concatenated (the reference's shuffle_weight).
torch::Tensor shuffle_width(const torch::Tensor& img, int64_t factor) {
  const int64_t w = img.size(2);
  const int64_t tw = w / factor;
  std::vector<torch::Tensor> strips;
  for (int64_t k = 0; k < factor; ++k) {
    const int64_t offset = k * tw;
    strips.push_back(offset != factor - 1 ? img.narrow(2, offset, tw) : img.narrow(2, offset, w - offset));
  }
  const torch::Tensor order = torch::randperm(factor, torch::TensorOptions().dtype(torch::kLong));
  std::vector<torch::Tensor> shuffled;
  for (int64_t k = 0; k < factor; ++k) shuffled.push_back(strips[order[k].item<int64_t>()]);
  return torch::cat(shuffled, 2);
}

}  // namespace

torch::Tensor shuffle_patches(const torch::Tensor& img, int64_t factor) {
  if (factor < 1) throw std::invalid_argument("shuffle_patches: factor must be >= 1");
  const torch::Tensor by_width = shuffle_width(img, factor);
  return shuffle_width(by_width.transpose(1, 2), factor).transpose(1, 2);
}

torch::Tensor rded_transform(const torch::Tensor& x, int64_t factor) {
  torch::NoGradGuard no_grad;
  const int64_t h = x.size(2), w = x.size(3);
  ImagenetTransformParams p;
  p.scale_min = 1.0 / static_cast<double>(factor);
  p.scale_max = 1.0;  // --max-scale-crops default
  std::vector<torch::Tensor> out;
  out.reserve(static_cast<size_t>(x.size(0)));
  for (int64_t i = 0; i < x.size(0); ++i) {
    const torch::Tensor shuffled = shuffle_patches(x[i], factor);
    const ImagenetDraw box = imagenet_aug::crop_box(shuffled.size(1), shuffled.size(2), p, c10::nullopt);
    torch::Tensor img = imagenet_aug::resized_crop(shuffled, box.top, box.left, box.height, box.width, h, w);
    if (torch::rand({1}, torch::TensorOptions().dtype(torch::kDouble)).item<double>() < 0.5) img = img.flip({2});
    out.push_back(img);
  }
  return torch::stack(out).contiguous();
}

}  // namespace ddb
