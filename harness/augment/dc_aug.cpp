// DC evaluation augmentation: see dc_aug.h. Facts follow VICO-UoE/DatasetCondensation utils.py
// (`augment`, `get_daparam`); the reference loops over images, we vectorise each op over the
// images that chose it.
#include "harness/augment/dc_aug.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <vector>

#include "harness/types.h"

namespace ddb {
namespace {

constexpr double kPi = 3.14159265358979323846;

// out[n, c, p] = x[n, c, src[n, p]] for src >= 0, fill[c] where src < 0. x: n x C x H x W,
// src: n x H x W int64 (any device), fill: [C].
torch::Tensor remap(const torch::Tensor& x, const torch::Tensor& src, const torch::Tensor& fill) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), hw = h * w;
  auto ext = torch::cat({x.reshape({n, c, hw}), fill.to(x.options()).reshape({1, c, 1}).expand({n, c, 1})}, 2);
  auto s = src.to(x.device()).reshape({n, 1, hw});
  auto idx = torch::where(s < 0, torch::full_like(s, hw), s).expand({n, c, hw});
  return ext.gather(2, idx).reshape({n, c, h, w});
}

// Pad `crop` px with the channel means, crop an H x W window at offsets in [0, 2*crop).
torch::Tensor crop_op(const torch::Tensor& x, const torch::Tensor& mean_c, int64_t crop) {
  if (crop <= 0) return x;
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  auto r = torch::randint(0, 2 * crop, {n, 1, 1}, torch::kLong) - crop;
  auto c = torch::randint(0, 2 * crop, {n, 1, 1}, torch::kLong) - crop;
  auto rows = torch::arange(h, torch::kLong).reshape({1, h, 1}) + r;
  auto cols = torch::arange(w, torch::kLong).reshape({1, 1, w}) + c;
  auto valid = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w);
  auto src = torch::where(valid, rows * w + cols, torch::full({1}, -1, torch::kLong));
  return remap(x, src, mean_c);
}

// PyTorch's legacy 'nearest' source index (F.interpolate default mode).
int64_t nearest_src(int64_t dst, int64_t in, int64_t out) {
  if (out == in) return dst;
  if (out == 2 * in) return dst >> 1;
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  return std::min(static_cast<int64_t>(std::floor(static_cast<float>(dst) * scale)), in - 1);
}

// Nearest resize to h x w (each drawn from H), centred on a zero canvas of max(h, w, H, W),
// centre crop back to H x W.
torch::Tensor scale_op(const torch::Tensor& x, double scale) {
  const int64_t n = x.size(0), H = x.size(2), W = x.size(3);
  auto u = torch::rand({n, 2}, torch::kDouble);
  auto ua = u.accessor<double, 2>();
  auto rows = torch::empty({n, H, 1}, torch::kLong);
  auto cols = torch::empty({n, 1, W}, torch::kLong);
  auto ra = rows.accessor<int64_t, 3>();
  auto ca = cols.accessor<int64_t, 3>();
  for (int64_t i = 0; i < n; ++i) {
    // The reference draws both sizes from shape[2] (H).
    const int64_t h = std::max<int64_t>(1, static_cast<int64_t>((1 - scale + 2 * scale * ua[i][0]) * H));
    const int64_t w = std::max<int64_t>(1, static_cast<int64_t>((1 - scale + 2 * scale * ua[i][1]) * H));
    const int64_t m = std::max({h, w, H, W});
    const int64_t r_off = (m - H) / 2 - (m - h) / 2;  // canvas row of output row 0, minus paste row
    const int64_t c_off = (m - W) / 2 - (m - w) / 2;
    for (int64_t y = 0; y < H; ++y) {
      const int64_t t = y + r_off;
      ra[i][y][0] = (t >= 0 && t < h) ? nearest_src(t, H, h) : -1;
    }
    for (int64_t xx = 0; xx < W; ++xx) {
      const int64_t t = xx + c_off;
      ca[i][0][xx] = (t >= 0 && t < w) ? nearest_src(t, W, w) : -1;
    }
  }
  auto valid = (rows >= 0) & (cols >= 0);
  auto src = torch::where(valid, rows * W + cols, torch::full({1}, -1, torch::kLong));
  return remap(x, src, torch::zeros({x.size(1)}, x.options()));
}

// Rotation by randint(-deg, deg) degrees about the centre, outside = fill (bilinear).
torch::Tensor rotate_op(const torch::Tensor& x, int64_t deg, double fill) {
  if (deg <= 0) return x;  // np.random.randint(0, 0) would raise; treat as no rotation
  const int64_t n = x.size(0), H = x.size(2), W = x.size(3);
  auto a = torch::randint(-deg, deg, {n}, torch::kLong).to(torch::kDouble) * (kPi / 180.0);
  auto c = torch::cos(a), s = torch::sin(a);
  // Pixel-space rotation expressed in align_corners=False normalised coordinates.
  const double hw = static_cast<double>(H) / W, wh = static_cast<double>(W) / H;
  auto zero = torch::zeros_like(a);
  auto theta = torch::stack({torch::stack({c, -s * hw, zero}, 1), torch::stack({s * wh, c, zero}, 1)}, 1);
  theta = theta.to(x.device(), x.scalar_type());
  auto grid = torch::affine_grid_generator(theta, x.sizes(), /*align_corners=*/false);
  return torch::grid_sampler(x - fill, grid, /*bilinear*/ 0, /*zeros*/ 0, /*align_corners=*/false) + fill;
}

torch::Tensor noise_op(const torch::Tensor& x, double noise) {
  return x + noise * torch::randn(x.sizes(), torch::TensorOptions().dtype(x.scalar_type())).to(x.device());
}

std::vector<std::string> split_ops(const std::string& strategy) {
  std::vector<std::string> ops;
  size_t start = 0;
  while (true) {
    const size_t end = strategy.find('_', start);
    std::string op = strategy.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (op != "crop" && op != "scale" && op != "rotate" && op != "noise")
      throw UserError("DC augmentation strategy '" + strategy + "': unknown op '" + op +
                      "' (valid: crop, scale, rotate, noise)");
    ops.push_back(std::move(op));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return ops;
}

}  // namespace

torch::Tensor dc_augment(const torch::Tensor& x, const std::string& strategy, const DcAugParams& p) {
  if (strategy.empty() || strategy == "none") return x;
  const auto ops = split_ops(strategy);
  TORCH_CHECK(x.dim() == 4 && x.is_floating_point(), "dc_augment expects a floating N x C x H x W tensor");
  torch::NoGradGuard no_grad;
  auto in = x.detach();
  const int64_t n = in.size(0);
  if (n == 0) return in.clone();
  const auto mean_c = in.mean({0, 2, 3});          // per channel over the batch, before any op
  const double fill = mean_c.mean().item<double>();  // np.mean(mean): rotation fill
  auto out = in.clone();
  // One op per image, uniformly (np.random.permutation(augs)[0]).
  auto choice = torch::randint(0, static_cast<int64_t>(ops.size()), {n}, torch::kLong);
  for (size_t k = 0; k < ops.size(); ++k) {
    auto idx = torch::nonzero(choice == static_cast<int64_t>(k)).reshape({-1});
    if (idx.numel() == 0) continue;
    auto idx_d = idx.to(in.device());
    auto sub = in.index_select(0, idx_d);
    const auto& op = ops[k];
    torch::Tensor res;
    if (op == "crop") res = crop_op(sub, mean_c, p.crop);
    else if (op == "scale") res = scale_op(sub, p.scale);
    else if (op == "rotate") res = rotate_op(sub, p.rotate, fill);
    else res = noise_op(sub, p.noise);
    out.index_copy_(0, idx_d, res);
  }
  return out;
}

std::string dc_aug_strategy_for(const std::string& dataset, const std::string& model_eval) {
  if (model_eval == "ConvNetBN") return "crop_noise";
  std::string d = dataset;
  std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) { return std::tolower(c); });
  if (d == "mnist") return "crop_scale_rotate";
  return "none";
}

}  // namespace ddb
