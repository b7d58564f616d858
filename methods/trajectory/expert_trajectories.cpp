// The experts of mtt / tesla / ftd: trained once into the content-addressed cache
// (methods/trajectory/experts.h) with MTT buffer.py's recipe, FTD's sharpness-aware variant when expert_rho > 0.
#include "methods/trajectory/experts.h"
#include "methods/trajectory/trajectory_matching.h"

namespace ddb {

SyntheticSet distill_with_experts(const TrajectoryConfig& cfg, const DistillContext& ctx) {
  ExpertSpec spec;
  spec.net = ctx.net;
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
  ExpertCache cache(ctx.cache_dir, ctx.data, spec);
  cache.ensure(cfg.num_experts, ctx.device, ctx.progress);
  ExpertSource source{cfg.num_experts, [&cache](int64_t i) { return cache.load(i).snapshots; }};
  SyntheticSet out = run_trajectory_matching(cfg, ctx, source);
  out.meta["experts"] = {{"dir", cache.dir()},
                         {"count", cfg.num_experts},
                         {"spec", cache.spec().to_json()},
                         {"trained_with", cache.trained_with(cfg.num_experts)}};
  return out;
}

}  // namespace ddb
