#include "methods/matching/idm_partition.h"

namespace ddb {

namespace {

namespace F = torch::nn::functional;

torch::Tensor resize_bilinear(const torch::Tensor& x, int64_t h, int64_t w) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{h, w})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

void check_factor(int64_t l, const torch::Tensor& images, const char* what) {
  if (l < 1) throw UserError(std::string(what) + " must be >= 1, got " + std::to_string(l));
  if (images.dim() != 4) throw std::invalid_argument(std::string(what) + ": images must be [N, C, H, W]");
  if (images.size(2) < l || images.size(3) < l)
    throw UserError(std::string(what) + " " + std::to_string(l) + " is larger than the image (" +
                    std::to_string(images.size(2)) + "x" + std::to_string(images.size(3)) + ")");
}

}  // namespace

torch::Tensor partition_expand(const torch::Tensor& images, int64_t l) {
  check_factor(l, images, "partition");
  if (l == 1) return images;
  const int64_t h = images.size(2), w = images.size(3);
  const int64_t th = h / l, tw = w / l;
  std::vector<torch::Tensor> pieces;
  pieces.reserve(l * l);
  for (int64_t col = 0; col < l; ++col)
    for (int64_t row = 0; row < l; ++row)
      pieces.push_back(resize_bilinear(images.narrow(2, row * th, th).narrow(3, col * tw, tw), h, w));
  return torch::cat(pieces, 0);
}

torch::Tensor repeat_labels(const torch::Tensor& labels, int64_t pieces) {
  if (pieces == 1) return labels;
  return labels.dim() == 1 ? labels.repeat({pieces}) : labels.repeat({pieces, 1});
}

torch::Tensor multi_formation_tile(const std::vector<torch::Tensor>& tiles, int64_t factor,
                                   const torch::Tensor& background) {
  check_factor(factor, background, "multi_formation_factor");
  if (static_cast<int64_t>(tiles.size()) != factor * factor)
    throw std::invalid_argument("multi_formation_tile: need factor^2 = " + std::to_string(factor * factor) +
                                " tiles, got " + std::to_string(tiles.size()));
  const int64_t h = background.size(2), w = background.size(3);
  const int64_t th = h / factor, tw = w / factor;
  torch::Tensor out = background.clone();
  torch::NoGradGuard no_grad;
  for (int64_t col = 0; col < factor; ++col)
    for (int64_t row = 0; row < factor; ++row)
      out.narrow(2, row * th, th).narrow(3, col * tw, tw).copy_(resize_bilinear(tiles[col * factor + row], th, tw));
  return out;
}

SyntheticSet multi_formation_decode(const SyntheticSet& stored, int64_t factor) {
  if (factor == 1) return stored;
  SyntheticSet out = stored;
  out.images = partition_expand(stored.images, factor);
  out.labels = repeat_labels(stored.labels, factor * factor);
  return out;
}

}  // namespace ddb
