#include "harness/plan.h"

#include "datasets/readers.h"
#include "harness/eval_protocol.h"
#include "harness/metrics.h"
#include "harness/nets/net.h"
#include "harness/set_metrics.h"
#include "methods/method.h"

namespace ddb {

std::string short_hash(const std::string& text) { return sha256_bytes(text).substr(0, 16); }

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

uint64_t derive_seed(const std::string& config_hash, int seed_index, const std::string& purpose) {
  const std::string h = sha256_bytes(config_hash + "|" + std::to_string(seed_index) + "|" + purpose);
  return std::stoull(h.substr(0, 15), nullptr, 16);  // 60 bits: positive as int64 too
}

std::string RunConfig::label() const {
  return str_or(config, "method", "?") + " ipc=" + std::to_string(config.value("ipc", 0)) + " " +
         str_or(config, "dataset", "?") + " " + str_or(config, "distill_net", "");
}

namespace {

bool net_known(const std::string& name) {
  for (const auto& n : list_nets())
    if (n.name == name) return true;
  return false;
}

PlannedCell not_runnable(PlannedCell p, Status s, std::string reason) {
  p.status = s;
  p.reason = std::move(reason);
  return p;
}

}  // namespace

PlannedCell plan_cell(const Suite& suite, const Cell& cell, const PlanEnv& env) {
  PlannedCell p;
  p.suite = &suite;
  p.cell = &cell;
  const auto spec_opt = suite.spec_at(cell, env.tier);
  if (!spec_opt) {
    return not_runnable(p, Status::NeedsGpu,
                        "suite has no '" + env.tier + "' profile; its paper settings need a GPU (--tier paper)");
  }
  const json& spec = *spec_opt;
  if (env.tier == "paper" && !env.cuda_available && !env.allow_paper_on_cpu)
    return not_runnable(p, Status::NeedsGpu, "paper tier without a GPU (pass --allow-cpu to run it anyway)");
  for (const auto& r : cell.requires) {
    if (r == "gpu" && !env.cuda_available) return not_runnable(p, Status::NeedsGpu, "cell requires a GPU");
    if (r.rfind("pretrained:", 0) == 0)
      return not_runnable(p, Status::NeedsPretrained, "needs pretrained weights: " + r.substr(11));
    if (r.rfind("dataset:", 0) == 0) {
      const std::string d = r.substr(8);
      try {
        if (!env.assume_datasets_present && !dataset_available(d, env.data)) return not_runnable(p, Status::DatasetMissing, d + " (required by the cell)");
      } catch (const UserError& e) {
        return not_runnable(p, Status::Invalid, e.what());
      }
    }
  }
  const std::string method = str_or(spec, "method", "");
  const auto& registry = MethodRegistry::instance();
  if (!registry.has(method)) return not_runnable(p, Status::Unimplemented, "method " + method);
  const json eval_j = spec.value("eval", json::object());
  const std::string protocol = str_or(eval_j, "protocol", "dc");
  const ProtocolInfo* pinfo = find_protocol(protocol);
  if (!pinfo) return not_runnable(p, Status::Invalid, "unknown eval protocol '" + protocol + "'");
  if (!pinfo->implemented) return not_runnable(p, Status::Unimplemented, "eval protocol " + protocol);
  const std::string metric = str_or(spec, "metric", "accuracy");
  const MetricInfo* minfo = find_metric(metric);
  if (!minfo) return not_runnable(p, Status::Invalid, "unknown metric '" + metric + "'");
  if (!minfo->implemented) return not_runnable(p, Status::Unimplemented, "metric " + metric);
  if (spec.contains("ood") && !spec["ood"].is_null())
    return not_runnable(p, Status::Unimplemented, "evaluation on OOD / shifted test sets");
  if (spec.contains("delta_from")) return not_runnable(p, Status::Unimplemented, "delta metrics (delta_from)");
  for (const std::string& net : {str_or(spec, "distill_net", "ConvNet"), str_or(eval_j, "net", "ConvNet")})
    if (!net_known(net)) return not_runnable(p, Status::Unimplemented, "network " + net);

  RunConfig rc;
  try {
    const std::string dataset = str_or(spec, "dataset", "");
    dataset_spec(dataset);  // unknown name -> UserError
    if (!env.assume_datasets_present && !dataset_available(dataset, env.data)) {
      const auto dirs = candidate_dirs(dataset_spec(dataset), env.data);
      std::string where;
      for (const auto& d : dirs) where += (where.empty() ? "" : ", ") + d;
      return not_runnable(p, Status::DatasetMissing, dataset + " (looked in " + where + ")");
    }
    EvalSpec es = EvalSpec::from_json(eval_j);
    // MTT-style reporting (best mean over distillation evaluation points) needs the intermediate
    // synthetic sets evaluated; the runner evaluates the final set only.
    if (es.selection == "best_iter") return not_runnable(p, Status::Unimplemented, "selection best_iter");
    rc.config = {{"method", method},
                 {"options", resolve_options(registry.get(method), spec.value("options", json::object()))},
                 {"dataset", dataset},
                 {"ipc", spec.value("ipc", 1)},
                 {"distill_net", str_or(spec, "distill_net", "ConvNet")},
                 {"eval", es.to_json()}};
  } catch (const UnknownOption& e) {
    return not_runnable(p, Status::Unimplemented, e.what());
  } catch (const UserError& e) {
    return not_runnable(p, Status::Invalid, e.what());
  }
  // A set metric is computed by its own job (harness/set_metrics.h): the metric joins the
  // configuration so such a cell never shares a job with an accuracy cell of the same options.
  if (SetMetricRegistry::instance().find(metric)) rc.config["metric"] = metric;
  rc.hash = config_hash(rc.config);
  rc.seeds = spec.value("seeds", 1);
  rc.metric = metric;
  p.status = Status::NotRun;
  p.run = rc;
  return p;
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
    if (!pc.run) continue;
    for (int s = 0; s < pc.run->seeds; ++s) {
      Job j{*pc.run, s, derive_seed(pc.run->hash, s)};
      if (seen.emplace(j.key(), jobs.size()).second) jobs.push_back(j);
    }
  }
  return jobs;
}

}  // namespace ddb
