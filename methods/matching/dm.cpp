// `dm`: distribution matching (Zhao & Bilen, WACV 2023; reference main_DM.py). Each iteration draws a
// freshly initialised network with frozen weights; for every class the mean embedding of a
// Siamese-augmented real batch is matched to that of the (identically augmented) synthetic images;
// the squared distances are summed over classes and the pixels take one SGD step.
#include "harness/nets/net.h"
#include "methods/common.h"
#include "methods/matching/distribution_matching.h"
#include "methods/matching/seam.h"

namespace ddb {
namespace {

class DistributionMatching : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    const Options& o = ctx.options;
    const auto& info = ctx.data.info;
    const SyntheticSet init = matching_init(ctx, o.str("init"), "dm");
    torch::Tensor syn = init.images.to(ctx.device).detach().requires_grad_(true);
    torch::optim::SGD opt({syn}, torch::optim::SGDOptions(o.real("lr_img")).momentum(o.real("momentum")));
    // main_DM.py defaults --dsa_strategy to color_crop_cutout_flip_scale_rotate for every dataset (flip
    // included for digits), unlike DC/DSA's per-dataset default; "" keeps that default (and the hash).
    const std::string strategy = o.str("dsa_strategy").empty() ? "color_crop_cutout_flip_scale_rotate" : o.str("dsa_strategy");
    SiameseDsa dsa(o.flag("dsa"), strategy, info.name, ctx.seed);
    const int64_t iterations = o.integer("iterations");
    const int64_t batch_real = o.integer("batch_real");
    const MatchingSeam seam(o);
    double last = 0;
    // `for it in range(Iteration + 1)` evaluates at the top of `it == Iteration`, after Iteration
    // updates; the reference's last update only reaches its saved file. The set we evaluate is the
    // one it evaluates: Iteration updates.
    for (int64_t it = 0; it < iterations; ++it) {
      Net net = make_net(ctx.net, info.shape, info.num_classes);
      net->to(ctx.device);
      net->train();
      for (auto& p : net->parameters()) p.set_requires_grad(false);
      // Every class's real and synthetic batch, drawn and Siamese-augmented class by class as the
      // reference's loop does; then the embeddings, in one forward over all classes where the net
      // normalises per sample (main_DM.py embeds class by class), split back per class.
      std::vector<torch::Tensor> reals, syns;
      for (int64_t c = 0; c < info.num_classes; ++c) {
        torch::Tensor real = ctx.data.sample_class(c, batch_real).to(ctx.device);
        torch::Tensor s = seam.transform_synthetic({syn.narrow(0, c * ctx.ipc, ctx.ipc),
                                                    init.labels.narrow(0, c * ctx.ipc, ctx.ipc)})
                              .images;
        dsa.apply(real, s);
        reals.push_back(std::move(real));
        syns.push_back(std::move(s));
      }
      const bool batched = batches_classes(*net);
      const auto embed = [&net](const torch::Tensor& x) { return net->embed(x); };
      std::vector<torch::Tensor> real_embed;
      {
        torch::NoGradGuard no_grad;
        real_embed = map_classes(reals, batched, embed);
      }
      reals.clear();
      const std::vector<torch::Tensor> syn_embed = map_classes(syns, batched, embed);
      std::vector<torch::Tensor> terms;  // one per class
      for (int64_t c = 0; c < info.num_classes; ++c)
        terms.push_back(mean_embedding_distance(real_embed[c], syn_embed[c]));
      last = seam.pixel_step(terms, syn, opt);
      check_finite(last, "dm matching", it);
      report(ctx.progress, "distill", it + 1, iterations);
    }
    SyntheticSet out;
    out.images = syn.detach().cpu();
    out.labels = init.labels;
    out.meta["final_loss"] = last;
    out.meta["modifiers"] = seam.active();
    return out;
  }
};

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "dm",
    "distribution matching: class-wise mean-embedding MMD under Siamese DSA, fresh random net per iteration",
    {{"iterations", "int", 20000, "outer iterations (reference --Iteration): the set after this many pixel steps, the one the reference evaluates"},
     {"lr_img", "float", 1.0, "pixel SGD learning rate (reference: 1 for IPC 1/10/50, 10 for IPC >= 100)"},
     {"momentum", "float", 0.5, "pixel SGD momentum"},
     {"batch_real", "int", 256, "real images per class per iteration"},
     {"init", "string", "real", "real | noise"},
     {"dsa", "bool", true, "Siamese DSA on real and synthetic batches"},
     {"dsa_strategy", "string", "", "DSA strategy; empty = main_DM.py's default color_crop_cutout_flip_scale_rotate (flip included for digits)"}},
    [] { return std::make_unique<DistributionMatching>(); },
    /*matching=*/true});

}  // namespace ddb
