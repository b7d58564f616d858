// `idc`: Dataset Condensation via Efficient Synthetic-Data Parameterization (Kim et al., ICML 2022;
// reference snu-mllab/Efficient-Dataset-Condensation condense.py, argument.py, train.py, augment.py and
// misc/reproduce.py for the per-dataset settings). Facts; the code is our own:
//   * The synthetic images live in [0, 1] pixel space (clamped at the top of every outer iteration)
//     and hold `factor` x `factor` downscaled images each (multi-formation). decode_zoom cuts every image
//     into factor^2 crops of side ceil(H / factor) (padding with 0.5 when H is not a multiple) and
//     resizes each back to H x W (bilinear); labels repeat per crop.
//   * init `mix` (forced when factor > 1): factor^2 real images of the class per synthetic image, each
//     resized with F.interpolate's default (nearest) into its cell (the first H % factor cells one pixel
//     larger).
//   * Outer iteration (niter * 100 / inner_loop of them; `iterations` here): a fresh network (fix_iter 1: re-initialised
//     every outer iteration), SGD lr_net, momentum 0.9, wd 5e-4, optionally `early` epochs on the real
//     data; then inner_loop times: for every class one pixel step of gradient matching (a real batch of
//     batch_real of the class and the class's decoded synthetic images, at most batch_syn_max of them,
//     concatenated and augmented together with one parameter set: normalise, then IDC's DiffAug
//     `aug_type` in batch mode), then `net_epoch` passes of the network over n_data real images
//     (batches of batch_real from all classes, IDC's DiffAug without cutout per sample, CutMix with
//     probability mix_p when mixup_net is `cut`).
//   * Matching loss: CE gradients of the real and the synthetic batch w.r.t. the network's parameters;
//     only tensors with more than 2 dims take part (bias/norm vectors unless `bias`, the linear layer
//     unless `fc`), distance per tensor `metric` (mse: sum of squares; l1: sum of |.|; l1_mean; cos per
//     output unit), summed. Pixels: SGD(lr_img x tune_lr_img, momentum mom_img).
//   * tune_lr_img: lr_img x ipc / 10 x (size / base)^2 with base 224 for ImageNet, 28 for MNIST and 32
//     for every other dataset (Fashion-MNIST included, as the code has it).
// RDD (issue 12) changes the network update through the seam's network_batch / network_loss hooks.
// DREAM (dream.cpp) changes which real images are matched and initialise the set through an
// IdcRealSampler (idc.h); without one this file does exactly what it did before that hook.
#include <algorithm>
#include <cmath>

#include "harness/augment/cutmix.h"
#include "harness/augment/dsa.h"
#include "harness/nets/fused_block.h"
#include "harness/nets/net.h"
#include "harness/normalisation.h"
#include "methods/common.h"
#include "methods/matching/idc.h"
#include "methods/matching/seam.h"

namespace ddb {
namespace {

namespace F = torch::nn::functional;

// decode_zoom on one class's images (pixel or normalised space; `pad` is the per-channel value of
// pixel 0.5 in that space).
torch::Tensor decode_zoom(const torch::Tensor& img, int64_t factor, const torch::Tensor& pad) {
  if (factor <= 1) return img;
  const int64_t h = img.size(-1);
  torch::Tensor x = img;
  const int64_t remained = h % factor;
  if (remained > 0) {
    // F.pad(value=0.5) on the right and bottom; per channel in normalised space.
    const torch::Tensor p = pad.to(img.device(), img.scalar_type()).view({1, -1, 1, 1});
    x = torch::constant_pad_nd(img - p, {0, factor - remained, 0, factor - remained}, 0) + p;
  }
  const int64_t s = (h + factor - 1) / factor;
  std::vector<torch::Tensor> crops;
  for (int64_t i = 0; i < factor; ++i)
    for (int64_t j = 0; j < factor; ++j) crops.push_back(x.narrow(2, i * s, s).narrow(3, j * s, s));
  return F::interpolate(torch::cat(crops, 0), F::InterpolateFuncOptions()
                                                 .size(std::vector<int64_t>{img.size(2), img.size(3)})
                                                 .mode(torch::kBilinear)
                                                 .align_corners(false));
}

torch::Tensor repeat_crops(const torch::Tensor& labels, int64_t factor) {
  return factor <= 1 ? labels : labels.repeat({factor * factor});
}

// The per-channel value of pixel 0.5 in normalised space.
torch::Tensor normalised_half(const DatasetInfo& info) {
  return apply_normalisation(torch::full({1, info.shape.channels, 1, 1}, 0.5f), info).view({-1});
}

std::string without_group(const std::string& strategy, const std::string& group) {
  std::string out;
  size_t start = 0;
  while (start <= strategy.size()) {
    const size_t end = strategy.find('_', start);
    const std::string g = strategy.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (g != group && !g.empty()) out += (out.empty() ? "" : "_") + g;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out.empty() ? "none" : out;
}

torch::Tensor distance(const torch::Tensor& a, const torch::Tensor& b, const std::string& metric) {
  if (metric == "mse") return (a - b).pow(2).sum();
  if (metric == "l1") return (a - b).abs().sum();
  if (metric == "l1_mean") return (a - b).abs().reshape({a.size(0), -1}).mean(-1).sum();
  if (metric == "cos") {
    const torch::Tensor x = a.reshape({a.size(0), -1}), y = b.reshape({b.size(0), -1});
    return (1 - (x * y).sum(-1) / (x.norm(2, -1) * y.norm(2, -1) + 1e-6)).sum();
  }
  throw UserError("idc: option metric must be mse, l1, l1_mean or cos, got '" + metric + "'");
}

double tuned_lr_img(const Options& o, const DatasetInfo& info, int64_t ipc) {
  const std::string rule = o.str("lr_img_scaling");
  if (rule == "none") return o.real("lr_img");
  if (rule.find("ipc/10") == std::string::npos)
    throw UserError("idc: option lr_img_scaling must be 'none' or IDC's tune_lr_img rule ('x ipc/10 ...'), got '" +
                    rule + "'");
  const std::string name = info.name;
  const double base = name.rfind("imagenet", 0) == 0 || name.rfind("image", 0) == 0 ? 224.0
                      : name == "mnist"                                            ? 28.0
                                                                                   : 32.0;
  const double size = static_cast<double>(info.shape.height);
  return o.real("lr_img") * static_cast<double>(ipc) / 10.0 * (size / base) * (size / base);
}

// Pixels [0, 1] of the initial set, class-major. With a sampler that selects_init(), its images
// replace the random draws of init random / mix (DREAM's kmean / f2_init kmean).
torch::Tensor initial_pixels(const DistillContext& ctx, int64_t factor, IdcRealSampler* sampler, NetImpl* net);

}  // namespace

SyntheticSet idc_distill(const DistillContext& ctx, IdcRealSampler* sampler) {
    const Options& o = ctx.options;
    const DatasetInfo& info = ctx.data.info;
    const int64_t factor = o.integer("factor");
    const int64_t inner_loop = o.integer("inner_loop");
    if (factor < 1) throw UserError("idc: option factor must be >= 1");
    if (inner_loop < 1) throw UserError("idc: option inner_loop must be >= 1");
    if (o.str("match") != "grad")
      throw UserError("idc: option match '" + o.str("match") + "' is not implemented (only grad: every suite cell uses it)");
    if (o.integer("size") != 0 && o.integer("size") != info.shape.height)
      throw UserError("idc: option size " + std::to_string(o.integer("size")) + " differs from the dataset's image side " +
                      std::to_string(info.shape.height) + " (resize the dataset instead)");
    const std::string metric = o.str("metric");
    distance(torch::zeros({1, 1}), torch::zeros({1, 1}), metric);  // reject an unknown metric before any work
    const std::string mixup = o.str("mixup_net");
    if (mixup != "cut" && mixup != "vanilla") throw UserError("idc: option mixup_net must be cut or vanilla");
    // The reference runs niter * 100 / inner_loop outer iterations; every suite cell has inner_loop 100,
    // where that is niter. `iterations` counts outer iterations, so short runs can shorten inner_loop.
    const int64_t n_iter = o.integer("iterations");
    const double mix_p = o.real("mix_p") >= 0 ? o.real("mix_p") : (info.shape.height >= 64 ? 1.0 : 0.5);
    const MatchingSeam seam(o);

    Net net;
    std::unique_ptr<torch::optim::SGD> opt_net;
    const auto fresh_net = [&] {
      net = make_net(ctx.net, info.shape, info.num_classes);
      net->to(ctx.device);
      net->train();
      opt_net = std::make_unique<torch::optim::SGD>(
          net->parameters(), torch::optim::SGDOptions(o.real("lr_net")).momentum(0.9).weight_decay(5e-4));
    };
    // DREAM: the network that picks the initial images is built first and serves outer iteration 0.
    const bool net_first = sampler && sampler->selects_init();
    if (net_first) fresh_net();

    // The synthetic images in [0, 1] pixels.
    torch::Tensor pix = initial_pixels(ctx, factor, net_first ? sampler : nullptr, net.get()).to(ctx.device).requires_grad_(true);
    const torch::Tensor labels = class_major_labels(info.num_classes, ctx.ipc).to(ctx.device);
    const double lr_img = tuned_lr_img(o, info, ctx.ipc);
    torch::optim::SGD opt_img({pix}, torch::optim::SGDOptions(lr_img).momentum(o.real("mom_img")));
    const torch::Tensor half = normalised_half(info).to(ctx.device);
    const Dsa aug_match(o.str("aug_type"), {}, DsaComposition::Idc);
    const Dsa aug_net(mixup == "cut" ? without_group(o.str("aug_type"), "cutout") : o.str("aug_type"), {},
                      DsaComposition::Idc);
    const bool match_bias = o.flag("bias"), match_fc = o.flag("fc");
    const int64_t batch_real = o.integer("batch_real");
    const int64_t batch_net = seam.network_batch(batch_real);
    const int64_t batch_syn_max = o.integer("batch_syn_max");
    int64_t aug_seed = static_cast<int64_t>(ctx.seed % 1000000007ULL) * 1000;

    // One network update: `n_data` real images (all of them when n_data < 0) in batches.
    const auto train_net = [&](int64_t n_data) {
      torch::Tensor centres, centre_labels;
      if (seam.needs_centres()) {
        torch::NoGradGuard no_grad;
        // The synthetic samples as stored (one per IPC slot), so RDD's "clusters = IPC" holds.
        centres = apply_normalisation(pix.detach(), info);
        centre_labels = labels;
      }
      const int64_t total = ctx.data.train.size();
      const torch::Tensor order = torch::randperm(total, torch::kLong);
      const int64_t limit = n_data < 0 ? total : std::min(n_data, total);
      int64_t seen = 0, step = 0;
      while (seen < limit) {
        const int64_t b = std::min(batch_net, total - seen);
        if (b <= 0) break;
        const torch::Tensor idx = order.narrow(0, seen, b);
        torch::Tensor x = ctx.data.train.images.index_select(0, idx).to(ctx.device);
        const torch::Tensor y = ctx.data.train.labels.index_select(0, idx).to(ctx.device);
        {
          torch::NoGradGuard no_grad;
          x = aug_net(x, -1);
        }
        CutMixed m;
        m.images = x;
        if (mixup == "cut") m = cutmix(x, y, o.real("beta"), mix_p);
        const torch::Tensor logits = net->forward(m.images);
        NetworkBatch nb;
        nb.net = net.get();
        nb.images = m.images;
        nb.labels = y;
        nb.per_sample = cutmix_loss(logits, y, m, /*per_sample=*/true);
        nb.centres = centres;
        nb.centre_labels = centre_labels;
        nb.step = step++;
        const torch::Tensor loss = seam.network_loss(nb);
        check_finite(loss.item<double>(), "idc network update", 0);
        opt_net->zero_grad();
        loss.backward();
        opt_net->step();
        seen += b;  // the reference counts samples and stops once n_data is reached
      }
    };

    double last = 0;
    for (int64_t it = 0; it < n_iter; ++it) {
      if (it % std::max<int64_t>(1, o.integer("fix_iter")) == 0) {
        if (!(net_first && it == 0)) fresh_net();
        for (int64_t e = 0; e < o.integer("early"); ++e) train_net(-1);
      }
      {
        torch::NoGradGuard no_grad;
        pix.clamp_(0.0, 1.0);
      }
      std::vector<torch::Tensor> params;
      std::vector<bool> matched;
      for (const auto& p : net->parameters()) {
        params.push_back(p);
        matched.push_back(p.dim() > 2 || (p.dim() == 1 && match_bias) || (p.dim() == 2 && match_fc));
      }
      double loss_total = 0;
      for (int64_t ot = 0; ot < inner_loop; ++ot) {
        for (int64_t c = 0; c < info.num_classes; ++c) {
          const torch::Tensor real =
              (sampler ? sampler->real_batch(c, ot, *net) : ctx.data.sample_class(c, batch_real)).to(ctx.device);
          torch::Tensor syn = decode_zoom(apply_normalisation(pix.narrow(0, c * ctx.ipc, ctx.ipc), info), factor, half);
          torch::Tensor syn_lab = repeat_crops(labels.narrow(0, c * ctx.ipc, ctx.ipc), factor);
          if (batch_syn_max > 0 && syn.size(0) > batch_syn_max) {
            const torch::Tensor keep = torch::randperm(syn.size(0), torch::kLong).narrow(0, 0, batch_syn_max).to(ctx.device);
            syn = syn.index_select(0, keep);
            syn_lab = syn_lab.index_select(0, keep);
          }
          SynBatch sb = seam.transform_synthetic({syn, syn_lab});
          const int64_t n = real.size(0);
          const torch::Tensor both = aug_match(torch::cat({real, sb.images}, 0), aug_seed++);
          const torch::Tensor real_aug = both.narrow(0, 0, n).detach();
          const torch::Tensor syn_aug = both.narrow(0, n, both.size(0) - n);
          const torch::Tensor real_lab = torch::full({n}, c, torch::TensorOptions().dtype(torch::kLong).device(ctx.device));
          const nets::UnfusedScope same_kernels;  // g_real and g_syn from the same kernels (fused_block.h)
          const auto g_real = torch::autograd::grad({F::cross_entropy(net->forward(real_aug), real_lab)}, params);
          const auto g_syn = torch::autograd::grad({F::cross_entropy(net->forward(syn_aug), sb.labels)}, params, {},
                                                   /*retain_graph=*/true, /*create_graph=*/true);
          std::vector<torch::Tensor> terms;
          for (size_t i = 0; i < params.size(); ++i)
            if (matched[i]) terms.push_back(distance(g_real[i].detach(), g_syn[i], metric));
          const double l = seam.pixel_step(terms, pix, opt_img);
          check_finite(l, "idc matching", it);
          loss_total += l;
        }
        if (o.integer("n_data") > 0)
          for (int64_t e = 0; e < o.integer("net_epoch"); ++e) train_net(o.integer("n_data"));
      }
      last = loss_total / static_cast<double>(info.num_classes * inner_loop);
      report(ctx.progress, "distill", it + 1, n_iter);
    }

    SyntheticSet out;
    {
      torch::NoGradGuard no_grad;
      // The reference saves synset.data as it stands after the last step (it clamps only at the top of
      // an outer iteration); the stored set is normalised like every set.
      out.images = apply_normalisation(pix.detach(), info).cpu();
    }
    out.labels = labels.cpu();
    out.meta["final_loss"] = last;
    out.meta["outer_iterations"] = n_iter;
    out.meta["lr_img_tuned"] = lr_img;
    out.meta["mix_p"] = mix_p;
    out.meta["decoded_images"] = out.images.size(0) * factor * factor;
    // decode() pads with pixel 0.5 when factor does not divide the side; in normalised space that value
    // depends on the dataset's mean/std, which decode() does not see.
    const torch::Tensor h = half.cpu();
    out.meta["pad_value"] = std::vector<float>(h.data_ptr<float>(), h.data_ptr<float>() + h.numel());
    out.meta["modifiers"] = seam.active();
    if (!seam.describe().empty()) out.meta["modifier_settings"] = seam.describe();
    if (sampler && !sampler->describe().empty()) out.meta["real_sampler"] = sampler->describe();
    return out;
}

SyntheticSet idc_decode(const SyntheticSet& stored, const Options& options) {
    const int64_t factor = options.integer("factor");
    if (factor <= 1) return stored;
    SyntheticSet out = stored;
    // decode_zoom per stored image; the pad value is pixel 0.5 in normalised space, which needs the
    // dataset's mean/std: stored sets record them.
    torch::Tensor half = torch::full({stored.images.size(1)}, 0.0f);
    if (stored.meta.contains("pad_value")) half = torch::tensor(stored.meta["pad_value"].get<std::vector<float>>());
    out.images = decode_zoom(stored.images, factor, half);
    out.labels = repeat_crops(stored.labels, factor);
    return out;
}

namespace {

torch::Tensor initial_pixels(const DistillContext& ctx, int64_t factor, IdcRealSampler* sampler, NetImpl* net) {
    const DatasetInfo& info = ctx.data.info;
    const std::string init = factor > 1 ? "mix" : ctx.options.str("init");  // argument.py forces mix
    const int64_t h = info.shape.height, w = info.shape.width;
    torch::Tensor data = (torch::randn({info.num_classes * ctx.ipc, info.shape.channels, h, w}) / 4 + 0.5).clamp(0, 1);
    if (init == "noise") return data;
    if (init != "random" && init != "mix") throw UserError("idc: option init must be mix, random or noise, got '" + init + "'");
    const int64_t per = init == "mix" ? ctx.ipc * factor * factor : ctx.ipc;
    for (int64_t c = 0; c < info.num_classes; ++c) {
      const torch::Tensor img =
          undo_normalisation(sampler ? sampler->init_images(c, per, *net).cpu() : ctx.data.sample_class(c, per), info);
      if (img.size(0) < per)
        throw UserError("idc: class " + std::to_string(c) + " has " + std::to_string(img.size(0)) +
                        " training images; init needs " + std::to_string(per));
      if (init == "random" || factor == 1) {
        data.narrow(0, c * ctx.ipc, ctx.ipc).copy_(img.narrow(0, 0, ctx.ipc));
        continue;
      }
      const int64_t s = h / factor, remained = h % factor;
      int64_t k = 0, h_loc = 0;
      for (int64_t i = 0; i < factor; ++i) {
        const int64_t h_r = i < remained ? s + 1 : s;
        int64_t w_loc = 0;
        for (int64_t j = 0; j < factor; ++j) {
          const int64_t w_r = j < remained ? s + 1 : s;
          const torch::Tensor part = F::interpolate(img.narrow(0, k * ctx.ipc, ctx.ipc),
                                                    F::InterpolateFuncOptions().size(std::vector<int64_t>{h_r, w_r}).mode(torch::kNearest));
          data.narrow(0, c * ctx.ipc, ctx.ipc).narrow(2, h_loc, h_r).narrow(3, w_loc, w_r).copy_(part);
          w_loc += w_r;
          ++k;
        }
        h_loc += h_r;
      }
    }
    return data;
}

class Idc : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override { return idc_distill(ctx, nullptr); }
  SyntheticSet decode(const SyntheticSet& stored, const Options& options) const override {
    return idc_decode(stored, options);
  }
};

}  // namespace

std::vector<OptionSpec> idc_option_specs() {
  return {{"iterations", "int", 500, "outer iterations, each with a fresh network (the reference's niter * 100 / inner_loop; reproduce.py: niter 2000 CIFAR/SVHN/Fashion, 500 ImageNet, inner_loop 100)"},
     {"inner_loop", "int", 100, "pixel steps per class (each followed by a network update) per outer iteration"},
     {"factor", "int", 1, "multi-formation factor (reproduce: 2 for 32 px, 3 for ImageNet); > 1 forces init mix"},
     {"init", "string", "random", "mix | random | noise (the reference's default random; factor > 1 forces mix)"},
     {"match", "string", "grad", "grad (feature matching is not implemented)"},
     {"metric", "string", "l1", "gradient distance: mse (CIFAR/SVHN) | l1 (Fashion-MNIST, ImageNet) | l1_mean | cos"},
     {"bias", "bool", false, "also match bias / normalisation vectors"},
     {"fc", "bool", false, "also match the linear layer"},
     {"lr_img", "float", 5e-3, "pixel SGD learning rate before tune_lr_img (CIFAR/SVHN 5e-3, Fashion/MNIST 1e-4, ImageNet 3e-3)"},
     {"lr_img_scaling", "string", "x ipc/10 (tune_lr_img)", "'none' or IDC's tune_lr_img: x ipc/10 x (size/base)^2"},
     {"mom_img", "float", 0.5, "pixel SGD momentum"},
     {"batch_real", "int", 64, "real images per class per matching step, and per network-update batch"},
     {"batch_syn_max", "int", 128, "at most this many decoded synthetic images of a class per matching step (random subset)"},
     {"n_data", "int", 500, "real images per network update (reproduce: 2000 CIFAR-10, 500 otherwise; RDD 4000)"},
     {"net_epoch", "int", 1, "network updates after each pixel step"},
     {"early", "int", 0, "epochs over all real data when a network is (re)initialised (ImageNet-10: 10)"},
     {"fix_iter", "int", 1, "outer iterations a network is kept (the reference's default -1 means 1)"},
     {"lr_net", "float", 0.01, "network SGD learning rate (momentum 0.9, weight decay 5e-4)"},
     {"aug_type", "string", "color_crop_cutout", "IDC DiffAug strategy for matching (batch mode); without cutout for the network when mixup_net is cut"},
     {"mixup_net", "string", "cut", "cut (CutMix in the network update) | vanilla"},
     {"mix_p", "float", -1.0, "CutMix probability; -1 = the reference's: 0.5 for 28/32 px datasets, 1.0 for ImageNet"},
     {"beta", "float", 1.0, "CutMix Beta(beta, beta)"},
     {"size", "int", 0, "image side the reference resizes to; must equal the dataset's (0 = the dataset's)"}};
}

DDBENCH_REGISTER_METHOD(MethodInfo{
    "idc",
    "IDC: gradient matching with multi-formation (factor^2 images per stored image, decoded at evaluation), "
    "a network trained on real data during condensation",
    idc_option_specs(),
    [] { return std::make_unique<Idc>(); },
    /*matching=*/true});

}  // namespace ddb
