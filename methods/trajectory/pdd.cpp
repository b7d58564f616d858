// `pdd`: Progressive Dataset Distillation on MTT (Chen, Yang, Wang, Mirzasoleiman, ICLR 2024, "Data
// Distillation Can Be Like Vodka"; VITA-Group/ProgressiveDD MTT/distill_increase.py, evaluate_mtt.py).
// P stages of ipc/P images per class. Stage k distils its images with MTT's loop while the earlier stages'
// images stay in the student's batches, frozen; its experts are stage k-1's: networks that start where
// stage k-1's experts started, are trained on the union of stages 1..k-1 (its learned lr, 1000 epochs:
// override_epoch_eval_train), then on the real data for max_start_epoch + expert_epochs + 1 epochs with
// the experts' recipe, snapshotted after every epoch. Stage 1's experts are MTT's (the shared cache).
// The set is the union, stage by stage, with meta.pdd (stage sizes, learned lrs) for the `pdd` protocol.
// Readings (recorded in meta.pdd):
//  * the reference selects each stage's images by test accuracy every eval_it iterations (images_best);
//    ddbench keeps each stage's last images, as it does for MTT;
//  * `rdd: true` (RDD App. Table 8: "use the extra CVaR criterion during the model updating"): the
//    real-data training of the experts PDD trains itself (stages 2..P), with the union as the cluster
//    centres. Stage 1's experts are trained before any synthetic sample exists, so they stay MTT's;
//  * PDD's learned lr of each stage trains that stage's union (the reference's best_lr); the student
//    batch is num_classes x (ipc/P) images when batch_syn is 0 (distill_increase.py's default).
#include <chrono>
#include <filesystem>

#include "core/files.h"
#include "core/hashing.h"
#include "harness/augment/dsa.h"
#include "harness/protocols/pdd.h"
#include "methods/common.h"
#include "methods/matching/outlier_exposure.h"
#include "methods/trajectory/experts.h"
#include "methods/trajectory/trajectory_matching.h"

namespace ddb {
namespace {

namespace fs = std::filesystem;

struct PddSettings {
  int64_t stages = 5;
  int64_t stage_train_epochs = 1000;
  int64_t stage_experts = 0;  // 0: every expert of the previous stage
};

// Flat bytes of a CPU tensor, for content keys.
std::string tensor_bytes(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().cpu().contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
}

// The experts of one later stage, content-addressed like ExpertCache: <cache_dir>/pdd-experts/<key>/expert_i.pt.
struct StageExperts {
  std::string dir;
  int64_t count = 0;
  std::string path_of(int64_t i) const { return (fs::path(dir) / ("expert_" + std::to_string(i) + ".pt")).string(); }
  bool has(int64_t i) const {
    std::error_code ec;
    return fs::is_regular_file(path_of(i), ec) && fs::file_size(path_of(i), ec) > 0 && !ec;
  }
};

// What one expert of stage k+1 does after its union training (distill_increase.py's teacher_net loop):
// SGD(lr_teacher, momentum 0, wd 0) over shuffled batches of the real data, DSA per sample, snapshots at
// its start and after every epoch; under RDD the batch and loss are the modifier's.
std::vector<torch::Tensor> train_on_real(NetImpl& net, const TensorSplit& real, const ExpertSpec& spec, int64_t epochs,
                                         const MatchingSeam& seam, const SyntheticSet& centres, torch::Device device,
                                         const ProgressFn& progress, const std::string& phase) {
  net.train();
  std::vector<torch::Tensor> snaps{flatten_parameters(net).cpu()};
  torch::optim::SGD opt(net.parameters(),
                        torch::optim::SGDOptions(spec.lr).momentum(spec.momentum).weight_decay(spec.weight_decay));
  const Dsa dsa(spec.dsa_strategy);
  const torch::Tensor images = real.images.to(device), labels = real.labels.to(device);
  const torch::Tensor centre_images = centres.images.to(device), centre_labels = centres.labels.to(device);
  const int64_t n = images.size(0), batch = seam.network_batch(spec.batch);
  int64_t step = 0;
  for (int64_t ep = 0; ep < epochs; ++ep) {
    const torch::Tensor perm = torch::randperm(n, torch::kLong);
    double sum = 0;
    int64_t batches = 0;
    for (int64_t start = 0; start < n; start += batch, ++step, ++batches) {
      const torch::Tensor idx = perm.narrow(0, start, std::min(batch, n - start)).to(device);
      torch::Tensor x = images.index_select(0, idx);
      const torch::Tensor y = labels.index_select(0, idx);
      if (dsa.enabled()) x = dsa(x, -1);
      const torch::Tensor per_sample =
          torch::nn::functional::cross_entropy(net.forward(x), y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
      torch::Tensor loss = seam.network_loss({&net, x, y, per_sample, centre_images, centre_labels, step});
      if (!loss.defined()) loss = per_sample.mean();
      opt.zero_grad();
      loss.backward();
      opt.step();
      sum += loss.item<double>();
    }
    const double mean = sum / static_cast<double>(std::max<int64_t>(1, batches));
    if (!std::isfinite(mean))
      throw Diverged("pdd: a stage expert's real-data loss became " + std::to_string(mean) + " at epoch " + std::to_string(ep));
    snaps.push_back(flatten_parameters(net).cpu());
    report(progress, phase, ep + 1, epochs);
  }
  return snaps;
}

class Pdd : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    TrajectoryConfig cfg = TrajectoryConfig::from("pdd", ctx.options);
    PddSettings ps;
    ps.stages = ctx.options.integer("stages");
    ps.stage_train_epochs = ctx.options.integer("stage_train_epochs");
    ps.stage_experts = ctx.options.integer("stage_experts");
    const std::string base = ctx.options.str("base");
    if (base != "mtt")
      throw UserError("pdd: base '" + base + "' is not implemented; valid: mtt (PDD on IDC is not built yet)");
    if (ps.stages < 1) throw UserError("pdd: stages must be >= 1");
    if (ctx.ipc % ps.stages != 0)
      throw UserError("pdd: ipc " + std::to_string(ctx.ipc) + " is not a multiple of stages " + std::to_string(ps.stages) +
                      " (each stage adds ipc/stages images per class)");
    if (ps.stage_train_epochs < 0) throw UserError("pdd: stage_train_epochs must be >= 0");
    if (ps.stage_experts < 0) throw UserError("pdd: stage_experts must be >= 0 (0 = num_experts)");
    if (outlier_options(ctx.options, ctx.data.info.name).enabled())
      throw UserError("pdd: outlier exposure (TrustDD) with PDD is not implemented");
    const int64_t stage_ipc = ctx.ipc / ps.stages;
    if (cfg.batch_syn == 0) cfg.batch_syn = ctx.data.info.num_classes * stage_ipc;  // args.batch_syn = num_classes * ipc
    const int64_t later_count = ps.stage_experts > 0 ? std::min(ps.stage_experts, cfg.num_experts) : cfg.num_experts;
    const int64_t real_epochs = cfg.max_start_epoch + cfg.expert_epochs + 1;  // range(max_start_epoch + expert_epochs + 1)

    ExpertCache cache(ctx.cache_dir, ctx.data, mtt_expert_spec(cfg, ctx.net));
    cache.ensure(cfg.num_experts, ctx.device, ctx.progress);
    ExpertSource source{cfg.num_experts, [&cache](int64_t i) { return cache.load(i).snapshots; }};
    std::string source_key = cache.key();
    StageExperts later;  // the experts of the stage being distilled when it is > 1

    const MatchingSeam seam(ctx.options);
    DistillContext sctx = ctx;
    sctx.ipc = stage_ipc;
    sctx.snapshot = nullptr;  // best_iter selection over stages is not defined
    SyntheticSet uni;
    PddStages record;
    json stages_meta = json::array();
    for (int64_t k = 1; k <= ps.stages; ++k) {
      const std::string tag = "stage " + std::to_string(k) + "/" + std::to_string(ps.stages);
      sctx.progress = [&ctx, tag](const std::string& phase, long done, long total) { report(ctx.progress, tag + " " + phase, done, total); };
      SyntheticSet out = run_trajectory_matching(cfg, sctx, source, nullptr, nullptr, nullptr, k > 1 ? &uni : nullptr);
      const double lr = out.learned_lr.item<double>();
      if (!(lr > 0) || !std::isfinite(lr))
        throw Diverged("pdd: stage " + std::to_string(k) + " learned lr " + std::to_string(lr) + " (the next stage trains with it)");
      record.sizes.push_back(out.size() - uni.size());
      record.lrs.push_back(lr);
      json sm = {{"stage", k},
                 {"images", out.size() - uni.size()},
                 {"learned_lr", lr},
                 {"first_loss", out.meta.value("first_loss", 0.0)},
                 {"final_loss", out.meta.value("final_loss", 0.0)},
                 {"experts", k == 1 ? json{{"dir", cache.dir()}, {"count", cfg.num_experts}, {"spec", cache.spec().to_json()}}
                                    : json{{"dir", later.dir}, {"count", later.count}}}};
      uni = std::move(out);
      if (k < ps.stages) {
        later = next_stage_experts(ctx, cfg, ps, uni, lr, source, source_key, k, later_count, real_epochs, seam,
                                   cache.training_split(), cache.spec(), sm);
        source_key = fs::path(later.dir).filename().string();
        source = ExpertSource{later.count, [later](int64_t i) { return load_trajectory_file(later.path_of(i)).snapshots; }};
      }
      stages_meta.push_back(sm);
    }
    uni.meta["pdd"] = {{"base", "mtt"},
                       {"stages", ps.stages},
                       {"stage_ipc", stage_ipc},
                       {"stage_train_epochs", ps.stage_train_epochs},
                       {"stage_expert_real_epochs", real_epochs},
                       {"batch_syn", cfg.batch_syn},
                       {"per_stage", stages_meta},
                       {"selection", "each stage's last images (the reference keeps the ones with the best test accuracy)"},
                       {"rdd_on", seam.describe().contains("rdd") ? "the real-data training of the stage 2..P experts"
                                                                   : "off"}};
    uni.meta.erase("frozen_images");
    record_pdd_stages(uni, record);
    return uni;
  }

 private:
  // distill_increase.py at the end of stage k: expert i of the next stage starts at expert i's snapshot 0
  // of this stage, is trained on the union with this stage's learned lr, then on the real data.
  static StageExperts next_stage_experts(const DistillContext& ctx, const TrajectoryConfig& cfg, const PddSettings& ps,
                                         const SyntheticSet& uni, double lr, const ExpertSource& source,
                                         const std::string& source_key, int64_t stage, int64_t count, int64_t real_epochs,
                                         const MatchingSeam& seam, const TensorSplit& real, const ExpertSpec& spec,
                                         json& stage_meta) {
    const json key_json = {{"format", "ddbench-pdd-experts-v1"},
                           {"dataset", ctx.data.identity},
                           {"net", ctx.net},
                           {"previous", source_key},
                           {"union", sha256_bytes(tensor_bytes(uni.images) + tensor_bytes(uni.labels))},
                           {"lr", lr},
                           {"stage_train_epochs", ps.stage_train_epochs},
                           {"real_epochs", real_epochs},
                           {"spec", spec.to_json()},
                           {"modifiers", seam.describe()}};
    const std::string key = sha256_bytes(key_json.dump()).substr(0, 16);
    StageExperts next{(fs::path(ctx.cache_dir) / "pdd-experts" / key).string(), count};
    fs::create_directories(next.dir);
    write_file_atomic((fs::path(next.dir) / "key.json").string(), key_json.dump(2) + "\n");
    CpuRngRestore keep_rng;  // the next stage draws the same stream whether these were cached or trained
    const torch::Tensor images = uni.images.to(ctx.device), labels = uni.labels.to(ctx.device);
    TrainSchedule base;
    base.epochs = ps.stage_train_epochs;
    base.batch = 256;  // --batch_train
    if (spec.dsa_strategy != "none") {
      const Dsa dsa(spec.dsa_strategy);
      base.augment = [dsa](const torch::Tensor& x) { return dsa(x, -1); };
    }
    const TrainSchedule on_union = pdd_stage_schedule(base, lr);
    double union_acc = 0, real_acc = 0, seconds = 0;
    int64_t trained = 0;
    for (int64_t i = 0; i < count; ++i) {
      if (next.has(i)) continue;
      const auto t0 = std::chrono::steady_clock::now();
      const uint64_t seed = derive_seed(key, static_cast<int>(i), "pdd-expert");
      torch::manual_seed(seed);
      Net net = make_net(ctx.net, ctx.data.info.shape, ctx.data.info.num_classes);
      load_flat_parameters(*net, source.load(i).front());
      net->to(ctx.device);
      const std::string phase = "stage " + std::to_string(stage + 1) + " expert " + std::to_string(i + 1) + "/" + std::to_string(count);
      if (ps.stage_train_epochs > 0) train_classifier(*net, images, labels, on_union, ctx.progress, phase + " on the union");
      union_acc += test_accuracy(*net, ctx.data.test, ctx.device);
      const std::vector<torch::Tensor> snaps =
          train_on_real(*net, real, spec, real_epochs, seam, uni, ctx.device, ctx.progress, phase + " on real data");
      const double acc = test_accuracy(*net, ctx.data.test, ctx.device);
      real_acc += acc;
      save_trajectory_file(next.path_of(i), snaps, acc, seed);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ++trained;
    }
    stage_meta["next_stage_experts"] = {{"dir", next.dir}, {"count", count}, {"trained_now", trained}};
    if (trained > 0) {
      stage_meta["next_stage_experts"]["mean_test_accuracy_after_union"] = union_acc / static_cast<double>(trained);
      stage_meta["next_stage_experts"]["mean_test_accuracy_after_real"] = real_acc / static_cast<double>(trained);
      stage_meta["next_stage_experts"]["seconds"] = seconds;
    }
    return next;
  }
};

std::vector<OptionSpec> pdd_options() {
  std::vector<OptionSpec> o = trajectory_option_specs();
  for (auto& spec : o)
    if (spec.name == "batch_syn")
      spec.doc = "synthetic minibatch per student step; 0 = num_classes x ipc/stages (distill_increase.py's default)";
  o.push_back({"base", "string", "mtt", "the method PDD runs in every stage: mtt (PDD on IDC is not built yet)"});
  o.push_back({"stages", "int", 5, "P: stages, each adding ipc/P images per class (--num_intervals)"});
  o.push_back({"stage_train_epochs", "int", 1000,
               "epochs the next stage's experts train on the union before the real data (override_epoch_eval_train)"});
  o.push_back({"stage_experts", "int", 0, "experts of stages 2..P (each from one of stage 1's); 0 = num_experts (all)"});
  return o;
}

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "pdd",
    "progressive dataset distillation on MTT: P stages of ipc/P images per class, earlier stages frozen, each "
    "stage's experts trained from the union so far",
    pdd_options(),
    [] { return std::make_unique<Pdd>(); },
    /*matching=*/true, /*snapshots=*/false});

}  // namespace ddb
