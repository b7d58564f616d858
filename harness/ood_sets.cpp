// OOD test sets and auxiliary outliers in the InD's shape and normalisation (harness/ood_sets.h).
#include "harness/ood_sets.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "datasets/folder.h"  // rgb_to_grey (PIL "L")
#include "datasets/manifests.h"
#include "datasets/registry.h"
#include "harness/normalisation.h"

namespace ddb {

namespace {

namespace F = torch::nn::functional;

// A dataset's splits as 8-bit pixels [N,C,H,W] (4x smaller than the normalised floats), cached per
// (name, options): a TrustDD evaluation asks for the same OOD sets once per model.
struct PixelSet {
  std::string name;
  std::string role;
  std::string identity;
  torch::Tensor train;  // uint8 [N,C,H,W]
  torch::Tensor test;
};

std::string shape_str(int64_t c, int64_t h, int64_t w) {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

// Undoes finish()'s normalisation: x * std + mean (when the dataset has statistics; OOD entries without
// them load as plain [0,1] pixels), back to the exact 8-bit values (the float error is ~1e-5 of a level).
torch::Tensor to_u8(const torch::Tensor& normalised, const DatasetInfo& info) {
  if (!normalised.defined() || normalised.numel() == 0) {
    const int64_t c = info.shape.channels;
    return torch::empty({0, c, info.shape.height, info.shape.width}, torch::kUInt8);
  }
  const int64_t n = normalised.size(0);
  torch::Tensor out = torch::empty(normalised.sizes(), torch::kUInt8);
  const int64_t chunk = 8192;  // bounds the float temporaries (300K Random Images: 3.7 GB as floats)
  for (int64_t s = 0; s < n; s += chunk) {
    const torch::Tensor x = undo_normalisation(normalised.narrow(0, s, std::min(chunk, n - s)), info, false);
    out.narrow(0, s, x.size(0)).copy_(x.mul(255).round_().clamp_(0, 255).to(torch::kUInt8));
  }
  return out;
}

std::string cache_key(const std::string& name, const LoadOptions& o) {
  std::string root = o.data_root;
  if (root.empty()) {
    const char* env = std::getenv("DDBENCH_DATA");
    root = env && *env ? env : "./data";
  }
  return name + '\n' + root + '\n' + (o.verify_checksums ? "1" : "0") + '\n' + std::to_string(o.train_limit) + '\n' +
         std::to_string(o.test_limit);
}

std::shared_ptr<const PixelSet> pixel_set(const std::string& name, const LoadOptions& opts) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const PixelSet>> cache;
  const std::string key = cache_key(name, opts);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  const DatasetExtra& extra = dataset_extra(name);  // unknown name: UserError listing the valid ones
  LoadedDataset d = load_dataset(name, opts);       // missing files: DatasetMissing (where, how to get it)
  auto p = std::make_shared<PixelSet>();
  p->name = name;
  p->role = extra.role;
  p->identity = d.identity;
  p->train = to_u8(d.train.images, d.info);
  d.train.images = torch::Tensor();
  p->test = to_u8(d.test.images, d.info);
  std::lock_guard<std::mutex> lock(mu);
  return cache.emplace(key, std::move(p)).first->second;
}

// 8-bit pixels [N,C',H',W'] -> float [N,C,H,W] of the InD shape, normalised with the InD mean/std; in
// chunks so that a 300K-image set never needs more than a chunk's temporaries.
torch::Tensor to_ind(const torch::Tensor& u8, const DatasetInfo& ind, const std::string& what) {
  const int64_t c = ind.shape.channels, h = ind.shape.height, w = ind.shape.width;
  const int64_t n = u8.size(0), c0 = u8.size(1);
  if (!(c0 == c || (c0 == 3 && c == 1) || (c0 == 1 && c == 3))) {
    throw UserError(what + ": cannot bring " + std::to_string(c0) + "-channel images to the " + std::to_string(c) +
                    "-channel shape of " + ind.name + " (only grey <-> RGB is converted)");
  }
  torch::Tensor out = torch::empty({n, c, h, w}, torch::kFloat);
  const int64_t chunk = 8192;
  for (int64_t s = 0; s < n; s += chunk) {
    torch::Tensor x = u8.narrow(0, s, std::min(chunk, n - s));
    if (c0 == 3 && c == 1) x = rgb_to_grey(x.contiguous());
    // ToTensor: x.float().div(255), as finish() does.
    torch::Tensor f = x.to(torch::kFloat).div_(255);
    if (c0 == 1 && c == 3) f = f.expand({f.size(0), 3, f.size(2), f.size(3)});
    if (f.size(2) != h || f.size(3) != w) {
      f = F::interpolate(f, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{h, w})
                                .mode(torch::kBilinear)
                                .align_corners(false));
    }
    f = apply_normalisation(f, ind);  // Normalize: x.sub_(mean).div_(std)
    out.narrow(0, s, f.size(0)).copy_(f);
  }
  return out;
}

// `source` (8-bit) sampled to at most n images with `seed`, converted: the common tail of both loaders.
OodImages from_pixels(const std::string& name, const PixelSet& set, const torch::Tensor& source,
                      const std::string& split, const LoadedDataset& ind, int64_t n, uint64_t seed) {
  const int64_t total = source.size(0);
  torch::Tensor pick = source;
  std::ostringstream id;
  id << set.identity << " " << split;
  if (n >= 0 && n < total) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    const torch::Tensor idx = torch::randperm(total, gen, torch::kLong).narrow(0, 0, n);
    pick = source.index_select(0, idx);
    id << "[" << n << " of " << total << ", seed " << seed << "]";
  } else {
    id << "[all " << total << "]";
  }
  const auto& sh = ind.info.shape;
  id << " as " << shape_str(sh.channels, sh.height, sh.width);
  if (source.size(1) != sh.channels) id << (sh.channels == 1 ? " grey(L)" : " rgb(repeat)");
  if (source.size(2) != sh.height || source.size(3) != sh.width) id << " bilinear";
  id << ", normalised as " << ind.info.name;
  OodImages out;
  out.name = name;
  out.images = to_ind(pick, ind.info, name);
  out.identity = id.str();
  return out;
}

// The OE code's noises, drawn directly in normalised space (no InD statistics applied).
OodImages noise(const std::string& name, const LoadedDataset& ind, int64_t n, uint64_t seed) {
  if (n < 0) throw UserError(name + ": generated images need a count (got " + std::to_string(n) + ")");
  const auto& sh = ind.info.shape;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const std::vector<int64_t> size{n, sh.channels, sh.height, sh.width};
  OodImages out;
  out.name = name;
  if (name == "gaussian-noise") {
    // np.clip(np.random.normal(size=(n, C, H, W), scale=0.5), -1, 1)
    out.images = torch::randn(size, gen, torch::kFloat).mul_(0.5).clamp_(-1, 1);
    out.identity = "gaussian-noise clip(N(0,0.5^2),-1,1)";
  } else {
    // np.random.uniform(size=(n, C, H, W), low=-1, high=1)
    out.images = torch::rand(size, gen, torch::kFloat).mul_(2).sub_(1);
    out.identity = "uniform-noise U[-1,1]";
  }
  out.identity += " n=" + std::to_string(n) + " shape=" + shape_str(sh.channels, sh.height, sh.width) +
                  " seed=" + std::to_string(seed) + " (torch CPU generator, normalised space)";
  return out;
}

bool whole_set(const PixelSet& p) { return p.role == "ood" || p.role == "auxiliary"; }

}  // namespace

OodImages load_ood_test_set(const std::string& name, const LoadedDataset& ind, int64_t n, uint64_t seed,
                            const LoadOptions& opts) {
  if (is_generated_ood_set(name)) return noise(name, ind, n, seed);
  const auto set = pixel_set(name, opts);
  if (whole_set(*set)) {
    const torch::Tensor all = set->train.size(0) == 0 ? set->test : torch::cat({set->train, set->test});
    return from_pixels(name, *set, all, "all", ind, n, seed);
  }
  return from_pixels(name, *set, set->test, "test", ind, n, seed);
}

OodImages load_aux_outliers(const std::string& name, const LoadedDataset& ind, int64_t limit, uint64_t seed,
                            const LoadOptions& opts) {
  if (is_generated_ood_set(name)) return noise(name, ind, limit, seed);
  const auto set = pixel_set(name, opts);
  if (set->train.size(0) == 0) return from_pixels(name, *set, set->test, "all", ind, limit, seed);
  return from_pixels(name, *set, set->train, "train", ind, limit, seed);
}

bool is_generated_ood_set(const std::string& name) { return name == "gaussian-noise" || name == "uniform-noise"; }

}  // namespace ddb
