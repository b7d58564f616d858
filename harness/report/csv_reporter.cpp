// ddbench: torch-free
#include "harness/report/reporter.h"

namespace ddb {
namespace {

std::string csv(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

class CsvReporter : public Reporter {
 public:
  std::string extension() const override { return "csv"; }
  void write(const ReportInput& in, std::ostream& out) const override {
    out << "suite,cell,setting,tier,method,dataset,ipc,metric,paper_value,paper_std,paper_selection,expected_value,"
           "expected_std,expected_source,ours_mean,ours_std,n,n_expected,runs_failed,jobs_done,jobs_failed,delta,band,verdict,reason,"
           "uncertain,config_hash\n";
    for (const auto& r : in.cells) {
      const Cell& c = *r.cell;
      const json& s = c.spec;
      out << csv(r.suite->id) << ',' << csv(c.id) << ',' << csv(cell_setting(r)) << ',' << r.tier << ','
          << csv(str_or(s, "method", "")) << ',' << csv(str_or(s, "dataset", "")) << ','
          << s.value("ipc", 0) << ',' << csv(str_or(s, "metric", "")) << ',' << fmt_value(c.paper.value, 4)
          << ',' << fmt_value(c.paper.std, 4) << ',' << c.paper.selection << ',' << fmt_value(r.expected, 4) << ','
          << fmt_value(r.expected_std, 4) << ',' << r.expected_source << ',' << fmt_value(r.mean, 4) << ','
          << fmt_value(r.std, 4) << ',' << r.n << ',' << r.n_expected << ',' << r.runs_failed << ',' << r.jobs_done << ',' << r.jobs_failed << ','
          << fmt_value(r.delta, 4) << ',' << fmt_value(r.band, 4) << ',' << status_name(r.status) << ','
          << csv(r.reason) << ',' << csv(c.uncertain) << ',' << r.config_hash << '\n';
    }
  }
};

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
    }
    out << doc.dump(2) << "\n";
  }
};

}  // namespace

std::unique_ptr<Reporter> make_csv_reporter() { return std::make_unique<CsvReporter>(); }
std::unique_ptr<Reporter> make_json_reporter() { return std::make_unique<JsonReporter>(); }

}  // namespace ddb
