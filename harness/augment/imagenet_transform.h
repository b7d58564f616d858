// IDC's ImageNet training transform, as its evaluation applies it to a condensed ImageNet set
// (snu-mllab/Efficient-Dataset-Condensation at ceac95a; facts read there, the code is our own):
//   data.py l.269-323 transform_imagenet(augment=True, from_tensor=True, size, rrc=True):
//     Compose(resize_train + aug + normal_fn) with
//     aug = [RandomResizedCrop(size, scale=(0.5, 1.0)) (l.301-305), RandomHorizontalFlip() (l.299),
//            ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4) (l.291),
//            Lighting(alphastd=0.1, eigval, eigvec) (l.292-298)], then Normalize(MEANS/STDS['imagenet'])
//     (l.15-16, 315-316, 320): the augmentation acts on [0, 1] pixels, normalisation comes last.
//     resize_train (l.275-277, Resize(size) + CenterCrop(size)) is the identity on images already of
//     that size; rrc_size = size (l.302-303), so the crop is resized back to the image's own size.
//   test.py l.244-248: the condensed set gets that transform through TensorDataset (data.py l.29-45,
//     per image, each time it is loaded: a fresh draw per image per epoch).
//   condense.py l.38, 521: IDC keeps its synthetic images as [0, 1] pixels (clamped), unnormalised;
//     our sets are stored normalised (the dataset's mean/std), so operator() undoes the normalisation,
//     augments the pixels and normalises again -- the reference's order. No clamping anywhere (test.py
//     l.279-280 leaves it commented out).
//   misc/utils.py l.207-228 Lighting: alpha ~ N(0, alphastd), three values per image;
//     rgb_i = sum_j eigvec[i][j] * alpha_j * eigval_j, added to every pixel of channel i.
//     Eigenvalues (0.2175, 0.0188, 0.0045), eigenvectors data.py l.293-298 (rows = R, G, B).
//   misc/utils.py l.271-289 ColorJitter: Brightness, Contrast, Saturation (each only when its
//     strength is non-zero) in a random order (random.shuffle) per image; each draws
//     alpha ~ U(-var, var) (random.uniform) and returns img.lerp(target, alpha) = (1 - alpha) img +
//     alpha target, with target (l.231-268): Brightness 0 (a factor 1 - alpha in [0.6, 1.4]);
//     Saturation the grey image (l.231-237 Grayscale: 0.299 R + 0.587 G + 0.114 B in all three
//     channels); Contrast the mean of that grey image (one value per image).
//   torchvision (the reference's transforms): RandomResizedCrop ratio default (3/4, 4/3);
//     get_params: 10 attempts of target_area = H W U(scale), aspect = exp(U(log 3/4, log 4/3)),
//     w = round(sqrt(area * aspect)), h = round(sqrt(area / aspect)) (Python round: half to even),
//     accepted when 0 < w <= W and 0 < h <= H, then top ~ randint(0, H - h + 1), left ~ randint(0,
//     W - w + 1); otherwise the centre crop clipped to the ratio range. The crop is resized with
//     bilinear interpolation (align_corners False; antialias irrelevant: crops are never larger than
//     the output). RandomHorizontalFlip: p 0.5, along W.
// IDC's ImageNet evaluation trains with this transform, no DSA (argument.py l.241-244 dsa False,
// not set for imagenet l.297-308; l.453-457 augment = not dsa) and CutMix with mix_p 1.0, beta 1.0
// (argument.py l.138-139; train.py l.200-212) -- the `idc` protocol's augment `imagenet+cutmix`.
#pragma once
#include <torch/torch.h>

#include <array>
#include <vector>

namespace ddb {

struct ImagenetTransformParams {
  double scale_min = 0.5, scale_max = 1.0;       // data.py l.304
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;  // torchvision's default
  double flip_prob = 0.5;                         // RandomHorizontalFlip()
  double brightness = 0.4, contrast = 0.4, saturation = 0.4;  // data.py l.291
  double lighting_std = 0.1;                      // data.py l.292
  std::array<double, 3> eigval = {0.2175, 0.0188, 0.0045};  // data.py l.293
  std::array<std::array<double, 3>, 3> eigvec = {{{-0.5675, 0.7192, 0.4009},    // data.py l.295-297
                                                 {-0.5808, -0.0045, -0.8140},
                                                 {-0.5836, -0.6948, 0.4203}}};
};

// The random parameters of one image.
struct ImagenetDraw {
  int64_t top = 0, left = 0, height = 0, width = 0;  // the crop box, resized back to H x W
  bool flip = false;
  // ColorJitter: the ops in the order applied (0 brightness, 1 contrast, 2 saturation; ops whose
  // strength is 0 are left out) and each op's alpha, indexed by op.
  std::vector<int> jitter_order;
  std::array<double, 3> jitter_alpha = {0, 0, 0};
  std::array<double, 3> lighting_alpha = {0, 0, 0};  // N(0, lighting_std)
};

class ImagenetTransform {
 public:
  // mean/std: the dataset's normalisation (three channels; empty: the images are pixels already).
  ImagenetTransform(std::vector<double> mean, std::vector<double> std, ImagenetTransformParams p = {});

  // Per-image parameters for n images of H x W, drawn on the CPU from `gen` (the global torch
  // generator when none: the protocol seeds it with the run's seed, so runs replay). Draw order:
  // image by image, crop (attempts as torchvision), flip, jitter order, jitter alphas, lighting.
  std::vector<ImagenetDraw> draw(int64_t n, int64_t h, int64_t w, c10::optional<at::Generator> gen = c10::nullopt) const;

  // The transform on [0, 1] pixels [N, 3, H, W] (any device): crop + resize, flip, jitter, lighting.
  torch::Tensor apply_pixels(const torch::Tensor& pixels, const std::vector<ImagenetDraw>& d) const;

  // On normalised images [N, 3, H, W]: undo the normalisation, draw, apply_pixels, normalise. No grad.
  torch::Tensor operator()(const torch::Tensor& x, c10::optional<at::Generator> gen = c10::nullopt) const;

  const ImagenetTransformParams& params() const { return p_; }

 private:
  std::vector<double> mean_, std_;
  ImagenetTransformParams p_;
};

// The pieces, exposed for tests. img: [3, H, W].
namespace imagenet_aug {
// torchvision RandomResizedCrop.get_params with our generator.
ImagenetDraw crop_box(int64_t h, int64_t w, const ImagenetTransformParams& p, c10::optional<at::Generator> gen);
// The crop [top, top + height) x [left, left + width) resized to out_h x out_w (bilinear), of one image
// [C, H, W] or of every image of a batch [N, C, H, W] (one box for all, as torchvision on a 4-D tensor).
torch::Tensor resized_crop(const torch::Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width,
                           int64_t out_h, int64_t out_w);
torch::Tensor grey(const torch::Tensor& img);  // 0.299 R + 0.587 G + 0.114 B, [1, H, W]
// op 0 brightness, 1 contrast, 2 saturation: (1 - alpha) img + alpha target.
torch::Tensor jitter_op(const torch::Tensor& img, int op, double alpha);
// The per-channel offset sum_j eigvec[i][j] alpha_j eigval_j, [3].
std::array<double, 3> lighting_offset(const std::array<double, 3>& alpha, const ImagenetTransformParams& p);
}  // namespace imagenet_aug

}  // namespace ddb
