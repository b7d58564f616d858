#include "harness/augment/poe_corruptions.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/errors.h"

namespace ddb {
namespace {

using torch::indexing::Slice;

void check_images(const torch::Tensor& x, const char* what) {
  if (!x.defined() || x.dim() != 4 || !x.is_floating_point())
    throw UserError(std::string(what) + ": expected N x C x H x W floating images in [0,1]");
}

// PIL's BOX coefficients (Resample.c precompute_coeffs with box_filter) as an out x in matrix.
torch::Tensor pil_box_weights(int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double filterscale = std::max(scale, 1.0);
  const double support = 0.5 * filterscale;
  auto w = torch::zeros({out, in}, torch::kDouble);
  auto a = w.accessor<double, 2>();
  for (int64_t xx = 0; xx < out; ++xx) {
    const double center = (xx + 0.5) * scale;
    // (int) truncation as in C; both bounds are >= 0 after the clamp.
    int64_t xmin = static_cast<int64_t>(center - support + 0.5);
    xmin = std::max<int64_t>(xmin, 0);
    int64_t xmax = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in);
    double total = 0;
    for (int64_t x = xmin; x < xmax; ++x) {
      const double t = (x - center + 0.5) / filterscale;
      const double k = (t > -0.5 && t <= 0.5) ? 1.0 : 0.0;
      a[xx][x] = k;
      total += k;
    }
    if (total != 0)
      for (int64_t x = xmin; x < xmax; ++x) a[xx][x] /= total;
  }
  return w;
}

// PIL's 8-bit path: weights in 22-bit fixed point (normalize_coeffs_8bpc), accumulate from one half,
// shift back and clip (clip8). Integer sums stay far below 2^53, so doubles hold them exactly.
constexpr double kPrecision = 4194304.0;  // 1 << PRECISION_BITS, PRECISION_BITS = 32 - 8 - 2
torch::Tensor fixed_point(const torch::Tensor& w) {
  return torch::where(w < 0, torch::trunc(w * kPrecision - 0.5), torch::trunc(w * kPrecision + 0.5));
}
torch::Tensor clip8(const torch::Tensor& acc) {
  return torch::floor((acc + kPrecision / 2) / kPrecision).clamp(0, 255);
}

// One separable resize: rows by wr (out_h x H), columns by wc (out_w x W); horizontal first, as PIL.
torch::Tensor box_resize(const torch::Tensor& x, const torch::Tensor& wr, const torch::Tensor& wc, bool u8) {
  if (!u8) return torch::matmul(torch::matmul(wr, x), wc.t());
  auto h = clip8(torch::matmul(x, fixed_point(wc).t()));
  return clip8(torch::matmul(fixed_point(wr), h));
}

void lowered(std::string& s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
}

void check_generator(const at::Generator& gen, const char* what) {
  if (!gen.defined()) throw UserError(std::string(what) + ": needs a seeded generator (no clock-seeded draws)");
}

torch::Tensor label_in(const torch::Tensor& labels, const std::vector<int64_t>& digits) {
  auto l = labels.to(torch::kCPU, torch::kLong).reshape({-1});
  auto hit = torch::zeros_like(l, torch::kBool);
  for (int64_t d : digits) hit |= l == d;
  return hit;
}

PoeBatch keep_rows(const torch::Tensor& flipped, const torch::Tensor& keep_cpu) {
  auto index = keep_cpu.nonzero().reshape({-1});
  return {flipped.index_select(0, index.to(flipped.device())), index};
}

void check_labels(const torch::Tensor& x, const torch::Tensor& labels) {
  if (!labels.defined() || labels.numel() != x.size(0))
    throw UserError("POE flip: needs one digit label per image");
}

}  // namespace

torch::Tensor poe_jigsaw(const torch::Tensor& x) {
  check_images(x, "POE jigsaw");
  const int64_t H = x.size(2), W = x.size(3);
  if (H % 2 || W % 2 || H < 4 || W < 4)
    throw UserError("POE jigsaw: needs even H and W >= 4, got " + std::to_string(H) + "x" + std::to_string(W));
  const int64_t h = H / 2, w = W / 2, hq = h / 2, wq = w / 2;
  auto sp = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    return x.index({Slice(), Slice(), Slice(r0, r1), Slice(c0, c1)});
  };
  auto top = torch::cat({torch::cat({sp(hq, h, 0, w), sp(0, hq, 0, w)}, 2), sp(h, H, 0, w)}, 3);
  auto bottom = torch::cat({sp(h, H, w, W), torch::cat({sp(0, h, w + wq, W), sp(0, h, w, w + wq)}, 3)}, 3);
  return torch::cat({top, bottom}, 2);
}

torch::Tensor poe_invert(const torch::Tensor& x) {
  check_images(x, "POE invert");
  if (x.size(1) == 1) return 1 - x;
  return torch::cat({x.index({Slice(), Slice(0, 1)}), 1 - x.index({Slice(), Slice(1, torch::indexing::None)})}, 1);
}

torch::Tensor poe_mosaic(const torch::Tensor& x, double ratio, bool quantize_like_pil) {
  check_images(x, "POE mosaic");
  const int64_t H = x.size(2), W = x.size(3);
  // Python's int(32 * 0.2): truncation of the double product.
  const auto sh = static_cast<int64_t>(H * ratio), sw = static_cast<int64_t>(W * ratio);
  if (sh < 1 || sw < 1)
    throw UserError("POE mosaic: ratio " + std::to_string(ratio) + " leaves no pixel of a " + std::to_string(H) +
                    "x" + std::to_string(W) + " image");
  const auto opts = x.options().dtype(torch::kDouble);
  auto down_r = pil_box_weights(H, sh).to(opts.device()), down_c = pil_box_weights(W, sw).to(opts.device());
  auto up_r = pil_box_weights(sh, H).to(opts.device()), up_c = pil_box_weights(sw, W).to(opts.device());
  auto xd = x.to(torch::kDouble);
  if (quantize_like_pil) xd = torch::round(xd.clamp(0, 1) * 255);  // back to the 8-bit image
  auto y = box_resize(box_resize(xd, down_r, down_c, quantize_like_pil), up_r, up_c, quantize_like_pil);
  if (quantize_like_pil) y = y / 255;
  return y.to(x.scalar_type());
}

torch::Tensor poe_speckle(const torch::Tensor& x, at::Generator gen) {
  check_images(x, "POE speckle");
  check_generator(gen, "POE speckle");
  auto n = torch::randn(x.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat)).to(x.options());
  return torch::clamp(x + x * n, 0, 1);
}

torch::Tensor poe_speckle(const torch::Tensor& x, uint64_t seed) {
  return poe_speckle(x, at::detail::createCPUGenerator(seed));
}

const std::vector<int64_t>& poe_hflip_skipped_digits() {
  static const std::vector<int64_t> d{0, 1, 8};
  return d;
}
const std::vector<int64_t>& poe_vflip_skipped_digits() {
  static const std::vector<int64_t> d{0, 1, 3, 8};
  return d;
}

PoeBatch poe_hflip_digits(const torch::Tensor& x, const torch::Tensor& labels) {
  check_images(x, "POE flip");
  check_labels(x, labels);
  return keep_rows(x.flip({3}), ~label_in(labels, poe_hflip_skipped_digits()));
}

PoeBatch poe_vflip_digits(const torch::Tensor& x, const torch::Tensor& labels) {
  check_images(x, "POE flip");
  check_labels(x, labels);
  return keep_rows(x.flip({2}), ~label_in(labels, poe_vflip_skipped_digits()));
}

PoeBatch poe_flip_digits(const torch::Tensor& x, const torch::Tensor& labels, at::Generator gen) {
  check_images(x, "POE flip");
  check_labels(x, labels);
  check_generator(gen, "POE flip");
  auto horizontal = torch::rand({x.size(0)}, gen, torch::kFloat) < 0.5;
  horizontal |= label_in(labels, {3});  // vertical would leave a 3 a 3
  auto keep = ~label_in(labels, poe_hflip_skipped_digits());  // 0, 1, 8: no flip shifts them
  auto flipped = torch::where(horizontal.to(x.device()).view({-1, 1, 1, 1}), x.flip({3}), x.flip({2}));
  return keep_rows(flipped, keep);
}

PoeDomain poe_domain_for(const std::string& dataset) {
  std::string d = dataset;
  lowered(d);
  return (d == "mnist" || d == "svhn") ? PoeDomain::digits : PoeDomain::natural;
}

const std::vector<std::string>& poe_corruption_set(PoeDomain domain) {
  static const std::vector<std::string> natural{"jigsaw", "invert", "mosaic", "speckle"};
  static const std::vector<std::string> digits{"jigsaw", "flip", "mosaic", "speckle"};
  return domain == PoeDomain::digits ? digits : natural;
}

const std::string& poe_corruption_for_slot(int64_t slot, PoeDomain domain) {
  if (slot < 0) throw UserError("POE: negative outlier slot " + std::to_string(slot));
  const auto& set = poe_corruption_set(domain);
  return set[static_cast<size_t>(slot) % set.size()];
}

const std::vector<std::string>& poe_corruption_names() {
  static const std::vector<std::string> names{"jigsaw", "invert", "mosaic", "speckle", "flip", "hflip", "vflip"};
  return names;
}

PoeBatch apply_poe_corruption(const std::string& name, const torch::Tensor& x, const torch::Tensor& labels,
                              at::Generator gen) {
  auto all = [&](torch::Tensor y) { return PoeBatch{std::move(y), torch::arange(x.size(0), torch::kLong)}; };
  if (name == "jigsaw") return all(poe_jigsaw(x));
  if (name == "invert") return all(poe_invert(x));
  if (name == "mosaic") return all(poe_mosaic(x));
  if (name == "speckle") return all(poe_speckle(x, gen));
  if (name == "flip") return poe_flip_digits(x, labels, gen);
  if (name == "hflip") return poe_hflip_digits(x, labels);
  if (name == "vflip") return poe_vflip_digits(x, labels);
  std::string valid;
  for (const auto& n : poe_corruption_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw UserError("unknown POE corruption '" + name + "'; valid: " + valid);
}

}  // namespace ddb
