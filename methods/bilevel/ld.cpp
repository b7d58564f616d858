// `ld`: Label Distillation (Bohdal, Yang & Hospedales 2020, "Flexible Dataset Distillation: Learn Labels
// Instead of Images", arXiv 2006.08572), its second-order algorithm as ondrejbohdal/label-distillation
// label_distillation_or2.py runs it. The images are real training images -- the base examples, ipc per
// class -- and what is learned is their labels: soft labels starting uniform, updated by Adam through one
// differentiable SGD step of the model on an inner batch of base examples, scored by the stepped model's
// cross-entropy on a batch of real images. The model itself trains on the base examples (Adam) and restarts
// from scratch when its error stops improving; every 5 epochs a fresh model trained on the base examples
// is scored on a held-out validation split, and the labels (with that run's step count) that scored best
// are the result. The `ld` evaluation protocol trains with them (harness/protocols/ld.h).
//
// The reference's facts kept here: labels uniform 1/K, Adam lr 1e-3 for labels and model, after each
// update labels clamped to [0,1] and each row renormalised; inner SGD lr 0.01; real batches of 1024 over
// the training part of a random split (CIFAR 45000/5000, MNIST 50000/10000), every epoch reshuffled and
// the last partial batch kept; validation every 5th epoch, best validation error kept (<=); the restart
// rule below. Readings where it depends on the set's size are documented at the defaults.
#include <algorithm>

#include "harness/classification_loss.h"
#include "harness/protocols/ld.h"
#include "harness/train.h"
#include "methods/bilevel/ld_restart_rule.h"
#include "methods/common.h"
#include "methods/trajectory/param_binding.h"

namespace ddb {
namespace {

// The reference's settings that depend on the set's size (base = K * ipc examples, K classes), as rules
// that reproduce every within-dataset file of its experiment_configs/: inner batch 10, 10, 25, 50, 50, 50
// for 10, 20, 50, 100, 200, 500 base examples of 10 classes and 100 for CIFAR-100's 100; 400 epochs, 800
// from 200 base examples or for CIFAR-100; the restart window (train()'s stats_gap) 100 steps for more than
// 10 classes (its CIFAR-100 and K49), else 200 from 101 base examples, else 50.
int64_t default_inner_batch(int64_t base, int64_t classes) {
  return std::min(base, std::clamp(base / 2, classes, 5 * classes));
}
int64_t default_epochs(int64_t base, int64_t classes) { return base > 100 || classes > 10 ? 800 : 400; }
int64_t default_window(int64_t base, int64_t classes) { return classes > 10 ? 100 : base > 100 ? 200 : 50; }
// The validation split: MNIST's and KMNIST's 10000 of 60000, CIFAR's 5000 of 50000 (a tenth) elsewhere.
int64_t default_val_size(int64_t n) { return n == 60000 ? 10000 : n / 10; }

// The model, its optimizer and its flat-parameter binding, rebuilt together at each restart.
struct Learner {
  Net net;
  std::unique_ptr<torch::optim::Adam> opt;
  std::unique_ptr<ParamBinding> binding;

  void restart(const DistillContext& ctx) {
    binding.reset();  // it refers to the old net
    net = make_net(ctx.net, ctx.data.info.shape, ctx.data.info.num_classes);
    net->to(ctx.device);
    net->train();
    opt = std::make_unique<torch::optim::Adam>(net->parameters(), torch::optim::AdamOptions(1e-3));
    binding = std::make_unique<ParamBinding>(*net);
  }
};

class LabelDistillation : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    const LoadedDataset& data = ctx.data;
    const Options& o = ctx.options;
    const int64_t classes = data.info.num_classes;
    const int64_t n = data.train.size();
    const int64_t base = classes * ctx.ipc;
    const int64_t val_size = o.integer("val_size") > 0 ? o.integer("val_size") : default_val_size(n);
    if (val_size >= n) throw UserError("ld: val_size " + std::to_string(val_size) + " leaves no training images of " + std::to_string(n));
    const int64_t inner_batch = o.integer("inner_batch") > 0 ? o.integer("inner_batch") : default_inner_batch(base, classes);
    const int64_t epochs = o.integer("epochs") > 0 ? o.integer("epochs") : default_epochs(base, classes);
    const int64_t window = o.integer("restart_window") > 0 ? o.integer("restart_window") : default_window(base, classes);
    const int64_t batch_real = o.integer("batch_real");
    const int64_t validate_every = o.integer("validate_every");
    const double inner_lr = o.real("inner_lr");
    if (batch_real < 1 || validate_every < 1) throw UserError("ld: batch_real and validate_every must be at least 1");

    // The random split into the training part (real batches, base examples) and the validation part.
    const torch::Tensor perm = torch::randperm(n, torch::TensorOptions().dtype(torch::kLong));
    const torch::Tensor val_idx = perm.narrow(0, 0, val_size);
    const torch::Tensor train_idx = perm.narrow(0, val_size, n - val_size);
    const TensorSplit val{data.train.images.index_select(0, val_idx), data.train.labels.index_select(0, val_idx)};
    const torch::Tensor base_images = base_examples(data, train_idx, ctx.ipc).to(ctx.device);

    torch::Tensor labels = torch::full({base, classes}, 1.0 / static_cast<double>(classes), torch::dtype(torch::kFloat))
                               .to(ctx.device)
                               .requires_grad_(true);
    torch::optim::Adam labels_opt(std::vector<torch::Tensor>{labels}, torch::optim::AdamOptions(o.real("lr_labels")));
    Learner learner;
    learner.restart(ctx);
    LdRestartRule rule(window);

    torch::Tensor best_labels;
    int64_t best_steps = 0;
    double best_error = 100;  // the reference's best_err1 start; `<=` below
    const int64_t n_train = train_idx.size(0);
    const int64_t per_epoch = (n_train + batch_real - 1) / batch_real;
    const int64_t total = epochs * per_epoch;
    int64_t done = 0;
    for (int64_t epoch = 0; epoch < epochs; ++epoch) {
      const torch::Tensor order = train_idx.index_select(0, torch::randperm(n_train, torch::TensorOptions().dtype(torch::kLong)));
      for (int64_t start = 0; start < n_train; start += batch_real) {
        const torch::Tensor idx = order.narrow(0, start, std::min(batch_real, n_train - start));
        const torch::Tensor x = data.train.images.index_select(0, idx).to(ctx.device);
        const torch::Tensor y = data.train.labels.index_select(0, idx).to(ctx.device);
        const torch::Tensor pick =
            torch::randperm(base, torch::TensorOptions().dtype(torch::kLong)).narrow(0, 0, std::min(inner_batch, base)).to(ctx.device);

        // Inner step: the model's loss on the inner batch with the current labels, its gradient kept
        // differentiable, and the stepped ("fast") weights as one flat vector.
        const std::vector<torch::Tensor> params = learner.net->parameters();
        const torch::Tensor inner = classification_loss(learner.net->forward(base_images.index_select(0, pick)), labels.index_select(0, pick));
        const std::vector<torch::Tensor> grads = torch::autograd::grad({inner}, params, {}, /*retain_graph=*/true, /*create_graph=*/true);
        std::vector<torch::Tensor> fast;
        fast.reserve(params.size());
        for (size_t i = 0; i < params.size(); ++i) fast.push_back((params[i] - inner_lr * grads[i]).flatten());

        // Outer step: the stepped model on real images; its loss moves the labels.
        const torch::Tensor logits = learner.binding->forward(torch::cat(fast), x);
        const torch::Tensor outer = torch::nn::functional::cross_entropy(logits, y);
        check_finite(outer.item<double>(), "ld outer loss", done);
        labels_opt.zero_grad();
        labels.mutable_grad() = torch::autograd::grad({outer}, {labels})[0];
        labels_opt.step();
        {
          torch::NoGradGuard no_grad;
          labels.clamp_(0, 1);
          labels.div_(labels.sum(1, /*keepdim=*/true));
        }

        // The model's own Adam step on the inner loss (its gradient is the one computed above).
        learner.opt->zero_grad();
        for (size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = grads[i].detach();
        learner.opt->step();

        const double error = 100.0 * (1.0 - logits.argmax(1).eq(y).to(torch::kDouble).mean().item<double>());
        if (rule.add(error)) learner.restart(ctx);
        report(ctx.progress, "distill", ++done, total);
      }
      // Validation every `validate_every` epochs (the reference: epoch % 5 == 4). A run too short for one
      // validates after its last epoch instead, so that it has a result.
      const bool due = epoch % validate_every == validate_every - 1 || (epoch + 1 == epochs && !best_labels.defined());
      if (!due) continue;
      const int64_t steps = rule.steps_for_validation();
      const double error = validation_error(ctx, base_images, labels.detach(), steps, inner_batch, val);
      if (error <= best_error) {
        best_error = error;
        best_labels = labels.detach().clone();
        best_steps = steps;
      }
    }

    SyntheticSet out;
    out.images = base_images.cpu();
    out.labels = best_labels.cpu();
    out.meta["ld"] = {{"steps", best_steps},
                      {"inner_batch", inner_batch},
                      {"validation_error", best_error},
                      {"val_size", val_size},
                      {"epochs", epochs},
                      {"restart_window", window},
                      {"restarts", rule.restarts()}};
    return out;
  }

 private:
  // ipc images of each class from the training part: the first of each class in a random order of it
  // (the reference's balanced pass over a shuffled loader), stored class-major.
  static torch::Tensor base_examples(const LoadedDataset& data, const torch::Tensor& train_idx, int64_t ipc) {
    const torch::Tensor order = train_idx.index_select(0, torch::randperm(train_idx.size(0), torch::TensorOptions().dtype(torch::kLong)));
    const torch::Tensor labels = data.train.labels.index_select(0, order);
    std::vector<torch::Tensor> picks;
    for (int64_t c = 0; c < data.info.num_classes; ++c) {
      const torch::Tensor of_class = (labels == c).nonzero().flatten();
      if (of_class.size(0) < ipc)
        throw UserError("ld: class " + std::to_string(c) + " has " + std::to_string(of_class.size(0)) +
                        " training images outside the validation split, fewer than ipc " + std::to_string(ipc));
      picks.push_back(order.index_select(0, of_class.narrow(0, 0, ipc)));
    }
    return data.train.images.index_select(0, torch::cat(picks));
  }

  // A fresh model trained on the base examples for `steps` steps, scored on the validation split (error %).
  static double validation_error(const DistillContext& ctx, const torch::Tensor& images, const torch::Tensor& labels,
                                 int64_t steps, int64_t inner_batch, const TensorSplit& val) {
    Net net = make_net(ctx.net, ctx.data.info.shape, ctx.data.info.num_classes);
    net->to(ctx.device);
    train_on_base_examples(*net, images, labels, steps, inner_batch);
    return 100.0 - test_accuracy(*net, val, ctx.device);
  }
};

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "ld",
    "LD (Bohdal et al. 2020): learned soft labels for real base images, second-order meta-learning "
    "(label_distillation_or2.py); evaluate with protocol `ld`",
    {{"epochs", "int", 0, "passes over the training part (0: the reference's 400, 800 from 200 base examples or above 10 classes)"},
     {"inner_batch", "int", 0, "base examples per inner step (0: the reference's min(base, clamp(base/2, K, 5K)))"},
     {"inner_lr", "float", 0.01, "SGD lr of the differentiable inner step"},
     {"batch_real", "int", 1024, "real images per outer step"},
     {"lr_labels", "float", 1e-3, "Adam lr of the labels"},
     {"val_size", "int", 0, "validation images held out of the training split (0: 10000 of 60000, else a tenth)"},
     {"validate_every", "int", 5, "epochs between validation runs"},
     {"restart_window", "int", 0, "steps of the moving error window and of patience before a model restart (0: the reference's 50/100/200)"}},
    [] { return std::make_unique<LabelDistillation>(); }});

}  // namespace ddb
