// ddbench: torch-free
#include "harness/check.h"

#include <cmath>
#include <set>
#include <tuple>

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

namespace {
CellResult check_derived(const PlannedCell& pc, const Store& store, const std::string& tier, CellResult r);
}  // namespace

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
  if (pc.derived) return check_derived(pc, store, tier, r);
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
  r.values = values;  // the per-run values behind mean and std (regress plots them)
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
  r.status = Status::NotRun;
  r.reason.clear();
  if (failed > 0) r.reason = pooled_runs_text(r) + " (the cell allows failed runs): " + last_error;
  band_verdict(r, pc, tier, rc.metric);
  return r;
}

namespace {

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

// A derived cell: each operand is checked like a cell of its own (seeds, diverged runs, failed jobs),
// then combined. A failed operand fails the cell with its reason, one without a (complete) result
// leaves it not run; no value is made up from part of the operands.
//
// The std is that of one run's derived value, like a plain cell's:
//   difference, when every operand holds the same number of runs, all of them (same seeds x eval
//   runs): the per-run values combine pairwise in stored order (seed, eval run) and mean and std
//   (ddof 0) are over those; the pairs are exact for operands of one job (accuracy_gain_delta's rows)
//   and an arbitrary but fixed matching for independent runs, whose std then estimates the same
//   spread as below;
//   difference otherwise: the difference of the means, std sqrt(sum coef^2 std_i^2), n the smallest n;
//   ratio: 100 * mean(cell) / mean(other) (the ratio of the means, as the papers divide table means),
//   std by first-order propagation 100 * sqrt((s0 / m1)^2 + (m0 * s1 / m1^2)^2).
CellResult check_derived(const PlannedCell& pc, const Store& store, const std::string& tier, CellResult r) {
  const Derivation& d = *pc.derived;
  r.metric_row = d.metric;
  r.jobs_expected = 0;
  r.n_expected = 0;
  std::vector<CellResult> checked;
  std::vector<std::vector<double>> values;
  std::set<std::string> counted;  // runs counted in the job totals (operands of one run count once)
  for (const Operand& op : d.operands) {
    PlannedCell opc = pc;
    opc.derived.reset();
    opc.run = op.run;
    CellResult c = check_cell(opc, store, tier);
    r.operands.push_back({op.role, op.run.hash, op.run.metric, op.coef, c.n, c.n_expected, c.mean, c.std});
    if (counted.insert(op.run.hash).second) {
      r.jobs_done += c.jobs_done;
      r.jobs_failed += c.jobs_failed;
      r.jobs_expected += c.jobs_expected;
      r.runs_failed += c.runs_failed;
    }
    values.push_back(store.metric_values(op.run.distill_hash, op.run.eval_hash, op.run.metric, op.run.seeds));
    checked.push_back(std::move(c));
  }
  auto which = [&](size_t i) {
    return (i == 0 ? std::string("the cell's run ") : "the " + d.operands[i].role + " run ") + d.operands[i].run.hash +
           " (" + d.operands[i].run.metric + "): ";
  };
  for (size_t i = 0; i < checked.size(); ++i)
    if (checked[i].status == Status::RunFailed) {
      r.status = Status::RunFailed;
      r.reason = which(i) + checked[i].reason;
      return r;
    }
  for (size_t i = 0; i < checked.size(); ++i)
    if (!checked[i].mean || checked[i].status == Status::NotRun || status_info(checked[i].status).is_skip) {
      r.status = checked[i].status;
      r.reason = which(i) + checked[i].reason;
      return r;
    }
  const size_t k = checked.size();
  bool paired = d.rule == "difference";
  for (size_t i = 0; i < k; ++i)
    paired = paired && static_cast<int>(values[i].size()) == checked[i].n_expected &&
             checked[i].n_expected == checked[0].n_expected;
  std::string how;
  double m = 0, sd = 0;
  if (d.rule == "ratio") {
    const double m0 = *checked[0].mean, s0 = checked[0].std.value_or(0), m1 = *checked[1].mean,
                 s1 = checked[1].std.value_or(0);
    if (m1 == 0) {
      r.status = Status::RunFailed;
      r.reason = which(1) + "mean 0, the ratio's denominator";
      return r;
    }
    m = 100 * m0 / m1;
    sd = 100 * std::sqrt((s0 / m1) * (s0 / m1) + (m0 * s1 / (m1 * m1)) * (m0 * s1 / (m1 * m1)));
    r.n = std::min(checked[0].n, checked[1].n);
    r.n_expected = std::min(checked[0].n_expected, checked[1].n_expected);
    how = "100 * mean / mean, std propagated to first order";
  } else if (paired) {
    std::vector<double> w(values[0].size(), 0.0);
    for (size_t i = 0; i < k; ++i)
      for (size_t j = 0; j < w.size(); ++j) w[j] += d.operands[i].coef * values[i][j];
    std::tie(m, sd) = mean_std(w);
    r.values = w;
    r.n = r.n_expected = static_cast<int>(w.size());
    how = "per run, paired in (seed, eval run) order; mean and std over the " + std::to_string(w.size()) + " values";
  } else {
    double var = 0;
    r.n = checked[0].n;
    r.n_expected = checked[0].n_expected;
    for (size_t i = 0; i < k; ++i) {
      const double c = d.operands[i].coef, s = checked[i].std.value_or(0);
      m += c * *checked[i].mean;
      var += c * c * s * s;
      r.n = std::min(r.n, checked[i].n);
      r.n_expected = std::min(r.n_expected, checked[i].n_expected);
    }
    sd = std::sqrt(var);
    how = "the operands' runs do not pair up: difference of the means, std sqrt of the summed variances";
  }
  r.mean = m;
  r.std = sd;
  std::string terms;
  for (size_t i = 0; i < k; ++i) {
    const double c = d.operands[i].coef;
    const std::string op = d.rule == "ratio" ? (i == 0 ? "" : " / ") : (c < 0 ? (i == 0 ? "-" : " - ") : (i == 0 ? "" : " + "));
    terms += op + d.operands[i].run.metric + "[" + d.operands[i].run.hash + "] " + num(*checked[i].mean) + " (n " +
             std::to_string(checked[i].n) + ")";
  }
  r.derivation = d.metric + " = " + (d.rule == "ratio" ? "100 * " : "") + terms + "; " + how;
  r.status = Status::NotRun;
  r.reason.clear();
  for (size_t i = 0; i < k; ++i)  // the cell allows failed runs and an operand had some
    if (!checked[i].reason.empty() && checked[i].status != Status::NoPaperValue && checked[i].status != Status::Unchecked &&
        checked[i].reason != pc.cell->xfail)
      r.reason += (r.reason.empty() ? "" : "; ") + which(i) + checked[i].reason;
  band_verdict(r, pc, tier, d.metric);
  return r;
}

}  // namespace

// The verdict on a cell whose mean is known: band, direction, xfail.
void band_verdict(CellResult& r, const PlannedCell& pc, const std::string& tier, const std::string& metric_row) {
  const Cell& cell = *pc.cell;
  const double m = *r.mean;
  if (!r.expected) {
    r.status = tier == "paper" ? Status::NoPaperValue : Status::Unchecked;
    if (r.reason.empty())
      r.reason = tier == "paper" ? cell.paper.unavailable : "no committed reference for tier " + tier;
    return;
  }
  const Band band = cell.band.value_or(pc.suite->band);
  r.band = std::max(band.floor, band.k * r.expected_std.value_or(0.0));
  r.delta = m - *r.expected;
  // Direction from the metric registry (or, for a metric not produced yet, its planned facts).
  const bool higher = metric_higher_is_better(metric_base(metric_row)).value_or(true);
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
