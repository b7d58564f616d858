// `dream`: DREAM: Efficient Dataset Distillation by Representative Matching (Liu, Gu, Wang, Zhu, Jiang, You;
// ICCV 2023). Reference: Yanqing0327/DREAM at 595e3c1 (condense.py, argument.py and misc/reproduce.py as of
// 9a74674, the DREAM release; b133b77 added DREAM+ beside it: condense_improve.py, match 'bi_match'),
// built on IDC (snu-mllab/Efficient-Dataset-Condensation at ceac95a). DREAM is IDC with another choice of
// the real images: here an IdcRealSampler plugged into idc.cpp's loop (idc.h), not a copy of it. Facts
// read from the reference (our code, not theirs):
//   condense.py l.506-510: img_class[c] = every training image of class c (normalised, not augmented).
//   condense.py l.517-518, 601: the network is built before initialisation (eval mode) and serves outer
//     iteration 0; a fresh one every fix_iter iterations from iteration 1 on (`it % fix_iter == 0 and
//     it != 0`); IDC's `early` pretraining is gone (IDC condense.py l.510-519).
//   condense.py l.526-533 (init kmean, factor 1) and l.539-551 (init mix, f2_init kmean): the initial
//     images of class c are query(ipc) / query(ipc * factor^2) of img_class[c] under that first network,
//     placed in query order (mix: the k-th block of ipc images into cell k, row-major, as IDC's mix).
//   condense.py l.573, 616-632: for every class, at inner steps ot with ot % interval == 0,
//     query_list[c] = query(batch_real) under the current network; the real batch of every inner step is
//     img_class[c][query_list[c]] -- no random draw; l.633-644: labels c, IDC's augmentation of
//     cat(real, syn), matchloss and pixel step unchanged; l.647-656: the network update (n_data random
//     real images, CutMix) unchanged.
//   new_strategy.py l.17-29 (query), l.60-64: embeddings = net.embed(images) under no_grad (in whatever
//     mode the net is); KMeans(n_clusters=n, mode='euclidean').fit_predict(embeddings); for each centroid
//     the argmin over the samples of the Euclidean distance (l.8-15, 27-28): n indices, in centroid
//     order, duplicates possible. So the matched batch is one sample per sub-cluster, the nearest to its
//     centre, and the number of sub-clusters is batch_real.
//   new_strategy.py l.2: fast_pytorch_kmeans; at DREAM's release (2023-03-15) its PyPI version 0.1.9
//     (DeMoriarty/fast_pytorch_kmeans at a2056b9, kmeans.py l.34: max_iter 100, tol 1e-4; l.164-165:
//     init = n_clusters distinct random samples; l.170-204: Lloyd -- nearest centre, centre = mean of its
//     members, stop when the summed squared shift is <= tol; l.188: an empty cluster's centre becomes 0).
//   argument.py l.198-201: interval 10; l.166-173: init kmean, f2_init kmean (l.354: factor > 1 forces
//     mix); l.225-227: batch_real 128 (IDC's 64, IDC argument.py l.219-221); l.182-184: match grad;
//     l.205: niter 500; l.136, 274-300: mix_p 1.0, 0.5 for CIFAR/SVHN/MNIST/Fashion (as IDC).
//   misc/reproduce.py l.6-14, 31-33: as IDC's -- ConvNet-3, niter 2000, CIFAR: metric mse, lr_img 5e-3,
//     n_data 2000; Fashion: metric l1, lr_img 1e-4, n_data 500. README.md l.51 / run.sh: `condense.py
//     --reproduce -d cifar10 -f 2 --ipc 10` (factor 2 for CIFAR-10).
// Differences (recorded in each set's meta.real_sampler):
//   * features are computed with the net in eval mode (embed_all); the same for ConvNet's instance
//     norm, different only for BatchNorm nets (the reference embeds in the net's current mode);
//   * an empty k-means cluster keeps its previous centre (the library moves it to the origin);
//   * our k-means draws from the run's torch stream (not numpy's), so the clusters are not the reference's;
//   * `kmeans_init: kmeans++` is offered beside the library's random init (default: the library's).
// RDD's options (rdd.cpp) reach dream as they reach idc: the network update is IDC's.
#include "methods/matching/dream.h"

#include <algorithm>

#include "methods/common.h"
#include "methods/matching/idc.h"

namespace ddb {

namespace {

// Squared Euclidean distances [N, k] between the rows of x [N, D] and c [k, D].
torch::Tensor squared_distances(const torch::Tensor& x, const torch::Tensor& c) {
  const torch::Tensor xx = x.pow(2).sum(1, /*keepdim=*/true);
  const torch::Tensor cc = c.pow(2).sum(1).view({1, -1});
  return (xx + cc - 2 * torch::mm(x, c.t())).clamp_min(0);
}

torch::Tensor initial_centres(const torch::Tensor& x, int64_t k, const std::string& init) {
  const int64_t n = x.size(0);
  if (init == "random") return x.index_select(0, torch::randperm(n, torch::kLong).narrow(0, 0, k).to(x.device()));
  if (init != "kmeans++") throw UserError("dream: option kmeans_init must be random or kmeans++, got '" + init + "'");
  // k-means++ (Arthur & Vassilvitskii 2007): the first centre uniformly, each next with probability
  // proportional to the squared distance to the nearest centre chosen so far.
  std::vector<int64_t> chosen{torch::randint(n, {1}, torch::kLong).item<int64_t>()};
  torch::Tensor d2 = squared_distances(x, x[chosen[0]].view({1, -1})).view({-1});
  while (static_cast<int64_t>(chosen.size()) < k) {
    const double total = d2.sum().item<double>();
    int64_t next;
    if (total > 0) {
      next = torch::multinomial(d2.to(torch::kDouble).cpu(), 1).item<int64_t>();
    } else {  // every point coincides with a centre: any point not chosen yet
      next = 0;
      while (std::find(chosen.begin(), chosen.end(), next) != chosen.end()) ++next;
    }
    chosen.push_back(next);
    d2 = torch::minimum(d2, squared_distances(x, x[next].view({1, -1})).view({-1}));
  }
  return x.index_select(0, torch::tensor(chosen, torch::kLong).to(x.device()));
}

}  // namespace

KMeansResult kmeans(const torch::Tensor& points, int64_t k, const KMeansOptions& options) {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(points.dim() == 2, "kmeans: points must be [N, D]");
  const int64_t n = points.size(0);
  if (k < 1 || k > n) throw UserError("dream: k-means of " + std::to_string(n) + " points into " + std::to_string(k) + " clusters");
  if (options.max_iter < 1) throw UserError("dream: option kmeans_iter must be >= 1");
  const torch::Tensor x = points.to(torch::kFloat);
  KMeansResult r;
  r.centres = initial_centres(x, k, options.init);
  const torch::Tensor ones = torch::ones({n}, x.options());
  for (r.iterations = 1; r.iterations <= options.max_iter; ++r.iterations) {
    const torch::Tensor assign = squared_distances(x, r.centres).argmin(1);
    const torch::Tensor sums = torch::zeros_like(r.centres).index_add_(0, assign, x);
    const torch::Tensor counts = torch::zeros({k}, x.options()).index_add_(0, assign, ones);
    const torch::Tensor filled = (counts > 0).view({-1, 1});
    const torch::Tensor next = torch::where(filled, sums / counts.clamp_min(1).view({-1, 1}), r.centres);
    const double shift = (next - r.centres).pow(2).sum().item<double>();
    r.centres = next;
    if (shift <= options.tol) break;
  }
  r.iterations = std::min(r.iterations, options.max_iter);
  r.assign = squared_distances(x, r.centres).argmin(1);
  return r;
}

torch::Tensor representative_indices(const torch::Tensor& features, int64_t k, const KMeansOptions& options) {
  torch::NoGradGuard no_grad;
  const int64_t n = features.size(0);
  if (k >= n) return torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(features.device()));
  const KMeansResult r = kmeans(features, k, options);
  // For each centre, the nearest sample (new_strategy.py l.27-28).
  return squared_distances(r.centres, features.to(torch::kFloat)).argmin(1);
}

namespace {

// Per class: the training images nearest to the k-means centres of the class in the current network's
// feature space, re-clustered every `interval` inner steps.
class RepresentativeSampler : public IdcRealSampler {
 public:
  RepresentativeSampler(const DistillContext& ctx, int64_t clusters, int64_t interval, bool select_init, KMeansOptions km)
      : ctx_(ctx), clusters_(clusters), interval_(interval), select_init_(select_init), km_(std::move(km)),
        chosen_(static_cast<size_t>(ctx.data.info.num_classes)) {}

  bool selects_init() const override { return select_init_; }

  torch::Tensor init_images(int64_t c, int64_t n, NetImpl& net) override { return images(c, query(c, n, net)); }

  torch::Tensor real_batch(int64_t c, int64_t step, NetImpl& net) override {
    torch::Tensor& idx = chosen_[static_cast<size_t>(c)];
    if (step % interval_ == 0 || !idx.defined()) {
      idx = query(c, clusters_, net);
      ++queries_;
    }
    return images(c, idx);
  }

  json describe() const override {
    return {{"name", "dream representative matching"},
            {"clusters_per_class", clusters_},
            {"interval", interval_},
            {"queries", queries_},
            {"init", select_init_ ? "k-means representatives of the first network" : "idc's random draws"},
            {"features", "net.embed of every training image of the class, eval mode, the current matching network"},
            {"kmeans", {{"init", km_.init}, {"max_iter", km_.max_iter}, {"tol", km_.tol}, {"empty_cluster", "keeps its centre"}}}};
  }

 private:
  // Indices into class c's training images.
  torch::Tensor query(int64_t c, int64_t k, NetImpl& net) {
    const torch::Tensor all = ctx_.data.train.images.index_select(0, ctx_.data.class_indices[static_cast<size_t>(c)]);
    const torch::Tensor features = embed_all(net, all, ctx_.device).to(ctx_.device);
    return representative_indices(features, k, km_).cpu();
  }
  torch::Tensor images(int64_t c, const torch::Tensor& idx) const {
    return ctx_.data.train.images.index_select(0, ctx_.data.class_indices[static_cast<size_t>(c)].index_select(0, idx));
  }

  const DistillContext& ctx_;
  int64_t clusters_, interval_;
  bool select_init_;
  KMeansOptions km_;
  std::vector<torch::Tensor> chosen_;
  int64_t queries_ = 0;
};

}  // namespace

std::unique_ptr<IdcRealSampler> make_representative_sampler(const DistillContext& ctx, int64_t clusters, int64_t interval,
                                                            bool select_init, const KMeansOptions& options) {
  if (clusters < 1 || interval < 1) throw UserError("dream: batch_real and interval must be >= 1");
  return std::make_unique<RepresentativeSampler>(ctx, clusters, interval, select_init, options);
}

namespace {

class Dream : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    const Options& o = ctx.options;
    if (o.str("base") != "idc")
      throw UserError("dream: option base must be idc (DREAM's release is built on IDC's condense.py; other hosts are not "
                      "implemented), got '" + o.str("base") + "'");
    const std::string init = o.str("init"), f2_init = o.str("f2_init"), sampler = o.str("sampler");
    if (init != "kmeans" && init != "mix" && init != "random" && init != "noise")
      throw UserError("dream: option init must be kmeans, mix, random or noise, got '" + init + "'");
    if (f2_init != "kmeans" && f2_init != "random")
      throw UserError("dream: option f2_init must be kmeans or random, got '" + f2_init + "'");
    if (sampler != "representative" && sampler != "random")
      throw UserError("dream: option sampler must be representative or random, got '" + sampler + "'");
    if (o.integer("interval") < 1) throw UserError("dream: option interval must be >= 1");
    KMeansOptions km;
    km.init = o.str("kmeans_init");
    km.max_iter = o.integer("kmeans_iter");
    km.tol = o.real("kmeans_tol");
    if (km.init != "random" && km.init != "kmeans++")
      throw UserError("dream: option kmeans_init must be random or kmeans++, got '" + km.init + "'");
    if (km.max_iter < 1) throw UserError("dream: option kmeans_iter must be >= 1");

    // IDC's init names: kmeans is IDC's `random` with the images picked by k-means; factor > 1 forces mix,
    // whose images f2_init picks.
    const std::string effective = o.integer("factor") > 1 ? "mix" : init;
    const bool select_init = effective == "kmeans" || (effective == "mix" && f2_init == "kmeans");
    json values = o.values();
    values["init"] = effective == "kmeans" ? "random" : effective;
    DistillContext inner = ctx;
    inner.options = Options(values);
    if (sampler == "random" && !select_init) return idc_distill(inner, nullptr);  // IDC itself
    // sampler random with a k-means init: representatives initialise, IDC's random batches are matched.
    const auto rep = make_representative_sampler(inner, o.integer("batch_real"), o.integer("interval"), select_init, km);
    if (sampler == "random") {
      RandomAfterInit mixed(inner, *rep);
      return idc_distill(inner, &mixed);
    }
    return idc_distill(inner, rep.get());
  }

  SyntheticSet decode(const SyntheticSet& stored, const Options& options) const override { return idc_decode(stored, options); }

 private:
  // k-means initialisation, IDC's random real batches (an ablation: DREAM's init without its matching).
  class RandomAfterInit : public IdcRealSampler {
   public:
    RandomAfterInit(const DistillContext& ctx, IdcRealSampler& init) : ctx_(ctx), init_(init) {}
    bool selects_init() const override { return true; }
    torch::Tensor init_images(int64_t c, int64_t n, NetImpl& net) override { return init_.init_images(c, n, net); }
    torch::Tensor real_batch(int64_t c, int64_t /*step*/, NetImpl& /*net*/) override {
      return ctx_.data.sample_class(c, ctx_.options.integer("batch_real"));
    }
    json describe() const override { return {{"name", "random batches after a k-means init"}, {"init", init_.describe()}}; }

   private:
    const DistillContext& ctx_;
    IdcRealSampler& init_;
  };
};

std::vector<OptionSpec> dream_option_specs() {
  std::vector<OptionSpec> specs = idc_option_specs();
  for (OptionSpec& s : specs) {
    if (s.name == "batch_real") {
      s.default_value = 128;
      s.doc = "real images per class per matching step = k-means sub-clusters per class (DREAM argument.py: 128; "
              "IDC's 64), and per network-update batch";
    } else if (s.name == "init") {
      s.default_value = "kmeans";
      s.doc = "kmeans (ipc images nearest the centres of ipc k-means clusters; the reference's 'kmean') | mix | random | "
              "noise; factor > 1 forces mix, whose images f2_init picks";
    } else if (s.name == "early") {
      s.doc = "epochs over all real data when a network is (re)initialised (IDC's; DREAM's condense.py has none, 0)";
    }
  }
  specs.push_back({"base", "string", "idc", "host method whose matching DREAM changes: idc (the release's; the only one implemented)"});
  specs.push_back({"sampler", "string", "representative",
                   "representative (DREAM: per class the batch_real samples nearest the k-means centres) | random (IDC's draws)"});
  specs.push_back({"interval", "int", 10, "inner steps between re-clusterings of each class (argument.py --interval 10)"});
  specs.push_back({"f2_init", "string", "kmeans",
                   "mix init's ipc x factor^2 images per class: kmeans (nearest the centres of as many clusters) | random"});
  specs.push_back({"kmeans_init", "string", "random", "k-means init: random distinct samples (fast_pytorch_kmeans 0.1.9) | kmeans++"});
  specs.push_back({"kmeans_iter", "int", 100, "Lloyd iterations at most (fast_pytorch_kmeans max_iter 100)"});
  specs.push_back({"kmeans_tol", "float", 1e-4, "stop when the centres' summed squared shift is <= this (fast_pytorch_kmeans tol)"});
  return specs;
}

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "dream",
    "DREAM: IDC whose matched real batch is, per class, the samples nearest the centres of k-means sub-clusters "
    "in the current network's feature space (re-clustered every `interval` steps); k-means initialisation",
    dream_option_specs(),
    [] { return std::make_unique<Dream>(); },
    /*matching=*/true});

}  // namespace ddb
