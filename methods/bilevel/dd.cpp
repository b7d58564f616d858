// `dd`: Dataset Distillation (Wang, Zhu, Torralba & Efros 2018, arXiv 1811.10959), its "random unknown
// initialisation" setting as SsnL/dataset-distillation train_distilled_image.py runs it by default. The
// set is `steps` blocks of synthetic images (ipc/steps per class each) plus one learned lr per SGD step;
// a fresh network (xavier init, dd_initialise) takes T = steps * epochs SGD steps, step t on block
// t mod steps with lr t, and its cross-entropy on a batch of real images is differentiated through all
// T steps (back-propagation through the unrolled training) into the images and the lrs.
//
// The reference's facts kept here: images start as randn, labels class-major within a block; lrs are
// softplus(raw), raw starting at softplus^-1(distill_lr); Adam lr 0.01, betas (0.5, 0.999) on images and
// raw lrs, halved every 40 epochs (StepLR); real batches of 1024 over the whole training split, 400
// epochs; one new network per iteration (sample_n_nets 1); the final loss in eval mode. The reference
// computes the backward pass by hand to save memory; autograd through the unrolled steps gives the same
// gradients.
#include <cmath>

#include "harness/classification_loss.h"
#include "harness/protocols/dd.h"
#include "methods/common.h"
#include "methods/trajectory/param_binding.h"

namespace ddb {
namespace {

class DatasetDistillation : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    const LoadedDataset& data = ctx.data;
    const Options& o = ctx.options;
    const int64_t classes = data.info.num_classes;
    const int64_t steps = o.integer("steps");
    const int64_t epochs_per_step = o.integer("step_epochs");
    const int64_t epochs = o.integer("epochs");
    const int64_t batch_real = o.integer("batch_real");
    if (steps < 1 || ctx.ipc % steps != 0)
      throw UserError("dd: ipc " + std::to_string(ctx.ipc) + " must be a multiple of steps " + std::to_string(steps) +
                      " (each step holds ipc/steps images per class; the reference's CIFAR-10 run: 10 steps of 1)");
    if (epochs_per_step < 1 || epochs < 1 || batch_real < 1) throw UserError("dd: step_epochs, epochs and batch_real must be at least 1");
    const int64_t per_class = ctx.ipc / steps;
    // The reference's --distill_lr: 0.02 by default, 0.001 in its README's CIFAR-10 command.
    const double lr_init = o.real("distill_lr") > 0 ? o.real("distill_lr") : (data.info.shape.channels == 3 ? 0.001 : 0.02);
    const int64_t total_steps = steps * epochs_per_step;

    const ImageShape& shape = data.info.shape;
    torch::Tensor images = torch::randn({steps * classes * per_class, shape.channels, shape.height, shape.width})
                               .to(ctx.device)
                               .requires_grad_(true);
    const torch::Tensor block_labels = torch::arange(classes).repeat_interleave(per_class).to(ctx.device);
    torch::Tensor raw_lrs = torch::full({total_steps}, std::log(std::expm1(lr_init)), torch::dtype(torch::kFloat))
                                .to(ctx.device)
                                .requires_grad_(true);
    const double lr = o.real("lr_img");
    torch::optim::Adam opt(std::vector<torch::Tensor>{images, raw_lrs}, torch::optim::AdamOptions(lr).betas({0.5, 0.999}));
    const int64_t block = classes * per_class;

    const int64_t n = data.train.size();
    const int64_t per_epoch = (n + batch_real - 1) / batch_real;
    int64_t done = 0;
    for (int64_t epoch = 0; epoch < epochs; ++epoch) {
      // StepLR(step_size 40, gamma 0.5), stepped at the start of every epoch.
      for (auto& group : opt.param_groups())
        static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr * std::pow(0.5, static_cast<double>(epoch / 40)));
      const torch::Tensor order = torch::randperm(n, torch::TensorOptions().dtype(torch::kLong));
      for (int64_t start = 0; start < n; start += batch_real) {
        const torch::Tensor idx = order.narrow(0, start, std::min(batch_real, n - start));
        const torch::Tensor x = data.train.images.index_select(0, idx).to(ctx.device);
        const torch::Tensor y = data.train.labels.index_select(0, idx).to(ctx.device);

        Net net = make_net(ctx.net, shape, classes);
        dd_initialise(*net);
        net->to(ctx.device);
        ParamBinding binding(*net);
        torch::Tensor w = binding.flat_parameters().to(ctx.device).requires_grad_(true);
        const torch::Tensor lrs = torch::softplus(raw_lrs);
        net->train();
        for (int64_t t = 0; t < total_steps; ++t) {
          const int64_t s = t % steps;
          const torch::Tensor loss = classification_loss(binding.forward(w, images.narrow(0, s * block, block)), block_labels);
          const torch::Tensor g = torch::autograd::grad({loss}, {w}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
          w = w - lrs[t] * g;
        }
        net->eval();
        const torch::Tensor final_loss = torch::nn::functional::cross_entropy(binding.forward(w, x), y);
        check_finite(final_loss.item<double>(), "dd loss", done);
        opt.zero_grad();
        const auto grads = torch::autograd::grad({final_loss}, {images, raw_lrs});
        images.mutable_grad() = grads[0];
        raw_lrs.mutable_grad() = grads[1];
        opt.step();
        report(ctx.progress, "distill", ++done, epochs * per_epoch);
      }
    }

    SyntheticSet out;
    out.images = images.detach().cpu();
    out.labels = block_labels.repeat({steps}).cpu();
    const torch::Tensor lrs = torch::softplus(raw_lrs.detach()).to(torch::kDouble).cpu();
    std::vector<double> lr_values(lrs.data_ptr<double>(), lrs.data_ptr<double>() + lrs.numel());
    out.meta["dd"] = {{"steps", steps}, {"epochs", epochs_per_step}, {"lrs", lr_values}, {"distill_lr", lr_init}};
    return out;
  }
};

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "dd",
    "Dataset Distillation (Wang et al. 2018): synthetic images and per-step lrs learned by back-propagating "
    "through the unrolled training of fresh xavier-initialised nets; evaluate with protocol `dd`",
    {{"steps", "int", 10, "image blocks (distill_steps); ipc must be a multiple (ipc/steps images per class each)"},
     {"step_epochs", "int", 3, "passes over the blocks (distill_epochs): T = steps * step_epochs SGD steps"},
     {"epochs", "int", 400, "passes over the real training split, batches of batch_real"},
     {"batch_real", "int", 1024, "real images per iteration"},
     {"lr_img", "float", 0.01, "Adam lr of the images and raw lrs (betas 0.5, 0.999; halved every 40 epochs)"},
     {"distill_lr", "float", 0.0, "initial per-step lr (0: the reference's 0.001 for colour images, its CIFAR-10 command; else 0.02)"}},
    [] { return std::make_unique<DatasetDistillation>(); }});

}  // namespace ddb
