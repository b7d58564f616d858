// Leaderboard reporters: one interface, one implementation per format (markdown, csv, json),
// as google/benchmark has one reporter per output format.
#pragma once
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/registry.h"
#include "harness/check.h"

namespace ddb {

// A submitted method's row (`ddbench submit`): the evaluations the store marks submitted, one row per
// (distillation, evaluation) configuration, i.e. per (method, dataset, IPC) of a bundle, pooled over its files.
struct SubmittedRow {
  std::string method, dataset;
  int64_t ipc = 0;
  std::optional<double> mean, std;  // accuracy, ddof 0, over the runs (files x networks)
  int n = 0, failed = 0;            // runs with a value; runs that diverged
  std::string distill_hash, eval_hash;
  json provenance = json::object();  // the first evaluation's: submission metadata, bundle_sha256, versions
};
// Every submitted row of a store, by dataset, IPC, then accuracy (best first).
std::vector<SubmittedRow> submitted_rows(const Store& store);

struct ReportInput {
  std::string title;
  std::string tier;
  std::vector<const Suite*> suites;
  std::vector<CellResult> cells;
  std::vector<RelationResult> relations;
  std::vector<SubmittedRow> submitted;  // rows from `ddbench submit` in the store (no suite)
  json provenance = json::object();  // generated_at, git_commit, store
};

class Reporter {
 public:
  virtual ~Reporter() = default;
  virtual std::string extension() const = 0;
  virtual void write(const ReportInput& in, std::ostream& out) const = 0;
};

struct ReporterInfo {
  std::string name;  // the --format value
  std::string description;
  std::function<std::unique_ptr<Reporter>()> make;  // empty for a site
  // A site writes a folder of files (`ddbench report --format html --out DIR`: write_html_site, which also
  // reads the store), not one stream: it has no `make`, and make_reporter refuses it.
  bool site = false;
};
Registry<ReporterInfo>& reporter_registry();
// The registered format a --format value names ("md" is markdown); unknown -> UserError listing them.
const ReporterInfo& find_reporter(const std::string& format);
// A registered stream format; unknown or a site -> UserError.
std::unique_ptr<Reporter> make_reporter(const std::string& format);

// Shared formatting for the text reporters.
std::string fmt_value(const std::optional<double>& v, int decimals = 2);
std::string fmt_mean_std(const std::optional<double>& m, const std::optional<double>& s, int decimals = 2);
std::string cell_setting(const CellResult& r);  // the printed setting, or method/ipc/dataset

// Every string from a suite, store or submission goes through one of these before it reaches a page.
// html_escape: & < > " ' as entities (&#39;: valid in HTML 4 and 5 and in XML), text and attribute values
// alike, so `<script>` renders as text; control characters other than tab and newline are dropped (XML 1.0
// forbids them). The one escaper for HTML pages and SVG files (site_svg.h, svg_plot.h).
std::string html_escape(const std::string& s);
// md_cell: one Markdown table cell: `|` escaped, newlines (\n, \r) as spaces, `<` `>` `&` as entities (a
// renderer that passes HTML through shows `<script>` as text), backslash doubled and backticks escaped so
// neither can swallow the next `|` escape or open a code span.
std::string md_cell(const std::string& s);

// One CSV field (RFC 4180): quoted, with doubled quotes, when it holds a comma, a quote or a newline.
std::string csv_field(const std::string& s);

}  // namespace ddb

// DDBENCH_REGISTER_REPORTER(ReporterInfo{...}); at namespace scope in the reporter's file.
#define DDBENCH_REGISTER_REPORTER(...) DDBENCH_REGISTER_IN(::ddb::reporter_registry, __VA_ARGS__)
