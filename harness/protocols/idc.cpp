// `idc`: IDC's evaluation (Kim et al., ICML 2022; snu-mllab/Efficient-Dataset-Condensation at ceac95a,
// which RDD's test/argument.py inherits). The set arrives decoded (multi-formation decode is the
// method's decode(), IDC test.py decode() l.182-204), normalised; the protocol trains and tests.
// Facts read from the reference (our code, not theirs):
//   argument.py l.120-123: batch_size 64, lr 0.01, momentum 0.9, weight_decay 5e-4.
//   train.py l.104-107: optim.SGD(params, lr, momentum, weight_decay) -- no nesterov.
//   train.py l.109-110, 164: MultiStepLR(milestones=[2E//3, 5E//6], gamma=0.2), stepped after every
//     epoch (lr changed in place, momentum kept); l.130: epochs 1..E (E epochs, not E + 1).
//   argument.py l.437-446: E = 1000 for every non-ImageNet dataset when ipc > 0; ImageNet:
//     ipc_epoch(ipc, factor) l.22-47 (ipc * factor^2 = 1: 3000, <= 10: 2000, <= 50: 1500, <= 200: 1000,
//     <= 500: 500, else 300; x2/3 rounded down to 100s for 100 classes) -- suites give eval.epochs.
//   argument.py l.128-139, 266-295: mixup 'cut' (CutMix), beta 1.0, mix_p 0.5 and dsa on for cifar,
//     svhn, mnist, fashion (mix_p 1.0 and no DSA for ImageNet, l.241-244, 297-308, 453-457).
//   test.py l.244-248 + data.py l.269-323: ImageNet sets are trained through transform_imagenet
//     (RandomResizedCrop(size, scale 0.5-1) + flip + colour jitter 0.4 + lighting 0.1 on [0, 1] pixels,
//     then Normalize), a fresh draw per image per epoch: harness/augment/imagenet_transform.h, the
//     augment imagenet+cutmix (our sets are normalised: undone, augmented, normalised again).
//   argument.py l.245, 280, 288, 451-452: dsa_strategy color_crop_cutout_flip_scale_rotate, flip
//     removed for svhn and mnist (not fashion), cutout removed when mixup is 'cut'.
//   train.py l.121-122, 196-212: per batch, DiffAug(strategy, batch=False) (misc/augment.py l.7-83:
//     flip, colour, ONE of the other groups per call, cutout; per-sample parameters) under no_grad,
//     then with probability mix_p CutMix: lam ~ Beta(beta, beta), randperm partner (misc/utils.py
//     random_indices, intraclass False), rand_bbox box, loss CE(y) ratio + CE(y_b) (1 - ratio);
//     harness/augment/cutmix.h and DsaComposition::Idc implement these.
//   test.py l.415-419: train loader batch_size 64, shuffle=True (last partial batch kept).
//   test.py l.366-395 + train.py l.141-166: test accuracy every E // 4 epochs; prints the best and
//     the last -- we report the last epoch's (the suites' selection: last).
// eval.augment: dsa+cutmix (IDC's default), dsa (DiffAug with cutout, no CutMix: IDC's mixup
// 'vanilla'), imagenet+cutmix (IDC's ImageNet evaluation: transform_imagenet per image, no DSA, CutMix
// p 1.0 beta 1.0; RGB sets only), none. Rows: accuracy, and those of eval.ood's shifted test sets (shifted_test_rows).
#include "harness/augment/dsa.h"
#include "harness/augment/imagenet_transform.h"
#include "harness/eval_protocol.h"
#include "harness/nets/net.h"

namespace ddb {
namespace {

// IDC's evaluation DSA strategy for a dataset (argument.py), without cutout when CutMix is on.
std::string idc_strategy(const std::string& dataset, bool cutmix) {
  std::string s = dataset == "svhn" || dataset == "mnist" ? "color_crop_cutout_scale_rotate" : "color_crop_cutout_flip_scale_rotate";
  if (cutmix) s.erase(s.find("_cutout"), 7);
  return s;
}

class IdcProtocol : public EvalProtocol {
 public:
  EvalRunResult run(const EvalContext& ctx) const override {
    const EvalSpec& spec = ctx.spec;
    const LoadedDataset& data = ctx.data;
    const bool imagenet = spec.augment == "imagenet+cutmix";
    const bool cutmix = spec.augment == "dsa+cutmix";
    torch::manual_seed(ctx.seed);
    Net net = make_net(spec.net, data.info.shape, data.info.num_classes);
    net->to(ctx.device);
    TrainSchedule s;
    s.epochs = spec.epochs;
    s.extra_epoch = false;
    s.batch = spec.batch_train;
    s.lr = spec.lr_net;
    s.momentum = 0.9;
    s.weight_decay = 5e-4;
    s.lr_drop = false;
    s.lr_milestones = {2 * spec.epochs / 3, 5 * spec.epochs / 6};
    s.lr_gamma = 0.2;
    if (imagenet) {
      // Per image from the global generator (seeded above with ctx.seed), after the loader's shuffle.
      const ImagenetTransform aug(data.info.mean, data.info.std);
      s.augment = [aug](const torch::Tensor& x) { return aug(x); };
      s.cutmix_prob = 1.0;  // argument.py l.139 mix_p 1.0 (not lowered for imagenet)
      s.cutmix_beta = 1.0;
    } else if (spec.augment != "none") {
      const Dsa aug(spec.dsa_strategy.empty() ? idc_strategy(data.info.name, cutmix) : spec.dsa_strategy, DsaParams{},
                    DsaComposition::Idc);
      s.augment = [aug](const torch::Tensor& x) { return aug(x, -1); };  // per-sample (batch=False)
    }
    if (cutmix) {
      s.cutmix_prob = 0.5;
      s.cutmix_beta = 1.0;
    }
    EvalRunResult r;
    r.train_loss = train_classifier(*net, ctx.set.images.to(ctx.device).detach(), ctx.set.labels.to(ctx.device).detach(), s,
                                    ctx.progress, ctx.phase);
    add_test_rows(r, *net, ctx);
    return r;
  }
};

}  // namespace

DDBENCH_REGISTER_PROTOCOL(ProtocolInfo{
    "idc", "1",
    "IDC test.py/train.py: fresh net, SGD lr 0.01 mom 0.9 wd 5e-4, batch 64, E epochs (1000), MultiStepLR at 2E/3 "
    "and 5E/6 x0.2, IDC DiffAug per sample (flip, colour, one of crop/scale/rotate; no cutout with CutMix) + CutMix "
    "(beta 1, p 0.5), or for ImageNet sets (imagenet+cutmix) RandomResizedCrop + flip + jitter + lighting per image "
    "and CutMix (beta 1, p 1); last-epoch test accuracy; the same net scored on eval.ood's shifted test sets",
    {"accuracy", "worst_group_accuracy", "accuracy_drop"},
    [] { return std::make_unique<IdcProtocol>(); },
    /*shifted_sets=*/true,
    /*augments=*/{"none", "dsa", "dsa+cutmix", "imagenet+cutmix"},
    /*defaults=*/json{{"batch_train", 64}, {"epochs", 1000}, {"augment", "dsa+cutmix"}}});

}  // namespace ddb
