#include "harness/zca.h"

#include <ATen/Context.h>

#include <cstdio>

#include "datasets/readers.h"

namespace ddb {

namespace {

// The covariance is D x D doubles and its eigendecomposition needs a few copies: 64x64x3 (Tiny
// ImageNet, 12288 dims, 1.2 GB per copy) is the largest input the references whiten.
constexpr int64_t kMaxDims = 12288;
// Rows per batch when accumulating the covariance or applying the transform.
int64_t rows_per_batch(int64_t dims) { return std::max<int64_t>(1, (int64_t{1} << 23) / std::max<int64_t>(1, dims)); }

const std::string kMarker = "+zca(";

// a [n, k] x b [k, m] in float32. LibTorch's CPU mm calls the system BLAS, which on Debian is the
// unoptimised reference BLAS (about 1.5 GFLOP/s on the 2-core test machine: ~95 s to whiten
// Fashion-MNIST, ~11 s with this); oneDNN's 1x1 convolution computes the same sums 20-50x faster. The rows are
// split over 16 images so that LibTorch picks oneDNN whatever the thread count. Elsewhere (CUDA, a
// LibTorch without oneDNN) this is a.mm(b).
torch::Tensor matmul_f32(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.is_cpu() || !at::hasMKLDNN()) return a.mm(b);
  constexpr int64_t kImages = 16;
  const int64_t n = a.size(0), k = a.size(1), m = b.size(1);
  const int64_t per = (n + kImages - 1) / kImages;
  torch::Tensor padded = a;
  if (per * kImages != n) padded = torch::cat({a, torch::zeros({per * kImages - n, k}, a.options())});
  const torch::Tensor in = padded.view({kImages, per, k}).permute({0, 2, 1}).contiguous().unsqueeze(-1);
  const torch::Tensor w = b.t().contiguous().view({m, k, 1, 1});
  const torch::Tensor out = torch::conv2d(in, w);  // [16, m, per, 1]
  return out.squeeze(-1).permute({0, 2, 1}).reshape({kImages * per, m}).narrow(0, 0, n);
}

std::string tensor_bytes(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().cpu().contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
}

std::string fmt_eps(double eps) {
  char b[32];
  std::snprintf(b, sizeof b, "%.17g", eps);
  return b;
}

// y[n] = (x[n] - shift) M for flattened images, batched; the result has x's shape and device.
torch::Tensor linear_map(const torch::Tensor& images, const torch::Tensor& shift_before,
                         const torch::Tensor& shift_after, const torch::Tensor& matrix) {
  const int64_t d = matrix.size(0);
  if (images.dim() < 2 || images.numel() != images.size(0) * d)
    throw UserError("ZCA: images of shape " + c10::str(images.sizes()) + " do not have " + std::to_string(d) +
                    " values per image (the dimension the whitening was fit on)");
  const int64_t n = images.size(0);
  const torch::Device dev = images.device();
  const torch::Tensor m = matrix.to(dev);
  const torch::Tensor before = shift_before.defined() ? shift_before.to(dev).view({1, d}) : torch::Tensor();
  const torch::Tensor after = shift_after.defined() ? shift_after.to(dev).view({1, d}) : torch::Tensor();
  const torch::Tensor flat = images.reshape({n, d});
  torch::Tensor out = torch::empty({n, d}, images.options().dtype(torch::kFloat));
  const int64_t rows = rows_per_batch(d);
  torch::NoGradGuard no_grad;
  for (int64_t s = 0; s < n; s += rows) {
    const int64_t b = std::min(rows, n - s);
    torch::Tensor x = flat.narrow(0, s, b).to(torch::kFloat);
    if (before.defined()) x = x - before;
    torch::Tensor y = matmul_f32(x, m);
    if (after.defined()) y.add_(after);
    out.narrow(0, s, b).copy_(y);
  }
  return out.view(images.sizes());
}

}  // namespace

torch::Tensor ZcaTransform::apply(const torch::Tensor& images) const {
  return linear_map(images, mean, torch::Tensor(), transform);
}

torch::Tensor ZcaTransform::invert(const torch::Tensor& y) const {
  return linear_map(y, torch::Tensor(), mean, inverse);
}

ZcaTransform fit_zca(const torch::Tensor& images, double eps) {
  if (!images.defined() || images.dim() < 2 || images.size(0) < 2)
    throw UserError("ZCA needs at least two images to fit a covariance");
  if (!(eps > 0)) throw UserError("ZCA eps must be positive, got " + fmt_eps(eps));
  const int64_t n = images.size(0);
  const int64_t d = images.numel() / n;
  if (d > kMaxDims)
    throw UserError("ZCA on " + std::to_string(d) + "-dimensional images needs a " + std::to_string(d) + "x" +
                    std::to_string(d) + " covariance; the limit is " + std::to_string(kMaxDims) +
                    " (64x64x3, the largest input the references whiten)");
  torch::NoGradGuard no_grad;
  const torch::Tensor flat = images.detach().cpu().reshape({n, d});
  const int64_t rows = rows_per_batch(d);
  // kornia fits in the input's float32. Here the mean, the sums across blocks and the
  // eigendecomposition are double; the products within a block of kBlock images are float32 (fast,
  // see matmul_f32), whose rounding (~1e-6 relative) is far below eps = 0.1.
  constexpr int64_t kBlock = 1024;
  torch::Tensor sum = torch::zeros({d}, torch::kDouble);
  for (int64_t s = 0; s < n; s += rows) sum += flat.narrow(0, s, std::min(rows, n - s)).to(torch::kDouble).sum(0);
  const torch::Tensor mean = sum / static_cast<double>(n);
  torch::Tensor cov = torch::zeros({d, d}, torch::kDouble);
  for (int64_t s = 0; s < n; s += kBlock) {
    const torch::Tensor xc = (flat.narrow(0, s, std::min(kBlock, n - s)).to(torch::kDouble) - mean).to(torch::kFloat);
    cov += matmul_f32(xc.t().contiguous(), xc).to(torch::kDouble);
  }
  cov.div_(static_cast<double>(n - 1));  // kornia zca_mean(unbiased=True)
  cov = (cov + cov.t()) / 2;             // exactly symmetric for eigh
  // kornia takes U, S from svd(cov). The covariance is symmetric positive semi-definite, so its
  // eigendecomposition gives the same U and S (up to the basis inside repeated eigenvalues, which
  // leaves T unchanged) for less work; rounding can make tiny eigenvalues negative.
  auto [s_vals, u] = torch::linalg_eigh(cov, "L");
  s_vals = s_vals.clamp_min(0);
  const torch::Tensor inv_root = (s_vals + eps).rsqrt();
  const torch::Tensor root = (s_vals + eps).sqrt();
  ZcaTransform z;
  z.eps = eps;
  z.mean = mean.to(torch::kFloat).contiguous();
  // U diag U^T with float32 products (the results are stored as float32 anyway).
  const torch::Tensor ut = u.t().contiguous().to(torch::kFloat);
  z.transform = matmul_f32((u * inv_root.unsqueeze(0)).to(torch::kFloat), ut).contiguous();
  z.inverse = matmul_f32((u * root.unsqueeze(0)).to(torch::kFloat), ut).contiguous();
  z.hash = sha256_bytes(tensor_bytes(z.mean) + tensor_bytes(z.transform) + tensor_bytes(z.inverse) + "eps=" +
                        fmt_eps(eps))
               .substr(0, 16);
  return z;
}

LoadedDataset with_zca(const LoadedDataset& data, double eps) {
  if (has_zca(data)) throw UserError("dataset '" + data.info.name + "' is already ZCA-whitened (" + data.identity + ")");
  const torch::Tensor train = undo_normalisation(data.train.images, data.info);
  const ZcaTransform z = fit_zca(train, eps);
  LoadedDataset out = data;
  out.train.images = z.apply(train);
  if (data.test.size() > 0) out.test.images = z.apply(undo_normalisation(data.test.images, data.info));
  char e[32];
  std::snprintf(e, sizeof e, "%g", eps);
  out.identity = data.identity + kMarker + "eps=" + e + "):" + z.hash;
  return out;
}

bool has_zca(const LoadedDataset& data) { return data.identity.find(kMarker) != std::string::npos; }

}  // namespace ddb
