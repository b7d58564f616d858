// ddbench: torch-free
// The JSON leaderboard: every cell with its spec, paper value, expected value, ours and verdict.
#include "harness/report/reporter.h"

namespace ddb {
namespace {

class JsonReporter : public Reporter {
 public:
  std::string extension() const override { return "json"; }
  void write(const ReportInput& in, std::ostream& out) const override {
    json doc = {{"title", in.title}, {"tier", in.tier}, {"provenance", in.provenance}, {"cells", json::array()}};
    auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
    for (const auto& r : in.cells) {
      const Cell& c = *r.cell;
      doc["cells"].push_back({{"suite", r.suite->id},
                              {"cell", c.id},
                              {"setting", cell_setting(r)},
                              {"spec", c.spec},
                              {"paper", {{"value", opt(c.paper.value)}, {"std", opt(c.paper.std)}, {"selection", c.paper.selection}}},
                              {"expected", {{"value", opt(r.expected)}, {"std", opt(r.expected_std)}, {"source", r.expected_source}}},
                              {"ours", {{"mean", opt(r.mean)}, {"std", opt(r.std)}, {"n", r.n}, {"n_expected", r.n_expected},
                                        {"runs_failed", r.runs_failed}, {"jobs_failed", r.jobs_failed}}},
                              {"delta", opt(r.delta)},
                              {"band", opt(r.band)},
                              {"verdict", status_name(r.status)},
                              {"reason", r.reason},
                              {"uncertain", c.uncertain},
                              {"config_hash", r.config_hash}});
      if (!r.operands.empty()) {  // a derived metric: the runs it combines
        json ops = json::array();
        for (const auto& o : r.operands)
          ops.push_back({{"role", o.role}, {"config_hash", o.config_hash}, {"metric_row", o.metric_row}, {"coef", o.coef},
                         {"mean", opt(o.mean)}, {"std", opt(o.std)}, {"n", o.n}, {"n_expected", o.n_expected}});
        doc["cells"].back()["operands"] = ops;
        doc["cells"].back()["derivation"] = r.derivation;
      }
    }
    doc["submitted"] = json::array();
    for (const auto& r : in.submitted)
      doc["submitted"].push_back({{"kind", "submitted"}, {"method", r.method}, {"dataset", r.dataset}, {"ipc", r.ipc},
                                  {"ours", {{"mean", opt(r.mean)}, {"std", opt(r.std)}, {"n", r.n}, {"runs_failed", r.failed}}},
                                  {"distill_hash", r.distill_hash}, {"eval_hash", r.eval_hash},
                                  {"provenance", r.provenance}});
    out << doc.dump(2) << "\n";
  }
};

}  // namespace

DDBENCH_REGISTER_REPORTER(ReporterInfo{"json", "the whole leaderboard as one JSON document (other tools)",
                                       [] { return std::make_unique<JsonReporter>(); }});

}  // namespace ddb
