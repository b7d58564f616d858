// Evaluation protocols: how a synthetic set becomes metrics. A registry of named, versioned protocols
// (one file each under harness/protocols/); every result records which protocol (and version) produced it.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "harness/progress.h"
#include "harness/train.h"
#include "harness/types.h"

namespace ddb {

struct EvalSpec {
  std::string protocol = "dc";
  std::string net = "ConvNet";
  int64_t epochs = 300;       // the reference's Epoch (Epoch + 1 are trained)
  std::string augment = "none";  // none | dsa | dc_aug
  int64_t runs = 1;           // fresh networks trained per synthetic set
  int64_t batch_train = 256;
  double lr_net = 0.01;       // `dc`; `mtt` uses the set's learned lr
  std::string dsa_strategy;   // empty: the dataset's default (no flip for digits)
  // Which number a job reports: `last` = the evaluation of the final set (VICO, DC-BENCH);
  // `best_iter` = the evaluation point with the best mean over its runs (MTT distill.py best_acc):
  // the distillation saves its set every `eval_every` updates from `eval_from` on (the reference's
  // eval_it_pool, 0 and Iteration included when multiples), each is evaluated `runs` times, and the
  // best point's runs are the job's values. Recorded in to_json() when not `last` (so existing
  // configuration hashes stay).
  std::string selection = "last";
  int64_t eval_every = 0;  // best_iter: required, >= 1
  int64_t eval_from = 0;   // best_iter: first update count considered (FYI's MTT: 5000)
  // The extra test sets the trained model is scored on (a suite lists every set its cells read, so the
  // cells of one table share the trained models). `trustdd`: OOD detection sets (the InD test split vs
  // each). A protocol registered with `shifted_sets`: the generated shift sets of
  // harness/shifted_tests.h (rdd-noise, rdd-blur, rdd-invert, rdd-kmeans10). Recorded in to_json() for
  // trustdd always, for other protocols when not empty (so existing configuration hashes stay).
  std::vector<std::string> ood;
  // `trustdd` only (recorded in to_json() for that protocol only): the Energy score's temperature, the
  // weight of the OE term when the set has outliers, and the checkpoint rule (test accuracy every
  // `test_every` epochs; the best one from epoch `keep_from` on is the model scored).
  double temperature = 1.0;
  double lambda_oe = 0.5;
  int64_t test_every = 50;
  int64_t keep_from = 100;
  // `kd` and `soft_label_ce` only (recorded in to_json() for those only; kd also records `temperature`,
  // its KD temperature): the teacher (harness/teacher.h), its net (empty: the evaluated net, as RDED's
  // conv5 -> conv5 scripts) and its training epochs.
  std::string teacher_net;
  int64_t teacher_epochs = 50;
  // `cl_gdumb` and `kip` only (recorded in to_json() for those only): the class-incremental steps (DM's CL_DM.py
  // --steps); kip's training updates (nn_training.ipynb train_steps, default 5000).
  int64_t steps = 0;

  json to_json() const;
  // From a suite cell's `eval` mapping; unknown protocol -> UserError listing them.
  static EvalSpec from_json(const json& j);
};

// Where a protocol finds what is neither in the set nor in the dataset: other datasets (OOD test sets,
// through `load`) and cached artefacts (the kd protocol's teacher, in `cache_dir`; empty: the runner's
// default, $DDBENCH_CACHE else ./cache). Converts from LoadOptions, so callers without a cache pass those.
struct EvalPaths {
  LoadOptions load;
  std::string cache_dir;
  EvalPaths() = default;
  EvalPaths(const LoadOptions& l, std::string cache = {}) : load(l), cache_dir(std::move(cache)) {}  // NOLINT: implicit
};

// What a protocol is given for one evaluation run: the decoded synthetic set, the dataset (its test
// split; later its extra test sets), the evaluation settings and the run's seed.
struct EvalContext {
  const SyntheticSet& set;
  const LoadedDataset& data;
  const EvalSpec& spec;
  uint64_t seed = 0;
  torch::Device device = torch::kCPU;
  ProgressFn progress;
  std::string phase = "eval";
  LoadOptions load;  // where datasets other than `data` are found (OOD test sets)
  std::string cache_dir;  // EvalPaths::cache_dir (resolved: never empty)
};

// One metric value of one evaluation run. `metric` is a metric registry name, optionally followed by
// "@subset" (an OOD set, a group, a shifted test set: "auroc@textures").
struct MetricValue {
  std::string metric;
  double value = 0;
};

struct EvalRunResult {
  std::vector<MetricValue> values;  // rows of metrics: a protocol may produce many
  double accuracy = 0;              // percent, after the last epoch (the value of "accuracy" when produced)
  double train_loss = 0;            // last epoch
  double seconds = 0;
};

// One of several runs evaluated together: its result, or why it failed (it diverged).
struct EvalRunOutcome {
  EvalRunResult result;
  std::string failure;  // non-empty: the run is recorded as failed; the others count
};

// An evaluation protocol: one file under harness/protocols/, registered by name.
class EvalProtocol {
 public:
  virtual ~EvalProtocol() = default;
  // One run: trains what the protocol trains (seeded with ctx.seed) and returns its metrics. Throws
  // Diverged when training diverges (the runner records that run as failed).
  virtual EvalRunResult run(const EvalContext& ctx) const = 0;
  // True when run_together trains the runs as one stacked model (where the net stacks:
  // harness/nets/stacked_convnet.h); false: it runs them one after the other.
  virtual bool stacks_runs() const { return false; }
  // One run per seed (ctx.seed unused), in seed order. Default: run() per seed, Diverged caught.
  virtual std::vector<EvalRunOutcome> run_together(const EvalContext& ctx, const std::vector<uint64_t>& seeds) const;
};

struct ProtocolInfo {
  std::string name;
  std::string version;       // recorded with every result; bump when the protocol's numbers change
  std::string description;
  std::vector<std::string> metrics;  // the metric registry names it produces
  std::function<std::unique_ptr<EvalProtocol>()> make;
  // Scores the generated shift sets of eval.ood (harness/shifted_tests.h) with the net it trained:
  // rows accuracy@<set> / worst_group_accuracy@<grouping> and accuracy_drop@<set>.
  bool shifted_sets = false;
  // The eval.augment values it implements. A value planned in planned/evaluation.yaml (`augments:`)
  // makes a cell `unimplemented`; any other is invalid.
  std::vector<std::string> augments = {"none", "dsa", "dc_aug"};
  // Its reference's settings where a cell gives none (EvalSpec fields by their suite names, e.g.
  // {"batch_train": 64}); EvalSpec::from_json applies them before reading the cell's values.
  json defaults = json::object();
  // False where the protocol's training is not counted in epochs (dd's learned steps, ld's validated step
  // count): eval.epochs then means nothing, and reports leave it out.
  bool uses_epochs = true;
  // "auroc@textures" counts as "auroc"; a row on a generated shift set ("accuracy@rdd-noise") also
  // needs shifted_sets.
  bool produces(const std::string& metric) const;
  bool supports_augment(const std::string& augment) const;
};

Registry<ProtocolInfo>& protocol_registry();
// nullptr when not registered (planned protocols are in planned/evaluation.yaml).
const ProtocolInfo* find_protocol(const std::string& name);

// One evaluation run through the spec's protocol (a fresh network seeded with `seed`).
EvalRunResult evaluate_once(const SyntheticSet& set, const LoadedDataset& data, const EvalSpec& spec, uint64_t seed,
                            torch::Device device, const ProgressFn& progress = nullptr,
                            const std::string& phase = "eval", const EvalPaths& paths = {});

// Whether evaluate_together would train spec's runs as one stacked model: the protocol stacks runs,
// spec.runs > 1 and spec.net stacks for this dataset's shape; else the reason (for the log).
std::string stacked_runs_unsupported(const EvalSpec& spec, const DatasetInfo& info);

// The runs of one set, one per seed, through the protocol's run_together (stacked where
// stacked_runs_unsupported says nothing). Each outcome's seconds are the whole call's over the runs.
std::vector<EvalRunOutcome> evaluate_together(const SyntheticSet& set, const LoadedDataset& data, const EvalSpec& spec,
                                              const std::vector<uint64_t>& seeds, torch::Device device,
                                              const ProgressFn& progress = nullptr, const std::string& phase = "eval",
                                              const EvalPaths& paths = {});

// Every run of one set, one per seed, for the runner and `ddbench evaluate`: stacked through
// evaluate_together when `stack` and stacked_runs_unsupported says nothing, else evaluate_once per seed
// (progress phase "<phase> r/R"), a diverging run recorded and the others going on.
struct EvalRuns {
  std::vector<EvalRunOutcome> outcomes;  // in seed order
  bool stacked = false;
  std::string why_not_stacked;           // when `stack` was asked for and the runs went one after the other
};
EvalRuns evaluate_runs_of(const SyntheticSet& set, const LoadedDataset& data, const EvalSpec& spec,
                          const std::vector<uint64_t>& seeds, torch::Device device, bool stack,
                          const ProgressFn& progress = nullptr, const std::string& phase = "eval",
                          const EvalPaths& paths = {});

// After a protocol has trained `net`: top-1 accuracy on the test split (r.accuracy and the "accuracy" row)
// and the rows of the shift sets of spec.ood (shifted_test_rows in harness/shifted_tests.h; none when empty).
void add_test_rows(EvalRunResult& r, NetImpl& net, const EvalContext& ctx);

// The loop most protocols share (VICO evaluate_synset): a fresh ctx.spec.net seeded with ctx.seed,
// trained on the set with the spec's schedule and augmentation at learning rate `lr`, then top-1
// accuracy on the test split (also returned as the "accuracy" row) and the rows of the shift sets of
// spec.ood (shifted_test_rows in harness/shifted_tests.h).
EvalRunResult train_and_test(const EvalContext& ctx, double lr);
// train_and_test for one run per seed, all trained as one stacked model (each run's initial weights,
// data order and augmentation from its own seed's stream: harness/run_streams.h); one after the other
// where the net or schedule cannot stack.
std::vector<EvalRunOutcome> train_and_test_together(const EvalContext& ctx, const std::vector<uint64_t>& seeds, double lr);
// The schedule of that loop (epochs, batch, lr, momentum 0.9, wd 5e-4, lr drop, the spec's augmentation).
TrainSchedule eval_schedule(const EvalContext& ctx, double lr);

}  // namespace ddb

// DDBENCH_REGISTER_PROTOCOL(ProtocolInfo{...}); at namespace scope in the protocol's file.
#define DDBENCH_REGISTER_PROTOCOL(...) DDBENCH_REGISTER_IN(::ddb::protocol_registry, __VA_ARGS__)
