#include "harness/plan.h"

#include <algorithm>
#include <cstdlib>
#include <set>

#include "core/hashing.h"
#include "harness/eval_protocol.h"
#include "harness/metrics.h"
#include "harness/nets/net.h"
#include "harness/ood_scores.h"
#include "harness/ood_sets.h"
#include "harness/set_metrics.h"
#include "harness/shifted_tests.h"
#include "datasets/manifests.h"
#include "methods/method.h"

namespace ddb {

std::string config_hash(const json& config) {
  json identity = config;
  const auto method = config.find("method");
  const auto options = config.find("options");
  if (method != config.end() && method->is_string() && options != config.end() && options->is_object()) {
    const MethodInfo& info = MethodRegistry::instance().get(method->get<std::string>());
    for (const auto& spec : info.options) {
      if (!spec.neutral_default) continue;
      const auto it = options->find(spec.name);
      if (it != options->end() && *it == spec.default_value) identity["options"].erase(spec.name);
    }
  }
  return short_hash(identity.dump());
}


namespace {
const char* const kDistillationFields[] = {"method", "options", "dataset", "ipc", "distill_net"};
}  // namespace

json RunConfig::distillation() const {
  json d = json::object();
  for (const char* f : kDistillationFields)
    if (config.contains(f)) d[f] = config[f];
  return d;
}

json RunConfig::evaluation() const {
  json e = config;
  for (const char* f : kDistillationFields) e.erase(f);
  // A set metric is measured on the set itself: evaluation settings do not enter it.
  if (e.contains("metric")) e.erase("eval");
  return e;
}

RunConfig identify(json config, int seeds, std::string metric) {
  RunConfig rc;
  rc.config = std::move(config);
  rc.seeds = seeds;
  rc.metric = std::move(metric);
  rc.distill_hash = config_hash(rc.distillation());
  rc.eval_hash = short_hash(rc.evaluation().dump());
  rc.hash = rc.distill_hash + "." + rc.eval_hash;
  return rc;
}

std::string test_seed_salt() {
  const char* salt = std::getenv("DDBENCH_TEST_SEED_SALT");
  return salt ? std::string(salt) : std::string();
}

Job make_job(const RunConfig& run, int seed_index) {
  const std::string salt = test_seed_salt();
  return Job{run, seed_index, derive_seed(salt.empty() ? run.distill_hash : run.distill_hash + "#salt:" + salt, seed_index)};
}

std::string RunConfig::label() const {
  return str_or(config, "method", "?") + " ipc=" + std::to_string(config.value("ipc", 0)) + " " +
         str_or(config, "dataset", "?") + " " + str_or(config, "distill_net", "");
}

namespace {

const char* const kOodMetrics[] = {"fpr95", "auroc", "aupr_in", "aupr_out"};
// Metrics a protocol with shifted_sets measures on a generated shift set.
const char* const kShiftMetrics[] = {"accuracy", "accuracy_drop", "worst_group_accuracy"};

std::vector<std::string> name_list(const json& j) {
  std::vector<std::string> out;
  if (j.is_string()) out.push_back(j.get<std::string>());
  if (j.is_array())
    for (const auto& e : j) out.push_back(e.is_string() ? e.get<std::string>() : e.dump());
  return out;
}

}  // namespace

json eval_block(const json& spec) {
  json eval = spec.value("eval", json::object());
  if (!eval.is_object()) return eval;  // EvalSpec::from_json says what is wrong
  // The evaluation scores the test sets of eval.ood (trustdd: OOD detection; the others: the generated
  // shift sets); a cell that names its own `ood` and no eval.ood gets those.
  if (!eval.contains("ood") && spec.contains("ood") && !spec["ood"].is_null()) eval["ood"] = spec["ood"];
  return eval;
}

std::string metric_row(const json& spec, const EvalSpec& es) {
  const std::string metric = str_or(spec, "metric", "accuracy");
  const std::string base = metric_base(metric);
  // A metric on a generated shift set (harness/shifted_tests.h): the row <metric>@<set>.
  if (metric == base && std::find(std::begin(kShiftMetrics), std::end(kShiftMetrics), base) != std::end(kShiftMetrics)) {
    const std::vector<std::string> cell_sets = name_list(spec.value("ood", json()));
    if (std::any_of(cell_sets.begin(), cell_sets.end(), is_generated_shift_set)) {
      if (cell_sets.size() != 1)
        throw UserError("metric " + base + " is measured on one shifted test set per cell (ood: one name); this cell lists " +
                        std::to_string(cell_sets.size()));
      const std::string& set = cell_sets[0];
      if (std::find(es.ood.begin(), es.ood.end(), set) == es.ood.end()) {
        std::string listed;
        for (const auto& o : es.ood) listed += (listed.empty() ? "" : ", ") + o;
        throw UserError("shifted test set '" + set + "' is not among the sets eval.ood scores (" +
                        (listed.empty() ? std::string("none") : listed) + ")");
      }
      if (base == "worst_group_accuracy" && !is_grouping_set(set))
        throw UserError("worst_group_accuracy needs a grouping of the test split (rdd-kmeans10); '" + set +
                        "' is a transformed test set (use accuracy or accuracy_drop)");
      if (base == "accuracy" && is_grouping_set(set))
        throw UserError("'" + set + "' groups the standard test split, whose accuracy is the plain `accuracy`; use "
                        "worst_group_accuracy or accuracy_drop with it");
      return base + "@" + set;
    }
  }
  if (metric != base || es.protocol != "trustdd" ||
      std::find(std::begin(kOodMetrics), std::end(kOodMetrics), base) == std::end(kOodMetrics))
    return metric;
  const std::vector<std::string> cell_sets = name_list(spec.value("ood", json()));
  if (cell_sets.empty()) throw UserError("metric " + base + " needs the OOD test set(s) it is measured on (ood:)");
  const std::string score = str_or(spec, "score", "msp");
  const auto& scores = ood_score_names();
  if (std::find(scores.begin(), scores.end(), score) == scores.end())
    throw UserError("unknown OOD score '" + score + "'; valid: msp, mls, energy");
  const std::set<std::string> evaluated(es.ood.begin(), es.ood.end());
  if (cell_sets.size() == 1) {
    if (!evaluated.count(cell_sets[0]))
      throw UserError("OOD set '" + cell_sets[0] + "' is not among the sets eval.ood scores");
    return base + ":" + score + "@" + cell_sets[0];
  }
  if (std::set<std::string>(cell_sets.begin(), cell_sets.end()) != evaluated)
    throw UserError("a mean over OOD sets is the mean over all of eval.ood; this cell lists other sets than eval.ood");
  return base + ":" + score + "@mean";
}

namespace {

bool net_known(const std::string& name) {
  for (const auto& n : list_nets())
    if (n.name == name) return true;
  return false;
}

struct Blocker {
  Status status;
  std::string reason;
};

// What keeps a cell's run fields from running, by the code alone (no machine facts): an Invalid
// blocker (a name neither registered nor planned, an option the method does not declare, a bad
// value) wins over an Unimplemented one (a planned name, an option planned for a method).
std::optional<Blocker> spec_blocker(const json& spec, const std::vector<std::string>& requires,
                                    const PlannedNames& plans) {
  std::optional<Blocker> unimplemented;
  auto later = [&](std::string why) {
    if (!unimplemented) unimplemented = Blocker{Status::Unimplemented, std::move(why)};
  };
  const std::string method = str_or(spec, "method", "");
  const auto& methods = MethodRegistry::instance();
  if (methods.has(method)) {
    const MethodInfo& info = methods.get(method);
    const json given = spec.value("options", json::object());
    if (!given.is_null() && !given.is_object()) return Blocker{Status::Invalid, "options must be a mapping"};
    json declared = json::object();
    for (auto it = given.begin(); given.is_object() && it != given.end(); ++it) {
      bool known = false;
      for (const auto& o : info.options) known = known || o.name == it.key();
      if (known) {
        declared[it.key()] = it.value();
        if (it.value().is_string()) {
          const std::string why = plans.planned_value(method, it.key(), it.value().get<std::string>());
          if (!why.empty())
            later("option " + it.key() + " = " + it.value().get<std::string>() + " of method " + method + " (" + why + ")");
        }
      } else if (plans.has_option(method, it.key())) {
        later("option '" + it.key() + "' of method " + method);
      } else {
        std::string valid;
        for (const auto& o : info.options) valid += (valid.empty() ? "" : ", ") + o.name;
        return Blocker{Status::Invalid, "method '" + method + "' has no option '" + it.key() + "'; valid options: " +
                                            (valid.empty() ? "(none)" : valid) +
                                            " (an option a later issue adds goes in planned/*.yaml under options)"};
      }
    }
    try {
      resolve_options(info, declared);  // types
      check_ipc(info, spec.value("ipc", int64_t{1}));
    } catch (const UserError& e) {
      return Blocker{Status::Invalid, e.what()};
    }
  } else if (plans.section("methods").count(method)) {
    const json& facts = plans.section("methods").at(method);
    if (facts.contains("needs_pretrained") && facts["needs_pretrained"].is_object()) {
      // A method whose prior cannot be had here (GLaD's StyleGAN-XL): say which file, where, and why.
      const json& w = facts["needs_pretrained"];
      if (!unimplemented)
        unimplemented = Blocker{Status::NeedsPretrained,
                                "needs pretrained weights: " + str_or(w, "name", "pretrained weights") + " for method " +
                                    method + "; " + str_or(w, "weights", "") + "; put it at " + str_or(w, "where", "?") +
                                    " (from " + str_or(w, "source", "?") + "; sha256 " + str_or(w, "sha256", "?") +
                                    "); loader " + str_or(w, "loader", "?")};
    } else {
      later("method " + method);
    }
  } else {
    return Blocker{Status::Invalid, "unknown method '" + method + "'; registered methods: " + methods.names_joined() +
                                        " (or list it in planned/*.yaml)"};
  }
  try {
    dataset_spec(str_or(spec, "dataset", ""));  // unknown name -> UserError listing them
    for (const auto& r : requires)
      if (r.rfind("dataset:", 0) == 0) dataset_spec(r.substr(8));
    const json eval_j = eval_block(spec);
    const EvalSpec es = EvalSpec::from_json(eval_j);  // unknown protocol / augment -> UserError
    // The extra test sets: trustdd scores OOD sets; a protocol registered with shifted_sets scores the
    // generated shift sets (harness/shifted_tests.h). Anything else waits for its code.
    std::vector<std::string> test_sets = es.ood;
    for (const auto& o : name_list(spec.value("ood", json())))
      if (std::find(test_sets.begin(), test_sets.end(), o) == test_sets.end()) test_sets.push_back(o);
    const ProtocolInfo* protocol = find_protocol(es.protocol);
    for (const auto& o : test_sets) {
      dataset_spec(o);  // unknown name -> UserError
      if (is_generated_shift_set(o)) {
        if (protocol && !protocol->shifted_sets)
          later("shifted test set " + o + " with eval protocol " + es.protocol + " (it does not score shifted test sets)");
      } else if (es.protocol != "trustdd") {
        later("test set " + o + " (role " + dataset_extra(o).role + ") with eval protocol " + es.protocol +
              ": trustdd scores OOD sets, the other protocols only the generated shift sets (rdd-noise, rdd-blur, "
              "rdd-invert, rdd-kmeans10)");
      }
    }
    if (protocol && !protocol->supports_augment(es.augment))  // a planned value (EvalSpec::from_json checked)
      later("eval.augment " + es.augment + " for eval protocol " + es.protocol);
    // OE's auxiliary outliers must never be a test OOD set (TrustDD Sec. 3; OE, Hendrycks et al.).
    const json opts = spec.value("options", json::object());
    const std::string aux = opts.is_object() ? str_or(opts, "oe_data", "") : "";
    if (!aux.empty()) {
      std::vector<std::string> tested = es.ood;
      for (const auto& o : name_list(spec.value("ood", json()))) tested.push_back(o);
      if (std::find(tested.begin(), tested.end(), aux) != tested.end())
        return Blocker{Status::Invalid, "OE auxiliary outliers '" + aux +
                                            "' (option oe_data) are also a test OOD set of this cell: the outliers a "
                                            "model is exposed to in training must not overlap the sets it is tested on"};
    }
    const std::string row = metric_row(spec, es);  // a bad ood / score -> UserError
    const std::string metric = str_or(spec, "metric", "accuracy");
    if (!metric_known(metric_base(metric)))
      return Blocker{Status::Invalid, "unknown metric '" + metric + "'; known: " + metric_names_joined()};
    if (!protocol) later("eval protocol " + es.protocol);
    const MetricInfo* mi = find_metric(metric_base(metric));
    if (!mi) {
      later("metric " + metric);
    } else if (mi->kind != "set" && protocol && !protocol->produces(row)) {
      later("metric " + row + " from eval protocol " + es.protocol);
    }
    if ((metric == "worst_group_accuracy" || metric == "accuracy_drop") && row == metric)
      later("metric " + metric + " without a generated shifted test set (ood: rdd-kmeans10 / rdd-noise / rdd-blur / "
            "rdd-invert): groups read from a dataset (MetaShift) or a difference between runs");
    // delta_from names the second run of a derived metric (plan_derived); a one-run metric has none.
    if (spec.contains("delta_from") && !spec["delta_from"].is_null())
      return Blocker{Status::Invalid, "delta_from names the second run of a derived metric (accuracy_gain, "
                                      "accuracy_gain_delta, accuracy_drop_from, auroc_gain, fpr95_drop, recovery_ratio, "
                                      "time_per_iter_extra_s); metric '" +
                                          metric + "' reads one run"};
    for (const std::string& net : {str_or(spec, "distill_net", "ConvNet"), es.net})
      if (!net_known(net)) later("network " + net);
    // MTT-style reporting (best mean over the distillation's evaluation points) needs a method that
    // hands the runner its intermediate sets (MethodInfo::snapshots).
    if (es.selection == "best_iter" && methods.has(method) && !methods.get(method).snapshots)
      later("selection best_iter for method " + method + " (it does not expose its intermediate sets)");
  } catch (const UserError& e) {
    return Blocker{Status::Invalid, e.what()};
  }
  return unimplemented;
}

PlannedCell blocked(PlannedCell p, Status s, std::string reason) {
  p.status = s;
  p.reason = std::move(reason);
  return p;
}

// Why this machine cannot run a cell the code can run (nullopt: it can).
std::optional<Blocker> machine_blocker(const Cell& cell, const json& spec, const PlanEnv& env) {
  if (env.tier == "paper" && !env.cuda_available && !env.allow_paper_on_cpu)
    return Blocker{Status::NeedsGpu, "paper tier without a GPU (pass --allow-cpu to run it anyway)"};
  for (const auto& r : cell.requires) {
    if (r == "gpu" && !env.cuda_available) return Blocker{Status::NeedsGpu, "cell requires a GPU"};
    if (r.rfind("pretrained:", 0) == 0) return Blocker{Status::NeedsPretrained, "needs pretrained weights: " + r.substr(11)};
  }
  if (env.assume_datasets_present) return std::nullopt;
  std::vector<std::string> datasets = {str_or(spec, "dataset", "")};
  for (const auto& r : cell.requires)
    if (r.rfind("dataset:", 0) == 0) datasets.push_back(r.substr(8));
  try {  // the OOD test sets an evaluation scores (the generated noises need no files)
    for (const auto& o : EvalSpec::from_json(eval_block(spec)).ood)
      if (!is_generated_ood_set(o) && !is_generated_shift_set(o)) datasets.push_back(o);
  } catch (const UserError&) {
  }
  for (size_t i = 0; i < datasets.size(); ++i) {
    if (dataset_available(datasets[i], env.data)) continue;
    return Blocker{Status::DatasetMissing,
                   dataset_missing_reason(datasets[i], env.data) + (i > 0 ? ", required by the cell" : "")};
  }
  return std::nullopt;
}

// One run's cell (a plain cell, or one operand of a derived cell: `role` says which in messages).
PlannedCell plan_single(const Suite& suite, const Cell& cell, const PlanEnv& env, const std::string& role = "") {
  PlannedCell p;
  p.suite = &suite;
  p.cell = &cell;
  // 1. Validity, at the paper tier and at the tier asked for: an invalid cell is an error everywhere.
  const auto spec_opt = suite.spec_at(cell, env.tier);
  const std::string at = suite.path + ":" + std::to_string(cell.line) + ": cell '" + cell.id + "'" +
                         (role.empty() ? "" : " (" + role + ")") + ": ";
  const PlannedNames& plans = env.planned ? *env.planned : planned();
  std::optional<Blocker> b = spec_blocker(cell.spec, cell.requires, plans);
  if (!(b && b->status == Status::Invalid) && spec_opt && env.tier != "paper") {
    auto bt = spec_blocker(*spec_opt, cell.requires, plans);
    if (bt && bt->status == Status::Invalid) bt->reason = "(tier " + env.tier + ") " + bt->reason;
    if (bt && (!b || bt->status == Status::Invalid)) b = bt;
  }
  if (b && b->status == Status::Invalid) return blocked(p, Status::Invalid, at + b->reason);
  // 2. What the code implements.
  if (!spec_opt)
    return blocked(p, Status::NeedsGpu,
                   "suite has no '" + env.tier + "' profile; its paper settings need a GPU (--tier paper)");
  if (b) return blocked(p, b->status, b->reason);
  // 3. The run configuration: independent of this machine.
  const json& spec = *spec_opt;
  const std::string method = str_or(spec, "method", "");
  const std::string metric = str_or(spec, "metric", "accuracy");
  std::string row;  // the stored metric row the cell reads ("auroc:msp@textures")
  json config;
  try {
    config = {{"method", method},
                 {"options", resolve_options(MethodRegistry::instance().get(method), spec.value("options", json::object()))},
                 {"dataset", str_or(spec, "dataset", "")},
                 {"ipc", spec.value("ipc", 1)},
                 {"distill_net", str_or(spec, "distill_net", "ConvNet")},
                 {"eval", EvalSpec::from_json(eval_block(spec)).to_json()}};
    row = metric_row(spec, EvalSpec::from_json(eval_block(spec)));
  } catch (const UserError& e) {
    return blocked(p, Status::Invalid, at + e.what());
  }
  // A set metric (harness/set_metrics.h) is its own evaluation of the set: the metric joins the
  // evaluation part, so such a cell shares the distillation of an accuracy cell with the same options.
  if (SetMetricRegistry::instance().find(metric)) config["metric"] = metric;
  p.run = identify(std::move(config), spec.value("seeds", 1), row);
  // 4. What this machine can run.
  if (auto m = machine_blocker(cell, spec, env)) return blocked(p, m->status, m->reason);
  p.status = Status::NotRun;
  return p;
}

// The metric a derived cell reads from each run.
std::string operand_metric(const DerivedMetric& d, const json& spec) {
  if (!d.of_on_grouping.empty()) {
    const std::vector<std::string> sets = name_list(spec.value("ood", json()));
    if (sets.size() == 1 && is_grouping_set(sets[0])) return d.of_on_grouping;
  }
  return d.of;
}

// An operand's cell: the cell with `spec` as its run fields, measuring `metric`. The cell's tier
// overrides apply to every operand alike, but never change what is measured.
Cell operand_cell(const Cell& cell, json spec, const std::string& metric) {
  Cell c = cell;
  spec.erase("delta_from");
  spec["metric"] = metric;
  c.spec = std::move(spec);
  for (auto& [tier, over] : c.tiers)
    if (over.is_object()) over.erase("metric"), over.erase("delta_from");
  return c;
}

// The same run read on the standard test set: the evaluation (and so the job) unchanged, no `ood`.
json on_standard_test_set(json spec) {
  spec["eval"] = eval_block(spec);
  spec["ood"] = nullptr;
  return spec;
}

// A derived metric: plan every operand as an ordinary run; the cell is as runnable as its least
// runnable operand (invalid > not implemented > not runnable on this machine), with that reason.
PlannedCell plan_derived(const Suite& suite, const Cell& cell, const PlanEnv& env, const std::string& metric,
                         const DerivedMetric& d) {
  PlannedCell p;
  p.suite = &suite;
  p.cell = &cell;
  const json& spec = cell.spec;
  const json delta = spec.contains("delta_from") && !spec["delta_from"].is_null() ? spec["delta_from"] : d.default_delta_from;
  const std::string of = operand_metric(d, spec);
  const double sign = d.rule == "ratio" ? 1.0 : static_cast<double>(d.sign);
  struct Want {
    std::string role;
    json spec;
    std::string metric;
    double coef;
  };
  std::vector<Want> wants = {{"cell", spec, of, sign}};
  if (!delta.is_null()) {
    const json other = apply_delta_from(spec, delta);
    wants.push_back({"delta_from", other, of, d.rule == "ratio" ? 1.0 : -sign});
    if (d.minus_standard) {
      wants.push_back({"cell, standard test set", on_standard_test_set(spec), d.of, -sign});
      wants.push_back({"delta_from, standard test set", on_standard_test_set(other), d.of, sign});
    }
  }
  std::vector<Cell> cells;
  cells.reserve(wants.size());
  for (const auto& w : wants) cells.push_back(operand_cell(cell, w.spec, w.metric));
  std::vector<PlannedCell> ops;
  for (size_t i = 0; i < wants.size(); ++i)
    ops.push_back(plan_single(suite, cells[i], env, i == 0 ? "" : wants[i].role + " run"));
  auto relabel = [&](size_t i) { return i == 0 ? ops[i].reason : "the " + wants[i].role + " run: " + ops[i].reason; };
  for (size_t i = 0; i < ops.size(); ++i)
    if (ops[i].status == Status::Invalid) return blocked(p, Status::Invalid, ops[i].reason);
  if (delta.is_null())
    return blocked(p, Status::Unimplemented,
                   "metric " + metric + " compares the cell's run with a second run, and this cell names none "
                   "(delta_from: the spec changes that give the second run)");
  for (size_t i = 0; i < ops.size(); ++i)
    if (!ops[i].run) return blocked(p, ops[i].status, relabel(i));
  Derivation der{metric, d.rule, {}};
  for (size_t i = 0; i < ops.size(); ++i) der.operands.push_back({wants[i].role, *ops[i].run, wants[i].coef});
  p.run = *ops[0].run;
  p.derived = std::move(der);
  for (size_t i = 0; i < ops.size(); ++i)
    if (ops[i].status != Status::NotRun) return blocked(p, ops[i].status, relabel(i));
  p.status = Status::NotRun;
  return p;
}

}  // namespace

json apply_delta_from(const json& spec, const json& delta) {
  json out = spec;
  out.erase("delta_from");
  if (!delta.is_object()) return out;
  json d = delta;
  if (d.contains("method") && d["method"] != out.value("method", json())) {
    out["options"] = d.contains("options") ? d["options"] : json::object();
    d.erase("options");
  }
  return merge_json(out, d);
}

PlannedCell plan_cell(const Suite& suite, const Cell& cell, const PlanEnv& env) {
  const std::string metric = str_or(cell.spec, "metric", "accuracy");
  if (const DerivedMetric* d = find_derived_metric(metric)) return plan_derived(suite, cell, env, metric, *d);
  return plan_single(suite, cell, env);
}

std::vector<PlannedCell> plan_suite(const Suite& suite, const PlanEnv& env) {
  std::vector<PlannedCell> out;
  for (const auto& c : suite.cells) out.push_back(plan_cell(suite, c, env));
  return out;
}

std::vector<Job> jobs_for(const std::vector<PlannedCell>& cells) {
  std::vector<Job> jobs;
  std::map<std::string, size_t> seen;  // job key -> index
  for (const auto& pc : cells) {
    if (!pc.runnable()) continue;
    std::vector<const RunConfig*> runs = {&*pc.run};
    if (pc.derived) {
      runs.clear();
      for (const auto& op : pc.derived->operands) runs.push_back(&op.run);
    }
    for (const RunConfig* rc : runs)
      for (int s = 0; s < rc->seeds; ++s) {
        Job j = make_job(*rc, s);
        if (seen.emplace(j.key(), jobs.size()).second) jobs.push_back(j);
      }
  }
  return jobs;
}

}  // namespace ddb
