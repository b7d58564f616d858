// IDC's ImageNet training transform: see imagenet_transform.h. Facts from IDC's data.py /
// misc/utils.py and torchvision's RandomResizedCrop; the code is our own.
#include "harness/augment/imagenet_transform.h"

#include <cmath>

#include "harness/types.h"

namespace ddb {
namespace {

double uniform(const c10::optional<at::Generator>& gen) {
  return torch::rand({1}, gen, torch::TensorOptions().dtype(torch::kDouble)).item<double>();
}

int64_t randint(int64_t lo, int64_t hi, const c10::optional<at::Generator>& gen) {  // [lo, hi)
  return torch::randint(lo, hi, {1}, gen, torch::TensorOptions().dtype(torch::kLong)).item<int64_t>();
}

// Python's round(): half to even (the default rounding mode).
int64_t round_half_even(double v) { return static_cast<int64_t>(std::nearbyint(v)); }

}  // namespace

namespace imagenet_aug {

ImagenetDraw crop_box(int64_t h, int64_t w, const ImagenetTransformParams& p, c10::optional<at::Generator> gen) {
  ImagenetDraw d;
  const double area = static_cast<double>(h * w);
  const double lr0 = std::log(p.ratio_min), lr1 = std::log(p.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (p.scale_min + (p.scale_max - p.scale_min) * uniform(gen));
    const double aspect = std::exp(lr0 + (lr1 - lr0) * uniform(gen));
    const int64_t cw = round_half_even(std::sqrt(target * aspect));
    const int64_t ch = round_half_even(std::sqrt(target / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
      d.top = randint(0, h - ch + 1, gen);
      d.left = randint(0, w - cw + 1, gen);
      d.height = ch;
      d.width = cw;
      return d;
    }
  }
  // torchvision's fallback: the centre crop, clipped to the ratio range.
  const double in_ratio = static_cast<double>(w) / static_cast<double>(h);
  int64_t cw = w, ch = h;
  if (in_ratio < p.ratio_min) {
    ch = round_half_even(static_cast<double>(cw) / p.ratio_min);
  } else if (in_ratio > p.ratio_max) {
    cw = round_half_even(static_cast<double>(ch) * p.ratio_max);
  }
  d.top = (h - ch) / 2;
  d.left = (w - cw) / 2;
  d.height = ch;
  d.width = cw;
  return d;
}

torch::Tensor resized_crop(const torch::Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width,
                           int64_t out_h, int64_t out_w) {
  const torch::Tensor crop = img.narrow(-2, top, height).narrow(-1, left, width);
  if (height == out_h && width == out_w) return crop;
  namespace F = torch::nn::functional;
  const bool one = img.dim() == 3;
  const torch::Tensor out = F::interpolate(one ? crop.unsqueeze(0) : crop, F::InterpolateFuncOptions()
                                                                               .size(std::vector<int64_t>{out_h, out_w})
                                                                               .mode(torch::kBilinear)
                                                                               .align_corners(false));
  return one ? out.squeeze(0) : out;
}

torch::Tensor grey(const torch::Tensor& img) {
  return (img[0] * 0.299 + img[1] * 0.587 + img[2] * 0.114).unsqueeze(0);
}

torch::Tensor jitter_op(const torch::Tensor& img, int op, double alpha) {
  switch (op) {
    case 0: return img * (1.0 - alpha);                                 // Brightness: towards 0
    case 1: return img * (1.0 - alpha) + grey(img).mean() * alpha;      // Contrast: towards the mean grey
    case 2: return img * (1.0 - alpha) + grey(img) * alpha;             // Saturation: towards the grey image
    default: throw UserError("imagenet transform: unknown jitter op " + std::to_string(op));
  }
}

std::array<double, 3> lighting_offset(const std::array<double, 3>& alpha, const ImagenetTransformParams& p) {
  std::array<double, 3> rgb{0, 0, 0};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) rgb[i] += p.eigvec[i][j] * alpha[j] * p.eigval[j];
  return rgb;
}

}  // namespace imagenet_aug

ImagenetTransform::ImagenetTransform(std::vector<double> mean, std::vector<double> std, ImagenetTransformParams p)
    : mean_(std::move(mean)), std_(std::move(std)), p_(p) {
  if (!mean_.empty() && (mean_.size() != 3 || std_.size() != 3))
    throw UserError("imagenet+cutmix: IDC's ImageNet transform needs RGB images (a 3-channel mean/std)");
}

std::vector<ImagenetDraw> ImagenetTransform::draw(int64_t n, int64_t h, int64_t w, c10::optional<at::Generator> gen) const {
  std::vector<ImagenetDraw> out;
  out.reserve(static_cast<size_t>(n));
  std::vector<int> ops;
  if (p_.brightness != 0) ops.push_back(0);
  if (p_.contrast != 0) ops.push_back(1);
  if (p_.saturation != 0) ops.push_back(2);
  const double strength[3] = {p_.brightness, p_.contrast, p_.saturation};
  for (int64_t i = 0; i < n; ++i) {
    ImagenetDraw d = imagenet_aug::crop_box(h, w, p_, gen);
    d.flip = uniform(gen) < p_.flip_prob;
    d.jitter_order.clear();
    if (!ops.empty()) {
      const torch::Tensor perm =
          torch::randperm(static_cast<int64_t>(ops.size()), gen, torch::TensorOptions().dtype(torch::kLong));
      for (int64_t k = 0; k < perm.size(0); ++k) d.jitter_order.push_back(ops[perm[k].item<int64_t>()]);
      for (int op : d.jitter_order) d.jitter_alpha[op] = strength[op] * (2.0 * uniform(gen) - 1.0);  // U(-var, var)
    }
    if (p_.lighting_std != 0) {
      const torch::Tensor a = torch::randn({3}, gen, torch::TensorOptions().dtype(torch::kDouble)) * p_.lighting_std;
      for (int j = 0; j < 3; ++j) d.lighting_alpha[j] = a[j].item<double>();
    }
    out.push_back(std::move(d));
  }
  return out;
}

torch::Tensor ImagenetTransform::apply_pixels(const torch::Tensor& pixels, const std::vector<ImagenetDraw>& draws) const {
  if (pixels.dim() != 4 || pixels.size(1) != 3)
    throw UserError("imagenet+cutmix: IDC's ImageNet transform needs RGB images [N, 3, H, W], got " +
                    c10::str(pixels.sizes()));
  if (static_cast<int64_t>(draws.size()) != pixels.size(0))
    throw UserError("imagenet transform: " + std::to_string(draws.size()) + " draws for " +
                    std::to_string(pixels.size(0)) + " images");
  const int64_t h = pixels.size(2), w = pixels.size(3);
  std::vector<torch::Tensor> out;
  out.reserve(draws.size());
  for (size_t i = 0; i < draws.size(); ++i) {
    const ImagenetDraw& d = draws[i];
    torch::Tensor img = imagenet_aug::resized_crop(pixels[static_cast<int64_t>(i)], d.top, d.left, d.height, d.width, h, w);
    if (d.flip) img = img.flip({2});
    for (int op : d.jitter_order) img = imagenet_aug::jitter_op(img, op, d.jitter_alpha[op]);
    if (p_.lighting_std != 0) {
      const std::array<double, 3> rgb = imagenet_aug::lighting_offset(d.lighting_alpha, p_);
      img = img + torch::tensor({rgb[0], rgb[1], rgb[2]}, torch::TensorOptions().dtype(img.scalar_type()))
                      .view({3, 1, 1})
                      .to(img.device());
    }
    out.push_back(img);
  }
  return torch::stack(out, 0);
}

torch::Tensor ImagenetTransform::operator()(const torch::Tensor& x, c10::optional<at::Generator> gen) const {
  torch::NoGradGuard no_grad;
  if (x.dim() != 4 || x.size(1) != 3)
    throw UserError("imagenet+cutmix: IDC's ImageNet transform needs RGB images [N, 3, H, W], got " + c10::str(x.sizes()));
  const auto opts = torch::TensorOptions().dtype(x.scalar_type()).device(x.device());
  const torch::Tensor mean = mean_.empty() ? torch::zeros({1, 3, 1, 1}, opts) : torch::tensor(mean_, opts).view({1, 3, 1, 1});
  const torch::Tensor sd = std_.empty() ? torch::ones({1, 3, 1, 1}, opts) : torch::tensor(std_, opts).view({1, 3, 1, 1});
  const torch::Tensor pixels = x * sd + mean;
  return (apply_pixels(pixels, draw(x.size(0), x.size(2), x.size(3), gen)) - mean) / sd;
}

}  // namespace ddb
