// ddbench: torch-free
#include "harness/report/reporter.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace ddb {

Registry<ReporterInfo>& reporter_registry() {
  static Registry<ReporterInfo> registry("report formats");
  return registry;
}

const ReporterInfo& find_reporter(const std::string& format) {
  return reporter_registry().get(format == "md" ? "markdown" : format);
}

std::unique_ptr<Reporter> make_reporter(const std::string& format) {
  const ReporterInfo& info = find_reporter(format);
  if (info.site || !info.make)
    throw UserError("report format '" + info.name + "' writes a site (a folder of files), not one file: pass --out DIR");
  return info.make();
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
      default:
        // XML 1.0 (an SVG file) forbids most control characters even as references; HTML has no use for them.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') break;
        out += c;
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

std::vector<SubmittedRow> submitted_rows(const Store& store) {
  auto submitted = [](const json& c) {
    if (!c.is_object() || !c.contains("options") || !c["options"].is_object()) return false;
    const json& v = c["options"].value("submitted", json(false));
    return v.is_boolean() && v.get<bool>();
  };
  std::map<std::pair<std::string, std::string>, std::vector<EvalRecord>> groups;
  for (const auto& e : store.all_evaluations())
    if (submitted(e.config)) groups[{e.distill_hash, e.eval_hash}].push_back(e);
  std::vector<SubmittedRow> rows;
  for (const auto& [key, evs] : groups) {
    SubmittedRow row;
    const json& c = evs.front().config;
    const json method = c.value("method", json("?")), dataset = c.value("dataset", json("?"));
    row.method = method.is_string() ? method.get<std::string>() : method.dump();
    row.dataset = dataset.is_string() ? dataset.get<std::string>() : dataset.dump();
    row.ipc = c.value("ipc", 0);
    row.distill_hash = key.first, row.eval_hash = key.second;
    std::vector<double> acc;
    for (const auto& e : evs) {
      for (const auto& m : store.metrics_of(e.key))
        if (m.metric == "accuracy") acc.push_back(m.value);
      row.failed += static_cast<int>(store.failures_of(e.key).size());
    }
    if (!acc.empty()) {
      const auto [m, sd] = mean_std(acc);
      row.mean = m, row.std = sd;
    }
    row.n = static_cast<int>(acc.size());
    if (evs.front().provenance.is_object()) row.provenance = evs.front().provenance;
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const SubmittedRow& a, const SubmittedRow& b) {
    if (a.dataset != b.dataset) return a.dataset < b.dataset;
    if (a.ipc != b.ipc) return a.ipc < b.ipc;
    return a.mean.value_or(-1e300) > b.mean.value_or(-1e300);
  });
  return rows;
}

std::string cell_setting(const CellResult& r) {
  if (!r.cell->setting.empty()) return r.cell->setting;
  const json& s = r.cell->spec;
  return str_or(s, "method", "?") + ", IPC " + std::to_string(s.value("ipc", 0)) + ", " +
         str_or(s, "dataset", "?");
}

}  // namespace ddb
