#include "methods/trajectory/experts.h"

#include <ATen/CPUGeneratorImpl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <iterator>
#include <mutex>

#include "core/files.h"
#include "datasets/readers.h"
#include "harness/augment/dsa.h"
#include "harness/plan.h"
#include "harness/runtime.h"
#include "harness/train.h"

namespace ddb {

namespace fs = std::filesystem;

namespace {

// Bump when the file layout or the training procedure changes: old caches are then left alone.
const char* const kFormat = "ddbench-experts-v1";

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

torch::Tensor cross_entropy(NetImpl& net, const torch::Tensor& x, const torch::Tensor& y) {
  return torch::nn::functional::cross_entropy(net.forward(x), y);
}

}  // namespace

// One sharpness-aware step on a batch, as GSAM's optimizer (juntang-zhuang/GSAM gsam.py, which
// FTD's buffer_FTD.py uses for its experts) does it:
//   g   = grad L(theta)
//   e   = rho * g / (||g|| + 1e-12)                       (global norm over all parameters; SAM)
//   e   = rho * g * theta^2 / (||theta * g|| + 1e-12)     (adaptive = true, FTD's setting)
//   g_p = grad L(theta + e)
//   g_p -= alpha * (g - cos(g, g_p) * ||g|| * g_p / (||g_p|| + 1e-12))   (GSAM gradient_decompose:
//          the component of g orthogonal to g_p descends the surrogate gap; alpha = 0 is SAM;
//          cos = g.g_p / (||g|| ||g_p|| + 1e-12), plain norms here even when adaptive)
//   theta <- theta (restored), then the base SGD step with g_p.
// rho is constant: FTD's ProportionScheduler returns rho_max when the lr is constant (StepLR with
// gamma 1). GSAM also zeroes BatchNorm momentum for the second pass; we do not (the ConvNet
// experts use instance norm). Returns the loss at theta.
torch::Tensor sharpness_aware_step(NetImpl& net, torch::optim::SGD& opt, const torch::Tensor& x,
                                   const torch::Tensor& y, double rho, double alpha, bool adaptive) {
  constexpr double kEps = 1e-12;  // GSAM's perturb_eps
  const std::vector<torch::Tensor> params = net.parameters();
  opt.zero_grad();
  const torch::Tensor loss = cross_entropy(net, x, y);
  loss.backward();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> g(params.size()), e(params.size());
  torch::Tensor sq = torch::zeros({}, x.options().dtype(torch::kFloat)), ascent_sq = torch::zeros_like(sq);
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i].grad().defined()) continue;
    g[i] = params[i].grad().detach().clone();
    sq = sq + g[i].pow(2).sum();
    if (adaptive) ascent_sq = ascent_sq + (params[i].abs() * g[i]).pow(2).sum();
  }
  const torch::Tensor g_norm = sq.sqrt();
  const torch::Tensor scale = rho / ((adaptive ? ascent_sq.sqrt() : g_norm) + kEps);
  for (size_t i = 0; i < params.size(); ++i) {
    if (!g[i].defined()) continue;
    e[i] = g[i] * scale;
    if (adaptive) e[i] = e[i] * params[i].pow(2);
    params[i].add_(e[i]);
  }
  opt.zero_grad();
  {
    torch::AutoGradMode enable(true);
    cross_entropy(net, x, y).backward();
  }
  if (alpha != 0) {
    torch::Tensor inner = torch::zeros_like(sq), new_sq = torch::zeros_like(sq);
    for (size_t i = 0; i < params.size(); ++i) {
      if (!g[i].defined() || !params[i].grad().defined()) continue;
      inner = inner + (g[i] * params[i].grad()).sum();
      new_sq = new_sq + params[i].grad().pow(2).sum();
    }
    const torch::Tensor new_norm = new_sq.sqrt();
    const torch::Tensor cosine = inner / (new_norm * g_norm + kEps);
    for (size_t i = 0; i < params.size(); ++i) {
      if (!g[i].defined() || !params[i].grad().defined()) continue;
      torch::Tensor gp = params[i].mutable_grad();
      const torch::Tensor vertical = g[i] - cosine * g_norm * gp / (new_norm + kEps);
      gp.add_(vertical, -alpha);
    }
  }
  for (size_t i = 0; i < params.size(); ++i)
    if (e[i].defined()) params[i].sub_(e[i]);
  opt.step();
  return loss.detach();
}

json ExpertSpec::to_json() const {
  json j{{"net", net},
              {"epochs", epochs},
              {"lr", lr},
              {"momentum", momentum},
              {"weight_decay", weight_decay},
              {"batch", batch},
              {"dsa", dsa},
              {"dsa_strategy", dsa_strategy},
              {"sam_rho", sam_rho},
              {"sam_alpha", sam_alpha},
              {"sam_adaptive", sam_adaptive},
              {"images_per_class", images_per_class}};
  if (lambda_oe > 0) {
    j["lambda_oe"] = lambda_oe;
    j["batch_oe"] = batch_oe;
    j["outliers"] = outliers;
  }
  return j;
}

torch::Tensor flatten_parameters(NetImpl& net) {
  std::vector<torch::Tensor> parts;
  for (const auto& p : net.parameters()) parts.push_back(p.detach().reshape({-1}).to(torch::kFloat));
  return parts.empty() ? torch::empty({0}) : torch::cat(parts);
}

int64_t parameter_count(NetImpl& net) {
  int64_t n = 0;
  for (const auto& p : net.parameters()) n += p.numel();
  return n;
}

void load_flat_parameters(NetImpl& net, const torch::Tensor& flat) {
  const int64_t want = parameter_count(net);
  if (flat.dim() != 1 || flat.numel() != want)
    throw UserError("flat parameter vector of shape " + c10::str(flat.sizes()) + " does not match the net's " +
                    std::to_string(want) + " parameters");
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (auto& p : net.parameters()) {
    const int64_t n = p.numel();
    p.copy_(flat.narrow(0, offset, n).view(p.sizes()));
    offset += n;
  }
}

ExpertCache::ExpertCache(const std::string& cache_dir, const LoadedDataset& data, ExpertSpec spec)
    : data_(data), spec_(std::move(spec)) {
  if (spec_.epochs < 1) throw UserError("experts: epochs must be >= 1");
  if (spec_.batch < 1) throw UserError("experts: batch must be >= 1");
  if (!(spec_.lr > 0)) throw UserError("experts: lr must be positive");
  if (spec_.sam_rho < 0) throw UserError("experts: sam_rho must be >= 0");
  if ((spec_.sam_alpha != 0 || spec_.sam_adaptive) && spec_.sam_rho == 0)
    throw UserError("experts: sam_alpha and sam_adaptive (GSAM) need sam_rho > 0");
  if (spec_.images_per_class < 0) throw UserError("experts: images_per_class must be >= 0");
  if (data_.train.size() == 0) throw UserError("experts: dataset '" + data_.info.name + "' has no training images");
  // Key on what the experts actually do: the resolved strategy, and none at all without DSA.
  spec_.dsa_strategy = !spec_.dsa ? "none"
                       : spec_.dsa_strategy.empty() ? Dsa::default_strategy_for(data_.info.name)
                                                    : spec_.dsa_strategy;
  (void)Dsa(spec_.dsa_strategy);  // unknown groups -> UserError now, not after the first expert
  const json key_json = {{"format", kFormat}, {"dataset", data_.identity}, {"spec", spec_.to_json()}};
  key_ = sha256_bytes(key_json.dump()).substr(0, 16);
  dir_ = (fs::path(cache_dir) / "experts" / key_).string();
  {
    // Counting parameters builds a net, which draws from the global RNG: leave it as it was.
    CpuRngRestore keep_rng;
    params_ = parameter_count(*make_net(spec_.net, data_.info.shape, data_.info.num_classes));
  }
  train_ = data_.train;
  if (spec_.images_per_class > 0) {
    // A fixed subset: drawn with a private generator seeded from the cache key, so every process
    // (and the expert files already on disk) agrees on it.
    if (data_.class_indices.empty()) data_.index_classes();
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(key_, 0, "subset"));
    std::vector<torch::Tensor> keep;
    for (const auto& idx : data_.class_indices) {
      const int64_t k = std::min<int64_t>(spec_.images_per_class, idx.size(0));
      keep.push_back(idx.index_select(0, at::randperm(idx.size(0), gen, torch::kLong).narrow(0, 0, k)));
    }
    const torch::Tensor pick = std::get<0>(torch::cat(keep).sort());  // dataset order
    train_.images = data_.train.images.index_select(0, pick);
    train_.labels = data_.train.labels.index_select(0, pick);
  }
}

const std::string& ExpertCache::dir() const { return dir_; }

std::string ExpertCache::path_of(int64_t index) const {
  return (fs::path(dir_) / ("expert_" + std::to_string(index) + ".pt")).string();
}

bool ExpertCache::has(int64_t index) const {
  std::error_code ec;
  const std::string p = path_of(index);
  return fs::is_regular_file(p, ec) && fs::file_size(p, ec) > 0 && !ec;
}

int64_t ExpertCache::available() const {
  int64_t n = 0;
  while (has(n)) ++n;
  return n;
}

uint64_t ExpertCache::seed_of(int64_t index) const { return derive_seed(key_, static_cast<int>(index), "expert"); }

void ExpertCache::record_in_meta(int64_t index, const json& facts) const {
  // Human-readable summary; the expert files are the truth. Two processes filling the same cache
  // at once may each drop the other's line here, never an expert.
  const std::string path = (fs::path(dir_) / "meta.json").string();
  json meta = json::object();
  if (std::ifstream in(path); in) {
    meta = json::parse(in, nullptr, false);
    if (meta.is_discarded() || !meta.is_object()) meta = json::object();
  }
  if (!meta.contains("dataset")) {
    meta["format"] = kFormat;
    meta["dataset"] = data_.info.name;
    meta["dataset_identity"] = data_.identity;
    meta["spec"] = spec_.to_json();
    meta["training_images"] = train_.size();
    meta["parameters"] = params_;
    meta["created"] = now_utc();
    meta["ddbench_version"] = ddbench_version();
    meta["git_commit"] = git_commit();
  }
  if (index >= 0) meta["experts"][std::to_string(index)] = facts;
  write_file_atomic(path, meta.dump(2) + "\n");
}

json ExpertCache::trained_with(int64_t count) const {
  json meta = json::object();
  if (std::ifstream in((fs::path(dir_) / "meta.json").string()); in) {
    meta = json::parse(in, nullptr, false);
    if (meta.is_discarded() || !meta.is_object()) meta = json::object();
  }
  std::set<std::string> devices;
  std::set<int64_t> threads;
  int64_t unrecorded = 0;
  for (int64_t i = 0; i < count; ++i) {
    const json facts = meta.contains("experts") ? meta["experts"].value(std::to_string(i), json()) : json();
    if (!facts.is_object() || !facts.contains("threads")) {
      ++unrecorded;
      continue;
    }
    devices.insert(str_or(facts, "device", "?"));
    threads.insert(facts.value("threads", int64_t{0}));
  }
  json out = {{"devices", devices}, {"threads", threads}};
  if (unrecorded) out["unrecorded"] = unrecorded;
  return out;
}

void ExpertCache::ensure(int64_t count, torch::Device device, const ProgressFn& progress) {
  bool missing = false;
  for (int64_t i = 0; i < count && !missing; ++i) missing = !has(i);
  if (!missing) return;
  fs::create_directories(dir_);
  record_in_meta(-1, {});
  CpuRngRestore keep_rng;
  for (int64_t i = 0; i < count; ++i) {
    if (has(i)) continue;
    train_one(i, device, progress, "expert " + std::to_string(i + 1) + "/" + std::to_string(count));
  }
}

// MTT buffer.py: a fresh net, SGD(lr_teacher, mom, l2), cross-entropy, shuffled batches of
// batch_train over the training split (last partial batch kept), DSA per sample on each real
// batch, parameters snapshotted at init and after every epoch. The reference also tests after
// every epoch (logging only); we test once, after the last.
void ExpertCache::train_one(int64_t index, torch::Device device, const ProgressFn& progress,
                            const std::string& phase) const {
  const auto t0 = std::chrono::steady_clock::now();
  torch::manual_seed(seed_of(index));
  Net net = make_net(spec_.net, data_.info.shape, data_.info.num_classes);
  net->to(device);
  net->train();
  std::vector<torch::Tensor> snaps{flatten_parameters(*net).cpu()};
  torch::optim::SGD opt(net->parameters(),
                        torch::optim::SGDOptions(spec_.lr).momentum(spec_.momentum).weight_decay(spec_.weight_decay));
  const Dsa dsa(spec_.dsa_strategy);
  const torch::Tensor images = train_.images.to(device);
  const torch::Tensor labels = train_.labels.to(device);
  const int64_t n = images.size(0);
  const bool oe = spec_.lambda_oe > 0;
  if (oe && !outlier_sampler_) throw std::logic_error("ExpertCache: an OE spec needs set_outlier_sampler");
  if (oe && spec_.sam_rho > 0) throw UserError("experts: outlier exposure with sharpness-aware training is not implemented");
  double last_loss = 0;
  for (int64_t ep = 0; ep < spec_.epochs; ++ep) {
    const torch::Tensor perm = torch::randperm(n, torch::kLong);
    torch::Tensor loss_sum = torch::zeros({}, images.options());
    int64_t batches = 0;
    for (int64_t start = 0; start < n; start += spec_.batch) {
      const torch::Tensor idx = perm.narrow(0, start, std::min(spec_.batch, n - start)).to(device);
      torch::Tensor x = images.index_select(0, idx);
      const torch::Tensor y = labels.index_select(0, idx);
      if (dsa.enabled()) x = dsa(x, -1);  // seed -1: per-sample parameters, as in buffer.py
      torch::Tensor loss;
      if (oe) {  // TrustDD epoch_oe: a batch of outliers beside the real one, augmented on its own
        torch::Tensor xo = outlier_sampler_(spec_.batch_oe > 0 ? spec_.batch_oe : idx.size(0)).to(device);
        if (dsa.enabled()) xo = dsa(xo, -1);
        const torch::Tensor logits = net->forward(torch::cat({x, xo}, 0));
        loss = torch::nn::functional::cross_entropy(logits.narrow(0, 0, x.size(0)), y) +
               spec_.lambda_oe * uniform_cross_entropy(logits.narrow(0, x.size(0), xo.size(0)));
        opt.zero_grad();
        loss.backward();
        opt.step();
      } else if (spec_.sam_rho > 0) {
        loss = sharpness_aware_step(*net, opt, x, y, spec_.sam_rho, spec_.sam_alpha, spec_.sam_adaptive);
      } else {
        loss = cross_entropy(*net, x, y);
        opt.zero_grad();
        loss.backward();
        opt.step();
      }
      loss_sum = loss_sum + loss.detach();
      ++batches;
    }
    last_loss = loss_sum.item<double>() / static_cast<double>(std::max<int64_t>(1, batches));
    if (!std::isfinite(last_loss))
      throw Diverged("expert " + std::to_string(index) + ": training loss became " + std::to_string(last_loss) +
                     " at epoch " + std::to_string(ep));
    snaps.push_back(flatten_parameters(*net).cpu());
    report(progress, phase, ep + 1, spec_.epochs);
  }
  const double acc = test_accuracy(*net, data_.test, device);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  save_trajectory_file(path_of(index), snaps, acc, seed_of(index));
  record_in_meta(index, {{"test_accuracy", acc},
                         {"final_train_loss", last_loss},
                         {"seconds", seconds},
                         {"seed", seed_of(index)},
                         {"device", device.str()},
                         {"threads", torch::get_num_threads()}});
}

void save_trajectory_file(const std::string& path, const std::vector<torch::Tensor>& snapshots, double test_accuracy,
                          uint64_t seed) {
  c10::Dict<std::string, torch::Tensor> dict;
  dict.insert("snapshots", torch::stack(snapshots).contiguous());  // [epochs + 1, P] float32
  dict.insert("test_accuracy", torch::tensor(test_accuracy, torch::kDouble));
  dict.insert("seed", torch::tensor(static_cast<int64_t>(seed), torch::kLong));
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

Trajectory load_trajectory_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": expert trajectory missing (ddbench experts, or the method, trains it)");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue v;
  try {
    v = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    throw UserError(path + ": corrupt expert trajectory (delete it to retrain): " + std::string(e.what()).substr(0, 200));
  }
  torch::Tensor snaps;
  Trajectory t;
  if (v.isGenericDict()) {
    for (const auto& entry : v.toGenericDict()) {
      if (!entry.key().isString() || !entry.value().isTensor()) continue;
      if (entry.key().toStringRef() == "snapshots") snaps = entry.value().toTensor();
      if (entry.key().toStringRef() == "test_accuracy") t.test_accuracy = entry.value().toTensor().item<double>();
    }
  }
  if (!snaps.defined() || snaps.dim() != 2 || !snaps.is_floating_point())
    throw UserError(path + ": not an expert trajectory (expected a dict with a 2-D float 'snapshots' tensor)");
  t.snapshots = snaps.to(torch::kFloat).contiguous().unbind(0);
  return t;
}

Trajectory ExpertCache::load(int64_t index) const {
  const std::string path = path_of(index);
  Trajectory t = load_trajectory_file(path);
  const int64_t rows = static_cast<int64_t>(t.snapshots.size());
  const int64_t cols = rows > 0 ? t.snapshots.front().numel() : 0;
  if (rows != spec_.epochs + 1 || cols != params_)
    throw UserError(path + ": snapshots are [" + std::to_string(rows) + ", " + std::to_string(cols) +
                    "], expected [" + std::to_string(spec_.epochs + 1) +
                    ", " + std::to_string(params_) + "] for " + spec_.net);
  return t;
}

}  // namespace ddb
