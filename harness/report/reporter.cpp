// ddbench: torch-free
#include "harness/report/reporter.h"

#include <cstdio>

namespace ddb {

std::unique_ptr<Reporter> make_markdown_reporter();
std::unique_ptr<Reporter> make_csv_reporter();
std::unique_ptr<Reporter> make_json_reporter();

std::unique_ptr<Reporter> make_reporter(const std::string& format) {
  if (format == "markdown" || format == "md") return make_markdown_reporter();
  if (format == "csv") return make_csv_reporter();
  if (format == "json") return make_json_reporter();
  throw UserError("unknown report format '" + format + "'; formats: markdown, csv, json");
}

std::string fmt_value(const std::optional<double>& v, int decimals) {
  if (!v) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, *v);
  return buf;
}

std::string fmt_mean_std(const std::optional<double>& m, const std::optional<double>& s, int decimals) {
  if (!m) return "";
  return fmt_value(m, decimals) + (s ? " ± " + fmt_value(s, decimals) : "");
}

std::string cell_setting(const CellResult& r) {
  if (!r.cell->setting.empty()) return r.cell->setting;
  const json& s = r.cell->spec;
  return str_or(s, "method", "?") + ", IPC " + std::to_string(s.value("ipc", 0)) + ", " +
         str_or(s, "dataset", "?");
}

}  // namespace ddb
