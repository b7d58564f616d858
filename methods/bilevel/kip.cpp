// `kip`: Kernel Inducing Points with the infinite-width ConvNet kernel (Nguyen, Novak, Xiao & Lee 2021, "Dataset
// Distillation with Infinitely Wide Convolutional Networks"; google-research kip/KIP.ipynb for the loop).
// The support set starts as a class-balanced sample of real images with centred one-hot labels (one_hot - 1/K)
// and is trained with Adam on the kernel-ridge-regression loss against a fresh class-balanced target batch
// every step; labels are learned too when asked. It distils in KIP's preprocessed space (layer-norm ZCA by
// default, harness/layernorm_zca.h) and records that in meta.kip, so the `kip` protocol evaluates there.
#include "methods/bilevel/kip.h"

#include <cmath>

#include "harness/layernorm_zca.h"
#include "methods/common.h"

namespace ddb {

namespace {

std::vector<torch::Tensor> rows_of(const std::vector<torch::Tensor>& v, int64_t from, int64_t to) {
  std::vector<torch::Tensor> out;
  for (const auto& t : v) out.push_back(t.slice(0, from, to));
  return out;
}

struct BlockShape {
  int64_t rows = 1, cols = 1;
};
BlockShape block_shape(int64_t n_cols, int64_t pairs) {
  BlockShape b;
  b.cols = std::max<int64_t>(1, std::min(n_cols, pairs));
  b.rows = std::max<int64_t>(1, pairs / b.cols);
  return b;
}

// Calls f(row_from, row_to, col_from, col_to) for every block of an [n1, n2] matrix.
template <class F>
void for_blocks(int64_t n1, int64_t n2, int64_t pairs, F f) {
  const BlockShape b = block_shape(n2, pairs);
  for (int64_t r = 0; r < n1; r += b.rows)
    for (int64_t c = 0; c < n2; c += b.cols) f(r, std::min(n1, r + b.rows), c, std::min(n2, c + b.cols));
}

// The variances of many images, a block at a time (each image's pair tensor with itself is as large as one
// image pair's).
std::vector<torch::Tensor> variances_in_blocks(const ConvNetKernel& kernel, const torch::Tensor& x, int64_t pairs) {
  std::vector<std::vector<torch::Tensor>> parts;
  for (int64_t i = 0; i < x.size(0); i += pairs) parts.push_back(kernel.variances(x.slice(0, i, std::min(x.size(0), i + pairs))));
  std::vector<torch::Tensor> out;
  for (size_t l = 0; l < parts.front().size(); ++l) {
    std::vector<torch::Tensor> layer;
    for (const auto& p : parts) layer.push_back(p[l]);
    out.push_back(torch::cat(layer));
  }
  return out;
}

torch::Tensor kernel_matrix(const ConvNetKernel& kernel, KernelKind kind, const torch::Tensor& x1, const torch::Tensor& x2,
                            const std::vector<torch::Tensor>& v1, const std::vector<torch::Tensor>& v2, int64_t pairs) {
  torch::Tensor k = torch::empty({x1.size(0), x2.size(0)}, x1.options().dtype(torch::kDouble));
  for_blocks(x1.size(0), x2.size(0), pairs, [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    k.slice(0, r0, r1).slice(1, c0, c1).copy_(
        kernel.cross(x1.slice(0, r0, r1), x2.slice(0, c0, c1), rows_of(v1, r0, r1), rows_of(v2, c0, c1), kind));
  });
  return k;
}

}  // namespace

KipObjective kip_objective(const ConvNetKernel& kernel, KernelKind kind, const torch::Tensor& xs, const torch::Tensor& ys,
                           const torch::Tensor& xt, const torch::Tensor& yt, double reg, int64_t block_pairs) {
  if (block_pairs < 1) throw UserError("kip: block_pairs must be >= 1");
  const int64_t n = xs.size(0);
  torch::Tensor kss, kts;
  std::vector<torch::Tensor> vt;
  {
    torch::NoGradGuard no_grad;
    const std::vector<torch::Tensor> vs = variances_in_blocks(kernel, xs, block_pairs);
    vt = variances_in_blocks(kernel, xt, block_pairs);
    kss = kernel_matrix(kernel, kind, xs, xs, vs, vs, block_pairs);
    kts = kernel_matrix(kernel, kind, xt, xs, vt, vs, block_pairs);
  }
  // The loss of the two matrices, as KIP.ipynb's loss_acc_fn (float64, as its x64 colab).
  kss.requires_grad_();
  kts.requires_grad_();
  const torch::Tensor eye = torch::eye(n, kss.options().requires_grad(false));
  const torch::Tensor regularised = kss + std::abs(reg) * kss.trace() / static_cast<double>(n) * eye;
  const torch::Tensor pred = torch::matmul(kts, torch::linalg_solve(regularised, ys.to(torch::kDouble)));
  const torch::Tensor target = yt.to(torch::kDouble);
  const torch::Tensor loss = 0.5 * (pred - target).pow(2).mean();
  KipObjective out;
  out.loss = loss.item<double>();
  out.accuracy = 100.0 * pred.argmax(1).eq(target.argmax(1)).to(torch::kDouble).mean().item<double>();
  loss.backward();
  if (!xs.requires_grad()) return out;
  // The images' share, block by block; the support variances enter every block and are back-propagated once.
  const std::vector<torch::Tensor> vs_graph = variances_in_blocks(kernel, xs, block_pairs);
  std::vector<torch::Tensor> vs;
  for (const auto& v : vs_graph) vs.push_back(v.detach().requires_grad_());
  const torch::Tensor g_ts = kts.grad(), g_ss = kss.grad();
  for_blocks(xt.size(0), n, block_pairs, [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    const torch::Tensor k = kernel.cross(xt.slice(0, r0, r1), xs.slice(0, c0, c1), rows_of(vt, r0, r1), rows_of(vs, c0, c1), kind);
    k.backward(g_ts.slice(0, r0, r1).slice(1, c0, c1));
  });
  for_blocks(n, n, block_pairs, [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    const torch::Tensor k = kernel.cross(xs.slice(0, r0, r1), xs.slice(0, c0, c1), rows_of(vs, r0, r1), rows_of(vs, c0, c1), kind);
    k.backward(g_ss.slice(0, r0, r1).slice(1, c0, c1));
  });
  std::vector<torch::Tensor> grads;
  for (const auto& v : vs) grads.push_back(v.grad().defined() ? v.grad() : torch::zeros_like(v));
  torch::autograd::backward(vs_graph, grads);
  return out;
}

namespace {

KernelKind kernel_kind(const std::string& name) {
  if (name == "ntk") return KernelKind::Ntk;
  if (name == "nngp") return KernelKind::Nngp;
  throw UserError("kip: kernel '" + name + "' is not supported (ntk, nngp)");
}

ConvNtkConfig architecture(const std::string& name) {
  ConvNtkConfig c;
  if (name == "ConvNet") return c;  // KIP's 'ConvNet': a prepended conv + 3 blocks
  if (name == "ConvNet3") {
    c.prepend_conv = false;  // 'ConvNet3': the 3 blocks of Zhao et al.'s ConvNet only
    return c;
  }
  throw UserError("kip: architecture '" + name + "' is not supported (ConvNet, ConvNet3)");
}

class Kip : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    const Options& o = ctx.options;
    const LoadedDataset& data = ctx.data;
    const int64_t k = data.info.num_classes;
    const int64_t iterations = o.integer("iterations"), target_batch = o.integer("target_batch");
    const int64_t block = o.integer("block_pairs");
    if (iterations < 0) throw UserError("kip: iterations must be >= 0");
    if (target_batch < k || target_batch % k != 0)
      throw UserError("kip: target_batch " + std::to_string(target_batch) + " must be a positive multiple of the " +
                      std::to_string(k) + " classes (class-balanced, as KIP's class_balanced_sample)");
    // The kernel's network is the `architecture` option (an infinite-width net, not a registered one); a
    // distillation net other than the suites' default ConvNet would be ignored, so it is refused.
    if (ctx.net != "ConvNet")
      throw UserError("kip: the distillation net is the infinite-width kernel chosen by option `architecture` "
                      "(ConvNet | ConvNet3); distill_net must be ConvNet, got " + ctx.net);
    const ConvNetKernel kernel(architecture(o.str("architecture")));
    const KernelKind kind = kernel_kind(o.str("kernel"));
    const std::string preprocess = o.str("preprocess");
    const double zca_reg = o.real("zca_reg");
    // Every training image in KIP's space, once (the targets are drawn from it).
    const torch::Tensor train = kip_preprocess(data, data.train.images, preprocess, zca_reg).to(ctx.device);
    std::vector<torch::Tensor> by_class = data.class_indices;
    if (static_cast<int64_t>(by_class.size()) != k)
      for (int64_t c = 0; c < k; ++c) by_class.push_back(torch::nonzero(data.train.labels == c).flatten());

    SyntheticSet init = real_init(data, ctx.ipc);
    torch::Tensor xs = kip_preprocess(data, init.images, preprocess, zca_reg).to(ctx.device).detach().requires_grad_();
    torch::Tensor ys = kip_regression_targets(init.labels, k).to(ctx.device).detach().requires_grad_(o.flag("learn_labels"));
    std::vector<torch::Tensor> params{xs};
    if (o.flag("learn_labels")) params.push_back(ys);
    torch::optim::Adam opt(params, torch::optim::AdamOptions(o.real("lr")));

    const int64_t per_class = target_batch / k;
    const torch::Tensor train_labels = data.train.labels.to(ctx.device);
    for (int64_t it = 0; it < iterations; ++it) {
      std::vector<torch::Tensor> picks;
      for (int64_t c = 0; c < k; ++c) {
        const torch::Tensor& idx = by_class[c];
        if (idx.size(0) < per_class)
          throw UserError("kip: class " + std::to_string(c) + " has " + std::to_string(idx.size(0)) +
                          " training images, fewer than target_batch / classes = " + std::to_string(per_class));
        picks.push_back(idx.index_select(0, torch::randperm(idx.size(0), torch::kLong).narrow(0, 0, per_class)));
      }
      const torch::Tensor pick = torch::cat(picks).to(ctx.device);
      const torch::Tensor xt = train.index_select(0, pick);
      const torch::Tensor yt = kip_regression_targets(train_labels.index_select(0, pick), k);
      opt.zero_grad();
      const KipObjective obj = kip_objective(kernel, kind, xs, ys, xt, yt, o.real("reg"), block);
      check_finite(obj.loss, "kip", it);
      opt.step();
      report(ctx.progress, "distill", it + 1, iterations);
    }
    SyntheticSet set;
    set.images = xs.detach().cpu();
    set.labels = ys.detach().cpu();
    set.meta["kip"] = {{"preprocess", preprocess}, {"zca_reg", zca_reg}};
    return set;
  }
};

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "kip",
    "Kernel Inducing Points with the infinite-width ConvNet NTK (Nguyen et al. 2021): Adam on support images (and "
    "labels) through kernel ridge regression onto class-balanced target batches",
    {
        {"iterations", "int", 1000, "Adam steps (the released KIP sets are checkpoints at 1000 and on; nn_training.ipynb uses ckpt 1000)"},
        {"lr", "float", 0.04, "Adam learning rate of the images (and labels) (KIP.ipynb LEARNING_RATE)"},
        {"target_batch", "int", 5000, "class-balanced target images per step (KIP.ipynb TARGET_BATCH_SIZE)"},
        {"reg", "float", 1e-6, "ridge regulariser, relative: |reg| * trace(K_ss) / n on the diagonal (KIP.ipynb)"},
        {"learn_labels", "bool", false, "optimise the support labels too (KIP's 'l' sets; 'nol' = false)"},
        {"kernel", "string", std::string("ntk"), "ntk | nngp (KIP.ipynb get='ntk')"},
        {"architecture", "string", std::string("ConvNet"),
         "the kernel's network: ConvNet (a prepended conv + 3 conv/ReLU/avg-pool blocks, KIP's 'ConvNet') | ConvNet3 "
         "(the 3 blocks only); infinite width, NTK parameterisation, W_std sqrt 2, b_std 0.1"},
        {"preprocess", "string", std::string("zca_normalize"),
         "zca_normalize (layer norm + regularised ZCA, KIP's 'zca' sets) | standard (per-channel normalisation, 'nozca')"},
        {"zca_reg", "float", 0.1, "ZCA regularisation relative to the mean eigenvalue (nn_training.ipynb zca_reg)"},
        {"block_pairs", "int", 64,
         "image pairs whose kernel is computed at once (memory: ~30 MB per pair at 32 px with the graph); no effect on "
         "the numbers"},
    },
    [] { return std::make_unique<Kip>(); }});

}  // namespace ddb
