// `sre2l`: Squeeze, Recover and Relabel (Yin, Xing and Shen, NeurIPS 2023), the other "Eval. w/ KD"
// baseline of EDF's Table 1 and Appendix Table 10. Squeeze = the teacher (harness/teacher.h, shared with
// the kd protocol and rded); Recover = this method: images optimised from noise so that the frozen
// teacher classifies them as their class while their BatchNorm input statistics match the teacher's
// running statistics (DeepInversion's feature regulariser); Relabel = the kd protocol (the teacher's
// soft outputs on the student's augmented batches). Facts read from VILA-Lab/SRe2L (our code):
//   SRe2L/recover/data_synthesis.py (@62fd019) get_images: for each ipc index, the classes in batches of
//     batch_size (100) -- one image per class per batch; inputs = randn in normalised space; Adam(lr,
//     betas (0.5, 0.9), eps 1e-8); lr_cosine_policy(lr, 0 warm-up, iterations): lr_t = lr 0.5 (1 +
//     cos(pi t / iterations)); per iteration: RandomResizedCrop(size) (scale (0.08, 1), ratio (3/4, 4/3))
//     and RandomHorizontalFlip applied to the whole batch tensor (one crop box, one coin for the batch),
//     then torch.roll by (randint(0, jitter), randint(0, jitter)) over (H, W); loss = CE(teacher(x), y)
//     + r_bn * sum_l m_l (||running_var_l - var_l||_2 + ||running_mean_l - mean_l||_2) over the teacher's
//     BatchNorm2d inputs (utils.py BNFeatureHook: mean over N, H, W and the biased variance), m_0 =
//     first_bn_multiplier (10), the others 1; tv_l2 and l2_scale terms are 0 in recover.sh; after each
//     step the pixels are clipped per channel to the valid range [-mean / std, (1 - mean) / std] (clip);
//     the last inputs are kept (store_best_images saves inputs.data after the loop).
//   SRe2L/recover/recover.sh: --lr 0.25 --iteration 4000 --r-bn 0.01 --batch-size 100 (ImageNet-1K);
//     jitter 32 and first_bn_multiplier 10 are data_synthesis.py's defaults -- our defaults. (The
//     Tiny-ImageNet recover uses jitter +-4 at 64 px; EDF's 128-px subsets are not in SRe2L's code.)
//   The reference saves JPEGs after denormalising (clamped to [0, 1]); we keep the float images.
// The teacher must have BatchNorm layers whose inputs we can reach: a ConvNet-family net with
// BatchNorm (ConvNetBN, ConvNetD<d>BN; RDED's and EDF's conv5 is ConvNetD5BN).
#include <cmath>

#include "harness/augment/imagenet_transform.h"
#include "harness/nets/modules.h"
#include "harness/teacher.h"
#include "methods/common.h"

namespace ddb {
namespace {

// The teacher's logits for x and DeepInversion's BatchNorm term: the sum over its BatchNorm2d layers of
// m_l (||running_var - var(x_l)||_2 + ||running_mean - mean(x_l)||_2), x_l the layer's input.
std::pair<torch::Tensor, torch::Tensor> logits_and_bn_loss(nets::ConvNet& net, torch::Tensor x, double first_multiplier) {
  torch::Tensor loss = torch::zeros({}, x.options());
  bool first = true;
  for (auto& m : *net.features()) {
    if (auto* bn = m.ptr()->as<torch::nn::BatchNorm2dImpl>()) {
      const torch::Tensor mean = x.mean({0, 2, 3});
      const torch::Tensor var = x.transpose(0, 1).reshape({x.size(1), -1}).var(1, /*unbiased=*/false);
      const torch::Tensor r = (bn->running_var - var).norm() + (bn->running_mean - mean).norm();
      loss = loss + (first ? first_multiplier : 1.0) * r;
      first = false;
    }
    x = m.forward(x);
  }
  return {net.classifier()->forward(x.flatten(1)), loss};
}

// One crop box and one flip for the whole batch (torchvision transforms on a 4-D tensor), resized back.
torch::Tensor crop_flip_batch(const torch::Tensor& x) {
  const int64_t h = x.size(2), w = x.size(3);
  const ImagenetDraw b = imagenet_aug::crop_box(h, w, ImagenetTransformParams{0.08, 1.0}, c10::nullopt);
  torch::Tensor out = imagenet_aug::resized_crop(x, b.top, b.left, b.height, b.width, h, w);
  if (torch::rand({1}, torch::TensorOptions().dtype(torch::kDouble)).item<double>() < 0.5) out = out.flip({3});
  return out;
}

class Sre2l : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    const int64_t iterations = ctx.options.integer("iterations"), jitter = ctx.options.integer("jitter"),
                  batch = ctx.options.integer("batch_size");
    const double lr = ctx.options.real("lr"), r_bn = ctx.options.real("r_bn"),
                 first_multiplier = ctx.options.real("first_bn_multiplier");
    if (iterations < 1 || batch < 1 || jitter < 0) throw UserError("sre2l: iterations and batch_size must be >= 1, jitter >= 0");
    const LoadedDataset& data = ctx.data;
    const TeacherSpec ts = teacher_spec_of(ctx);
    {
      const Net probe = make_net(ts.net, data.info.shape, data.info.num_classes);
      if (!std::dynamic_pointer_cast<nets::ConvNet>(probe) || !probe->has_batchnorm())
        throw UserError("sre2l: the teacher '" + ts.net +
                        "' needs BatchNorm layers whose inputs ddbench can reach: a ConvNet with BatchNorm "
                        "(ConvNetBN, ConvNetD1BN .. ConvNetD6BN)");
    }
    const Teacher teacher = load_or_train_teacher(ctx.cache_dir, data, ts, ctx.device, ctx.progress);
    auto& net = dynamic_cast<nets::ConvNet&>(*teacher.net);

    const int64_t classes = data.info.num_classes, c = data.info.shape.channels;
    const int64_t h = data.info.shape.height, w = data.info.shape.width;
    // clip(): the valid pixel range per channel in normalised space.
    std::vector<double> lo(c), hi(c);
    for (int64_t k = 0; k < c; ++k) {
      const double m = data.info.mean.at(k), s = data.info.std.at(k);
      lo[k] = -m / s;
      hi[k] = (1 - m) / s;
    }
    torch::Tensor images = torch::empty({classes * ctx.ipc, c, h, w});
    const int64_t total = ctx.ipc * ((classes + batch - 1) / batch);
    int64_t done = 0;
    for (int64_t ipc_id = 0; ipc_id < ctx.ipc; ++ipc_id) {
      for (int64_t first = 0; first < classes; first += batch) {
        const int64_t n = std::min(batch, classes - first);
        const torch::Tensor targets = torch::arange(first, first + n, torch::kLong).to(ctx.device);
        torch::Tensor inputs = torch::randn({n, c, h, w}, torch::TensorOptions().device(ctx.device)).requires_grad_(true);
        torch::optim::Adam opt({inputs}, torch::optim::AdamOptions(lr).betas({0.5, 0.9}).eps(1e-8));
        for (int64_t it = 0; it < iterations; ++it) {
          static_cast<torch::optim::AdamOptions&>(opt.param_groups()[0].options())
              .lr(0.5 * (1.0 + std::cos(M_PI * static_cast<double>(it) / static_cast<double>(iterations))) * lr);
          torch::Tensor x = crop_flip_batch(inputs);
          const int64_t off_h = torch::randint(0, jitter + 1, {1}, torch::kLong).item<int64_t>();
          const int64_t off_w = torch::randint(0, jitter + 1, {1}, torch::kLong).item<int64_t>();
          x = torch::roll(x, {off_h, off_w}, {2, 3});
          const auto [logits, bn_loss] = logits_and_bn_loss(net, x, first_multiplier);
          const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, targets) + r_bn * bn_loss;
          opt.zero_grad();
          loss.backward();
          opt.step();
          check_finite(loss.item<double>(), "sre2l recover loss", it);
          torch::NoGradGuard no_grad;
          for (int64_t k = 0; k < c; ++k) inputs.select(1, k).clamp_(lo[k], hi[k]);
        }
        // Class-major order (labels 0..0, 1..1, ...): class first + j, image ipc_id.
        const torch::Tensor out = inputs.detach().cpu();
        for (int64_t j = 0; j < n; ++j) images[(first + j) * ctx.ipc + ipc_id].copy_(out[j]);
        report(ctx.progress, "sre2l recover", ++done, total);
      }
    }
    SyntheticSet s;
    s.images = images;
    s.labels = class_major_labels(classes, ctx.ipc);
    s.meta["teacher"] = teacher.provenance();
    return s;
  }
};

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "sre2l",
    "SRe2L's recover (Yin et al. 2023): images optimised from noise against a cached BatchNorm teacher: "
    "CE + r_bn x BatchNorm-statistics distance, random crop/flip/roll per step, Adam with a cosine lr; relabel = the kd protocol",
    with_teacher_options({
        {"iterations", "int", 4000, "optimisation steps per batch of images (SRe2L recover.sh --iteration)"},
        {"lr", "float", 0.25, "Adam learning rate, cosine-decayed to 0 (recover.sh --lr)"},
        {"r_bn", "float", 0.01, "weight of the BatchNorm-statistics term (recover.sh --r-bn)"},
        {"first_bn_multiplier", "float", 10.0, "extra weight of the first BatchNorm layer (data_synthesis.py default)"},
        {"jitter", "int", 32, "random roll of up to this many pixels per axis each step (data_synthesis.py default)"},
        {"batch_size", "int", 100, "classes optimised together, one image each (recover.sh --batch-size)"},
    }, "a ConvNet with BatchNorm"),
    [] { return std::make_unique<Sre2l>(); }});

}  // namespace ddb
