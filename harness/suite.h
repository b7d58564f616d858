// The suite model: one paper table, loaded from YAML (format: suites/SCHEMA.md).
#pragma once
#include "core/errors.h"
#include "core/json.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ddb {

struct Band {
  double k = 2.0;      // band half-width = max(floor, k * std)
  double floor = 1.0;
};

// The published number of a cell, with the paper's own conventions.
struct PaperValue {
  std::optional<double> value;
  std::optional<double> std;
  std::optional<int> runs;       // how many runs the paper's mean pools
  std::string selection = "last";  // last | best_iter | best_epoch
  std::string source = "table";    // table | text | figure
  std::string unavailable;         // why the number cannot be read (then value is empty)
};

// A committed reference result for a non-paper tier (regression band for the cpu tier).
struct ReferenceValue {
  double value = 0;
  double std = 0;
  int n = 0;
  std::string from;  // which run produced it (commit, date)
  // The pooled per-run values behind value/std (as MLPerf keeps its reference convergence points), so
  // bands and statistical tests can be recomputed; `ddbench references` prints them from a store.
  std::vector<double> runs;
};

struct Cell {
  std::string id;
  std::string setting;
  int line = 0;                 // line of the cell in its file
  json spec;                    // the cell's run fields as written (merged with defaults, no tier)
  PaperValue paper;
  std::string uncertain, note, xfail;
  // Pool the runs that succeeded even when some evaluation runs diverged or seeds failed (the
  // reference records such runs at near-chance accuracy); by default a failed run fails the cell.
  bool allow_failed_runs = false;
  std::vector<std::string> requires;
  std::optional<Band> band;
  std::map<std::string, ReferenceValue> reference;  // tier -> committed reference
  std::map<std::string, json> tiers;                 // cell-level tier overrides (after the suite's)
};

// A relation checked across cells, e.g. "dm-ipc10 beats random-ipc10 by at least 3 points".
struct Relation {
  std::string cell;
  std::string beats;
  double by = 0;
  int line = 0;
};

struct Suite {
  std::string id, title, path;
  json source = json::object();
  json defaults = json::object();
  std::map<std::string, json> tiers;  // tier name -> overrides
  Band band;
  std::vector<Cell> cells;
  std::vector<Relation> relations;
  std::string note;
  // How ctest runs the suite (`ctest: {tier: cpu, labels: [smoke], timeout: 600}`, read by CMake
  // too); empty: the paper tier with labels paper, <folder>, <folder>.<file>.
  json ctest = json::object();

  const Cell* find_cell(const std::string& id) const;
  // The cell's run spec at a tier: defaults + cell + tiers[tier] (maps merge key by key).
  // nullopt when the tier is neither "paper" nor a profile of this suite.
  std::optional<json> spec_at(const Cell& cell, const std::string& tier) const;
  bool has_tier(const std::string& tier) const { return tier == "paper" || tiers.count(tier) > 0; }
};

// Parses and structurally validates a suite file. Throws UserError "file:line: field 'x': why".
Suite load_suite(const std::string& path);
// Every *.yaml under dir (recursively), sorted; files named README/SCHEMA are not suites.
std::vector<std::string> find_suite_files(const std::string& dir);

// Deep merge: maps merge key by key, everything else in `over` replaces `base`.
json merge_json(const json& base, const json& over);

}  // namespace ddb
