// ddbench: torch-free
#include <map>

#include "harness/report/reporter.h"

namespace ddb {
namespace {

// Every suite/store string in a table cell or heading goes through md_cell (reporter.h).
std::string escape(const std::string& s) { return md_cell(s); }

class MarkdownReporter : public Reporter {
 public:
  std::string extension() const override { return "md"; }
  void write(const ReportInput& in, std::ostream& out) const override {
    out << "# " << escape(in.title) << "\n\n";
    out << "Tier `" << in.tier << "`. Generated " << str_or(in.provenance, "generated_at", "") << " from `"
        << str_or(in.provenance, "store", "") << "` by ddbench " << str_or(in.provenance, "git_commit", "")
        << ".\n\n";
    std::map<std::string, int> counts;
    for (const auto& c : in.cells) counts[status_name(c.status)]++;
    out << "Cells: " << in.cells.size();
    for (const auto& [k, v] : counts) out << " · " << k << " " << v;
    out << "\n\n";
    out << "Band: a cell passes when |ours − expected| ≤ max(floor, k·std of the expected value). "
           "`above` = better than the band. Ours: mean ± std (ddof 0) over n pooled runs (seeds × eval runs). "
           "At a tier other than `paper` the expected value is a committed reference run, not the paper.\n\n";
    for (const Suite* s : in.suites) {
      out << "## " << escape(s->id) << " — " << escape(s->title) << "\n\n";
      const std::string src = str_or(s->source, "paper", "") + " " + str_or(s->source, "table", "");
      out << "Source: " << escape(src) << " (`" << s->path << "`). Band k = " << s->band.k << ", floor = " << s->band.floor
          << ".\n\n";
      out << "| cell | setting | metric | paper | expected | ours (n) | Δ | band | verdict | reason |\n";
      out << "|---|---|---|---|---|---|---|---|---|---|\n";
      for (const auto& r : in.cells) {
        if (r.suite != s) continue;
        const Cell& c = *r.cell;
        std::string paper = c.paper.value ? fmt_mean_std(c.paper.value, c.paper.std) : "n/a";
        if (c.paper.selection != "last") paper += " (" + escape(c.paper.selection) + ")";
        std::string expected = r.expected ? fmt_mean_std(r.expected, r.expected_std) + " (" + escape(r.expected_source) + ")" : "";
        // "(3)", or "(n = 2 of 3, 1 diverged)" when runs failed or are missing.
        const bool short_n = r.n == r.n_expected && r.runs_failed == 0 && r.jobs_failed == 0;
        std::string ours = r.mean ? fmt_mean_std(r.mean, r.std) + " (" + (short_n ? std::to_string(r.n) : pooled_runs_text(r)) + ")" : "";
        std::string delta = r.delta ? (*r.delta >= 0 ? "+" : "") + fmt_value(r.delta) : "";
        std::string reason = r.reason;
        if (!r.derivation.empty()) reason += (reason.empty() ? "" : "; ") + r.derivation;  // a derived metric
        if (!c.uncertain.empty()) reason += (reason.empty() ? "" : "; ") + std::string("uncertain: ") + c.uncertain;
        out << "| " << escape(c.id) << " | " << escape(cell_setting(r)) << " | " << escape(str_or(c.spec, "metric", ""))
            << " | " << paper << " | " << expected << " | " << ours << " | " << delta << " | "
            << (r.band ? "±" + fmt_value(r.band) : "") << " | **" << status_name(r.status) << "** | "
            << escape(reason.substr(0, 300)) << " |\n";
      }
      out << "\n";
      bool any = false;
      for (const auto& rel : in.relations) {
        if (rel.suite != s) continue;
        if (!any) out << "Relations:\n\n";
        any = true;
        out << "- " << escape(rel.relation.cell) << " beats " << escape(rel.relation.beats) << " by ≥ " << rel.relation.by << ": **"
            << (!rel.checked ? "not checked" : rel.holds ? "holds" : "FAILS") << "** — " << escape(rel.detail) << "\n";
      }
      if (any) out << "\n";
    }
    if (in.submitted.empty()) return;
    out << "## Submitted sets\n\n";
    out << "Rows from `ddbench submit` (sets distilled outside this tree; kind **submitted**), each (dataset, IPC) "
           "evaluated under the dataset's leaderboard protocol. Ours: mean ± std (ddof 0) over n runs (files × "
           "networks). Ranked by dataset, IPC, then accuracy.\n\n";
    out << "| method | kind | dataset | IPC | ours (n) | authors | code | commit | bundle sha256 | note |\n";
    out << "|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& r : in.submitted) {
      const json meta = r.provenance.value("submission", json::object());
      auto field = [&](const char* k) {
        if (!meta.is_object() || !meta.contains(k)) return std::string();
        const json& v = meta[k];
        if (v.is_string()) return v.get<std::string>();
        if (v.is_array()) {
          std::string s;
          for (const auto& x : v) s += (s.empty() ? "" : ", ") + (x.is_string() ? x.get<std::string>() : x.dump());
          return s;
        }
        return v.dump();
      };
      const json sha = r.provenance.value("bundle_sha256", json(""));
      out << "| " << escape(r.method) << " | submitted | " << escape(r.dataset) << " | " << r.ipc << " | "
          << (r.mean ? fmt_mean_std(r.mean, r.std) + " (" + std::to_string(r.n) + ")" : "") << " | "
          << escape(field("authors")) << " | " << escape(field("code")) << " | " << escape(field("commit")) << " | "
          << escape(sha.is_string() ? sha.get<std::string>().substr(0, 16) : "") << " | "
          << (r.failed ? std::to_string(r.failed) + " run(s) diverged" : "") << " |\n";
    }
    out << "\n";
  }
};

}  // namespace

DDBENCH_REGISTER_REPORTER(ReporterInfo{"markdown", "tables per suite with verdicts and reasons (README, PRs)",
                                       [] { return std::make_unique<MarkdownReporter>(); }});

}  // namespace ddb
