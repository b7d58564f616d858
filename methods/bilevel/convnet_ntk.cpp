// The banded NNGP/NTK recursion of KIP's ConvNet (see convnet_ntk.h for the layout and why it is banded).
// A pair tensor has shape [A, B, 2R+1, 2R+1, H, W]: entry (a, b, oy, ox, y, x) is the covariance of pixel
// (y, x) of image a with pixel (y + oy - R, x + ox - R) of image b, and 0 where that pixel lies outside
// the image (zero padding: every op re-applies the mask, since a window sum can carry values into it).
#include "methods/bilevel/convnet_ntk.h"

#include <cmath>

namespace ddb {

namespace {

namespace F = torch::nn::functional;
using torch::indexing::Slice;

enum class Op { Conv, Relu, Pool };

std::vector<Op> layers_of(const ConvNtkConfig& c) {
  std::vector<Op> ops;
  if (c.prepend_conv) ops = {Op::Conv, Op::Relu};
  for (int64_t d = 0; d < c.depth; ++d) {
    ops.push_back(Op::Conv);
    ops.push_back(Op::Relu);
    ops.push_back(Op::Pool);
  }
  return ops;
}

// [2R+1, 2R+1, H, W]: 1 where pixel (y+dy, x+dx) of the second image exists.
torch::Tensor valid_mask(int64_t r, int64_t h, int64_t w, const torch::TensorOptions& opts) {
  const torch::Tensor d = torch::arange(-r, r + 1, opts);
  const torch::Tensor ys = torch::arange(h, opts), xs = torch::arange(w, opts);
  const torch::Tensor y2 = d.view({-1, 1}) + ys.view({1, -1});  // [O, H]
  const torch::Tensor x2 = d.view({-1, 1}) + xs.view({1, -1});  // [O, W]
  const torch::Tensor vy = (y2 >= 0).logical_and(y2 < h).to(opts);
  const torch::Tensor vx = (x2 >= 0).logical_and(x2 < w).to(opts);
  return vy.view({2 * r + 1, 1, h, 1}) * vx.view({1, 2 * r + 1, 1, w});
}

// [n, C, 2R+1, 2R+1, H, W]: x[j, c, y + dy, x + dx], 0 outside the image.
torch::Tensor shifted_images(const torch::Tensor& x, int64_t r) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const torch::Tensor u = F::unfold(x, F::UnfoldFuncOptions({2 * r + 1, 2 * r + 1}).padding(r));
  return u.view({n, c, 2 * r + 1, 2 * r + 1, h, w});
}

// [n, 2R+1, 2R+1, H, W]: v[j, y + dy, x + dx], 1 outside the image (masked away later; 1 keeps sqrt finite).
torch::Tensor shifted_variances(const torch::Tensor& v, int64_t r) {
  const int64_t n = v.size(0), h = v.size(1), w = v.size(2);
  const torch::Tensor padded = F::pad(v.unsqueeze(1), F::PadFuncOptions({r, r, r, r}).value(1.0));
  return F::unfold(padded, F::UnfoldFuncOptions({2 * r + 1, 2 * r + 1})).view({n, 2 * r + 1, 2 * r + 1, h, w});
}

// The first layer's input covariance: the channel mean of x1[a, :, p] * x2[b, :, p + d]. `diagonal`: pairs
// (a, a) only, as [n, 1, ...].
torch::Tensor input_covariance(const torch::Tensor& x1, const torch::Tensor& x2, int64_t r, bool diagonal) {
  const double channels = static_cast<double>(x1.size(1));
  const torch::Tensor s2 = shifted_images(x2, r);
  if (diagonal) return (x1.unsqueeze(2).unsqueeze(2) * s2).sum(1).unsqueeze(1) / channels;
  return torch::einsum("icyx,jcabyx->ijabyx", {x1, s2}) / channels;
}

// The 3x3 window mean over the first image's pixel (both pixels move together, so the offset stays).
torch::Tensor window_mean(const torch::Tensor& k) {
  const auto sizes = k.sizes().vec();
  const int64_t h = sizes[4], w = sizes[5];
  const torch::Tensor flat = k.reshape({-1, 1, h, w});
  return F::avg_pool2d(flat, F::AvgPool2dFuncOptions(3).stride(1).padding(1).count_include_pad(true)).view(sizes);
}

// AvgPool 2x2 stride 2 VALID: the mean over the 4 x 4 pixel pairs of two windows. Radius r -> (r - 1) / 2.
torch::Tensor pool(const torch::Tensor& k, int64_t r) {
  const int64_t r2 = (r - 1) / 2, o2 = 2 * r2 + 1;
  const int64_t h2 = k.size(4) / 2, w2 = k.size(5) / 2;
  torch::Tensor out;
  for (int64_t ay = 0; ay < 2; ++ay)
    for (int64_t ax = 0; ax < 2; ++ax)
      for (int64_t by = 0; by < 2; ++by)
        for (int64_t bx = 0; bx < 2; ++bx) {
          // Offset 2*d' + (b - a) sits at index 2*(d' + r2) + (b - a) + 1.
          const int64_t oy = 1 + by - ay, ox = 1 + bx - ax;
          const torch::Tensor part = k.index({Slice(), Slice(), Slice(oy, oy + 2 * o2 - 1, 2), Slice(ox, ox + 2 * o2 - 1, 2),
                                              Slice(ay, ay + 2 * h2 - 1, 2), Slice(ax, ax + 2 * w2 - 1, 2)});
          out = out.defined() ? out + part : part;
        }
  return out / 16.0;
}

// The arc-cosine kernel of order 1 (stax.Relu) and its derivative's expectation for the NTK.
// v1 broadcasts over [A, 1, 1, 1, H, W], v2 over [.., B, O, O, H, W].
void relu(torch::Tensor& k, torch::Tensor& ntk, const torch::Tensor& v1, const torch::Tensor& v2, const torch::Tensor& mask) {
  const torch::Tensor norm = torch::sqrt(v1 * v2);
  // Clamped strictly inside [-1, 1]: acos' is infinite at the ends; where a pair sits at the end (an image
  // with itself) the result depends on the variances only, and their gradient is exact.
  const torch::Tensor c = torch::clamp(k / norm, -1.0 + 1e-10, 1.0 - 1e-10);
  const torch::Tensor theta = torch::acos(c);
  const double pi = 3.14159265358979323846;
  if (ntk.defined()) ntk = ntk * (pi - theta) / (2 * pi) * mask;
  k = norm * (torch::sin(theta) + (pi - theta) * c) / (2 * pi) * mask;
}

struct Propagated {
  torch::Tensor nngp, ntk;               // [A, B] after the readout
  std::vector<torch::Tensor> variances;  // self mode: [n, H_l, W_l] at each ReLU's input
};

// Runs the layers over pair tensor `k` (radius r). Self mode (pairs of an image with itself, B = 1): the
// ReLU variances are read off the pair tensor's own zero-offset plane and returned. Otherwise they come
// from v1 / v2.
Propagated propagate(const ConvNtkConfig& cfg, torch::Tensor k, int64_t r, bool self, const std::vector<torch::Tensor>* v1,
                     const std::vector<torch::Tensor>* v2, bool want_ntk) {
  Propagated out;
  const double w2 = cfg.w_std * cfg.w_std, b2 = cfg.b_std * cfg.b_std;
  torch::Tensor ntk;  // undefined until the first conv (the input carries no parameters)
  torch::Tensor mask = valid_mask(r, k.size(4), k.size(5), k.options());
  size_t relu_index = 0;
  for (const Op op : layers_of(cfg)) {
    if (op == Op::Conv) {
      const torch::Tensor next = (w2 * window_mean(k) + b2) * mask;
      if (want_ntk) ntk = ntk.defined() ? next + w2 * window_mean(ntk) * mask : next;
      k = next;
    } else if (op == Op::Relu) {
      const int64_t h = k.size(4), w = k.size(5);
      torch::Tensor a, b;
      if (self) {
        const torch::Tensor v = k.select(1, 0).select(1, r).select(1, r);  // [n, H, W]
        out.variances.push_back(v);
        a = v.view({-1, 1, 1, 1, h, w});
        b = shifted_variances(v, r).unsqueeze(1);
      } else {
        a = (*v1)[relu_index].view({-1, 1, 1, 1, h, w});
        b = shifted_variances((*v2)[relu_index], r).unsqueeze(0);
      }
      relu(k, ntk, a, b, mask);
      ++relu_index;
    } else {
      k = pool(k, r);
      if (ntk.defined()) ntk = pool(ntk, r);
      r = (r - 1) / 2;
      mask = valid_mask(r, k.size(4), k.size(5), k.options());
      k = k * mask;
      if (ntk.defined()) ntk = ntk * mask;
    }
  }
  // Flatten + Dense: the mean over pixels of each pixel's covariance with the same pixel of the other image.
  const torch::Tensor centre = k.select(2, r).select(2, r).mean({2, 3});
  out.nngp = w2 * centre + b2;
  if (want_ntk) out.ntk = out.nngp + w2 * ntk.select(2, r).select(2, r).mean({2, 3});
  return out;
}

void check_images(const torch::Tensor& x, const char* what) {
  if (!x.defined() || x.dim() != 4) throw UserError(std::string("convnet kernel: ") + what + " must be [n, C, H, W]");
}

}  // namespace

ConvNetKernel::ConvNetKernel(ConvNtkConfig config) : config_(config) {
  if (config_.depth < 1) throw UserError("convnet kernel: depth must be >= 1");
}

int64_t ConvNetKernel::input_radius() const { return (int64_t{1} << config_.depth) - 1; }

std::vector<torch::Tensor> ConvNetKernel::variances(const torch::Tensor& x) const {
  check_images(x, "images");
  const torch::Tensor xd = x.to(torch::kDouble);
  const int64_t r = input_radius();
  return propagate(config_, input_covariance(xd, xd, r, /*diagonal=*/true), r, /*self=*/true, nullptr, nullptr, false)
      .variances;
}

torch::Tensor ConvNetKernel::cross(const torch::Tensor& x1, const torch::Tensor& x2, const std::vector<torch::Tensor>& v1,
                                   const std::vector<torch::Tensor>& v2, KernelKind kind) const {
  check_images(x1, "x1");
  check_images(x2, "x2");
  if (x1.sizes().slice(1).vec() != x2.sizes().slice(1).vec()) throw UserError("convnet kernel: x1 and x2 differ in image shape");
  const int64_t r = input_radius();
  const Propagated p = propagate(config_, input_covariance(x1.to(torch::kDouble), x2.to(torch::kDouble), r, false), r,
                                 /*self=*/false, &v1, &v2, kind == KernelKind::Ntk);
  return kind == KernelKind::Ntk ? p.ntk : p.nngp;
}

torch::Tensor ConvNetKernel::operator()(const torch::Tensor& x1, const torch::Tensor& x2, KernelKind kind) const {
  return cross(x1, x2, variances(x1), variances(x2), kind);
}

}  // namespace ddb
