// Feature-space coresets: `herding` and `kcenter`. Both embed each class's training images with a
// ConvNet feature extractor (trained on the full training set for `feature_pretrain_epochs` epochs,
// as the coreset baselines in DC/DM use a trained network; 0 = randomly initialised features) and
// select ipc real images per class.
#include "harness/nets/net.h"
#include "harness/train.h"
#include "methods/common.h"

namespace ddb {
namespace {

std::vector<OptionSpec> feature_options() {
  return {{"feature_net", "string", "ConvNet", "network that embeds the images"},
          {"feature_pretrain_epochs", "int", 1,
           "epochs of SGD (lr 0.01, mom 0.9, wd 5e-4) on the full training set before embedding; 0 = random init"},
          {"max_per_class", "int", 5000, "embed at most this many images per class (random subset)"}};
}

Net trained_feature_net(const DistillContext& ctx) {
  Net net = make_net(ctx.options.str("feature_net"), ctx.data.info.shape, ctx.data.info.num_classes);
  net->to(ctx.device);
  const int64_t epochs = ctx.options.integer("feature_pretrain_epochs");
  if (epochs > 0) {
    TrainSchedule s;
    s.epochs = epochs - 1;  // train_classifier runs Epoch+1 epochs
    s.lr_drop = false;
    train_classifier(*net, ctx.data.train.images.to(ctx.device), ctx.data.train.labels.to(ctx.device), s,
                     ctx.progress, "feature net");
  }
  return net;
}

// Greedy herding (Welling 2009): pick the sample that keeps the running mean closest to the class mean.
std::vector<int64_t> herding_select(const torch::Tensor& feats, int64_t k) {
  const torch::Tensor mu = feats.mean(0);
  std::vector<int64_t> chosen;
  torch::Tensor sum = torch::zeros_like(mu);
  torch::Tensor available = torch::ones({feats.size(0)}, torch::kBool);
  for (int64_t i = 0; i < k && i < feats.size(0); ++i) {
    const torch::Tensor cand = (sum.unsqueeze(0) + feats) / static_cast<double>(i + 1);
    torch::Tensor dist = (cand - mu.unsqueeze(0)).pow(2).sum(1);
    dist.masked_fill_(available.logical_not(), std::numeric_limits<float>::infinity());
    const int64_t best = dist.argmin().item<int64_t>();
    chosen.push_back(best);
    available[best] = false;
    sum += feats[best];
  }
  return chosen;
}

// The IDM authors' herding on ImageNet Subset (their supplement): the k images whose features are
// nearest (L2) to the class-mean feature, nearest first.
std::vector<int64_t> nearest_mean_select(const torch::Tensor& feats, int64_t k) {
  const torch::Tensor dist = (feats - feats.mean(0).unsqueeze(0)).pow(2).sum(1);
  const torch::Tensor order = dist.argsort();
  std::vector<int64_t> chosen;
  for (int64_t i = 0; i < std::min<int64_t>(k, feats.size(0)); ++i) chosen.push_back(order[i].item<int64_t>());
  return chosen;
}

// Greedy k-center (Sener & Savarese 2018): start from a random sample, repeatedly add the sample
// farthest from the chosen centres.
std::vector<int64_t> kcenter_select(const torch::Tensor& feats, int64_t k) {
  std::vector<int64_t> chosen{torch::randint(feats.size(0), {1}, torch::kLong).item<int64_t>()};
  torch::Tensor mind = (feats - feats[chosen[0]].unsqueeze(0)).pow(2).sum(1);
  while (static_cast<int64_t>(chosen.size()) < std::min<int64_t>(k, feats.size(0))) {
    const int64_t best = mind.argmax().item<int64_t>();
    chosen.push_back(best);
    mind = torch::minimum(mind, (feats - feats[best].unsqueeze(0)).pow(2).sum(1));
  }
  return chosen;
}

class FeatureCoreset : public Method {
 public:
  explicit FeatureCoreset(bool herding) : herding_(herding) {}
  SyntheticSet distill(const DistillContext& ctx) override {
    Net net = trained_feature_net(ctx);
    std::vector<torch::Tensor> images;
    const int64_t cap = ctx.options.integer("max_per_class");
    for (int64_t c = 0; c < ctx.data.info.num_classes; ++c) {
      const torch::Tensor pool = ctx.data.sample_class(c, std::min<int64_t>(cap, ctx.data.class_indices[c].size(0)));
      const torch::Tensor feats = embed_all(*net, pool, ctx.device);
      const auto idx = !herding_                                             ? kcenter_select(feats, ctx.ipc)
                       : ctx.options.str("selection") == "nearest_mean" ? nearest_mean_select(feats, ctx.ipc)
                                                                          : herding_select(feats, ctx.ipc);
      images.push_back(pool.index_select(0, torch::tensor(idx, torch::kLong)));
      report(ctx.progress, herding_ ? "herding" : "kcenter", c + 1, ctx.data.info.num_classes);
    }
    SyntheticSet s;
    s.images = torch::cat(images, 0);
    s.labels = class_major_labels(ctx.data.info.num_classes, ctx.ipc);
    return s;
  }

 private:
  bool herding_;
};

}  // namespace

std::vector<OptionSpec> herding_options() {
  std::vector<OptionSpec> o = feature_options();
  OptionSpec selection{"selection", "string", "greedy",
                       "greedy: Welling's herding (each pick keeps the running mean of the chosen features closest "
                       "to the class mean); nearest_mean: the ipc images nearest (L2) to the class-mean feature (the "
                       "IDM authors' ImageNet Subset herding, their supplement)"};
  selection.neutral_default = true;  // the default is the method as it was: configurations keep their hash
  o.push_back(selection);
  return o;
}

class Herding : public FeatureCoreset {
 public:
  Herding() : FeatureCoreset(true) {}
  SyntheticSet distill(const DistillContext& ctx) override {
    const std::string sel = ctx.options.str("selection");
    if (sel != "greedy" && sel != "nearest_mean")
      throw UserError("herding: option selection must be greedy or nearest_mean, got '" + sel + "'");
    return FeatureCoreset::distill(ctx);
  }
};

DDBENCH_REGISTER_METHOD(MethodInfo{"herding", "herding coreset in ConvNet feature space", herding_options(),
                                   [] { return std::make_unique<Herding>(); }});
DDBENCH_REGISTER_METHOD(MethodInfo{"kcenter", "greedy k-center coreset in ConvNet feature space", feature_options(),
                                   [] { return std::make_unique<FeatureCoreset>(false); }});

}  // namespace ddb
