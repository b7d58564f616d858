// ddbench: torch-free
#include "harness/check.h"

#include <cmath>

#include "harness/metrics.h"

namespace ddb {

std::pair<double, double> mean_std(const std::vector<double>& v) {
  if (v.empty()) return {0, 0};
  double m = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  double var = 0;
  for (double x : v) var += (x - m) * (x - m);
  return {m, std::sqrt(var / static_cast<double>(v.size()))};
}

std::string pooled_runs_text(const CellResult& r) {
  std::string t = "n = " + std::to_string(r.n);
  if (r.n == r.n_expected && r.runs_failed == 0 && r.jobs_failed == 0) return t;
  t += " of " + std::to_string(r.n_expected);
  if (r.runs_failed > 0) t += ", " + std::to_string(r.runs_failed) + " diverged";
  if (r.jobs_failed > 0) t += ", " + std::to_string(r.jobs_failed) + (r.jobs_failed == 1 ? " seed" : " seeds") + " failed";
  return t;
}

CellResult check_cell(const PlannedCell& pc, const Store& store, const std::string& tier) {
  CellResult r;
  r.suite = pc.suite;
  r.cell = pc.cell;
  r.tier = tier;
  r.status = pc.status;
  r.reason = pc.reason;
  const Cell& cell = *pc.cell;
  if (tier == "paper") {
    r.expected = cell.paper.value;
    r.expected_std = cell.paper.std;
    r.expected_source = "paper";
  } else if (auto it = cell.reference.find(tier); it != cell.reference.end()) {
    r.expected = it->second.value;
    r.expected_std = it->second.std;
    r.expected_source = "reference:" + tier;
  }
  if (!pc.run) return r;  // not runnable: the plan's status stands
  const RunConfig& rc = *pc.run;
  r.config_hash = rc.hash;
  r.distill_hash = rc.distill_hash;
  r.eval_hash = rc.eval_hash;
  r.metric_row = rc.metric;
  r.jobs_expected = rc.seeds;
  const json& cfg = rc.config;
  const int runs_per_job = cfg.contains("metric") ? 1 : cfg.value("eval", json::object()).value("runs", 1);
  r.n_expected = rc.seeds * runs_per_job;
  // Only the seeds this cell asks for: a store may hold more seeds of the same configuration.
  std::string last_error;
  for (const auto& run : store.evaluations_of(rc.distill_hash, rc.eval_hash)) {
    if (run.seed_index >= rc.seeds) continue;
    if (run.status == "done") ++r.jobs_done;
    if (run.status == "failed") {
      ++r.jobs_failed;
      last_error = run.error;
    }
  }
  const std::vector<double> values = store.metric_values(rc.distill_hash, rc.eval_hash, rc.metric, rc.seeds);
  const std::vector<EvalFailure> eval_failed = store.eval_failures(rc.distill_hash, rc.eval_hash, rc.seeds);
  r.runs_failed = static_cast<int>(eval_failed.size());
  if (!eval_failed.empty() && last_error.empty()) last_error = eval_failed.back().error;
  r.n = static_cast<int>(values.size());
  if (r.n > 0) {
    auto [m, s] = mean_std(values);
    r.mean = m;
    r.std = s;
  }
  // What is in the store decides the verdict, whatever this machine could run: when nothing is
  // stored the plan's gating status (needs-gpu, dataset-missing) says why; otherwise not-run.
  const bool any_result = r.jobs_done + r.jobs_failed > 0;
  if (!any_result) {
    if (pc.status == Status::NotRun) r.reason = "no result in the store yet";
    return r;
  }
  const int failed = r.jobs_failed + r.runs_failed;
  if (failed > 0 && !cell.allow_failed_runs) {
    r.status = Status::RunFailed;
    r.reason = pooled_runs_text(r) + ": " + last_error;
    return r;
  }
  if (r.jobs_done + r.jobs_failed < rc.seeds) {  // a sharded or interrupted run: no verdict on part of the data
    r.status = Status::NotRun;
    r.reason = pooled_runs_text(r) + " (" + std::to_string(rc.seeds - r.jobs_done - r.jobs_failed) +
               " seeds not run yet)";
    return r;
  }
  if (r.n == 0) {
    r.status = Status::RunFailed;
    r.reason = "no '" + rc.metric + "' value among the stored runs" + (last_error.empty() ? "" : ": " + last_error);
    return r;
  }
  const double m = *r.mean;
  r.status = Status::NotRun;
  r.reason.clear();
  if (failed > 0) r.reason = pooled_runs_text(r) + " (the cell allows failed runs): " + last_error;
  if (!r.expected) {
    r.status = tier == "paper" ? Status::NoPaperValue : Status::Unchecked;
    if (r.reason.empty())
      r.reason = tier == "paper" ? cell.paper.unavailable : "no committed reference for tier " + tier;
    return r;
  }
  const Band band = cell.band.value_or(pc.suite->band);
  r.band = std::max(band.floor, band.k * r.expected_std.value_or(0.0));
  r.delta = m - *r.expected;
  // Direction from the metric registry (or, for a metric not produced yet, its planned facts).
  const bool higher = metric_higher_is_better(metric_base(rc.metric)).value_or(true);
  const double better = higher ? *r.delta : -*r.delta;  // > 0: ours is better
  Status s2;
  if (std::fabs(*r.delta) <= *r.band) {
    s2 = Status::Pass;
  } else if (better > 0) {
    s2 = Status::Above;
  } else {
    s2 = Status::Fail;
  }
  if (!cell.xfail.empty()) {
    s2 = s2 == Status::Fail ? Status::XFail : Status::XPass;
    if (r.reason.empty()) r.reason = cell.xfail;
  }
  r.status = s2;
  return r;
}

std::vector<CellResult> check_cells(const std::vector<PlannedCell>& cells, const Store& store, const std::string& tier) {
  std::vector<CellResult> out;
  for (const auto& pc : cells) out.push_back(check_cell(pc, store, tier));
  return out;
}

std::vector<RelationResult> check_relations(const Suite& suite, const std::vector<CellResult>& results) {
  std::vector<RelationResult> out;
  auto find = [&](const std::string& id) -> const CellResult* {
    for (const auto& r : results)
      if (r.suite == &suite && r.cell->id == id) return &r;
    return nullptr;
  };
  for (const auto& rel : suite.relations) {
    RelationResult rr;
    rr.relation = rel;
    rr.suite = &suite;
    const CellResult* a = find(rel.cell);
    const CellResult* b = find(rel.beats);
    if (!a || !b || !a->mean || !b->mean) {
      rr.detail = "not checked: a cell has no result";
      out.push_back(rr);
      continue;
    }
    rr.checked = true;
    const double gap = *a->mean - *b->mean;
    rr.holds = gap >= rel.by;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s %.2f - %s %.2f = %+.2f (needs >= %.2f)", rel.cell.c_str(), *a->mean,
                  rel.beats.c_str(), *b->mean, gap, rel.by);
    rr.detail = buf;
    out.push_back(rr);
  }
  return out;
}

}  // namespace ddb
