// DSA: see dsa.h. Facts follow VICO-UoE/DatasetCondensation utils.py (ParamDiffAug, DiffAugment,
// set_seed_DiffAug, rand_*); the code is our own.
#include "harness/augment/dsa.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "harness/types.h"

namespace ddb {
namespace {

// Where every random parameter comes from. Siamese (seed >= 0): a private CPU generator re-seeded
// with seed, seed+1, ... before every draw (the reference's set_seed_DiffAug schedule, without
// touching the global RNG), one value per draw (the reference draws N and keeps element 0, which
// is the same value: CPU draws are serial). Per-sample (seed < 0): N values from the global RNG.
class Draws {
 public:
  Draws(int64_t seed, int64_t n) : seed_(seed), n_(n) {}
  bool siamese() const { return seed_ >= 0; }
  int64_t count() const { return siamese() ? 1 : n_; }

  // U[0, 1), shape [count()], CPU.
  torch::Tensor uniform(torch::ScalarType dtype) {
    auto opts = torch::TensorOptions().dtype(dtype);
    if (siamese()) return torch::rand({1}, next_generator(), opts);
    return torch::rand({n_}, opts);
  }
  // Integers in [low, high), int64, shape [count()], CPU.
  torch::Tensor randint(int64_t low, int64_t high) {
    auto opts = torch::TensorOptions().dtype(torch::kLong);
    if (siamese()) return torch::randint(low, high, {1}, next_generator(), opts);
    return torch::randint(low, high, {n_}, opts);
  }
  // One integer in [0, high) for the whole batch (the group choice).
  int64_t choice(int64_t high) {
    auto opts = torch::TensorOptions().dtype(torch::kLong);
    if (siamese()) return torch::randint(0, high, {1}, next_generator(), opts).item<int64_t>();
    return torch::randint(0, high, {1}, opts).item<int64_t>();
  }

 private:
  at::Generator next_generator() {
    // Available in LibTorch 1.13 and 2.x (ATen/CPUGeneratorImpl.h).
    return at::detail::createCPUGenerator(static_cast<uint64_t>(seed_++));
  }
  int64_t seed_;
  int64_t n_;
};

// Dtype of the colour draws: the reference draws them in x.dtype.
torch::ScalarType draw_dtype(const torch::Tensor& x) {
  auto t = x.scalar_type();
  return (t == torch::kFloat || t == torch::kDouble) ? t : torch::kFloat;
}

torch::Tensor as_param(const torch::Tensor& r, const torch::Tensor& x) {
  return r.to(x.device(), x.scalar_type()).reshape({-1, 1, 1, 1});
}

torch::Tensor apply_color(const torch::Tensor& x, Draws& d, const DsaParams& p) {
  auto dt = draw_dtype(x);
  auto y = dsa::brightness(x, d.uniform(dt), p.brightness);
  y = dsa::saturation(y, d.uniform(dt), p.saturation);  // drawn even when C == 1 (seed schedule)
  return dsa::contrast(y, d.uniform(dt), p.contrast);
}

torch::Tensor apply_crop(const torch::Tensor& x, Draws& d, const DsaParams& p) {
  const int64_t sx = static_cast<int64_t>(x.size(2) * p.ratio_crop_pad + 0.5);
  const int64_t sy = static_cast<int64_t>(x.size(3) * p.ratio_crop_pad + 0.5);
  auto tx = d.randint(-sx, sx + 1);
  auto ty = d.randint(-sy, sy + 1);
  return dsa::crop(x, tx, ty);
}

torch::Tensor apply_cutout(const torch::Tensor& x, Draws& d, const DsaParams& p) {
  const int64_t ch = static_cast<int64_t>(x.size(2) * p.ratio_cutout + 0.5);
  const int64_t cw = static_cast<int64_t>(x.size(3) * p.ratio_cutout + 0.5);
  auto ox = d.randint(0, x.size(2) + (1 - ch % 2));
  auto oy = d.randint(0, x.size(3) + (1 - cw % 2));
  return dsa::cutout(x, ox, oy, ch, cw);
}

torch::Tensor apply_flip(const torch::Tensor& x, Draws& d, const DsaParams& p) {
  return dsa::flip(x, d.uniform(torch::kFloat) < p.prob_flip);
}

constexpr double kPi = 3.14159265358979323846;  // float(np.pi)

// theta[:, i, j] of a k x 2 x 3 tensor (a view).
torch::Tensor entry(torch::Tensor& theta, int64_t i, int64_t j) { return theta.select(1, i).select(1, j); }

torch::Tensor apply_scale(const torch::Tensor& x, Draws& d, const DsaParams& p) {
  const double r = p.ratio_scale;
  // Same float32 op sequence as the reference: rand * (r - 1/r) + 1/r.
  auto sx = d.uniform(torch::kFloat) * (r - 1.0 / r) + 1.0 / r;
  auto sy = d.uniform(torch::kFloat) * (r - 1.0 / r) + 1.0 / r;
  auto theta = torch::zeros({sx.size(0), 2, 3}, torch::kFloat);  // [[sx, 0, 0], [0, sy, 0]]
  entry(theta, 0, 0).copy_(sx);
  entry(theta, 1, 1).copy_(sy);
  return dsa::affine(x, theta);
}

torch::Tensor apply_rotate(const torch::Tensor& x, Draws& d, const DsaParams& p) {
  // (rand - 0.5) * 2 * ratio / 180 * pi, in float32 like the reference; positive = anticlockwise.
  auto t = (d.uniform(torch::kFloat) - 0.5) * 2 * p.ratio_rotate / 180 * kPi;
  auto theta = torch::zeros({t.size(0), 2, 3}, torch::kFloat);  // [[cos, -sin, 0], [sin, cos, 0]]
  entry(theta, 0, 0).copy_(torch::cos(t));
  entry(theta, 0, 1).copy_(torch::sin(-t));
  entry(theta, 1, 0).copy_(torch::sin(t));
  entry(theta, 1, 1).copy_(torch::cos(t));
  return dsa::affine(x, theta);
}

using GroupFn = torch::Tensor (*)(const torch::Tensor&, Draws&, const DsaParams&);

std::optional<GroupFn> group_fn(const std::string& g) {
  if (g == "color") return &apply_color;
  if (g == "crop") return &apply_crop;
  if (g == "cutout") return &apply_cutout;
  if (g == "flip") return &apply_flip;
  if (g == "scale") return &apply_scale;
  if (g == "rotate") return &apply_rotate;
  return std::nullopt;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

namespace dsa {

torch::Tensor brightness(const torch::Tensor& x, const torch::Tensor& r, double ratio) {
  return x + (as_param(r, x) - 0.5) * ratio;
}

torch::Tensor saturation(const torch::Tensor& x, const torch::Tensor& r, double ratio) {
  // The reference computes (x - x) * s + x for one channel, which is exactly x.
  if (x.size(1) == 1) return x;
  auto m = x.mean(1, /*keepdim=*/true);
  return (x - m) * (as_param(r, x) * ratio) + m;
}

torch::Tensor contrast(const torch::Tensor& x, const torch::Tensor& r, double ratio) {
  auto m = x.mean({1, 2, 3}, /*keepdim=*/true);
  return (x - m) * (as_param(r, x) + ratio) + m;
}

torch::Tensor crop(const torch::Tensor& x, const torch::Tensor& tx, const torch::Tensor& ty) {
  TORCH_CHECK(x.dim() == 4, "dsa::crop expects N x C x H x W");
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  auto lopt = torch::TensorOptions().dtype(torch::kLong).device(x.device());
  auto txd = tx.to(lopt).reshape({-1, 1, 1});
  auto tyd = ty.to(lopt).reshape({-1, 1, 1});
  // Indices into the image zero-padded by one pixel; clamping lands outside pixels on the pad.
  auto rows = (torch::arange(h, lopt).reshape({1, h, 1}) + txd + 1).clamp(0, h + 1);
  auto cols = (torch::arange(w, lopt).reshape({1, 1, w}) + tyd + 1).clamp(0, w + 1);
  auto idx = (rows * (w + 2) + cols).reshape({-1, 1, h * w}).expand({n, c, h * w});
  auto padded = torch::constant_pad_nd(x, {1, 1, 1, 1}, 0).reshape({n, c, (h + 2) * (w + 2)});
  return padded.gather(2, idx).reshape({n, c, h, w});
}

torch::Tensor cutout(const torch::Tensor& x, const torch::Tensor& ox, const torch::Tensor& oy,
                     int64_t size_h, int64_t size_w) {
  TORCH_CHECK(x.dim() == 4, "dsa::cutout expects N x C x H x W");
  if (size_h <= 0 || size_w <= 0) return x;
  const int64_t h = x.size(2), w = x.size(3);
  auto lopt = torch::TensorOptions().dtype(torch::kLong).device(x.device());
  // The reference zeroes clamp(o - size/2 + k, 0, dim-1) for k < size: a clipped interval.
  auto r0 = (ox.to(lopt) - size_h / 2).reshape({-1, 1, 1, 1});
  auto c0 = (oy.to(lopt) - size_w / 2).reshape({-1, 1, 1, 1});
  auto rows = torch::arange(h, lopt).reshape({1, 1, h, 1});
  auto cols = torch::arange(w, lopt).reshape({1, 1, 1, w});
  auto inside = (rows >= r0.clamp(0, h - 1)) & (rows <= (r0 + size_h - 1).clamp(0, h - 1)) &
                (cols >= c0.clamp(0, w - 1)) & (cols <= (c0 + size_w - 1).clamp(0, w - 1));
  return x * inside.logical_not().to(x.scalar_type());
}

torch::Tensor flip(const torch::Tensor& x, const torch::Tensor& do_flip) {
  auto m = do_flip.to(x.device(), torch::kBool).reshape({-1, 1, 1, 1});
  return torch::where(m, x.flip({3}), x);
}

torch::Tensor affine(const torch::Tensor& x, const torch::Tensor& theta) {
  TORCH_CHECK(x.dim() == 4, "dsa::affine expects N x C x H x W");
  auto th = theta.to(x.device(), x.scalar_type()).expand({x.size(0), 2, 3}).contiguous();
  auto grid = torch::affine_grid_generator(th, x.sizes(), /*align_corners=*/false);
  // interpolation_mode 0 = bilinear, padding_mode 0 = zeros.
  return torch::grid_sampler(x, grid, /*interpolation_mode=*/0, /*padding_mode=*/0,
                             /*align_corners=*/false);
}

}  // namespace dsa

Dsa::Dsa(std::string strategy, DsaParams params, DsaComposition composition)
    : strategy_(std::move(strategy)), p_(params), composition_(composition) {
  if (strategy_.empty() || strategy_ == "none" || strategy_ == "None") return;
  size_t start = 0;
  while (true) {
    const size_t end = strategy_.find('_', start);
    std::string g = strategy_.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!group_fn(g))
      throw UserError("DSA strategy '" + strategy_ + "': unknown group '" + g +
                      "' (valid: color, crop, cutout, flip, scale, rotate)");
    groups_.push_back(std::move(g));
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

torch::Tensor Dsa::operator()(const torch::Tensor& x, int64_t siamese_seed) const {
  if (groups_.empty()) return x;
  TORCH_CHECK(x.dim() == 4, "DSA expects an N x C x H x W tensor, got ", x.sizes());
  TORCH_CHECK(x.is_floating_point(), "DSA expects a floating tensor");
  Draws d(siamese_seed, x.size(0));
  if (composition_ == DsaComposition::Idc) {
    // IDC's DiffAug: flip, color, one of the rest, cutout; in batch mode one parameter set for the batch.
    const auto has = [this](const char* g) { return std::find(groups_.begin(), groups_.end(), g) != groups_.end(); };
    torch::Tensor y = x;
    if (has("flip")) y = apply_flip(y, d, p_);
    if (has("color")) y = apply_color(y, d, p_);
    std::vector<std::string> rest;
    for (const auto& g : groups_)
      if (g != "flip" && g != "color" && g != "cutout") rest.push_back(g);
    if (!rest.empty()) y = (*group_fn(rest[static_cast<size_t>(d.choice(static_cast<int64_t>(rest.size())))]))(y, d, p_);
    if (has("cutout")) y = apply_cutout(y, d, p_);
    return y.contiguous();
  }
  // aug_mode 'S': one group per call (the draw happens even for a single group, as in the
  // reference, so the seed schedule of the ops stays aligned).
  const int64_t g = d.choice(static_cast<int64_t>(groups_.size()));
  return (*group_fn(groups_[static_cast<size_t>(g)]))(x, d, p_).contiguous();
}

std::string Dsa::default_strategy_for(const std::string& dataset) {
  const std::string d = lower(dataset);
  if (d == "mnist" || d == "svhn") return "color_crop_cutout_scale_rotate";
  return "color_crop_cutout_flip_scale_rotate";
}

}  // namespace ddb
