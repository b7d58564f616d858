// `dc` and `dsa`: dataset condensation by gradient matching (reference VICO-UoE/DatasetCondensation
// main.py). Per iteration a freshly initialised net; per outer step, for every class, the gradient
// of the cross-entropy w.r.t. the net's parameters on a real batch is matched to the one on the
// class's synthetic images (distance `dis_metric`), the summed distance takes one SGD step on the
// pixels, and the net trains `inner_loop` epochs on the synthetic set before the next outer step.
// `dsa` is the same loop with Siamese DSA on both batches and DSA in the inner-loop training.
#include "methods/matching/gradient_matching.h"

#include "harness/nets/fused_block.h"
#include "methods/common.h"
#include "methods/matching/gradient_distance.h"

namespace ddb {

MatchingLoops get_loops(int64_t ipc) {
  switch (ipc) {
    case 1: return {1, 1};
    case 10: return {10, 50};
    case 20: return {20, 25};
    case 30: return {30, 20};
    case 40: return {40, 15};
    case 50: return {50, 10};
    default:
      throw UserError("the reference's get_loops defines outer/inner loops only for IPC 1, 10, 20, 30, 40, 50 (got " +
                      std::to_string(ipc) + "); give options outer_loop and inner_loop");
  }
}

MatchingLoops resolve_loops(int64_t ipc, int64_t outer_loop, int64_t inner_loop) {
  if (outer_loop < 0 || inner_loop < 0)
    throw UserError("options outer_loop and inner_loop must be >= 0 (0 = the reference's get_loops(ipc))");
  if (outer_loop > 0 && inner_loop > 0) return {outer_loop, inner_loop};
  MatchingLoops l = get_loops(ipc);
  if (outer_loop > 0) l.outer = outer_loop;
  if (inner_loop > 0) l.inner = inner_loop;
  return l;
}

TrainSchedule inner_loop_schedule(double lr_net, int64_t inner_loop, int64_t batch_train,
                                  std::function<torch::Tensor(const torch::Tensor&)> augment) {
  TrainSchedule s;
  s.epochs = inner_loop - 1;  // train_classifier trains epochs + 1; the reference `for il in range(inner_loop)`
  s.lr = lr_net;
  s.momentum = 0.0;
  s.weight_decay = 0.0;
  s.batch = batch_train;
  s.lr_drop = false;
  s.augment = std::move(augment);
  return s;
}

TrainSchedule synthetic_training_schedule(double lr_net, int64_t epochs, int64_t batch_train, const Dsa* dsa,
                                          const MatchingSeam& seam) {
  std::function<torch::Tensor(const torch::Tensor&)> augment;
  if (dsa != nullptr) augment = [dsa](const torch::Tensor& x) { return (*dsa)(x, -1); };
  TrainSchedule schedule = inner_loop_schedule(lr_net, epochs, batch_train, std::move(augment));
  if (!seam.empty())
    schedule.batch_transform = [&seam](torch::Tensor x, torch::Tensor y) {
      SynBatch b = seam.transform_inner_batch({std::move(x), std::move(y)});
      return std::make_pair(std::move(b.images), std::move(b.labels));
    };
  return schedule;
}

bool freeze_batchnorm_stats(NetImpl& net, const LoadedDataset& data, int64_t per_class, torch::Device device) {
  // The reference tests `'BatchNorm' in module._get_name()`; LibTorch's names are
  // "torch::nn::BatchNorm2dImpl" etc.
  std::vector<std::shared_ptr<torch::nn::Module>> bn;
  for (const auto& m : net.modules(/*include_self=*/false))
    if (m->name().find("BatchNorm") != std::string::npos) bn.push_back(m);
  if (bn.empty()) return false;
  std::vector<torch::Tensor> parts;
  for (int64_t c = 0; c < data.info.num_classes; ++c) parts.push_back(data.sample_class(c, per_class));
  {
    torch::NoGradGuard no_grad;
    net.train();
    net.forward(torch::cat(parts, 0).to(device));
  }
  for (const auto& m : bn) m->eval();
  return true;
}

GradientMatchingStep::GradientMatchingStep(const LoadedDataset& data, int64_t ipc, const Options& o, bool use_dsa,
                                           uint64_t seed, torch::Device device)
    : data_(data),
      ipc_(ipc),
      batch_real_(o.integer("batch_real")),
      batch_train_(o.integer("batch_train")),
      lr_net_(o.real("lr_net")),
      metric_(o.str("dis_metric")),
      use_dsa_(use_dsa),
      dsa_(use_dsa ? (o.str("dsa_strategy").empty() ? Dsa::default_strategy_for(data.info.name) : o.str("dsa_strategy"))
                   : "none"),
      seam_(o),
      outliers_(outlier_options(o, data.info.name)),
      siamese_rng_(seed ^ 0x5eedULL),
      device_(device) {
  check_gradient_distance_metric(metric_);
  if (batch_real_ < 1 || batch_train_ < 1) throw UserError("options batch_real and batch_train must be >= 1");
  single_set_ = o.flag("single_set");
  random_outliers_ = o.flag("random_outliers");
  if ((single_set_ || random_outliers_) && !outliers_.enabled())
    throw UserError(std::string("option ") + (single_set_ ? "single_set" : "random_outliers") +
                    " needs outliers: set oe or poe (TrustDD's variants of S_out)");
  if (single_set_ && random_outliers_)
    throw UserError("options single_set and random_outliers exclude each other (single_set has no S_out to select)");
}

double GradientMatchingStep::outer_step(NetImpl& net, const torch::Tensor& syn, const torch::Tensor& labels,
                                        torch::optim::Optimizer& pixel_optimizer, OutlierSource* single_set) {
  // main.py recomputes and freezes the BatchNorm statistics before every outer step (BNSizePC = 16);
  // the inner loop's `epoch('train')` puts them back in train mode.
  constexpr int64_t kBnImagesPerClass = 16;
  const nets::UnfusedScope same_kernels;  // g_real and g_syn from the same kernels (fused_block.h)
  freeze_batchnorm_stats(net, data_, kBnImagesPerClass, device_);
  const std::vector<torch::Tensor> params = net.parameters();
  std::vector<torch::Tensor> terms;
  // Class by class, unlike DM's embeddings (distribution_matching.h: map_classes): each class needs
  // its own parameter gradient, and a backward through one forward over all classes computes the
  // full batch's graph once per class (a 10x larger backward) instead of splitting it.
  for (int64_t c = 0; c < data_.info.num_classes; ++c) {
    torch::Tensor real = data_.sample_class(c, batch_real_).to(device_);
    const torch::Tensor real_labels = torch::full({real.size(0)}, c, torch::TensorOptions().dtype(torch::kLong).device(device_));
    SynBatch s = seam_.transform_synthetic({syn.narrow(0, c * ipc_, ipc_), labels.narrow(0, c * ipc_, ipc_)});
    // Eq. 12's T = T_in + T_out: the slot's real outliers, under the same augmentation A as T_in.
    torch::Tensor outliers = single_set != nullptr ? single_set->sample(c, outliers_.batch_oe).to(device_) : torch::Tensor();
    if (use_dsa_) {
      const int64_t seed = static_cast<int64_t>(siamese_rng_() % 100000);
      real = dsa_(real, seed);
      s.images = dsa_(s.images, seed);
      if (outliers.defined()) outliers = dsa_(outliers, seed);
    }
    last_syn_batch_ = s.images.size(0);
    torch::Tensor loss_real = torch::nn::functional::cross_entropy(net.forward(real), real_labels);
    if (outliers.defined()) loss_real = loss_real + outliers_.lambda_oe * uniform_cross_entropy(net.forward(outliers));
    std::vector<torch::Tensor> g_real = torch::autograd::grad({loss_real}, params);
    for (auto& g : g_real) g = g.detach();
    const torch::Tensor loss_syn = torch::nn::functional::cross_entropy(net.forward(s.images), s.labels.to(device_));
    const std::vector<torch::Tensor> g_syn =
        torch::autograd::grad({loss_syn}, params, /*grad_outputs=*/{}, /*retain_graph=*/true, /*create_graph=*/true);
    for (auto& t : gradient_distance_terms(g_real, g_syn, metric_)) terms.push_back(std::move(t));
  }
  // Gradient to the synthetic images only. The reference's loss.backward() also fills the net's
  // .grad, which its inner loop zeroes before use; skipping that second-order work changes nothing.
  return seam_.pixel_step(terms, syn, pixel_optimizer);
}

double GradientMatchingStep::outlier_step(NetImpl& net, const torch::Tensor& syn_out, OutlierSource& source,
                                          torch::optim::Optimizer& pixel_optimizer) {
  const nets::UnfusedScope same_kernels;  // g_real and g_syn from the same kernels (fused_block.h)
  const std::vector<torch::Tensor> params = net.parameters();
  std::vector<torch::Tensor> terms;
  for (int64_t c = 0; c < data_.info.num_classes; ++c) {
    torch::Tensor real = source.sample(c, outliers_.batch_oe).to(device_);
    torch::Tensor s = syn_out.narrow(0, c * ipc_, ipc_);
    if (use_dsa_) {
      const int64_t seed = static_cast<int64_t>(siamese_rng_() % 100000);
      real = dsa_(real, seed);
      s = dsa_(s, seed);
    }
    std::vector<torch::Tensor> g_real = torch::autograd::grad({uniform_cross_entropy(net.forward(real))}, params);
    for (auto& g : g_real) g = g.detach();
    const std::vector<torch::Tensor> g_syn = torch::autograd::grad({uniform_cross_entropy(net.forward(s))}, params,
                                                                   /*grad_outputs=*/{}, /*retain_graph=*/true,
                                                                   /*create_graph=*/true);
    for (auto& t : gradient_distance_terms(g_real, g_syn, metric_)) terms.push_back(std::move(t));
  }
  return seam_.pixel_step(terms, syn_out, pixel_optimizer);
}

void GradientMatchingStep::train_net(NetImpl& net, const torch::Tensor& syn, const torch::Tensor& labels,
                                     int64_t inner_loop, const torch::Tensor& syn_out) const {
  TrainSchedule schedule = synthetic_training_schedule(lr_net_, inner_loop, batch_train_, use_dsa_ ? &dsa_ : nullptr, seam_);
  if (syn_out.defined()) {
    schedule.outliers = syn_out.detach().clone();
    schedule.lambda_oe = outliers_.lambda_oe;
  }
  // A detached copy, as the reference's copy.deepcopy(image_syn.detach()).
  train_classifier(net, syn.detach().clone(), labels, schedule);
}

namespace {

class GradientMatching : public Method {
 public:
  explicit GradientMatching(bool use_dsa) : use_dsa_(use_dsa) {}

  SyntheticSet distill(const DistillContext& ctx) override {
    const Options& o = ctx.options;
    const std::string name = use_dsa_ ? "dsa" : "dc";
    const std::string init_kind = o.str("init");
    if (init_kind != "noise" && init_kind != "real")
      throw UserError(name + ": option init must be 'real' or 'noise', got '" + init_kind + "'");
    const int64_t iterations = o.integer("iterations");
    if (iterations < 0) throw UserError(name + ": option iterations must be >= 0");
    const MatchingLoops loops = resolve_loops(ctx.ipc, o.integer("outer_loop"), o.integer("inner_loop"));
    GradientMatchingStep step(ctx.data, ctx.ipc, o, use_dsa_, ctx.seed, ctx.device);

    const auto& info = ctx.data.info;
    const SyntheticSet init = init_kind == "noise" ? noise_init(info, ctx.ipc) : real_init(ctx.data, ctx.ipc);
    const torch::Tensor syn = init.images.to(ctx.device).detach().requires_grad_(true);
    const torch::Tensor labels = init.labels.to(ctx.device);
    torch::optim::SGD pixel_opt({syn}, torch::optim::SGDOptions(o.real("lr_img")).momentum(o.real("momentum")));
    // TrustDD: S_out beside S_in, initialised like it (the reference: real outliers of the slot, or
    // noise), with its own pixel optimiser (same lr and momentum).
    std::unique_ptr<OutlierSource> outlier_source;
    torch::Tensor syn_out;
    std::unique_ptr<torch::optim::SGD> outlier_opt;
    // single_set: no S_out; the source feeds the InD matching term (Eq. 12). random_outliers: S_out
    // is real outliers of each slot, kept as drawn (no optimiser).
    if (step.outliers().enabled()) {
      outlier_source = std::make_unique<OutlierSource>(ctx, step.outliers(), info.num_classes);
      if (!step.single_set()) {
        const bool real_outliers = init_kind == "real" || step.random_outliers();
        syn_out = outlier_init(*outlier_source, info, ctx.ipc, real_outliers).to(ctx.device).detach();
        if (!step.random_outliers()) {
          syn_out.requires_grad_(true);
          outlier_opt = std::make_unique<torch::optim::SGD>(
              std::vector<torch::Tensor>{syn_out}, torch::optim::SGDOptions(o.real("lr_img")).momentum(o.real("momentum")));
        }
      }
    }
    OutlierSource* single_set = step.single_set() ? outlier_source.get() : nullptr;

    double last = 0, last_oe = 0;
    // `for it in range(Iteration + 1)` evaluates at the top of `it == Iteration`, after Iteration
    // updates; the reference's last update only reaches its saved file. The set we evaluate is the
    // one it evaluates: Iteration updates.
    for (int64_t it = 0; it < iterations; ++it) {  // each with a fresh net
      Net net = make_net(ctx.net, info.shape, info.num_classes);
      net->to(ctx.device);
      net->train();
      double sum = 0, sum_oe = 0;
      for (int64_t ol = 0; ol < loops.outer; ++ol) {
        const double loss = step.outer_step(*net, syn, labels, pixel_opt, single_set);
        check_finite(loss, name + " gradient matching", it);
        sum += loss;
        if (outlier_opt) {
          const double loss_oe = step.outlier_step(*net, syn_out, *outlier_source, *outlier_opt);
          check_finite(loss_oe, name + " outlier matching", it);
          sum_oe += loss_oe;
        }
        if (ol == loops.outer - 1) break;  // no net training after the last pixel step
        step.train_net(*net, syn, labels, loops.inner, syn_out);
      }
      // The reference's printed loss_avg: per class and outer step.
      last = sum / static_cast<double>(info.num_classes * loops.outer);
      last_oe = sum_oe / static_cast<double>(info.num_classes * loops.outer);
      report(ctx.progress, "distill", it + 1, iterations);
    }
    SyntheticSet out;
    out.images = syn.detach().cpu();
    out.labels = init.labels;
    out.meta["final_loss"] = last;
    out.meta["outer_loop"] = loops.outer;
    out.meta["inner_loop"] = loops.inner;
    out.meta["modifiers"] = step.seam().active();
    if (outlier_source) {
      if (syn_out.defined()) out.outliers = syn_out.detach().cpu();
      out.meta["outliers"] = outlier_source->describe();
      if (outlier_opt) out.meta["final_loss_oe"] = last_oe;
      if (step.single_set()) out.meta["outliers"]["single_set"] = "TrustDD Eq. 12: T_out in S_in's matching term, no S_out";
      if (step.random_outliers()) out.meta["outliers"]["random_outliers"] = "TrustDD Fig. 5(b) -R: S_out = real outliers, not distilled";
    }
    return out;
  }

 private:
  bool use_dsa_;
};

// One schema for both names; `dsa` adds the DSA strategy and starts from real images (the DSA
// readme command uses --init real; DC's main.py default is noise).
MethodInfo gradient_matching_info(bool use_dsa) {
  std::vector<OptionSpec> options{
      {"iterations", "int", 1000, "outer iterations, a fresh net each (reference --Iteration): the set after them, the one the reference evaluates"},
      {"lr_img", "float", 0.1, "pixel SGD learning rate (reference --lr_img)"},
      {"momentum", "float", 0.5, "pixel SGD momentum (reference main.py: SGD(image_syn, lr_img, momentum=0.5))"},
      {"lr_net", "float", 0.01, "inner-loop net SGD learning rate, no momentum, no weight decay (reference --lr_net)"},
      {"batch_real", "int", 256, "real images per class per outer step (reference --batch_real)"},
      {"batch_train", "int", 256, "batch size of the inner-loop net training (reference --batch_train)"},
      {"init", "string", use_dsa ? "real" : "noise",
       use_dsa ? "real | noise (DSA readme command: --init real)" : "noise | real (reference main.py default: noise)"},
      {"outer_loop", "int", 0, "pixel steps per iteration; 0 = the reference's get_loops(ipc)"},
      {"inner_loop", "int", 0, "net-training epochs between pixel steps; 0 = the reference's get_loops(ipc)"},
      {"dis_metric", "string", "ours", "gradient distance: ours (layer-wise, 1-D params ignored) | mse | cos"}};
  if (use_dsa)
    options.push_back({"dsa_strategy", "string", "", "DSA strategy; empty = the dataset's default (no flip for digits)"});
  for (auto& spec : outlier_option_specs()) options.push_back(std::move(spec));  // TrustDD OE / POE
  // Off at their defaults: out of the configuration hash (existing dc/dsa keys unchanged).
  options.push_back({"single_set", "bool", false,
                     "TrustDD Appendix A.5.2 (Eq. 12), with oe or poe: no S_out; each class's real gradient is of CE(T_in) + "
                     "lambda_oe * H(U; f(T_out)) (batch_oe outliers of the slot, same Siamese augmentation)", /*neutral_default=*/true});
  options.push_back({"random_outliers", "bool", false,
                     "TrustDD Figure 5(b) '-R', with oe or poe: S_out = randomly selected real outliers of each slot, not distilled", /*neutral_default=*/true});
  return MethodInfo{
      use_dsa ? "dsa" : "dc",
      use_dsa ? "DC gradient matching with Siamese DSA on real and synthetic batches and DSA in the inner loop"
              : "gradient matching (DC): class-wise layer-wise gradient cosine distance, fresh random net per iteration",
      options, [use_dsa] { return std::make_unique<GradientMatching>(use_dsa); },
      /*matching=*/true};
}

}  // namespace

DDBENCH_REGISTER_METHOD(gradient_matching_info(false));
DDBENCH_REGISTER_METHOD(gradient_matching_info(true));

}  // namespace ddb
