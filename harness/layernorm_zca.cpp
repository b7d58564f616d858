// KIP's layer-norm + regularised ZCA (see layernorm_zca.h).
#include "harness/layernorm_zca.h"

#include <map>
#include <memory>
#include <mutex>

namespace ddb {

namespace {

// Each flattened image with its mean removed and scaled to unit norm, float64 [n, D].
torch::Tensor layer_normalised(const torch::Tensor& images) {
  torch::Tensor x = images.reshape({images.size(0), -1}).to(torch::kDouble);
  x = x - x.mean(1, true);
  return x / x.pow(2).sum(1, true).sqrt().clamp_min(1e-12);
}

constexpr int64_t kBatch = 4096;

}  // namespace

torch::Tensor LayerNormZca::apply(const torch::Tensor& images) const {
  const torch::Tensor t = transform.to(images.device()).to(torch::kDouble);
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < images.size(0); i += kBatch) {
    const torch::Tensor part = images.slice(0, i, std::min(images.size(0), i + kBatch));
    out.push_back(torch::matmul(layer_normalised(part), t).to(torch::kFloat).view(part.sizes()));
  }
  return out.empty() ? images.to(torch::kFloat) : torch::cat(out);
}

LayerNormZca fit_layernorm_zca(const torch::Tensor& train, double zca_reg) {
  if (!train.defined() || train.dim() != 4 || train.size(0) < 1) throw UserError("layer-norm ZCA: no training images");
  if (zca_reg < 0) throw UserError("layer-norm ZCA: zca_reg must be >= 0");
  const int64_t n = train.size(0), d = train[0].numel();
  torch::Tensor cov = torch::zeros({d, d}, torch::kDouble);
  for (int64_t i = 0; i < n; i += kBatch) {
    const torch::Tensor x = layer_normalised(train.slice(0, i, std::min(n, i + kBatch)).cpu());
    cov += torch::matmul(x.t(), x);
  }
  cov /= static_cast<double>(n);
  const double reg = zca_reg * cov.trace().item<double>() / static_cast<double>(d);
  auto [evals, evecs] = torch::linalg_eigh(cov + reg * torch::eye(d, torch::kDouble), "L");  // ascending
  torch::Tensor inv_sqrt = evals.clamp_min(1e-30).rsqrt();
  // Rank control: with fewer images than features, the directions beyond the rank (the smallest
  // eigenvalues) are left unscaled.
  if (n < d) inv_sqrt.slice(0, 0, d - n).fill_(1.0);
  LayerNormZca z;
  z.reg = zca_reg;
  z.transform = torch::matmul(evecs * inv_sqrt.unsqueeze(0), evecs.t()).to(torch::kFloat);
  return z;
}

const LayerNormZca& layernorm_zca_for(const LoadedDataset& data, double zca_reg) {
  // Data without an identity (built in memory) is never shared: nothing tells two such sets apart.
  if (data.identity.empty()) {
    thread_local std::unique_ptr<LayerNormZca> fresh;
    fresh = std::make_unique<LayerNormZca>(fit_layernorm_zca(data.train.images, zca_reg));
    return *fresh;
  }
  static std::mutex mutex;
  static std::map<std::pair<std::string, double>, std::unique_ptr<LayerNormZca>> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[{data.identity, zca_reg}];
  if (!slot) slot = std::make_unique<LayerNormZca>(fit_layernorm_zca(data.train.images, zca_reg));
  return *slot;
}

torch::Tensor kip_regression_targets(const torch::Tensor& labels, int64_t num_classes) {
  if (labels.dim() == 2) return labels.to(torch::kFloat);
  return torch::one_hot(labels.to(torch::kLong), num_classes).to(torch::kFloat) - 1.0f / static_cast<float>(num_classes);
}

torch::Tensor kip_preprocess(const LoadedDataset& data, const torch::Tensor& images, const std::string& preprocess,
                             double zca_reg) {
  if (preprocess == "standard") return images;
  if (preprocess == "zca_normalize") return layernorm_zca_for(data, zca_reg).apply(images);
  throw UserError("kip preprocess '" + preprocess + "' is not supported (standard, zca_normalize)");
}

}  // namespace ddb
