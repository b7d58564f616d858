// ddbench: torch-free
#include "harness/report/reporter.h"

#include <cstdio>

namespace ddb {

Registry<ReporterInfo>& reporter_registry() {
  static Registry<ReporterInfo> registry("report formats");
  return registry;
}

std::unique_ptr<Reporter> make_reporter(const std::string& format) {
  return reporter_registry().get(format == "md" ? "markdown" : format).make();
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

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string md_cell(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '|': out += "\\|"; break;
      case '\\': out += "\\\\"; break;
      case '`': out += "\\`"; break;
      case '\n': case '\r': out += ' '; break;
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string cell_setting(const CellResult& r) {
  if (!r.cell->setting.empty()) return r.cell->setting;
  const json& s = r.cell->spec;
  return str_or(s, "method", "?") + ", IPC " + std::to_string(s.value("ipc", 0)) + ", " +
         str_or(s, "dataset", "?");
}

}  // namespace ddb
