// Shifted test sets (see shifted_tests.h). Facts from Mming11/RobustDatasetDistillation
// (data_processing.ipynb: the Noise / Blur / Invert sets; test/test_glad.py cluster_loss: the KMeans
// grouping), Pillow 9.4 (libImaging/BoxBlur.c) and scikit-learn 1.2 (cluster/_kmeans.py); our own code.
#include "harness/shifted_tests.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <sstream>

#include "core/hashing.h"
#include "harness/normalisation.h"
#include "harness/train.h"

namespace ddb {

namespace {
const char* const kTransformSets[] = {"rdd-noise", "rdd-blur", "rdd-invert"};
const char* const kGroupingSet = "rdd-kmeans10";
constexpr int64_t kGroupingClusters = 10;
}  // namespace

bool is_generated_shift_set(const std::string& name) {
  return name == kGroupingSet || std::find(std::begin(kTransformSets), std::end(kTransformSets), name) != std::end(kTransformSets);
}

bool is_grouping_set(const std::string& name) { return name == kGroupingSet; }

// ---------------------------------------------------------------------------------------------------
// Transforms

NoiseRecipe noise_recipe_for(const ImageShape& shape) {
  return std::max(shape.height, shape.width) <= 32 ? NoiseRecipe::Cifar : NoiseRecipe::ImageNet;
}

torch::Tensor rdd_noise(const torch::Tensor& pixels, NoiseRecipe recipe, uint64_t seed) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor x = pixels.to(torch::kCPU, torch::kFloat);
  const double sigma = recipe == NoiseRecipe::Cifar ? std::sqrt(0.005) : 0.2;
  torch::Tensor out = (x + torch::randn(x.sizes(), gen, torch::kFloat).mul_(sigma)).clamp_(0, 1);
  if (recipe == NoiseRecipe::ImageNet) out = out.mul_(255).floor_().div_(255);  // np.uint8(x * 255), ToTensor
  return out;
}

namespace {
// round(255 x) as uint8: the 8-bit image PIL works on (exact for ToTensor() values k / 255).
torch::Tensor to_u8(const torch::Tensor& pixels) {
  return pixels.to(torch::kCPU, torch::kFloat).mul(255).round_().clamp_(0, 255).to(torch::kUInt8).contiguous();
}
torch::Tensor from_u8(const torch::Tensor& u8) { return u8.to(torch::kFloat).div_(255); }  // ToTensor()
}  // namespace

torch::Tensor rdd_invert(const torch::Tensor& pixels) {
  torch::NoGradGuard no_grad;
  return from_u8(255 - to_u8(pixels));
}

float pil_box_radius(float radius, int passes) {
  // Pillow's _gaussian_blur_radius, in its float arithmetic.
  const float sigma2 = radius * radius / static_cast<float>(passes);
  const float L = static_cast<float>(std::sqrt(12.0 * sigma2 + 1.0));
  const float l = static_cast<float>(std::floor((L - 1.0) / 2.0));
  float a = (2 * l + 1) * (l * (l + 1) - 3 * sigma2);
  a /= 6 * (sigma2 - (l + 1) * (l + 1));
  return l + a;
}

namespace {
// One extended box-blur pass along each of `lines` contiguous lines of length `len`, in place.
void box_pass(uint8_t* data, int64_t lines, int64_t len, float box_radius) {
  const int64_t r = static_cast<int64_t>(box_radius);
  const uint32_t ww = static_cast<uint32_t>(static_cast<float>(1 << 24) / (box_radius * 2 + 1));
  const uint32_t fw = ((1u << 24) - static_cast<uint32_t>(r * 2 + 1) * ww) / 2;
  std::vector<uint8_t> out(static_cast<size_t>(len));
  const auto at = [len](const uint8_t* line, int64_t i) { return line[std::clamp<int64_t>(i, 0, len - 1)]; };
  for (int64_t l = 0; l < lines; ++l) {
    uint8_t* line = data + l * len;
    for (int64_t x = 0; x < len; ++x) {
      uint64_t acc = 0;
      for (int64_t k = -r; k <= r; ++k) acc += at(line, x + k);
      const uint64_t bulk = acc * ww + static_cast<uint64_t>(at(line, x - r - 1) + at(line, x + r + 1)) * fw;
      out[static_cast<size_t>(x)] = static_cast<uint8_t>((bulk + (1u << 23)) >> 24);
    }
    std::copy(out.begin(), out.end(), line);
  }
}
}  // namespace

torch::Tensor pil_gaussian_blur(const torch::Tensor& u8, float radius, int passes) {
  TORCH_CHECK(u8.dim() == 4 && u8.scalar_type() == torch::kUInt8, "pil_gaussian_blur expects uint8 N x C x H x W");
  if (radius == 0) return u8.clone();
  const float box = pil_box_radius(radius, passes);
  const int64_t n = u8.size(0), c = u8.size(1), h = u8.size(2), w = u8.size(3);
  torch::Tensor rows = u8.to(torch::kCPU).contiguous().clone();
  for (int i = 0; i < passes; ++i) box_pass(rows.data_ptr<uint8_t>(), n * c * h, w, box);
  torch::Tensor cols = rows.transpose(2, 3).contiguous();
  for (int i = 0; i < passes; ++i) box_pass(cols.data_ptr<uint8_t>(), n * c * w, h, box);
  return cols.transpose(2, 3).contiguous();
}

torch::Tensor rdd_blur(const torch::Tensor& pixels) {
  torch::NoGradGuard no_grad;
  return from_u8(pil_gaussian_blur(to_u8(pixels), 2.0f));
}

torch::Tensor shifted_test_images(const std::string& name, const LoadedDataset& data) {
  torch::NoGradGuard no_grad;
  const torch::Tensor pixels = undo_normalisation(data.test.images.to(torch::kCPU), data.info, /*snap_to_8bit=*/true);
  torch::Tensor out;
  if (name == "rdd-noise") {
    out = rdd_noise(pixels, noise_recipe_for(data.info.shape), derive_seed("rdd-noise", 0, "shifted test set"));
  } else if (name == "rdd-blur") {
    out = rdd_blur(pixels);
  } else if (name == "rdd-invert") {
    out = rdd_invert(pixels);
  } else {
    throw UserError("'" + name + "' is not a transformed test set (rdd-noise, rdd-blur, rdd-invert)");
  }
  return apply_normalisation(out, data.info);
}

// ---------------------------------------------------------------------------------------------------
// KMeans

namespace {

// Squared Euclidean distances [N, k] between the rows of x (with x_sq = |x|^2) and those of c.
torch::Tensor sq_dists(const torch::Tensor& x, const torch::Tensor& x_sq, const torch::Tensor& c) {
  return (x_sq.unsqueeze(1) - 2 * x.mm(c.t()) + c.pow(2).sum(1).unsqueeze(0)).clamp_min_(0);
}

// Greedy k-means++ (sklearn _kmeans_plusplus).
torch::Tensor kmeans_plus_plus(const torch::Tensor& x, const torch::Tensor& x_sq, int64_t k, std::mt19937_64& rng) {
  const int64_t n = x.size(0);
  const int64_t trials = 2 + static_cast<int64_t>(std::log(static_cast<double>(k)));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  torch::Tensor centers = torch::empty({k, x.size(1)}, x.options());
  const int64_t first = std::uniform_int_distribution<int64_t>(0, n - 1)(rng);
  centers[0].copy_(x[first]);
  torch::Tensor closest = sq_dists(x, x_sq, x[first].unsqueeze(0)).squeeze(1).to(torch::kDouble);
  double pot = closest.sum().item<double>();
  for (int64_t c = 1; c < k; ++c) {
    const torch::Tensor cum = closest.cumsum(0);
    std::vector<double> draws(static_cast<size_t>(trials));
    for (auto& d : draws) d = unit(rng) * pot;
    torch::Tensor ids = torch::searchsorted(cum, torch::tensor(draws, torch::kDouble)).clamp_max_(n - 1);
    const torch::Tensor d = sq_dists(x, x_sq, x.index_select(0, ids)).to(torch::kDouble);  // [N, trials]
    const torch::Tensor merged = torch::minimum(d, closest.unsqueeze(1));
    const torch::Tensor pots = merged.sum(0);
    const int64_t best = pots.argmin().item<int64_t>();
    pot = pots[best].item<double>();
    closest = merged.select(1, best).contiguous();
    centers[c].copy_(x[ids[best].item<int64_t>()]);
  }
  return centers;
}

struct LloydRun {
  torch::Tensor labels, centers;
  double inertia = 0;
  int64_t iterations = 0;
};

LloydRun lloyd(const torch::Tensor& x, const torch::Tensor& x_sq, torch::Tensor centers, int64_t max_iter, double tol) {
  const int64_t n = x.size(0), k = centers.size(0);
  const torch::Tensor xd = x.to(torch::kDouble);
  torch::Tensor labels_old = torch::full({n}, -1, torch::kLong);
  torch::Tensor labels;
  bool strict = false;
  int64_t it = 0;
  for (; it < max_iter; ++it) {
    const torch::Tensor d = sq_dists(x, x_sq, centers);
    labels = d.argmin(1);
    torch::Tensor sums = torch::zeros({k, x.size(1)}, torch::kDouble).index_add_(0, labels, xd);
    torch::Tensor counts = torch::bincount(labels, {}, k).to(torch::kDouble);
    // Empty clusters: the points farthest from their own centre become their centres (sklearn
    // _relocate_empty_clusters_dense), taken out of their old clusters' sums.
    const torch::Tensor empty = (counts == 0).nonzero().flatten();
    if (empty.numel() > 0) {
      const torch::Tensor own = d.gather(1, labels.unsqueeze(1)).squeeze(1);
      const torch::Tensor far = std::get<1>(own.topk(empty.numel()));
      for (int64_t e = 0; e < empty.numel(); ++e) {
        const int64_t idx = far[e].item<int64_t>(), to = empty[e].item<int64_t>(), from = labels[idx].item<int64_t>();
        sums[from] -= xd[idx];
        counts[from] -= 1;
        sums[to].copy_(xd[idx]);
        counts[to] = 1;
      }
    }
    const torch::Tensor new_centers = (sums / counts.clamp_min(1).unsqueeze(1)).to(x.scalar_type());
    const double shift = (new_centers - centers).to(torch::kDouble).pow(2).sum().item<double>();
    centers = new_centers;
    if (torch::equal(labels, labels_old)) {
      strict = true;
      ++it;
      break;
    }
    if (shift <= tol) {
      ++it;
      break;
    }
    labels_old = labels;
  }
  const torch::Tensor d = sq_dists(x, x_sq, centers);
  if (!strict) labels = d.argmin(1);  // the labels of the final centres
  LloydRun r;
  r.labels = labels;
  r.centers = centers;
  r.inertia = d.gather(1, labels.unsqueeze(1)).to(torch::kDouble).sum().item<double>();
  r.iterations = it;
  return r;
}

}  // namespace

KMeansResult kmeans(const torch::Tensor& x_in, const KMeansOptions& o) {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(x_in.dim() == 2, "kmeans expects N x D rows");
  const int64_t n = x_in.size(0);
  if (o.clusters < 1 || n < o.clusters)
    throw UserError("kmeans: " + std::to_string(n) + " points for " + std::to_string(o.clusters) + " clusters");
  torch::Tensor x = x_in.to(torch::kCPU, torch::kFloat);
  const torch::Tensor mean = x.mean(0, /*keepdim=*/true);
  x = (x - mean).contiguous();  // sklearn centres the data (precision); labels do not change
  const torch::Tensor x_sq = x.pow(2).sum(1);
  const double tol = o.tol * x.to(torch::kDouble).var(0, /*unbiased=*/false).mean().item<double>();
  std::mt19937_64 rng(o.seed);
  KMeansResult best;
  bool have = false;
  for (int64_t run = 0; run < std::max<int64_t>(1, o.n_init); ++run) {
    const LloydRun r = lloyd(x, x_sq, kmeans_plus_plus(x, x_sq, o.clusters, rng), o.max_iter, tol);
    if (!have || r.inertia < best.inertia) {
      best.labels = r.labels;
      best.centers = r.centers + mean;
      best.inertia = r.inertia;
      best.iterations = r.iterations;
      have = true;
    }
  }
  return best;
}

torch::Tensor test_split_clusters(const LoadedDataset& data) {
  static std::mutex mu;
  static std::map<std::string, torch::Tensor> cache;
  torch::NoGradGuard no_grad;
  const torch::Tensor images = data.test.images.to(torch::kCPU, torch::kFloat).contiguous();
  std::ostringstream key;
  key << images.sizes() << "|";
  if (data.identity.empty()) {
    key << sha256_bytes(std::string(static_cast<const char*>(images.data_ptr()), images.numel() * sizeof(float)));
  } else {  // the loader's identity, and a cheap checksum against a changed split under the same name
    key << data.identity << "|" << images.to(torch::kDouble).sum().item<double>();
  }
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key.str());
  if (it != cache.end()) return it->second;
  KMeansOptions o;
  o.clusters = kGroupingClusters;
  const torch::Tensor labels = kmeans(images.reshape({images.size(0), -1}), o).labels;
  cache.emplace(key.str(), labels);
  return labels;
}

std::vector<double> group_accuracies(const torch::Tensor& predictions, const torch::Tensor& labels,
                                     const torch::Tensor& groups, int64_t num_groups) {
  const torch::Tensor g = groups.to(torch::kCPU, torch::kLong);
  const torch::Tensor correct = predictions.to(torch::kCPU, torch::kLong).eq(labels.to(torch::kCPU, torch::kLong)).to(torch::kDouble);
  const torch::Tensor hits = torch::zeros({num_groups}, torch::kDouble).index_add_(0, g, correct);
  const torch::Tensor sizes = torch::bincount(g, {}, num_groups).to(torch::kDouble);
  std::vector<double> out(static_cast<size_t>(num_groups));
  for (int64_t i = 0; i < num_groups; ++i) {
    const double s = sizes[i].item<double>();
    out[static_cast<size_t>(i)] = s > 0 ? 100.0 * hits[i].item<double>() / s : std::numeric_limits<double>::quiet_NaN();
  }
  return out;
}

std::vector<MetricValue> shifted_test_rows(NetImpl& net, const LoadedDataset& data, const std::vector<std::string>& sets,
                                           double standard_accuracy, torch::Device device) {
  std::vector<MetricValue> rows;
  const auto predict = [&](const torch::Tensor& images) {
    return map_batches(net, images, device, 256, [&net](const torch::Tensor& x) { return net.forward(x).argmax(1); });
  };
  for (const auto& name : sets) {
    if (!is_generated_shift_set(name))
      throw UserError("test set '" + name + "' is not a shifted test set this harness generates (rdd-noise, rdd-blur, "
                      "rdd-invert, rdd-kmeans10); OOD detection sets are scored by eval protocol trustdd");
    double value = 0;
    if (is_grouping_set(name)) {
      const torch::Tensor groups = test_split_clusters(data);
      const std::vector<double> acc = group_accuracies(predict(data.test.images), data.test.labels, groups, kGroupingClusters);
      value = std::numeric_limits<double>::infinity();
      for (double a : acc)
        if (!std::isnan(a)) value = std::min(value, a);
      rows.push_back({"worst_group_accuracy@" + name, value});
    } else {
      const torch::Tensor pred = predict(shifted_test_images(name, data));
      const int64_t n = data.test.size();
      value = n ? 100.0 * pred.eq(data.test.labels.to(torch::kCPU)).sum().item<double>() / static_cast<double>(n) : 0.0;
      rows.push_back({"accuracy@" + name, value});
    }
    rows.push_back({"accuracy_drop@" + name, standard_accuracy - value});
  }
  return rows;
}

}  // namespace ddb
