// ddbench: torch-free
#include "harness/report/reporter.h"

namespace ddb {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

namespace {

std::string csv(const std::string& s) { return csv_field(s); }

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
    // Submitted sets (ddbench submit): suite "submission", cell = the distillation hash, verdict "submitted".
    for (const auto& r : in.submitted)
      out << "submission," << csv(r.distill_hash) << ',' << csv(r.method) << ",," << csv(r.method) << ','
          << csv(r.dataset) << ',' << r.ipc << ",accuracy,,,,,,," << fmt_value(r.mean, 4) << ',' << fmt_value(r.std, 4)
          << ',' << r.n << ",," << r.failed << ",,,,,submitted,,," << csv(r.distill_hash + "." + r.eval_hash) << '\n';
  }
};



}  // namespace

DDBENCH_REGISTER_REPORTER(ReporterInfo{"csv", "one row per cell, every figure and the config hash (spreadsheets, pandas)",
                                       [] { return std::make_unique<CsvReporter>(); }});

}  // namespace ddb
