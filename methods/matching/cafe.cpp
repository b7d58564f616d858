// `cafe`: CAFE, "Learning to Condense Dataset by Aligning Features" (Wang et al., CVPR 2022). Per
// iteration a freshly initialised net; the synthetic images take pixel steps on a layer-wise feature
// alignment (class means of each block's features, real vs synthetic) plus a discrimination loss (real
// embeddings classified by the synthetic class centres), and between pixel steps the net trains on the
// synthetic set, for as long as an accuracy watcher on real images says (the "dynamic bi-level
// optimisation"). `dsa: true` is the paper's CAFE+DSA.
//
// Facts read from the reference, kaiwang960112/CAFE at b718ff57fd3782210478f6a5bb57bf5b3ae7b2b5 (our
// code, not theirs; distill.py unless named):
//   l.70-75: --Iteration 2000, --lr_img 0.1, --lr_net 0.01, --batch_real 256, --batch_train 256,
//     --init noise; README.md l.17 and run.sh l.2 run `distill.py --dataset CIFAR10 --model ConvNet
//     --ipc 10` (no --init: noise; no --method: DC, i.e. no DSA).
//   l.81-85: --fourth_weight 0.1, --third_weight 0.1, --second_weight 1.0, --first_weight 1.0,
//     --inner_weight 0.01; l.86-87: --lambda_1 0.04 ("break outlooper"), --lambda_2 0.03 ("break
//     innerlooper").
//   l.61, 77, 101: --method DSA switches DSA on (args.dsa); --dsa_strategy defaults to 'None', which
//     utils.py l.467 DiffAugment treats as the identity, so CAFE+DSA runs must name a strategy.
//   l.151-161: image_syn = torch.randn(...), or ipc random real images per class with --init real;
//     labels class-major.
//   l.164: SGD(image_syn, lr=lr_img, momentum=0.5); l.40-46 + 171: at the top of iteration `it` the
//     lr is lr_img x 0.5 per milestone in [1200, 1600, 1800] that it has reached.
//   l.170, 209, 358-360: `for it in range(Iteration + 1)`, the set saved and evaluated at it ==
//     Iteration (after Iteration iterations, the ddbench convention).
//   l.226-229 + utils.py l.95-96: every iteration a fresh net (seeded from the clock), train mode,
//     SGD(net.parameters(), lr_net) without momentum or weight decay.
//   l.251-265: per class batch_real real images and the class's synthetic slice; with DSA one
//     Siamese seed for both (int(time.time() * 1000) % 100000).
//   l.267-276: every class's real batch in ONE forward, every synthetic image in another (hard-coded
//     10 classes and 3x32x32: the code runs CIFAR-10 only as written).
//   networks.py l.37-52: ConvNet.forward returns (logits, [f5, f4, f3, f2, f1]): f1 = features[:-9]
//     (block 1 after its ReLU, before its pool), f2 = features[-9:-5] (pool 1, block 2 to its ReLU),
//     f3 = features[-5:-1] (block 3 to its ReLU), f4 = features[-1:] (the last pool), f5 = f4
//     flattened; utils.py l.89-91: ConvNet = width 128, depth 3, relu, instancenorm, avgpooling.
//   l.48-56 criterion_middle: class means of a feature (view(10, n // 10, ...).mean(1)) for real and
//     synthetic, MSELoss(reduction='sum') between them.
//   l.278: loss_middle = fourth_weight * cm(f1) + third_weight * cm(f2) + second_weight * cm(f3) +
//     first_weight * cm(f4) (features[-1] .. features[-4]).
//   l.279-281: + CE(real logits, real labels) (mean); it has no gradient w.r.t. the synthetic images.
//   l.283-289: discrimination: the synthetic class centres c_k = class mean of f5; logits of every
//     real sample = f5_real @ C^T (inner products, no temperature, no normalisation); loss_output =
//     cm(f5 centres, real f5 class means) + inner_weight * CrossEntropy(reduction='sum').
//   l.292-294: loss.backward(); optimizer_img.step() -- one pixel step per round.
//   l.300-315 (outer loop): after each pixel step the net's accuracy on 128 fresh real images per
//     class, averaged over classes; acc_test is not reset between rounds (acc += sum; acc /= classes,
//     so each value carries the previous one divided by the class count); once 10 values are held, the
//     iteration ends when max - min < lambda_1, else the oldest is dropped and the net is updated.
//   l.317-322: the net trains on a detached copy of the synthetic set, batch_train, shuffled.
//   l.328-350 (inner loop): one epoch('train') (utils.py l.265-295: SGD steps, DSA per batch when
//     args.dsa) per round, then the same carried 128-per-class real accuracy; once 10 values are
//     held, the update ends when max - min > lambda_2, else the oldest is dropped; the epoch('test')
//     on the synthetic set after each round (l.350) changes nothing and is not run here.
//   l.95, 352: get_loops(ipc) only divides the logged loss; the loop counts come from the watchers.
//   l.186-193: the reference evaluates with 600 epochs without augmentation (1000 with DSA or DC aug).
// Differences, ours: the Siamese DSA seeds come from the run seed, not the clock; the classes and
// image shape come from the dataset (the reference hard-codes 10 and 3x32x32); real features are taken
// under no_grad and class by class for nets without BatchNorm (the same means; BatchNorm nets keep the
// reference's one forward over all classes); the real-data CE (l.279), which moves no pixel, is left
// out of the loss; the reference loops until its watchers stop it, here at most max_pixel_steps rounds
// per iteration and max_inner_epochs epochs per network update (counted in the set's metadata).
#include "methods/matching/cafe.h"

#include <algorithm>
#include <cmath>

#include "harness/augment/dsa.h"
#include "harness/nets/modules.h"
#include "harness/train.h"
#include "methods/common.h"
#include "methods/matching/distribution_matching.h"
#include "methods/matching/gradient_matching.h"
#include "methods/matching/seam.h"

namespace ddb {

bool cafe_supports(NetImpl& net) { return dynamic_cast<nets::ConvNet*>(&net) != nullptr; }

CafeFeatures cafe_features(NetImpl& net, const torch::Tensor& x) {
  auto* conv = dynamic_cast<nets::ConvNet*>(&net);
  if (conv == nullptr)
    throw UserError("cafe: layer-wise features are defined for the ConvNet family (the reference's networks.py ConvNet)");
  const nets::ConvNet::BlockTrace trace = conv->trace_blocks(x);
  const std::vector<torch::Tensor>& activations = trace.activations;  // each block's, before its pool
  const torch::Tensor& h = trace.output;
  CafeFeatures out;
  out.layers.push_back(h);
  for (size_t k = 0; k < 3 && k < activations.size(); ++k) out.layers.push_back(activations[activations.size() - 1 - k]);
  out.embedding = h.flatten(1);
  out.logits = conv->classifier()->forward(out.embedding);
  return out;
}

torch::Tensor layer_alignment(const std::vector<torch::Tensor>& real, const std::vector<torch::Tensor>& syn,
                              const std::vector<double>& weights) {
  torch::Tensor total;
  const size_t n = std::min({real.size(), syn.size(), weights.size()});
  for (size_t l = 0; l < n; ++l) {
    const torch::Tensor t = weights[l] * mean_embedding_distance(real[l], syn[l]);
    total = total.defined() ? total + t : t;
  }
  return total.defined() ? total : torch::zeros({});
}

torch::Tensor discrimination_loss(const torch::Tensor& real_embed, const torch::Tensor& real_labels,
                                  const torch::Tensor& centres) {
  return torch::nn::functional::cross_entropy(
      real_embed.matmul(centres.t()), real_labels,
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
}

AccuracyWatcher::AccuracyWatcher(int64_t window, double threshold, Stop when, int64_t num_classes)
    : window_(window), threshold_(threshold), when_(when), num_classes_(std::max<int64_t>(1, num_classes)) {}

bool AccuracyWatcher::push(double mean_accuracy) {
  value_ = mean_accuracy + value_ / static_cast<double>(num_classes_);
  held_.push_back(value_);
  if (static_cast<int64_t>(held_.size()) < window_) return false;
  const auto [lo, hi] = std::minmax_element(held_.begin(), held_.end());
  const double range = *hi - *lo;
  if (when_ == Stop::Steady ? range < threshold_ : range > threshold_) return true;
  held_.pop_front();
  return false;
}

namespace {

// Milestones of the reference's adjust_learning_rate (iteration counts; x0.5 each).
constexpr int64_t kLrMilestones[] = {1200, 1600, 1800};

double lr_at(double lr_img, int64_t it) {
  double lr = lr_img;
  for (int64_t m : kLrMilestones)
    if (it >= m) lr *= 0.5;
  return lr;
}

class Cafe : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    const Options& o = ctx.options;
    const auto& info = ctx.data.info;
    const int64_t iterations = o.integer("iterations");
    const int64_t batch_real = o.integer("batch_real"), batch_train = o.integer("batch_train");
    const int64_t watch_batch = o.integer("watch_batch"), window = o.integer("watch_window");
    const int64_t max_steps = o.integer("max_pixel_steps"), max_epochs = o.integer("max_inner_epochs");
    const double lr_img = o.real("lr_img"), lr_net = o.real("lr_net");
    const std::vector<double> weights{o.real("first_weight"), o.real("second_weight"), o.real("third_weight"),
                                      o.real("fourth_weight")};
    const double inner_weight = o.real("inner_weight"), lambda_1 = o.real("lambda_1"), lambda_2 = o.real("lambda_2");
    if (iterations < 0) throw UserError("cafe: option iterations must be >= 0");
    if (batch_real < 1 || batch_train < 1 || watch_batch < 1)
      throw UserError("cafe: options batch_real, batch_train and watch_batch must be >= 1");
    if (window < 2) throw UserError("cafe: option watch_window must be >= 2 (the reference's: 10)");
    if (max_steps < 1 || max_epochs < 1) throw UserError("cafe: options max_pixel_steps and max_inner_epochs must be >= 1");
    if (!(lr_img > 0) || !(lr_net > 0) || !std::isfinite(lr_img) || !std::isfinite(lr_net))
      throw UserError("cafe: options lr_img and lr_net must be finite numbers > 0");
    for (const char* name : {"first_weight", "second_weight", "third_weight", "fourth_weight", "inner_weight", "lambda_1", "lambda_2"})
      if (!(o.real(name) >= 0) || !std::isfinite(o.real(name)))
        throw UserError(std::string("cafe: option ") + name + " must be a finite number >= 0");
    const bool use_dsa = o.flag("dsa");
    const std::string strategy = o.str("dsa_strategy").empty() ? Dsa::default_strategy_for(info.name) : o.str("dsa_strategy");
    SiameseDsa siamese(use_dsa, strategy, info.name, ctx.seed);  // an unknown strategy throws UserError here
    const Dsa per_sample(use_dsa ? strategy : "none");
    {
      Net probe = make_net(ctx.net, info.shape, info.num_classes);
      if (!cafe_supports(*probe))
        throw UserError("cafe: net '" + ctx.net + "' has no ConvNet block features to align (cafe aligns the "
                        "reference's ConvNet blocks; use a ConvNet-family net)");
    }

    const SyntheticSet init = matching_init(ctx, o.str("init"), "cafe");
    const torch::Tensor syn = init.images.to(ctx.device).detach().requires_grad_(true);
    const torch::Tensor labels = init.labels.to(ctx.device);
    torch::optim::SGD pixel_opt({syn}, torch::optim::SGDOptions(lr_img).momentum(0.5));
    const MatchingSeam seam(o);
    // One epoch per network-update round (the reference's epoch('train', ...)).
    const TrainSchedule one_epoch = synthetic_training_schedule(lr_net, 1, batch_train, use_dsa ? &per_sample : nullptr, seam);

    const int64_t classes = info.num_classes;
    const auto real_accuracy = [&](NetImpl& net) {
      torch::NoGradGuard no_grad;
      double sum = 0;
      for (int64_t c = 0; c < classes; ++c) {
        const torch::Tensor x = ctx.data.sample_class(c, watch_batch).to(ctx.device);
        sum += net.forward(x).argmax(1).eq(c).to(torch::kFloat).mean().item<double>();
      }
      return sum / static_cast<double>(classes);
    };

    int64_t pixel_steps = 0, inner_epochs = 0, outer_capped = 0, inner_capped = 0;
    double last = 0;
    for (int64_t it = 0; it < iterations; ++it) {
      static_cast<torch::optim::SGDOptions&>(pixel_opt.param_groups()[0].options()).lr(lr_at(lr_img, it));
      Net net = make_net(ctx.net, info.shape, info.num_classes);
      net->to(ctx.device);
      net->train();
      AccuracyWatcher outer(window, lambda_1, AccuracyWatcher::Stop::Steady, classes);
      double sum = 0;
      int64_t steps = 0;
      while (true) {
        const double loss = pixel_step(ctx, *net, syn, labels, pixel_opt, seam, siamese, weights, inner_weight, batch_real);
        check_finite(loss, "cafe matching", it);
        sum += loss;
        ++steps;
        if (outer.push(real_accuracy(*net))) break;
        if (steps >= max_steps) {
          ++outer_capped;
          break;
        }
        // Network update: epochs on a detached copy until the watcher sees the net move.
        AccuracyWatcher inner(window, lambda_2, AccuracyWatcher::Stop::Moved, classes);
        int64_t epochs = 0;
        while (true) {
          train_classifier(*net, syn.detach().clone(), labels, one_epoch);
          ++epochs;
          if (inner.push(real_accuracy(*net))) break;
          if (epochs >= max_epochs) {
            ++inner_capped;
            break;
          }
        }
        inner_epochs += epochs;
      }
      pixel_steps += steps;
      last = sum / static_cast<double>(steps);
      report(ctx.progress, "distill", it + 1, iterations);
    }
    SyntheticSet out;
    out.images = syn.detach().cpu();
    out.labels = init.labels;
    out.meta["final_loss"] = last;  // mean over the last iteration's pixel steps
    out.meta["pixel_steps"] = pixel_steps;
    out.meta["inner_epochs"] = inner_epochs;
    out.meta["outer_capped"] = outer_capped;
    out.meta["inner_capped"] = inner_capped;
    out.meta["modifiers"] = seam.active();
    return out;
  }

 private:
  // One round's pixel step: every class's real batch and synthetic slice (through the seam, one
  // Siamese DSA seed per class), the class means of each aligned feature, the discrimination loss;
  // one term per class to the seam. Returns the reduced loss.
  static double pixel_step(const DistillContext& ctx, NetImpl& net, const torch::Tensor& syn, const torch::Tensor& labels,
                           torch::optim::Optimizer& opt, const MatchingSeam& seam, SiameseDsa& siamese,
                           const std::vector<double>& weights, double inner_weight, int64_t batch_real) {
    const int64_t classes = ctx.data.info.num_classes;
    std::vector<torch::Tensor> reals, syns;
    std::vector<int64_t> real_sizes, syn_sizes;
    for (int64_t c = 0; c < classes; ++c) {
      torch::Tensor real = ctx.data.sample_class(c, batch_real).to(ctx.device);
      torch::Tensor s = seam.transform_synthetic({syn.narrow(0, c * ctx.ipc, ctx.ipc), labels.narrow(0, c * ctx.ipc, ctx.ipc)}).images;
      siamese.apply(real, s);
      real_sizes.push_back(real.size(0));
      syn_sizes.push_back(s.size(0));
      reals.push_back(std::move(real));
      syns.push_back(std::move(s));
    }
    // Real side: each class's feature means and its per-sample embeddings, no graph.
    std::vector<std::vector<torch::Tensor>> real_means(static_cast<size_t>(classes));
    std::vector<torch::Tensor> real_embed(static_cast<size_t>(classes));
    {
      torch::NoGradGuard no_grad;
      const auto keep = [&](const CafeFeatures& f, int64_t c) {
        for (const auto& l : f.layers) real_means[c].push_back(l.mean(0, /*keepdim=*/true));
        real_embed[c] = f.embedding;
      };
      if (net.has_batchnorm()) {  // the reference's one forward: batch statistics over every class
        const CafeFeatures f = cafe_features(net, torch::cat(reals, 0));
        std::vector<CafeFeatures> parts(static_cast<size_t>(classes));
        for (const auto& l : f.layers) {
          const auto split = l.split_with_sizes(real_sizes, 0);
          for (int64_t c = 0; c < classes; ++c) parts[c].layers.push_back(split[c]);
        }
        const auto embeds = f.embedding.split_with_sizes(real_sizes, 0);
        for (int64_t c = 0; c < classes; ++c) {
          parts[c].embedding = embeds[c];
          keep(parts[c], c);
        }
      } else {
        for (int64_t c = 0; c < classes; ++c) keep(cafe_features(net, reals[c]), c);
      }
    }
    reals.clear();
    // Synthetic side: one forward over every class, split back per class.
    const CafeFeatures f = cafe_features(net, torch::cat(syns, 0));
    std::vector<std::vector<torch::Tensor>> syn_layers(static_cast<size_t>(classes));
    for (const auto& l : f.layers) {
      const auto parts = l.split_with_sizes(syn_sizes, 0);
      for (int64_t c = 0; c < classes; ++c) syn_layers[c].push_back(parts[c]);
    }
    const auto syn_embed = f.embedding.split_with_sizes(syn_sizes, 0);
    std::vector<torch::Tensor> centre_rows;
    for (const auto& e : syn_embed) centre_rows.push_back(e.mean(0));
    const torch::Tensor centres = torch::stack(centre_rows, 0);
    std::vector<torch::Tensor> terms;  // one per class
    for (int64_t c = 0; c < classes; ++c) {
      const torch::Tensor real_labels =
          torch::full({real_embed[c].size(0)}, c, torch::TensorOptions().dtype(torch::kLong).device(ctx.device));
      terms.push_back(layer_alignment(real_means[c], syn_layers[c], weights) +
                      mean_embedding_distance(real_embed[c], syn_embed[c]) +
                      inner_weight * discrimination_loss(real_embed[c], real_labels, centres));
    }
    return seam.pixel_step(terms, syn, opt);
  }
};

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "cafe",
    "CAFE: layer-wise class-mean feature alignment + discrimination by synthetic class centres; the net trains "
    "on the set between pixel steps until real-accuracy watchers stop each loop",
    {{"iterations", "int", 2000, "iterations, a fresh net each (reference --Iteration 2000): the set after them, the one the reference evaluates"},
     {"lr_img", "float", 0.1, "pixel SGD learning rate, momentum 0.5, x0.5 at iterations 1200, 1600, 1800 (reference --lr_img, adjust_learning_rate)"},
     {"lr_net", "float", 0.01, "network SGD learning rate between pixel steps, no momentum (reference --lr_net)"},
     {"batch_real", "int", 256, "real images per class per pixel step (reference --batch_real)"},
     {"batch_train", "int", 256, "batch of the network's training on the synthetic set (reference --batch_train)"},
     {"init", "string", "noise", "noise | real (reference --init default noise; its README command gives none)"},
     {"dsa", "bool", false, "CAFE+DSA: Siamese DSA on the real and synthetic batches, DSA in the network's training (reference --method DSA)"},
     {"dsa_strategy", "string", "", "DSA strategy; empty = the dataset's default (no flip for digits); the reference's default 'None' is no augmentation"},
     {"first_weight", "float", 1.0, "alignment weight of the last block's pooled output, f4 (reference --first_weight)"},
     {"second_weight", "float", 1.0, "alignment weight of the last block's activation, f3 (reference --second_weight)"},
     {"third_weight", "float", 0.1, "alignment weight of the second-to-last block's activation, f2 (reference --third_weight)"},
     {"fourth_weight", "float", 0.1, "alignment weight of the third-to-last block's activation, f1 (reference --fourth_weight)"},
     {"inner_weight", "float", 0.01, "weight of the discrimination cross-entropy, summed over real samples (reference --inner_weight)"},
     {"lambda_1", "float", 0.04, "outer loop ends when the watched real accuracy's range over the window is below this (reference --lambda_1)"},
     {"lambda_2", "float", 0.03, "a network update ends when the watched real accuracy's range over the window exceeds this (reference --lambda_2)"},
     {"watch_batch", "int", 128, "real images per class behind each watched accuracy (reference: get_images(c, 128))"},
     {"watch_window", "int", 10, "accuracies the watchers compare (reference: len(acc_watcher) == 10)"},
     {"max_pixel_steps", "int", 1000, "ours: at most this many pixel steps per iteration (the reference has no bound)"},
     {"max_inner_epochs", "int", 1000, "ours: at most this many epochs per network update (the reference has no bound)"}},
    [] { return std::make_unique<Cafe>(); },
    /*matching=*/true});

}  // namespace ddb
