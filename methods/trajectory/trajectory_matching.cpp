#include "methods/trajectory/trajectory_matching.h"

#include <ATen/Context.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "harness/classification_loss.h"
#include "harness/nets/net.h"
#include "harness/train.h"
#include "methods/common.h"
#include "methods/matching/outlier_exposure.h"
#include "methods/trajectory/datm_init.h"

namespace ddb {

std::vector<OptionSpec> trajectory_option_specs() {
  std::vector<OptionSpec> specs{
      {"iterations", "int", 5000, "distillation iterations (reference --Iteration): the set after them, the one the reference evaluates"},
      {"syn_steps", "int", 20, "student SGD steps on the synthetic set per iteration"},
      {"expert_epochs", "int", 2, "expert epochs the student's syn_steps are matched to (target = start + this)"},
      {"max_start_epoch", "int", 20,
       "start epoch ~ U{0 .. max_start_epoch-1} (numpy randint(0, max_start_epoch): upper bound exclusive)"},
      {"lr_img", "float", 1000.0, "pixel SGD learning rate"},
      {"lr_lr", "float", 1e-5, "SGD learning rate of the learnable synthetic lr"},
      {"lr_teacher", "float", 0.01, "expert training lr and the initial synthetic lr"},
      {"batch_syn", "int", 0, "synthetic minibatch per student step; 0 = all images (the reference default)"},
      {"num_experts", "int", 100, "expert trajectories (trained once into the cache, shared by runs)"},
      {"expert_train_epochs", "int", 50, "epochs each expert is trained (reference buffer.py --train_epochs)"},
      {"zca", "bool", false, "ZCA-whiten the data (applied by the runner before distillation and evaluation)"},
      {"pix_init", "string", "real", "real | noise"},
      {"eval_it", "int", 100, "the reference's evaluation interval (recorded; evaluation is the eval protocol's)"},
      {"res", "int", 0, "image resolution; 0 = the dataset's, any other value must equal it"},
      {"expert_images_per_class", "int", 0, "experts train on this many images per class; 0 = all (cpu tier knob)"},
      {"dsa_strategy", "string", "",
       "DSA strategy for the student steps and the experts; empty = dataset default, none = no augmentation"},
      {"momentum", "float", 0.5, "momentum of the pixel, lr (and label) optimisers"},
  };
  // TrustDD OE / POE on the student and its experts (Tables 4, 6, A13).
  for (auto& spec : outlier_option_specs()) specs.push_back(std::move(spec));
  return specs;
}

namespace {

SoftLabels parse_soft_labels(const std::string& method, const std::string& v) {
  if (v == "none") return SoftLabels::None;
  if (v == "expert") return SoftLabels::Expert;
  if (v == "learned") return SoftLabels::Learned;
  throw UserError(method + ": option soft_labels must be learned, expert or none, got '" + v + "'");
}

}  // namespace

MetaGradient meta_gradient_option(const std::string& method, const Options& o, MetaGradient exact_mode) {
  const std::string g = o.str("meta_gradient");
  if (g == "exact") return exact_mode;
  if (g == "first_order") return MetaGradient::FirstOrder;
  throw UserError(method + ": option meta_gradient must be exact or first_order, got '" + g + "'");
}

TrajectoryConfig TrajectoryConfig::from(const std::string& method, const Options& o) {
  TrajectoryConfig c;
  c.method = method;
  c.iterations = o.integer("iterations");
  c.syn_steps = o.integer("syn_steps");
  c.expert_epochs = o.integer("expert_epochs");
  c.max_start_epoch = o.integer("max_start_epoch");
  c.lr_img = o.real("lr_img");
  c.lr_lr = o.real("lr_lr");
  c.lr_teacher = o.real("lr_teacher");
  c.momentum = o.real("momentum");
  c.batch_syn = o.integer("batch_syn");
  c.num_experts = o.integer("num_experts");
  c.expert_train_epochs = o.integer("expert_train_epochs");
  c.expert_images_per_class = o.integer("expert_images_per_class");
  c.pix_init = o.str("pix_init");
  c.dsa_strategy = o.str("dsa_strategy");
  c.eval_it = o.integer("eval_it");
  c.res = o.integer("res");
  const json& v = o.values();
  if (v.contains("soft_labels")) c.soft_labels = parse_soft_labels(method, o.str("soft_labels"));
  if (v.contains("lr_label")) c.lr_label = o.real("lr_label");
  if (v.contains("ema_decay")) c.ema_decay = o.real("ema_decay");
  if (v.contains("expert_rho")) c.expert_rho = o.real("expert_rho");
  if (v.contains("expert_alpha")) c.expert_alpha = o.real("expert_alpha");
  if (v.contains("min_start_epoch")) c.min_start_epoch = o.integer("min_start_epoch");
  if (v.contains("current_max_start_epoch")) c.current_max_start_epoch = o.integer("current_max_start_epoch");
  if (v.contains("expansion_end_epoch")) c.expansion_end_epoch = o.integer("expansion_end_epoch");
  if (v.contains("threshold")) c.loss_threshold = o.real("threshold");
  if (v.contains("momentum_label")) c.momentum_label = o.real("momentum_label");

  auto fail = [&](const std::string& what) { throw UserError(method + ": " + what); };
  if (c.iterations < 0) fail("iterations must be >= 0");
  if (c.syn_steps < 1) fail("syn_steps must be >= 1");
  if (c.expert_epochs < 1) fail("expert_epochs must be >= 1");
  if (c.max_start_epoch < 1) fail("max_start_epoch must be >= 1 (start epochs are drawn from 0 .. max_start_epoch-1)");
  if (c.min_start_epoch < 0 || c.min_start_epoch >= c.max_start_epoch)
    fail("min_start_epoch must be in [0, max_start_epoch) (start epochs are drawn from min_start_epoch .. max_start_epoch-1)");
  if (c.current_max_start_epoch < 0) fail("current_max_start_epoch must be >= 0 (0 = no sequential generation)");
  if (c.current_max_start_epoch > c.max_start_epoch)
    fail("current_max_start_epoch (" + std::to_string(c.current_max_start_epoch) + ") exceeds max_start_epoch (" +
         std::to_string(c.max_start_epoch) + "): DATM.py's window would shrink and then fail; use 0 for no sequential generation");
  if (c.current_max_start_epoch > 0 && std::min(c.current_max_start_epoch, c.max_start_epoch) <= c.min_start_epoch)
    fail("current_max_start_epoch must exceed min_start_epoch (the first iterations draw from min_start_epoch .. "
         "current_max_start_epoch-1)");
  if (c.expansion_end_epoch < 1) fail("expansion_end_epoch must be >= 1");
  if (c.loss_threshold < 0) fail("threshold must be >= 0 (0 = every iteration updates)");
  if (c.max_start_epoch - 1 + c.expert_epochs > c.expert_train_epochs)
    fail("max_start_epoch - 1 + expert_epochs (" + std::to_string(c.max_start_epoch - 1 + c.expert_epochs) +
         ") exceeds expert_train_epochs (" + std::to_string(c.expert_train_epochs) + "): the target snapshot would not exist");
  if (c.batch_syn < 0) fail("batch_syn must be >= 0 (0 = all images)");
  if (c.num_experts < 1) fail("num_experts must be >= 1");
  if (c.expert_images_per_class < 0) fail("expert_images_per_class must be >= 0 (0 = all)");
  if (c.pix_init != "real" && c.pix_init != "noise" && c.pix_init != "samples_predicted_correctly")
    fail("option pix_init must be real, noise or samples_predicted_correctly, got '" + c.pix_init + "'");
  if (c.res < 0) fail("res must be >= 0 (0 = the dataset's resolution)");
  if (c.ema_decay < 0 || c.ema_decay >= 1) fail("ema_decay must be in [0, 1)");
  if (c.expert_rho < 0) fail("expert_rho must be >= 0");
  return c;
}

torch::Tensor SyntheticState::targets() const {
  return label_logits.defined() ? torch::softmax(label_logits, 1) : hard_labels;
}

bool is_static_criterion(DropCriterion c) { return c != DropCriterion::Loss && c != DropCriterion::Random; }

const char* criterion_name(DropCriterion c) {
  switch (c) {
    case DropCriterion::Loss: return "loss";
    case DropCriterion::Random: return "random";
    case DropCriterion::Uniform: return "uniform";
    case DropCriterion::First: return "first";
    case DropCriterion::Middle: return "middle";
    case DropCriterion::Last: return "last";
  }
  return "?";
}

torch::Tensor static_dropout_keep(DropCriterion c, double ratio, const std::vector<int64_t>& tensor_sizes) {
  if (!is_static_criterion(c)) throw std::logic_error("static_dropout_keep: not a static criterion");
  int64_t p = 0;
  for (int64_t n : tensor_sizes) p += n;
  const int64_t drop = static_cast<int64_t>(ratio * static_cast<double>(p));
  std::vector<char> dropped(static_cast<size_t>(p), 0);
  auto drop_range = [&](int64_t from, int64_t count) {
    std::fill(dropped.begin() + from, dropped.begin() + from + count, 1);
  };
  if (c == DropCriterion::First) drop_range(0, drop);
  if (c == DropCriterion::Last) drop_range(p - drop, drop);
  if (c == DropCriterion::Middle) drop_range((p - drop) / 2, drop);
  if (c == DropCriterion::Uniform) {
    // Largest-remainder apportionment of `drop` over the tensors, then evenly spaced positions in each.
    std::vector<int64_t> d(tensor_sizes.size());
    std::vector<std::pair<double, size_t>> rest;
    int64_t given = 0;
    for (size_t l = 0; l < tensor_sizes.size(); ++l) {
      const double exact = ratio * static_cast<double>(tensor_sizes[l]);
      d[l] = static_cast<int64_t>(exact);
      given += d[l];
      rest.push_back({exact - static_cast<double>(d[l]), l});
    }
    std::stable_sort(rest.begin(), rest.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t k = 0; given < drop && k < rest.size(); ++k)
      if (d[rest[k].second] < tensor_sizes[rest[k].second]) ++d[rest[k].second], ++given;
    int64_t offset = 0;
    for (size_t l = 0; l < tensor_sizes.size(); ++l) {
      const int64_t n = tensor_sizes[l];
      for (int64_t j = 0; j < d[l]; ++j)
        dropped[static_cast<size_t>(offset + static_cast<int64_t>((static_cast<double>(j) + 0.5) *
                                                                  static_cast<double>(n) / static_cast<double>(d[l])))] = 1;
      offset += n;
    }
  }
  std::vector<int64_t> keep;
  keep.reserve(static_cast<size_t>(p - drop));
  for (int64_t i = 0; i < p; ++i)
    if (!dropped[static_cast<size_t>(i)]) keep.push_back(i);
  return torch::tensor(keep, torch::kInt64);
}

torch::Tensor trajectory_match_loss(const torch::Tensor& theta_n, const torch::Tensor& start, const torch::Tensor& target,
                                    double drop_ratio, DropCriterion criterion, const torch::Tensor& static_keep) {
  const int64_t p = theta_n.numel();
  torch::Tensor num = (theta_n - target).pow(2);
  torch::Tensor den = (start - target).pow(2);
  const int64_t drop = static_cast<int64_t>(drop_ratio * static_cast<double>(p));  // int(loss_threshold * len)
  if (drop > 0 && is_static_criterion(criterion)) {
    if (!static_keep.defined() || static_keep.numel() != p - drop)
      throw std::logic_error(std::string("trajectory_match_loss: criterion ") + criterion_name(criterion) +
                             " needs static_keep of " + std::to_string(p - drop) + " indices");
    const torch::Tensor keep = static_keep.to(num.device());
    num = num.index_select(0, keep);
    den = den.index_select(0, keep);
  } else if (drop > 0) {
    // edf_distill.py: _, idx = torch.sort(param_losses); keep = idx[threshold:].
    const torch::Tensor order = criterion == DropCriterion::Loss
                                    ? std::get<1>(torch::sort(num.detach()))
                                    : torch::randperm(p, torch::TensorOptions().dtype(torch::kLong)).to(num.device());
    const torch::Tensor keep = order.narrow(0, drop, p - drop);
    num = num.index_select(0, keep);
    den = den.index_select(0, keep);
  }
  // distill.py: mse_loss(sum) / P for both (the 1/P cancels; kept so the value is the reference's).
  const double pd = static_cast<double>(p);
  return (num.sum() / pd) / (den.sum() / pd);
}

int64_t start_epoch_bound(const TrajectoryConfig& cfg, int64_t it) {
  if (cfg.current_max_start_epoch <= 0) return cfg.max_start_epoch;
  // DATM.py: Upper_Bound = current_max + int((max - current_max) * it / expansion_end); min(., max).
  const double grow = static_cast<double>(cfg.max_start_epoch - cfg.current_max_start_epoch) * static_cast<double>(it) /
                      static_cast<double>(cfg.expansion_end_epoch);
  return std::min(cfg.current_max_start_epoch + static_cast<int64_t>(grow), cfg.max_start_epoch);  // int() truncates
}

namespace {

// Minibatch indices as distill.py draws them: a fresh randperm split into chunks of batch_syn, the
// chunks popped from the end (`indices_chunks.pop()`), a new permutation when none is left.
class ChunkSampler {
 public:
  ChunkSampler(int64_t n, int64_t batch) : n_(n), batch_(batch > 0 ? std::min(batch, n) : n) {}
  torch::Tensor next() {
    if (chunks_.empty()) chunks_ = torch::randperm(n_, torch::TensorOptions().dtype(torch::kLong)).split(batch_);
    torch::Tensor c = chunks_.back();
    chunks_.pop_back();
    return c;
  }

 private:
  int64_t n_, batch_;
  std::vector<torch::Tensor> chunks_;
};

// The student's cross-entropy on one step's minibatch: the seam's transform (FYI doubles the batch),
// then per-sample DSA (non-Siamese, as distill.py's DiffAugment without a seed).
// With outliers (TrustDD, `out` defined and lambda > 0): an outlier minibatch beside it, augmented on
// its own, one forward over both, loss CE(in) + lambda * H(U; f(out)) as TrustDD's epoch_oe.
torch::Tensor step_loss(ParamBinding& student, const torch::Tensor& images, const torch::Tensor& targets,
                        const torch::Tensor& theta, const torch::Tensor& idx, const UnrollSettings& st,
                        const torch::Tensor& out = {}, const torch::Tensor& idx_out = {}, double lambda = 0) {
  const torch::Tensor i = idx.to(images.device());
  SynBatch b{images.index_select(0, i), targets.index_select(0, i)};
  if (st.seam) b = st.seam->transform_synthetic(std::move(b));
  torch::Tensor x = b.images;
  if (st.dsa && st.dsa->enabled()) x = (*st.dsa)(x, -1);
  if (!out.defined() || lambda <= 0) return classification_loss(student.forward(theta, x), b.labels);
  torch::Tensor xo = out.index_select(0, idx_out.to(out.device()));
  if (st.dsa && st.dsa->enabled()) xo = (*st.dsa)(xo, -1);
  const torch::Tensor logits = student.forward(theta, torch::cat({x, xo}, 0));
  const int64_t n = x.size(0);
  return classification_loss(logits.narrow(0, 0, n), b.labels) + lambda * uniform_cross_entropy(logits.narrow(0, n, xo.size(0)));
}

torch::Tensor match_loss(const torch::Tensor& theta_n, const torch::Tensor& start, const torch::Tensor& target,
                         const UnrollSettings& st) {
  const torch::Tensor term = trajectory_match_loss(theta_n, start, target, st.drop_ratio, st.drop_criterion, st.static_keep);
  return st.seam ? st.seam->reduce(stack_terms({term})) : term;
}

void add_grad(const torch::Tensor& leaf, const torch::Tensor& g) {
  if (!g.defined()) return;
  if (leaf.grad().defined())
    leaf.mutable_grad() = leaf.grad() + g.detach();
  else
    leaf.mutable_grad() = g.detach().clone();
}

bool learns_labels(const SyntheticState& s) { return s.label_logits.defined() && s.label_logits.requires_grad(); }
bool has_outliers(const SyntheticState& s) { return s.outliers.defined() && s.lambda_oe > 0; }

// images, syn_lr, then [label_logits], then [outliers].
std::vector<torch::Tensor> learnable(const SyntheticState& s) {
  std::vector<torch::Tensor> v{s.images, s.syn_lr};
  if (learns_labels(s)) v.push_back(s.label_logits);
  if (has_outliers(s)) v.push_back(s.outliers);
  return v;
}

double unrolled(ParamBinding& student, SyntheticState& s, const torch::Tensor& start, const torch::Tensor& target,
                const UnrollSettings& st) {
  ChunkSampler sampler(s.images.size(0), st.batch_syn);
  ChunkSampler out_sampler(has_outliers(s) ? s.outliers.size(0) : 1, st.batch_syn);
  const torch::Tensor targets = s.targets();
  // distill.py: student_params[0] requires grad so that autograd.grad(ce, θ_i, create_graph=True)
  // can be taken at every step; the chain θ_{i+1} = θ_i − lr·g_i stays in the graph.
  torch::Tensor theta = start.detach().clone().requires_grad_(true);
  for (int64_t step = 0; step < st.syn_steps; ++step) {
    const torch::Tensor idx = sampler.next();
    const torch::Tensor idx_out = has_outliers(s) ? out_sampler.next() : torch::Tensor();
    const torch::Tensor ce = step_loss(student, s.images, targets, theta, idx, st, s.outliers, idx_out, s.lambda_oe);
    const torch::Tensor g = torch::autograd::grad({ce}, {theta}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    theta = theta - s.syn_lr * g;
  }
  const torch::Tensor loss = match_loss(theta, start, target, st);
  const auto inputs = learnable(s);
  const auto grads = torch::autograd::grad({loss}, inputs, {}, false, false, /*allow_unused=*/true);
  for (size_t i = 0; i < inputs.size(); ++i) add_grad(inputs[i], grads[i]);
  return loss.item<double>();
}

// TESLA's constant-memory gradient. Forward: θ_{i+1} = θ_i − η g_i with g_i = ∇_θ ℓ(θ_i; X_i), keeping
// only θ_i (no graph). Backward with the adjoint a_i = ∂L/∂θ_i, a_N = ∂L/∂θ_N:
//   ∂L/∂X_i += −η (∂g_i/∂X_i)ᵀ a_{i+1}      (the same for learned label logits)
//   ∂L/∂η   += −a_{i+1} · g_i
//   a_i      = a_{i+1} − η H_i a_{i+1}
// where one autograd call on a_{i+1} · g_i (g_i recomputed with create_graph) gives both H_i a_{i+1}
// and the images' term. The loss's denominator does not depend on the learnables.
double adjoint(ParamBinding& student, SyntheticState& s, const torch::Tensor& start, const torch::Tensor& target,
               const UnrollSettings& st) {
  at::Generator gen = at::globalContext().defaultGenerator(at::kCPU);
  auto save_rng = [&gen] {
    std::lock_guard<std::mutex> lock(gen.mutex());
    return gen.get_state();
  };
  auto restore_rng = [&gen](const torch::Tensor& state) {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
  };
  const bool first_order = st.gradient == MetaGradient::FirstOrder;
  ChunkSampler sampler(s.images.size(0), st.batch_syn);
  ChunkSampler out_sampler(has_outliers(s) ? s.outliers.size(0) : 1, st.batch_syn);
  const torch::Tensor eta = s.syn_lr.detach();
  std::vector<torch::Tensor> thetas{start.detach()};
  std::vector<torch::Tensor> indices, indices_out, rng_states;
  const torch::Tensor no_outliers;
  {
    const torch::Tensor images = s.images.detach();
    const torch::Tensor targets = s.targets().detach();
    const torch::Tensor outliers = has_outliers(s) ? s.outliers.detach() : no_outliers;
    for (int64_t step = 0; step < st.syn_steps; ++step) {
      indices.push_back(sampler.next());
      indices_out.push_back(has_outliers(s) ? out_sampler.next() : torch::Tensor());
      rng_states.push_back(save_rng());  // the augmentation's draws start here
      const torch::Tensor theta = thetas.back().detach().requires_grad_(true);
      const torch::Tensor ce =
          step_loss(student, images, targets, theta, indices.back(), st, outliers, indices_out.back(), s.lambda_oe);
      const torch::Tensor g = torch::autograd::grad({ce}, {theta})[0];
      thetas.push_back((theta.detach() - eta * g).detach());
    }
  }
  const torch::Tensor after_forward = save_rng();

  const torch::Tensor theta_n = thetas.back().detach().requires_grad_(true);
  const torch::Tensor loss = match_loss(theta_n, start, target, st);
  torch::Tensor a = torch::autograd::grad({loss}, {theta_n})[0].detach();

  const auto inputs = learnable(s);  // images, syn_lr, [label_logits], [outliers]
  // What the per-step gradient depends on besides θ: every learnable but syn_lr (its term is d_eta).
  std::vector<torch::Tensor> wrt_inputs;
  std::vector<size_t> slot_of;
  for (size_t k = 0; k < inputs.size(); ++k)
    if (k != 1) wrt_inputs.push_back(inputs[k]), slot_of.push_back(k);
  std::vector<torch::Tensor> sums(inputs.size());
  torch::Tensor d_eta = torch::zeros_like(eta);
  for (int64_t step = st.syn_steps - 1; step >= 0; --step) {
    restore_rng(rng_states[step]);
    const torch::Tensor theta = thetas[step].detach().requires_grad_(true);
    const torch::Tensor ce = step_loss(student, s.images, s.targets(), theta, indices[step], st,
                                       has_outliers(s) ? s.outliers : no_outliers, indices_out[step], s.lambda_oe);
    const torch::Tensor g = torch::autograd::grad({ce}, {theta}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    d_eta = d_eta - (a * g.detach()).sum();
    // First order (TESLA): a stays ∂L/∂θ_N, so θ needs no gradient (no Hessian-vector product).
    std::vector<torch::Tensor> wrt;
    if (!first_order) wrt.push_back(theta);
    const size_t off = wrt.size();
    wrt.insert(wrt.end(), wrt_inputs.begin(), wrt_inputs.end());
    const auto gr = torch::autograd::grad({(g * a).sum()}, wrt, {}, false, false, /*allow_unused=*/true);
    for (size_t k = off; k < wrt.size(); ++k) {
      if (!gr[k].defined()) continue;
      const size_t slot = slot_of[k - off];
      const torch::Tensor term = -eta * gr[k].detach();
      sums[slot] = sums[slot].defined() ? sums[slot] + term : term;
    }
    if (!first_order) a = (a - eta * gr[0].detach()).detach();
  }
  restore_rng(after_forward);
  sums[1] = d_eta;
  for (size_t i = 0; i < inputs.size(); ++i) add_grad(inputs[i], sums[i]);
  return loss.item<double>();
}

}  // namespace

double trajectory_meta_gradient(ParamBinding& student, SyntheticState& state, const torch::Tensor& start,
                                const torch::Tensor& target, const UnrollSettings& settings) {
  const auto opts = state.images.options().requires_grad(false);
  const torch::Tensor s = start.detach().to(opts);
  const torch::Tensor t = target.detach().to(opts);
  return settings.gradient == MetaGradient::Unrolled ? unrolled(student, state, s, t, settings)
                                                      : adjoint(student, state, s, t, settings);
}

ImageEma::ImageEma(const torch::Tensor& images, double decay) : ema_(images.detach().clone()), decay_(decay) {}

void ImageEma::update(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  ema_.mul_(decay_).add_(images.detach(), 1.0 - decay_);
}

namespace {

// Experts in the order distill.py visits them without --load_all: a shuffled pass over all of
// them, reshuffled when exhausted (the reference shuffles within and across buffer files).
class ExpertOrder {
 public:
  explicit ExpertOrder(int64_t count) : count_(count) {}
  int64_t next() {
    if (pos_ >= order_.size()) {
      const torch::Tensor p = torch::randperm(count_, torch::TensorOptions().dtype(torch::kLong));
      order_.assign(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + count_);
      pos_ = 0;
    }
    return order_[pos_++];
  }

 private:
  int64_t count_;
  std::vector<int64_t> order_;
  size_t pos_ = 0;
};

// Keeps loaded trajectories in memory while they fit in a fixed budget (the reference loads one
// buffer file of 10 experts at a time); beyond it each iteration reads its expert from disk.
class TrajectoryStore {
 public:
  explicit TrajectoryStore(const ExpertSource& src) : src_(src) {}
  const std::vector<torch::Tensor>& get(int64_t index) {
    auto it = kept_.find(index);
    if (it != kept_.end()) return it->second;
    std::vector<torch::Tensor> t = src_.load(index);
    int64_t bytes = 0;
    for (const auto& s : t) bytes += s.numel() * static_cast<int64_t>(s.element_size());
    if (bytes_ + bytes <= kBudget) {
      bytes_ += bytes;
      return kept_.emplace(index, std::move(t)).first->second;
    }
    last_ = std::move(t);
    return last_;
  }

 private:
  static constexpr int64_t kBudget = int64_t{2} << 30;  // 2 GiB
  const ExpertSource& src_;
  std::map<int64_t, std::vector<torch::Tensor>> kept_;
  std::vector<torch::Tensor> last_;
  int64_t bytes_ = 0;
};

}  // namespace

SyntheticSet run_trajectory_matching(const TrajectoryConfig& cfg, const DistillContext& ctx,
                                     const ExpertSource& experts,
                                     const std::function<void(int64_t, const torch::Tensor&)>& observer,
                                     OutlierSource* outliers, const ImageGradientHook* image_gradient,
                                     const SyntheticSet* frozen) {
  const auto& info = ctx.data.info;
  if (cfg.res != 0 && (cfg.res != info.shape.height || cfg.res != info.shape.width))
    throw UserError(cfg.method + ": option res = " + std::to_string(cfg.res) + " but " + info.name + " images are " +
                    std::to_string(info.shape.height) + "x" + std::to_string(info.shape.width) +
                    " (ddbench does not resize; use res 0 or the dataset's size)");
  if (experts.count < 1) throw UserError(cfg.method + ": no expert trajectories");

  TrajectoryStore store(experts);
  const bool correct_init = cfg.pix_init == "samples_predicted_correctly";
  // MTT's order (initial images, then the student net) keeps its random stream; DATM's initialisation
  // needs the net (and the experts) first.
  SyntheticSet init;
  if (!correct_init) init = cfg.pix_init == "noise" ? noise_init(info, ctx.ipc) : real_init(ctx.data, ctx.ipc);
  // PDD: the earlier stages' images first (distill_increase.py: torch.cat([images_best, image_syn])),
  // kept fixed by zeroing their rows of every gradient before the update.
  const int64_t n_frozen = frozen ? frozen->size() : 0;
  if (n_frozen > 0) {
    if (correct_init || cfg.soft_labels != SoftLabels::None || outliers || cfg.ema_decay > 0 || image_gradient)
      throw UserError(cfg.method + ": frozen earlier images work with MTT's plain loop only (hard labels, no EMA, "
                      "outliers or gradient hooks)");
    if (frozen->labels.dim() != 1) throw UserError(cfg.method + ": frozen earlier images need hard labels");
    init.images = torch::cat({frozen->images.to(init.images.dtype()), init.images});
    init.labels = torch::cat({frozen->labels.to(torch::kLong), init.labels});
  }
  Net net = make_net(ctx.net, info.shape, info.num_classes);
  net->to(ctx.device);
  net->train();  // distill.py: student_net.train()
  for (auto& p : net->parameters()) p.set_requires_grad(false);
  ParamBinding student(*net);
  auto check_length = [&](const std::vector<torch::Tensor>& t, int64_t index) {
    if (static_cast<int64_t>(t.size()) < cfg.max_start_epoch + cfg.expert_epochs)
      throw UserError(cfg.method + ": expert " + std::to_string(index) + " has " + std::to_string(t.size()) +
                      " snapshots; max_start_epoch + expert_epochs needs " +
                      std::to_string(cfg.max_start_epoch + cfg.expert_epochs));
    if (t.front().numel() != student.numel())
      throw UserError(cfg.method + ": expert " + std::to_string(index) + " has " + std::to_string(t.front().numel()) +
                      " parameters but " + ctx.net + " has " + std::to_string(student.numel()) +
                      " (experts trained on another network?)");
  };
  const FinalParams final_params = [&](int64_t e) {
    const auto& t = store.get(e);
    check_length(t, e);
    return t.back();
  };
  json init_meta;
  if (correct_init) {
    CorrectlyClassifiedInit ci =
        correctly_classified_init(ctx.data, ctx.ipc, *net, student, final_params, experts.count, ctx.device);
    init = std::move(ci.set);
    init_meta = {{"pix_init", "samples_predicted_correctly (DATM.py: images expert 0's final parameters classify correctly)"},
                 {"experts_consulted", ci.experts_consulted},
                 {"misclassified_fill", ci.misclassified_fill}};
  }

  SyntheticState s;
  s.images = init.images.to(ctx.device).detach().requires_grad_(true);
  s.hard_labels = init.labels.to(ctx.device);
  s.syn_lr = torch::tensor(cfg.lr_teacher, torch::TensorOptions().dtype(torch::kFloat32).device(ctx.device))
                 .requires_grad_(true);

  if (cfg.soft_labels == SoftLabels::Learned && cfg.label_init == LabelInit::CorrectExperts) {
    // DATM.py: per image, the mean logits of the experts (final parameters) that classify it correctly.
    for (int64_t e = 0; e < experts.count; ++e) check_length(store.get(e), e);
    ExpertLogits el = correct_expert_logits(*net, student, s.images.detach(), s.hard_labels, final_params, experts.count,
                                            ctx.device);
    s.label_logits = el.logits.to(ctx.device).detach().requires_grad_(true);
    init_meta["label_init"] = "mean logits of the experts (final parameters) that classify the image correctly";
    init_meta["label_init_accuracy"] = el.initial_accuracy;
    init_meta["images_without_correct_expert"] = el.images_without_correct_expert;
  } else if (cfg.soft_labels == SoftLabels::Learned) {
    // Learned soft labels start from an expert's logits on the initial images: expert 0 at epoch
    // max_start_epoch (the latest epoch a student starts from), recorded in the meta.
    const auto& t = store.get(0);
    check_length(t, 0);
    torch::NoGradGuard no_grad;
    const torch::Tensor theta = t[cfg.max_start_epoch].to(ctx.device);
    s.label_logits = student.forward(theta, s.images.detach()).detach();
    s.label_logits.requires_grad_(true);
  }

  // TrustDD on the student: S_out initialised like the images (real outliers of each slot, or noise),
  // optimised with the images' lr and momentum (TrustDD's MTT/TESLA code is not released; its DSA code
  // gives S_out the images' optimiser settings).
  std::unique_ptr<torch::optim::SGD> opt_out;
  if (outliers) {
    s.outliers = outlier_init(*outliers, info, ctx.ipc, cfg.pix_init != "noise").to(ctx.device).detach().requires_grad_(true);
    s.lambda_oe = outlier_options(ctx.options, info.name).lambda_oe;
    opt_out = std::make_unique<torch::optim::SGD>(std::vector<torch::Tensor>{s.outliers},
                                                  torch::optim::SGDOptions(cfg.lr_img).momentum(cfg.momentum));
  }
  torch::optim::SGD opt_img({s.images}, torch::optim::SGDOptions(cfg.lr_img).momentum(cfg.momentum));
  torch::optim::SGD opt_lr({s.syn_lr}, torch::optim::SGDOptions(cfg.lr_lr).momentum(cfg.momentum));
  std::unique_ptr<torch::optim::SGD> opt_label;
  if (cfg.soft_labels == SoftLabels::Learned)
    opt_label = std::make_unique<torch::optim::SGD>(std::vector<torch::Tensor>{s.label_logits},
                                                    torch::optim::SGDOptions(cfg.lr_label).momentum(
                                                        cfg.momentum_label >= 0 ? cfg.momentum_label : cfg.momentum));

  const Dsa dsa(cfg.dsa_strategy.empty() ? Dsa::default_strategy_for(info.name) : cfg.dsa_strategy);
  const MatchingSeam seam(ctx.options);
  UnrollSettings st;
  st.syn_steps = cfg.syn_steps;
  st.batch_syn = cfg.batch_syn;
  st.gradient = cfg.gradient;
  st.dsa = &dsa;
  st.seam = &seam;
  st.drop_ratio = cfg.drop_ratio;
  st.drop_criterion = cfg.drop_criterion;
  if (cfg.drop_ratio > 0 && is_static_criterion(cfg.drop_criterion)) {
    std::vector<int64_t> sizes;
    for (const auto& p : net->parameters()) sizes.push_back(p.numel());  // ParamBinding's flat order
    st.static_keep = static_dropout_keep(cfg.drop_criterion, cfg.drop_ratio, sizes);
  }

  std::unique_ptr<ImageEma> ema;
  if (cfg.ema_decay > 0) ema = std::make_unique<ImageEma>(s.images, cfg.ema_decay);

  ExpertOrder order(experts.count);
  std::vector<int64_t> start_hist(cfg.max_start_epoch, 0);
  double last = 0, first = 0;
  int64_t skipped = 0;  // iterations whose loss exceeded the threshold (no update)
  if (observer) observer(-1, s.images.detach());
  // The set as it would be stored now (EMA images for FTD, soft labels, the learned lr).
  auto current_set = [&] {
    SyntheticSet cur;
    cur.images = (ema ? ema->value() : s.images).detach().cpu().clone();
    cur.labels = s.label_logits.defined() ? torch::softmax(s.label_logits.detach(), 1).cpu() : init.labels;
    cur.learned_lr = s.syn_lr.detach().cpu().clone();
    if (s.outliers.defined()) cur.outliers = s.outliers.detach().cpu().clone();
    return cur;
  };
  // `for it in range(0, args.Iteration+1)` evaluates at the top of `it == Iteration`, after Iteration
  // updates; the reference's last update only reaches its saved file. We stop where it evaluates.
  for (int64_t it = 0; it < cfg.iterations; ++it) {
    if (ctx.snapshot_due(it)) ctx.snapshot(it, current_set());  // eval_it_pool: at the top, after `it` updates
    const int64_t e = order.next();
    const auto& traj = store.get(e);
    check_length(traj, e);
    // np.random.randint(min_start_epoch, bound): min_start_epoch .. bound - 1 (bound = max_start_epoch
    // unless DATM's sequential generation widens it over the iterations).
    const int64_t start_epoch =
        torch::randint(cfg.min_start_epoch, start_epoch_bound(cfg, it), {1}, torch::kLong).item<int64_t>();
    ++start_hist[start_epoch];
    opt_img.zero_grad();
    opt_lr.zero_grad();
    if (opt_label) opt_label->zero_grad();
    if (opt_out) opt_out->zero_grad();
    if (cfg.soft_labels == SoftLabels::Expert) {
      // TESLA --teacher_label: the labels of this iteration are the current expert's logits at its
      // target parameters on the current images.
      torch::NoGradGuard no_grad;
      s.label_logits = student.forward(traj[start_epoch + cfg.expert_epochs].to(ctx.device), s.images.detach()).detach();
    }
    last = trajectory_meta_gradient(student, s, traj[start_epoch], traj[start_epoch + cfg.expert_epochs], st);
    if (it == 0) first = last;
    check_finite(last, cfg.method + " trajectory matching", it);
    seam.on_pixel_gradient(s.images);
    if (n_frozen > 0) s.images.mutable_grad().narrow(0, 0, n_frozen).zero_();  // image_syn.grad.data[:masked_num] = 0
    if (image_gradient) image_gradient->apply(it, s, traj);
    // DATM.py: `if grand_loss <= args.threshold:` step images, labels and lr; otherwise skip the update.
    if (cfg.loss_threshold > 0 && last > cfg.loss_threshold) {
      ++skipped;
    } else {
      opt_img.step();
      opt_lr.step();
      if (opt_label) opt_label->step();
      if (opt_out) {
        seam.on_pixel_gradient(s.outliers);
        opt_out->step();
      }
    }
    if (ema) ema->update(s.images);
    if (observer) observer(it, s.images.detach());
    report(ctx.progress, "distill", it + 1, cfg.iterations);
  }

  // The loss is checked before each update; an update can still overflow the pixels or the lr.
  if (!torch::isfinite(s.images).all().item<bool>() || !std::isfinite(s.syn_lr.item<double>()))
    throw Diverged(cfg.method + ": synthetic images or learned lr became non-finite after the last update");
  SyntheticSet out = current_set();
  if (ctx.snapshot_due(cfg.iterations)) ctx.snapshot(cfg.iterations, out);
  out.meta["first_loss"] = first;
  out.meta["final_loss"] = last;
  out.meta["learned_lr"] = s.syn_lr.item<double>();
  out.meta["modifiers"] = seam.active();
  out.meta["start_epoch_histogram"] = start_hist;
  if (n_frozen > 0) out.meta["frozen_images"] = n_frozen;
  if (cfg.min_start_epoch > 0 || cfg.current_max_start_epoch > 0)
    out.meta["start_epochs"] = {{"min", cfg.min_start_epoch},
                                {"current_max", cfg.current_max_start_epoch},
                                {"max", cfg.max_start_epoch},
                                {"expansion_end", cfg.expansion_end_epoch}};
  if (cfg.loss_threshold > 0) {
    out.meta["loss_threshold"] = cfg.loss_threshold;
    out.meta["iterations_skipped_by_threshold"] = skipped;
  }
  if (cfg.drop_ratio > 0)
    out.meta["common_pattern_dropout"] = {{"ratio", cfg.drop_ratio},
                                          {"criterion", criterion_name(cfg.drop_criterion)},
                                          {"static", is_static_criterion(cfg.drop_criterion)}};
  if (!init_meta.is_null()) out.meta["init"] = init_meta;
  if (image_gradient && image_gradient->describe) out.meta["image_gradient"] = image_gradient->describe();
  if (image_gradient && image_gradient->on_stored) out.meta["image_gradient"]["stored_set"] = image_gradient->on_stored(out);
  out.meta["meta_gradient"] = cfg.gradient == MetaGradient::Unrolled ? "unrolled"
                              : cfg.gradient == MetaGradient::Adjoint ? "adjoint (exact)"
                                                                      : "first-order (TESLA: per-step gradients detached)";
  out.meta["soft_labels"] = cfg.soft_labels == SoftLabels::None     ? "none"
                            : cfg.soft_labels == SoftLabels::Expert ? "expert (each iteration: the current expert's target parameters)"
                            : cfg.label_init == LabelInit::CorrectExperts
                                ? "learned (init: mean logits of the experts that classify each image correctly)"
                                : "learned (init: expert 0 at max_start_epoch)";
  if (ema) {
    out.meta["stored_images"] = "ema";
    out.meta["ema_decay"] = cfg.ema_decay;
  }
  if (outliers) {
    out.meta["outliers"] = outliers->describe();
    out.meta["outliers"]["matching"] = "student loss CE(S_in) + lambda_oe * H(U; f(S_out)) (paper Eq. 11); S_out gets the trajectory loss's gradient";
  }
  out.meta["dsa_strategy"] = dsa.strategy();
  out.meta["eval_it"] = cfg.eval_it;
  return out;
}

}  // namespace ddb
