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
  r.jobs_expected = rc.seeds;
  std::string last_error;
  for (const auto& run : store.runs_of(rc.hash)) {
    if (run.seed_index >= rc.seeds) continue;
    if (run.status == "done") ++r.jobs_done;
    if (run.status == "failed") {
      ++r.jobs_failed;
      last_error = run.error;
    }
  }
  std::vector<double> values = store.metric_values(rc.hash, rc.metric);
  // Only the seeds this cell asks for (a store may hold more from another suite).
  if (r.jobs_done == 0) {
    if (r.jobs_failed > 0) {
      r.status = Status::RunFailed;
      r.reason = last_error;
    } else {
      r.status = Status::NotRun;
      r.reason = "no result in the store yet";
    }
    return r;
  }
  r.n = static_cast<int>(values.size());
  auto [m, s] = mean_std(values);
  r.mean = m;
  r.std = s;
  if (r.jobs_failed > 0) r.reason = std::to_string(r.jobs_failed) + " of " + std::to_string(rc.seeds) + " seeds failed: " + last_error;
  if (!r.expected) {
    r.status = tier == "paper" ? Status::NoPaperValue : Status::Unchecked;
    if (r.reason.empty())
      r.reason = tier == "paper" ? cell.paper.unavailable : "no committed reference for tier " + tier;
    return r;
  }
  const Band band = cell.band.value_or(pc.suite->band);
  r.band = std::max(band.floor, band.k * r.expected_std.value_or(0.0));
  r.delta = m - *r.expected;
  const MetricInfo* mi = find_metric(rc.metric);
  const bool higher = mi ? mi->higher_is_better : true;
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
