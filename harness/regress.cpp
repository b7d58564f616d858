// ddbench: torch-free
#include "harness/regress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "harness/metrics.h"
#include "harness/report/reporter.h"

namespace ddb {

std::string regress_verdict_name(RegressVerdict v) {
  switch (v) {
    case RegressVerdict::Regressed: return "regressed";
    case RegressVerdict::Failed: return "failed";
    case RegressVerdict::Missing: return "missing";
    case RegressVerdict::New: return "new";
    case RegressVerdict::Improved: return "improved";
    case RegressVerdict::Unchanged: return "unchanged";
  }
  return "?";
}

int RegressReport::count(RegressVerdict v) const {
  int n = 0;
  for (const auto& r : rows) n += r.verdict == v ? 1 : 0;
  return n;
}

namespace {

std::string fixed(double v, int decimals = 2) {
  char b[48];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

std::string p_text(double p) {
  char b[48];
  std::snprintf(b, sizeof b, p < 1e-3 ? "%.1e" : "%.3f", p);
  return b;
}

// A side with a usable result: a mean over the runs it asks for, none failed (or allowed to fail).
bool has_result(const CellResult& r) {
  return r.mean && r.status != Status::RunFailed && r.status != Status::NotRun && r.status != Status::Invalid;
}

RegressSide side_of(const CellResult& r) {
  RegressSide s;
  s.status = status_name(r.status);
  s.reason = r.reason;
  if (has_result(r)) {
    s.mean = r.mean;
    s.std = r.std;
    s.n = r.n;
    if (static_cast<int>(r.values.size()) == r.n) s.runs = r.values;
  }
  return s;
}

// The committed reference of `cell` at `tier`: its raw runs when recorded, else value/std/n.
RegressSide reference_side(const Cell& cell, const std::string& tier) {
  RegressSide s;
  s.status = "reference";
  const auto it = cell.reference.find(tier);
  if (it == cell.reference.end()) {
    s.status = "no-reference";
    s.reason = "no committed reference for tier " + tier;
    return s;
  }
  const ReferenceValue& ref = it->second;
  if (!ref.runs.empty()) {
    auto [m, sd] = mean_std(ref.runs);
    s.mean = m;
    s.std = sd;
    s.n = static_cast<int>(ref.runs.size());
    s.runs = ref.runs;
  } else {
    s.mean = ref.value;
    s.std = ref.std;
    s.n = ref.n;
    s.reason = "reference without raw runs: value, std and n";
  }
  return s;
}

}  // namespace

Comparison compare_sides(const RegressSide& baseline, const RegressSide& candidate, bool higher_is_better,
                         const Band& band, double alpha) {
  Comparison c;
  c.diff = *candidate.mean - *baseline.mean;
  c.band = std::max(band.floor, band.k * baseline.std.value_or(0.0));
  const double better = higher_is_better ? c.diff : -c.diff;  // > 0: the candidate is better
  const bool beyond = std::fabs(c.diff) > c.band;
  c.test = welch_t_test(*candidate.mean, sample_std_from_population(candidate.std.value_or(0), candidate.n), candidate.n,
                        *baseline.mean, sample_std_from_population(baseline.std.value_or(0), baseline.n), baseline.n);
  const std::string direction = better < 0 ? "worse" : "better";
  const std::string by = direction + " by " + fixed(std::fabs(c.diff));
  if (!c.test) {  // no variance on a side: the band alone
    const std::string why = "n < 2 on a side, no t-test: band only";
    if (beyond) {
      c.verdict = better < 0 ? RegressVerdict::Regressed : RegressVerdict::Improved;
      c.reason = by + ", beyond the band ±" + fixed(c.band) + " (" + why + ")";
    } else {
      c.reason = by + ", within the band ±" + fixed(c.band) + " (" + why + ")";
    }
    return c;
  }
  const bool significant = c.test->p < alpha;
  if (beyond && significant && better != 0) {
    c.verdict = better < 0 ? RegressVerdict::Regressed : RegressVerdict::Improved;
    c.reason = by + ": p = " + p_text(c.test->p) + " < " + p_text(alpha) + " and beyond the band ±" + fixed(c.band);
  } else if (c.diff == 0) {
    c.reason = "same mean";
  } else if (!significant && !beyond) {
    c.reason = by + ": p = " + p_text(c.test->p) + ", within the band ±" + fixed(c.band);
  } else if (!significant) {
    c.reason = by + ", beyond the band ±" + fixed(c.band) + " but p = " + p_text(c.test->p) + " >= " + p_text(alpha) +
               " (noisy)";
  } else {
    c.reason = by + ", p = " + p_text(c.test->p) + " but within the band ±" + fixed(c.band);
  }
  return c;
}

RegressReport regress_cells(const std::vector<PlannedCell>& cells, const Store* baseline, const Store& candidate,
                            const std::string& tier, double alpha) {
  RegressReport rep;
  rep.tier = tier;
  rep.alpha = alpha;
  rep.baseline = baseline ? baseline->dir() : "references (tier " + tier + ")";
  rep.candidate = candidate.dir();
  for (const auto& pc : cells) {
    const CellResult cand = check_cell(pc, candidate, tier);
    RegressRow row;
    row.suite = pc.suite;
    row.cell = pc.cell;
    row.setting = cell_setting(cand);
    row.metric_row = cand.metric_row.empty() ? str_or(pc.cell->spec, "metric", "accuracy") : cand.metric_row;
    row.config_hash = cand.config_hash;
    row.higher_is_better = metric_higher_is_better(metric_base(row.metric_row)).value_or(true);
    row.candidate = side_of(cand);
    row.band_verdict = status_name(cand.status);
    if (baseline) {
      row.baseline = side_of(check_cell(pc, *baseline, tier));
    } else {
      row.baseline = reference_side(*pc.cell, tier);
    }
    const bool base_ok = row.baseline.mean.has_value();
    const bool cand_ok = row.candidate.mean.has_value();
    const bool cand_failed = cand.status == Status::RunFailed;
    if (cand_failed) {
      row.verdict = RegressVerdict::Failed;
      row.reason = cand.reason;
    } else if (base_ok && cand_ok) {
      const Comparison c =
          compare_sides(row.baseline, row.candidate, row.higher_is_better, pc.cell->band.value_or(pc.suite->band), alpha);
      row.diff = c.diff;
      row.band = c.band;
      row.test = c.test;
      row.verdict = c.verdict;
      row.reason = c.reason;
    } else if (base_ok) {
      row.verdict = RegressVerdict::Missing;
      row.reason = "candidate: " + row.candidate.status + (cand.reason.empty() ? "" : " (" + cand.reason + ")");
    } else if (cand_ok) {
      row.verdict = RegressVerdict::New;
      row.reason = "baseline: " + row.baseline.status +
                   (row.baseline.reason.empty() ? "" : " (" + row.baseline.reason + ")");
    } else {
      ++rep.not_listed;
      continue;
    }
    rep.rows.push_back(std::move(row));
  }
  // Severity first; within regressed and improved the most significant (smallest p, then largest change
  // relative to the band) first; otherwise suite order.
  std::stable_sort(rep.rows.begin(), rep.rows.end(), [](const RegressRow& a, const RegressRow& b) {
    if (a.verdict != b.verdict) return static_cast<int>(a.verdict) < static_cast<int>(b.verdict);
    if (a.verdict == RegressVerdict::Regressed || a.verdict == RegressVerdict::Improved) {
      const double pa = a.test ? a.test->p : 1, pb = b.test ? b.test->p : 1;
      if (pa != pb) return pa < pb;
      const double za = std::fabs(*a.diff) / std::max(*a.band, 1e-12), zb = std::fabs(*b.diff) / std::max(*b.band, 1e-12);
      return za > zb;
    }
    return false;
  });
  return rep;
}

}  // namespace ddb
