#include "harness/eval_protocol.h"

#include <chrono>

#include "harness/augment/dc_aug.h"
#include "harness/augment/dsa.h"
#include "harness/metrics.h"
#include "harness/nets/net.h"
#include "harness/nets/stacked_convnet.h"
#include "harness/run_streams.h"
#include "harness/runner.h"  // default_cache_dir
#include "harness/shifted_tests.h"
#include "harness/train.h"
#include "harness/train_stacked.h"

namespace ddb {

Registry<ProtocolInfo>& protocol_registry() {
  static Registry<ProtocolInfo> registry("protocols");
  return registry;
}

const ProtocolInfo* find_protocol(const std::string& name) { return protocol_registry().find(name); }

bool ProtocolInfo::produces(const std::string& metric) const {
  const std::string base = metric_base(metric);
  const size_t at = metric.find('@');
  if (at != std::string::npos && is_generated_shift_set(metric.substr(at + 1)) && !shifted_sets) return false;
  return std::find(metrics.begin(), metrics.end(), base) != metrics.end();
}

bool ProtocolInfo::supports_augment(const std::string& augment) const {
  return std::find(augments.begin(), augments.end(), augment) != augments.end();
}

namespace {
// The protocols whose student learns from a cached teacher (harness/protocols/kd.cpp).
bool learns_from_teacher(const std::string& protocol) { return protocol == "kd" || protocol == "soft_label_ce"; }
}  // namespace

json EvalSpec::to_json() const {
  json j{{"protocol", protocol}, {"net", net},         {"epochs", epochs},       {"augment", augment},
         {"runs", runs},         {"batch_train", batch_train}, {"lr_net", lr_net}, {"dsa_strategy", dsa_strategy}};
  if (selection != "last") {  // absent = last: older configurations keep their hash
    j["selection"] = selection;
    j["eval_every"] = eval_every;
    j["eval_from"] = eval_from;
  }
  if (protocol != "trustdd" && !ood.empty()) j["ood"] = ood;  // absent when empty: hashes stay
  if (protocol == "trustdd") {  // absent for other protocols: their configuration hashes stay
    j["ood"] = ood;
    j["temperature"] = temperature;
    j["lambda_oe"] = lambda_oe;
    j["test_every"] = test_every;
    j["keep_from"] = keep_from;
  }
  if (protocol == "kd") j["temperature"] = temperature;
  if (protocol == "cl_gdumb" || protocol == "kip") j["steps"] = steps;
  if (learns_from_teacher(protocol)) {
    j["teacher_net"] = teacher_net;
    j["teacher_epochs"] = teacher_epochs;
  }
  return j;
}

EvalSpec EvalSpec::from_json(const json& j_in) {
  EvalSpec s;
  if (!j_in.is_object()) throw UserError("eval must be a mapping");
  s.protocol = str_or(j_in, "protocol", s.protocol);
  if (!protocol_registry().known(s.protocol)) {
    std::string planned_names;
    for (const auto& [name, facts] : planned().section("protocols")) planned_names += ", " + name;
    throw UserError("unknown eval protocol '" + s.protocol + "'; registered: " + protocol_registry().names_joined() +
                    "; planned" + (planned_names.empty() ? ": (none)" : planned_names.substr(1)));
  }
  const ProtocolInfo* info = find_protocol(s.protocol);
  json j = j_in;
  if (info)  // the reference's own settings where the cell gives none
    for (auto it = info->defaults.begin(); it != info->defaults.end(); ++it)
      if (!j.contains(it.key()) || j[it.key()].is_null()) j[it.key()] = it.value();
  s.net = str_or(j, "net", s.net);
  if (j.contains("epochs") && !j["epochs"].is_null()) s.epochs = j["epochs"].get<int64_t>();
  s.augment = str_or(j, "augment", s.augment);
  // A registered protocol lists the augmentations it implements; a planned value (IDC's ImageNet
  // transform) makes the cell unimplemented (the planner), like a planned option of a method.
  if (info && !info->supports_augment(s.augment) && !planned().section("augments").count(s.augment)) {
    std::string valid;
    for (const auto& a : info->augments) valid += (valid.empty() ? "" : ", ") + a;
    throw UserError("eval.augment '" + s.augment + "' is not supported by protocol " + s.protocol + " (" + valid + ")");
  }
  s.runs = j.value("runs", s.runs);
  s.batch_train = j.value("batch_train", s.batch_train);
  // Counts (runs 0 would train nothing and be reported as if every run diverged).
  if (s.runs < 1) throw UserError("eval.runs must be >= 1 (fresh networks trained), got " + std::to_string(s.runs));
  if (s.epochs < 0) throw UserError("eval.epochs must be >= 0, got " + std::to_string(s.epochs));
  // 0 is a protocol's own "choose by IPC" (kd's RDED batch) where its default is 0; elsewhere a batch is >= 1.
  const bool batch_by_ipc = info && info->defaults.is_object() && info->defaults.value("batch_train", int64_t{-1}) == 0;
  if (s.batch_train < (batch_by_ipc ? 0 : 1))
    throw UserError("eval.batch_train must be >= " + std::string(batch_by_ipc ? "0" : "1") + ", got " +
                    std::to_string(s.batch_train));
  s.lr_net = j.value("lr_net", s.lr_net);
  s.dsa_strategy = str_or(j, "dsa_strategy", s.dsa_strategy);
  s.selection = str_or(j, "selection", s.selection);
  if (s.selection != "last" && s.selection != "best_iter")
    throw UserError("eval.selection '" + s.selection + "' is not supported (last, best_iter)");
  s.eval_every = j.value("eval_every", s.eval_every);
  s.eval_from = j.value("eval_from", s.eval_from);
  if (s.selection == "best_iter" && s.eval_every < 1)
    throw UserError("eval.selection best_iter needs eval.eval_every >= 1 (the paper's evaluation interval, MTT's eval_it)");
  if (s.selection != "best_iter" && (j.contains("eval_every") || j.contains("eval_from")))
    throw UserError("eval.eval_every / eval.eval_from apply to selection best_iter only");
  if (j.contains("ood") && !j["ood"].is_null()) {
    if (j["ood"].is_string()) {
      s.ood = {j["ood"].get<std::string>()};
    } else if (j["ood"].is_array()) {
      for (const auto& e : j["ood"]) {
        if (!e.is_string()) throw UserError("eval.ood must be a name or a list of names");
        s.ood.push_back(e.get<std::string>());
      }
    } else {
      throw UserError("eval.ood must be a name or a list of names");
    }
  }
  s.temperature = j.value("temperature", s.temperature);
  s.lambda_oe = j.value("lambda_oe", s.lambda_oe);
  s.test_every = j.value("test_every", s.test_every);
  s.keep_from = j.value("keep_from", s.keep_from);
  s.teacher_net = str_or(j, "teacher_net", s.teacher_net);
  s.teacher_epochs = j.value("teacher_epochs", s.teacher_epochs);
  s.steps = j.value("steps", s.steps);
  if (s.protocol != "cl_gdumb" && s.protocol != "kip" && j.contains("steps"))
    throw UserError("eval.steps applies to protocols cl_gdumb and kip only");
  if (s.protocol == "cl_gdumb" && s.steps < 1) throw UserError("eval.steps (the class-incremental steps) must be >= 1");
  if (s.protocol == "kip" && s.steps < 1) throw UserError("eval.steps (kip: the training updates) must be >= 1");
  if (s.protocol != "trustdd") {
    for (const char* f : {"lambda_oe", "test_every", "keep_from"})
      if (j.contains(f)) throw UserError(std::string("eval.") + f + " applies to protocol trustdd only");
  } else if (s.test_every < 1) {
    throw UserError("eval.test_every must be >= 1");
  } else if (s.keep_from < 0) {
    throw UserError("eval.keep_from must be >= 0 (an epoch)");
  }
  if (s.protocol != "trustdd" && s.protocol != "kd" && j.contains("temperature"))
    throw UserError("eval.temperature applies to protocols trustdd and kd only");
  if (s.temperature <= 0) throw UserError("eval.temperature must be > 0");
  if (!learns_from_teacher(s.protocol)) {
    for (const char* f : {"teacher_net", "teacher_epochs"})
      if (j.contains(f)) throw UserError(std::string("eval.") + f + " applies to protocols kd and soft_label_ce only");
  } else if (s.teacher_epochs < 1) {
    throw UserError("eval.teacher_epochs must be >= 1");
  }
  return s;
}

namespace {
std::string cache_dir_of(const EvalPaths& paths) { return paths.cache_dir.empty() ? default_cache_dir() : paths.cache_dir; }
}  // namespace

EvalRunResult evaluate_once(const SyntheticSet& set, const LoadedDataset& data, const EvalSpec& spec, uint64_t seed,
                            torch::Device device, const ProgressFn& progress, const std::string& phase,
                            const EvalPaths& paths) {
  const ProtocolInfo& info = protocol_registry().get(spec.protocol);  // planned or unknown -> UserError
  const EvalContext ctx{set, data, spec, seed, device, progress, phase, paths.load, cache_dir_of(paths)};
  const auto t0 = std::chrono::steady_clock::now();
  EvalRunResult r = info.make()->run(ctx);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

namespace {
// One run per seed, one after the other (phase "<phase> r/R"); a diverging run is recorded, the others go on.
std::vector<EvalRunOutcome> one_by_one(const EvalContext& ctx, const std::vector<uint64_t>& seeds,
                                       const std::function<EvalRunResult(const EvalContext&)>& run_one) {
  std::vector<EvalRunOutcome> out;
  for (size_t r = 0; r < seeds.size(); ++r) {
    EvalContext one = ctx;
    one.seed = seeds[r];
    one.phase = ctx.phase + " " + std::to_string(r + 1) + "/" + std::to_string(seeds.size());
    EvalRunOutcome o;
    try {
      o.result = run_one(one);
    } catch (const Diverged& e) {
      o.failure = e.what();
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

void add_test_rows(EvalRunResult& r, NetImpl& net, const EvalContext& ctx) {
  r.accuracy = test_accuracy(net, ctx.data.test, ctx.device);
  r.values.push_back({"accuracy", r.accuracy});
  for (auto& row : shifted_test_rows(net, ctx.data, ctx.spec.ood, r.accuracy, ctx.device)) r.values.push_back(std::move(row));
}

std::vector<EvalRunOutcome> EvalProtocol::run_together(const EvalContext& ctx, const std::vector<uint64_t>& seeds) const {
  return one_by_one(ctx, seeds, [this](const EvalContext& one) { return run(one); });
}

std::string stacked_runs_unsupported(const EvalSpec& spec, const DatasetInfo& info) {
  if (spec.runs < 2) return "one run";
  if (!protocol_registry().get(spec.protocol).make()->stacks_runs())
    return "protocol " + spec.protocol + " trains its runs one after the other";
  return stacking_unsupported({make_net(spec.net, info.shape, info.num_classes)});
}

std::vector<EvalRunOutcome> evaluate_together(const SyntheticSet& set, const LoadedDataset& data, const EvalSpec& spec,
                                              const std::vector<uint64_t>& seeds, torch::Device device,
                                              const ProgressFn& progress, const std::string& phase,
                                              const EvalPaths& paths) {
  const ProtocolInfo& info = protocol_registry().get(spec.protocol);
  const EvalContext ctx{set, data, spec, 0, device, progress, phase, paths.load, cache_dir_of(paths)};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<EvalRunOutcome> out = info.make()->run_together(ctx, seeds);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& o : out) o.result.seconds = seconds / static_cast<double>(std::max<size_t>(1, out.size()));
  return out;
}

EvalRuns evaluate_runs_of(const SyntheticSet& set, const LoadedDataset& data, const EvalSpec& spec,
                          const std::vector<uint64_t>& seeds, torch::Device device, bool stack,
                          const ProgressFn& progress, const std::string& phase, const EvalPaths& paths) {
  EvalRuns out;
  if (stack) out.why_not_stacked = stacked_runs_unsupported(spec, data.info);
  if (stack && out.why_not_stacked.empty()) {
    out.outcomes = evaluate_together(set, data, spec, seeds, device, progress, phase, paths);
    out.stacked = true;
    return out;
  }
  const EvalContext ctx{set, data, spec, 0, device, progress, phase, paths.load, cache_dir_of(paths)};
  out.outcomes = one_by_one(ctx, seeds, [](const EvalContext& one) {
    return evaluate_once(one.set, one.data, one.spec, one.seed, one.device, one.progress, one.phase,
                         EvalPaths(one.load, one.cache_dir));
  });
  return out;
}

TrainSchedule eval_schedule(const EvalContext& ctx, double lr) {
  const EvalSpec& spec = ctx.spec;
  const LoadedDataset& data = ctx.data;
  TrainSchedule sched;
  sched.epochs = spec.epochs;
  sched.batch = spec.batch_train;
  sched.lr = lr;
  if (spec.augment == "dsa") {
    const Dsa dsa(spec.dsa_strategy.empty() ? Dsa::default_strategy_for(data.info.name) : spec.dsa_strategy);
    sched.augment = [dsa](const torch::Tensor& x) { return dsa(x, -1); };  // per-sample, as in evaluation
  } else if (spec.augment == "dc_aug") {
    const std::string strategy = dc_aug_strategy_for(data.info.name, spec.net);
    if (strategy != "none") sched.augment = [strategy](const torch::Tensor& x) { return dc_augment(x, strategy); };
  }
  return sched;
}

EvalRunResult train_and_test(const EvalContext& ctx, double lr) {
  const EvalSpec& spec = ctx.spec;
  const LoadedDataset& data = ctx.data;
  // The reference seeds each evaluation net from the clock; we seed from the run identity so that
  // every number can be replayed.
  torch::manual_seed(ctx.seed);
  Net net = make_net(spec.net, data.info.shape, data.info.num_classes);
  net->to(ctx.device);
  const TrainSchedule sched = eval_schedule(ctx, lr);
  const torch::Tensor images = ctx.set.images.to(ctx.device).detach();
  const torch::Tensor labels = ctx.set.labels.to(ctx.device).detach();
  EvalRunResult r;
  r.train_loss = train_classifier(*net, images, labels, sched, ctx.progress, ctx.phase);
  add_test_rows(r, *net, ctx);
  return r;
}

std::vector<EvalRunOutcome> train_and_test_together(const EvalContext& ctx, const std::vector<uint64_t>& seeds, double lr) {
  const EvalSpec& spec = ctx.spec;
  const LoadedDataset& data = ctx.data;
  const TrainSchedule sched = eval_schedule(ctx, lr);
  // Each run's stream starts as train_and_test's manual_seed leaves it; its net draws its weights first.
  RunStreams streams(ctx.device);
  std::vector<Net> nets;
  for (uint64_t seed : seeds) {
    const size_t r = streams.add(seed);
    nets.push_back(streams.with(r, [&] { return make_net(spec.net, data.info.shape, data.info.num_classes); }));
  }
  if (!stacking_unsupported(nets).empty() || !stacked_schedule_unsupported(sched).empty())
    return one_by_one(ctx, seeds, [lr](const EvalContext& one) { return train_and_test(one, lr); });
  for (auto& net : nets) net->to(ctx.device);
  const torch::Tensor images = ctx.set.images.to(ctx.device).detach();
  const torch::Tensor labels = ctx.set.labels.to(ctx.device).detach();
  const std::string phase = ctx.phase + " runs 1-" + std::to_string(seeds.size()) + " stacked";
  const std::vector<StackedRunTraining> trained =
      train_classifiers_stacked(nets, images, labels, sched, streams, ctx.progress, phase);
  std::vector<EvalRunOutcome> out(seeds.size());
  for (size_t r = 0; r < seeds.size(); ++r) {
    if (!trained[r].failure.empty()) {
      out[r].failure = trained[r].failure;
      continue;
    }
    EvalRunResult& res = out[r].result;
    res.train_loss = trained[r].last_loss;
    streams.with(r, [&] { add_test_rows(res, *nets[r], ctx); });  // with the run's own stream, as train_and_test
  }
  return out;
}

}  // namespace ddb
