// `ddbench references`: the committed-reference block of each cell, from a store, with the raw
// per-run values (so bands and statistical tests can be recomputed), ready to paste into the suite.
#include "cli_common.h"

#include <cstdio>
#include <iostream>

#include "harness/check.h"

namespace ddb::cli {

namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// `reference: {cpu: {value: .., std: .., n: .., runs: [..], from: ".."}}` for one checked cell.
std::string reference_line(const CellResult& r, const Store& store, const std::string& tier) {
  // A derived cell: its combined per-run values (empty when its operands do not pair up run by run).
  const auto values =
      r.operands.empty() ? store.metric_values(r.distill_hash, r.eval_hash, r.metric_row, r.jobs_expected) : r.values;
  std::string runs;
  for (double v : values) runs += (runs.empty() ? "" : ", ") + number(v);
  std::string from = "ddbench run";
  const auto stored = store.evaluations_of(r.distill_hash, r.eval_hash);
  if (!stored.empty()) {
    const json& p = stored.front().provenance;
    from += ", commit " + str_or(p, "git_commit", "?").substr(0, 7) + ", " + stored.front().updated_at.substr(0, 10) +
            ", " + std::to_string(p.value("threads", 0)) + " threads";
  }
  return "reference: {" + tier + ": {value: " + number(*r.mean) + ", std: " + number(*r.std) +
         ", n: " + std::to_string(r.n) + ", runs: [" + runs + "], from: \"" + from + "\"}}";
}

}  // namespace

void register_references_command(CLI::App& app) {
  auto* c = app.add_subcommand(
      "references",
      "Print each cell's committed-reference block (value, std, n and the raw per-run values) from a store,\n"
      "for a tier profile such as cpu; cells whose runs failed or are incomplete are listed, not printed");
  static Common o;
  static std::vector<std::string> suites;
  c->add_option("suites", suites, "suite files or directories")->required();
  add_common(c, o, false);
  c->callback(guarded([] {
    if (resolve_tier(o.tier) == "paper")
      throw UserError("references are for a tier profile (--tier cpu); the paper tier compares with the paper");
    const StoredResults stored = read_stored_results(suites, o, "references");
    const PlanEnv& env = stored.env;
    const Store& store = *stored.store;
    const ReportInput& in = stored.report;
    const Suite* current = nullptr;
    for (const auto& r : in.cells) {
      if (r.suite != current) {
        current = r.suite;
        std::cout << "# " << current->path << " (tier " << env.tier << ", store " << store.dir() << ")\n";
      }
      const bool complete = r.mean && r.n == r.n_expected && r.runs_failed == 0 && r.jobs_failed == 0;
      if (complete)
        std::cout << r.cell->id << ": " << reference_line(r, store, env.tier) << "\n";
      else
        std::cout << "# " << r.cell->id << ": no reference (" << status_name(r.status)
                  << (r.reason.empty() ? "" : ": " + r.reason.substr(0, 160)) << ")\n";
    }
  }));
}

}  // namespace ddb::cli
