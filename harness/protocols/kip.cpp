// `kip`: KIP's transfer to a finite network (google-research kip/nn_training.ipynb run_trainer): a fresh
// network (KipConvNet by default: stax-initialised, no normalisation) trained with the MSE loss
// 0.5 * mean((f(x) - y)^2) on the set's labels (learned ones as they are; hard ones as one_hot - 1/K), SGD with
// momentum 0.9 and L2 0.001 on every parameter, batches of 100 from an endlessly reshuffled stream, `steps`
// updates (5000) under a cosine schedule from the largest stable learning rate -- 2 * 50K / lambda_max of the
// empirical NTK of sum(logits) / sqrt(K) on 50 held-out training images (neural_tangents'
// predict.max_learning_rate, max_lr_factor 1). Test images are preprocessed as the set was (meta.kip:
// layer-norm ZCA for KIP's 'zca' sets), then top-1 accuracy.
#include <cmath>

#include "harness/empirical_ntk.h"
#include "harness/eval_protocol.h"
#include "harness/layernorm_zca.h"
#include "harness/nets/net.h"

namespace ddb {

namespace {

constexpr double kMomentum = 0.9;
constexpr double kL2 = 0.001;              // nn_training.ipynb l2_regularization
constexpr int64_t kLrSampleImages = 50;    // empirical_ntk_num_inputs
constexpr int64_t kHeldOut = 5000;         // VALID_SIZE: the last training images are the validation split
constexpr int64_t kNtkJacobianBytes = int64_t{2} << 30;  // Jacobian rows held at once for the learning rate

// Largest stable learning rate of `net` (neural_tangents max_learning_rate with momentum 0, as the notebook
// calls it): 2 * y_size / lambda_max(empirical NTK of the logit-reduced output). The Gram matrix is built in
// chunks of Jacobian rows (harness/empirical_ntk.h): the whole float64 Jacobian of KipConvNet at 32 px would be
// 11.4 GB.
double max_learning_rate(NetImpl& net, const torch::Tensor& sample, int64_t classes) {
  std::vector<torch::Tensor> params;
  for (const auto& p : net.parameters())
    if (p.requires_grad()) params.push_back(p);
  const double root_k = std::sqrt(static_cast<double>(classes));
  const torch::Tensor gram = empirical_ntk_gram(
      [&](const torch::Tensor& images) { return net.forward(images).sum(1) / root_k; }, params, sample,
      kNtkJacobianBytes);
  const double lambda_max = torch::linalg_eigvalsh(gram, "L").max().item<double>();
  return 2.0 * static_cast<double>(sample.size(0) * classes) / (lambda_max + 1e-12);
}

class KipProtocol : public EvalProtocol {
 public:
  EvalRunResult run(const EvalContext& ctx) const override {
    const int64_t k = ctx.data.info.num_classes;
    const int64_t steps = ctx.spec.steps, batch = ctx.spec.batch_train;
    if (batch < 1) throw UserError("kip protocol: batch_train must be >= 1");
    std::string preprocess = "standard";
    double zca_reg = 0.1;
    if (const auto m = ctx.set.meta.find("kip"); m != ctx.set.meta.end() && m->is_object()) {
      preprocess = m->value("preprocess", preprocess);
      zca_reg = m->value("zca_reg", zca_reg);
    }
    const torch::Tensor x = ctx.set.images.to(ctx.device).detach();
    const torch::Tensor y = kip_regression_targets(ctx.set.labels, k).to(ctx.device).detach();
    const TensorSplit& train = ctx.data.train;
    const int64_t from = std::max<int64_t>(0, train.size() - kHeldOut);
    const torch::Tensor held_out = train.images.slice(0, from, std::min(train.size(), from + kLrSampleImages));
    const torch::Tensor lr_sample = kip_preprocess(ctx.data, held_out, preprocess, zca_reg).to(ctx.device);

    torch::manual_seed(ctx.seed);
    Net net = make_net(ctx.spec.net, ctx.data.info.shape, k);
    net->to(ctx.device);
    net->train();
    const double lr0 = max_learning_rate(*net, lr_sample, k);
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(lr0).momentum(kMomentum).weight_decay(kL2));
    const double pi = 3.14159265358979323846;
    const int64_t n = x.size(0);
    torch::Tensor order = torch::randperm(n, torch::kLong);
    int64_t pos = 0;
    EvalRunResult r;
    const int64_t report_every = std::max<int64_t>(1, steps / 100);
    for (int64_t t = 0; t < steps; ++t) {
      // Batches run across epoch ends, as the notebook's repeat().shuffle().batch() stream.
      std::vector<torch::Tensor> parts;
      int64_t need = batch;
      while (need > 0) {
        if (pos == n) {
          order = torch::randperm(n, torch::kLong);
          pos = 0;
        }
        const int64_t take = std::min(need, n - pos);
        parts.push_back(order.slice(0, pos, pos + take));
        pos += take;
        need -= take;
      }
      const torch::Tensor idx = torch::cat(parts).to(ctx.device);
      for (auto& group : opt.param_groups())
        static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr0 * 0.5 * (1 + std::cos(pi * t / steps)));
      const torch::Tensor loss = 0.5 * (net->forward(x.index_select(0, idx)) - y.index_select(0, idx)).pow(2).mean();
      opt.zero_grad();
      loss.backward();
      opt.step();
      r.train_loss = loss.item<double>();
      if (!std::isfinite(r.train_loss))
        throw Diverged("kip protocol: loss " + std::to_string(r.train_loss) + " at step " + std::to_string(t) +
                       " (learning rate " + std::to_string(lr0) + " from the NTK estimate)");
      if ((t + 1) % report_every == 0 || t + 1 == steps) report(ctx.progress, ctx.phase, t + 1, steps);
    }
    const TensorSplit test{kip_preprocess(ctx.data, ctx.data.test.images, preprocess, zca_reg), ctx.data.test.labels};
    r.accuracy = test_accuracy(*net, test, ctx.device);
    r.values.push_back({"accuracy", r.accuracy});
    return r;
  }
};

}  // namespace

DDBENCH_REGISTER_PROTOCOL(ProtocolInfo{
    "kip", "1",
    "KIP's finite-network transfer (nn_training.ipynb): MSE on the set's (learned or centred one-hot) labels, SGD "
    "momentum 0.9, L2 1e-3, batch 100, `steps` updates under a cosine schedule from the empirical-NTK max learning "
    "rate; test split preprocessed as the set (meta.kip), top-1 accuracy",
    {"accuracy"},
    [] { return std::make_unique<KipProtocol>(); },
    /*shifted_sets=*/false,
    /*augments=*/{"none"},
    /*defaults=*/json{{"net", "KipConvNet"}, {"batch_train", 100}, {"steps", 5000}},
    /*uses_epochs=*/false});

}  // namespace ddb
