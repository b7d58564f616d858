// The experts of mtt / tesla / ftd / datm / edf: trained once into the content-addressed cache
// (methods/trajectory/experts.h) with MTT buffer.py's recipe, FTD's sharpness-aware variant when expert_rho > 0.
#include "core/hashing.h"
#include "methods/matching/outlier_exposure.h"
#include "methods/trajectory/experts.h"
#include "methods/trajectory/trajectory_matching.h"

namespace ddb {

ExpertSpec mtt_expert_spec(const TrajectoryConfig& cfg, const std::string& net) {
  ExpertSpec spec;
  spec.net = net;
  spec.epochs = cfg.expert_train_epochs;
  spec.lr = cfg.lr_teacher;  // buffer.py --lr_teacher; --mom 0, --l2 0, --batch_train 256 are the defaults
  // buffer.py trains with DSA; dsa_strategy applies to experts and student alike ("none": neither).
  spec.dsa = cfg.dsa_strategy != "none";
  spec.dsa_strategy = cfg.dsa_strategy == "none" ? "" : cfg.dsa_strategy;
  spec.images_per_class = cfg.expert_images_per_class;
  if (cfg.expert_rho > 0) {
    // FTD buffer_FTD.py: GSAM(adaptive=True, rho, alpha) (see methods/trajectory/experts.h).
    spec.sam_rho = cfg.expert_rho;
    spec.sam_alpha = cfg.expert_alpha;
    spec.sam_adaptive = true;
  }
  return spec;
}

SyntheticSet distill_with_experts(const TrajectoryConfig& cfg, const DistillContext& ctx,
                                  const ImageGradientHookFactory& make_hook) {
  ExpertSpec spec = mtt_expert_spec(cfg, ctx.net);
  // TrustDD: experts on Eq. 10's loss with T_out, the student on Eq. 11's with S_out. The experts'
  // outliers come from a source seeded by what they are (not by this run), so every run that shares
  // the cached experts would have trained the same ones.
  const OutlierOptions oo = outlier_options(ctx.options, ctx.data.info.name);
  std::unique_ptr<OutlierSource> distill_outliers, expert_outliers;
  if (oo.enabled()) {
    distill_outliers = std::make_unique<OutlierSource>(ctx, oo, ctx.data.info.num_classes);
    DistillContext expert_ctx = ctx;
    const json what = {{"oe", oo.oe}, {"oe_data", oo.oe_data}, {"num_oe_per_class", oo.num_oe_per_class},
                       {"corruptions", oo.corruptions}, {"dataset", ctx.data.identity}};
    expert_ctx.seed = derive_seed(sha256_bytes(what.dump()).substr(0, 16), 0, "expert-outliers");
    expert_outliers = std::make_unique<OutlierSource>(expert_ctx, oo, ctx.data.info.num_classes);
    spec.lambda_oe = oo.lambda_oe;
    spec.batch_oe = oo.batch_oe;  // the real outliers beside each real batch (the student's S_out batch is batch_syn)
    spec.outliers = expert_outliers->identity();
  }
  ExpertCache cache(ctx.cache_dir, ctx.data, spec);
  if (expert_outliers) cache.set_outlier_sampler([&](int64_t n) { return expert_outliers->sample_pool(n); });
  cache.ensure(cfg.num_experts, ctx.device, ctx.progress);
  ExpertSource source{cfg.num_experts, [&cache](int64_t i) { return cache.load(i).snapshots; }};
  ImageGradientHook hook;
  if (make_hook) hook = make_hook(source);
  SyntheticSet out =
      run_trajectory_matching(cfg, ctx, source, nullptr, distill_outliers.get(), make_hook ? &hook : nullptr);
  out.meta["experts"] = {{"dir", cache.dir()},
                         {"count", cfg.num_experts},
                         {"spec", cache.spec().to_json()},
                         {"trained_with", cache.trained_with(cfg.num_experts)}};
  return out;
}

}  // namespace ddb
