// ddbench: torch-free
#include "harness/report/html_site.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "harness/report/site_svg.h"
#include "harness/report/synset_grid.h"

namespace ddb {
namespace {

namespace fs = std::filesystem;

std::string h(const std::string& s) { return html_escape(s); }

// A file name part from any string: [A-Za-z0-9._-] kept, anything else '_', at most 40 characters.
std::string safe_name(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out.empty() ? "x" : out;
}

// One leaderboard row: an in-tree cell that ran, a cell quoted from the paper only, or a submitted set.
struct Row {
  std::string kind;  // in-tree | submitted | quoted-only
  std::string method, dataset, metric = "accuracy";
  int64_t ipc = 0;
  std::optional<double> mean, std, paper;
  int n = 0;
  std::string verdict, reason;
  std::string suite_id, cell_id, suite_page, setting;
  std::string distill_hash, eval_hash;
  std::string grid, grid_note;  // the grid's path in the site; what the grid shows or why there is none
  int64_t grid_width = 0, grid_height = 0;  // the PNG's size in pixels
  json details = json::object();
  int id = 0;
};

const char* kCss = R"(body{font-family:sans-serif;margin:1.5em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 7px;font-size:13px}
th{background:#f2f2f2;cursor:pointer;user-select:none}th[aria-sort=ascending]::after{content:" \25B2"}
th[aria-sort=descending]::after{content:" \25BC"}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{border-radius:3px;padding:0 4px;font-size:11px;color:#fff}.k-in-tree{background:#2a7}.k-submitted{background:#37c}
.k-quoted-only{background:#999}.v-pass,.v-above{color:#185}.v-fail,.v-xpass,.v-run-failed,.v-invalid{color:#c22;font-weight:bold}
.v-unimplemented,.v-needs-gpu,.v-dataset-missing,.v-needs-pretrained,.v-not-run{color:#888}
.plots svg{margin:4px;border:1px solid #eee}dl.prov dt{font-weight:bold}dl.prov{border-top:1px solid #ccc;padding-top:4px}
pre{background:#f7f7f7;padding:4px;white-space:pre-wrap;font-size:12px})";

// Sorting: click a header (again: reverse); numbers sort by data-v, empty cells last; ?sort=KEY[:desc] sorts
// every table with a header of that data-key on load (the headless-browser test uses it). The table's
// data-sorted attribute says what it is sorted by.
const char* kScript = R"(<script>
(function(){
function val(td){var v=td.getAttribute('data-v');return (v!==null&&v!==''&&!isNaN(+v))?+v:null;}
function sortTable(t,col,desc){
 var tb=t.tBodies[0];if(!tb)return;var rows=Array.prototype.slice.call(tb.rows);
 rows.sort(function(a,b){var x=a.cells[col],y=b.cells[col];if(!x||!y)return 0;var vx=val(x),vy=val(y);
  var ex=x.textContent.trim()==='',ey=y.textContent.trim()==='';if(ex!==ey)return ex?1:-1;
  var r;if(vx!==null&&vy!==null)r=vx-vy;else if(vx!==null)r=-1;else if(vy!==null)r=1;else r=x.textContent.localeCompare(y.textContent);
  return desc?-r:r;});
 rows.forEach(function(r){tb.appendChild(r);});
 var hs=t.tHead.rows[0].cells;for(var i=0;i<hs.length;i++)hs[i].removeAttribute('aria-sort');
 hs[col].setAttribute('aria-sort',desc?'descending':'ascending');
 t.setAttribute('data-sorted',(hs[col].getAttribute('data-key')||col)+(desc?':desc':':asc'));}
var tables=document.querySelectorAll('table.sortable');
Array.prototype.forEach.call(tables,function(t){var hs=t.tHead.rows[0].cells;
 Array.prototype.forEach.call(hs,function(th,i){th.addEventListener('click',function(){
  sortTable(t,i,th.getAttribute('aria-sort')==='ascending');});});});
var q=new URLSearchParams(location.search).get('sort');
if(q){var p=q.split(':'),desc=p[1]==='desc';Array.prototype.forEach.call(tables,function(t){var hs=t.tHead.rows[0].cells;
 for(var i=0;i<hs.length;i++)if(hs[i].getAttribute('data-key')===p[0])sortTable(t,i,desc);});
 document.body.setAttribute('data-sort-applied',q);}
})();
</script>
)";

std::string page_head(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + h(title) +
         "</title>\n<style>" + kCss + "</style></head><body>\n";
}

std::string page_tail() { return std::string(kScript) + "</body></html>\n"; }

std::string num_td(const std::optional<double>& v, const std::optional<double>& s = std::nullopt) {
  if (!v) return "<td class=\"num\" data-v=\"\"></td>";
  return "<td class=\"num\" data-v=\"" + fmt_value(v, 4) + "\">" + h(fmt_mean_std(v, s)) + "</td>";
}

std::string badge(const std::string& kind) { return "<span class=\"badge k-" + h(kind) + "\">" + h(kind) + "</span>"; }

std::string verdict_td(const std::string& v) { return "<td class=\"v-" + h(v) + "\">" + h(v) + "</td>"; }

void write_file(const fs::path& dir, const std::string& rel, const std::string& text, SiteSummary& sum) {
  const fs::path p = dir / rel;
  fs::create_directories(p.parent_path());
  std::ofstream f(p.string() + ".tmp", std::ios::binary);
  f << text;
  f.close();
  fs::rename(p.string() + ".tmp", p);
  sum.files.push_back(rel);
}

bool truthy(const json& j, const char* a, const char* b) {
  if (!j.is_object() || !j.contains(a) || !j[a].is_object() || !j[a].contains(b)) return false;
  const json& v = j[a][b];
  return v.is_boolean() ? v.get<bool>() : v.is_number() ? v.get<double>() != 0 : false;
}

std::string str_of(const json& j) { return j.is_string() ? j.get<std::string>() : j.is_null() ? "" : j.dump(); }

// Store keys, seeds, commits and protocols of a configuration's evaluations.
json store_details(const Store& store, const std::string& dh, const std::string& eh, std::string& synset_path, json& config) {
  json d = json::object();
  if (dh.empty() || eh.empty()) return d;
  json keys = json::array(), seeds = json::array(), commits = json::array(), protocols = json::array();
  for (const auto& e : store.evaluations_of(dh, eh)) {
    keys.push_back(e.key + " (" + e.status + ")");
    if (config.is_null() || config.empty()) config = e.config;
    const auto dr = store.find_distillation(e.distill_key);
    if (dr) {
      seeds.push_back(std::to_string(dr->seed_index) + ": " + std::to_string(dr->seed));
      if (synset_path.empty() && !dr->synset_path.empty()) synset_path = dr->synset_path;
    }
    const json& p = e.provenance;
    const std::string commit = str_of(p.value("git_commit", p.value("commit", json())));
    if (!commit.empty() && std::find(commits.begin(), commits.end(), commit) == commits.end()) commits.push_back(commit);
    std::string proto = str_of(p.value("protocol", json()));
    if (p.contains("protocol_version")) proto += " v" + str_of(p["protocol_version"]);
    if (!proto.empty() && std::find(protocols.begin(), protocols.end(), proto) == protocols.end()) protocols.push_back(proto);
  }
  d["store keys"] = keys;
  d["seeds (index: seed)"] = seeds;
  d["commit"] = commits;
  d["protocol"] = protocols;
  return d;
}

std::string leaderboard_table(const std::vector<const Row*>& rows) {
  std::ostringstream o;
  o << "<table class=\"sortable leaderboard\"><thead><tr><th data-key=\"rank\">#</th><th data-key=\"method\">method</th>"
       "<th data-key=\"kind\">kind</th><th data-key=\"ours\">reproduced</th><th data-key=\"paper\">paper</th>"
       "<th data-key=\"verdict\">verdict</th><th data-key=\"n\">n</th><th data-key=\"source\">suite / cell</th>"
       "<th data-key=\"links\">provenance</th></tr></thead><tbody>\n";
  int rank = 0;
  for (const Row* r : rows) {
    ++rank;
    o << "<tr class=\"row\" data-kind=\"" << h(r->kind) << "\"><td class=\"num\" data-v=\"" << rank << "\">" << rank
      << "</td><td class=\"method\">" << h(r->method) << "</td><td>" << badge(r->kind) << "</td>" << num_td(r->mean, r->std)
      << num_td(r->paper) << verdict_td(r->verdict) << "<td class=\"num\" data-v=\"" << r->n << "\">" << r->n << "</td><td>";
    if (!r->suite_page.empty())
      o << "<a href=\"" << h(r->suite_page) << "#c-" << r->id << "\">" << h(r->suite_id + " / " + r->cell_id) << "</a>";
    else
      o << h(r->suite_id);
    o << "</td><td><a class=\"prov\" href=\"rows.html#r" << r->id << "\">details</a>";
    if (!r->grid.empty()) o << " · <a class=\"grid\" href=\"" << h(r->grid) << "\">images</a>";
    o << "</td></tr>\n";
  }
  o << "</tbody></table>\n";
  return o.str();
}

}  // namespace

SiteSummary write_html_site(const ReportInput& in, const Store& store, const std::string& dir_str, const SiteOptions& opts) {
  SiteSummary sum;
  const fs::path dir(dir_str);
  fs::create_directories(dir);
  std::vector<Row> rows;
  std::map<const Suite*, std::string> suite_pages;
  for (size_t i = 0; i < in.suites.size(); ++i)
    suite_pages[in.suites[i]] = "suite-" + std::to_string(i + 1) + "-" + safe_name(in.suites[i]->id) + ".html";

  // Rows from the suites' cells: every cell gets an id (its anchor on the suite page and rows.html).
  std::map<const CellResult*, int> cell_row;
  for (const auto& r : in.cells) {
    Row row;
    const json& s = r.cell->spec;
    row.method = str_or(s, "method", "?");
    row.dataset = str_or(s, "dataset", "?");
    row.ipc = s.value("ipc", 0);
    row.metric = str_or(s, "metric", "accuracy");
    row.mean = r.mean, row.std = r.std, row.paper = r.cell->paper.value;
    row.n = r.n;
    row.verdict = status_name(r.status);
    row.reason = r.reason;
    row.suite_id = r.suite->id, row.cell_id = r.cell->id, row.setting = cell_setting(r);
    row.suite_page = suite_pages[r.suite];
    row.distill_hash = r.distill_hash, row.eval_hash = r.eval_hash;
    row.kind = r.mean ? "in-tree" : "quoted-only";
    row.details = {{"suite", r.suite->id + " (" + r.suite->path + ")"},
                   {"cell", r.cell->id + " (line " + std::to_string(r.cell->line) + ")"},
                   {"setting", row.setting},
                   {"tier", r.tier},
                   {"config hash", r.config_hash},
                   {"paper", str_or(r.suite->source, "paper", "") + " " + str_or(r.suite->source, "table", "")},
                   {"expected", r.expected ? fmt_mean_std(r.expected, r.expected_std) + " (" + r.expected_source + ")" : ""},
                   {"runs", pooled_runs_text(r)},
                   {"reason", r.reason}};
    row.id = static_cast<int>(rows.size()) + 1;
    cell_row[&r] = row.id;
    rows.push_back(std::move(row));
  }
  // Submitted rows (ddbench submit): read from the store with the report's input (submitted_rows, reporter.h).
  for (const SubmittedRow& sub : in.submitted) {
    Row row;
    row.kind = "submitted";
    row.method = sub.method;
    row.dataset = sub.dataset;
    row.ipc = sub.ipc;
    row.distill_hash = sub.distill_hash, row.eval_hash = sub.eval_hash;
    row.mean = sub.mean, row.std = sub.std;
    row.n = sub.n;
    row.verdict = "submitted";
    row.reason = sub.failed ? std::to_string(sub.failed) + " run(s) diverged" : "";
    const json& p = sub.provenance;
    row.suite_id = "submission";
    json meta = p.value("submission", json::object());
    row.details = {{"submission", meta.dump()},
                   {"bundle sha256", str_of(p.value("bundle_sha256", json()))},
                   {"ddbench version", str_of(p.value("ddbench_version", json()))},
                   {"runs", std::to_string(sub.n) + (sub.failed ? ", " + std::to_string(sub.failed) + " diverged" : "")}};
    row.id = static_cast<int>(rows.size()) + 1;
    rows.push_back(std::move(row));
  }
  // Store details and image grids.
  std::map<std::string, std::tuple<std::string, std::string, int64_t, int64_t>> grids;  // hash -> (path, note, w, h)
  for (auto& row : rows) {
    std::string synset;
    json config;
    json d = store_details(store, row.distill_hash, row.eval_hash, synset, config);
    for (auto it = d.begin(); it != d.end(); ++it) row.details[it.key()] = it.value();
    if (row.distill_hash.empty() || synset.empty()) continue;
    if (!grids.count(row.distill_hash)) {
      std::string rel = "grids/" + safe_name(row.distill_hash) + ".png";
      GridImage g;
      if (opts.grids) {
        GridOptions go;
        go.max_classes = opts.grid_max_classes, go.max_ipc = opts.grid_max_ipc, go.data_root = opts.data_root;
        g = write_synset_grid(synset, row.dataset, truthy(config, "options", "zca"), (dir / rel).string(), go);
      } else {
        g.note = "grids not drawn (--no-grids)";
      }
      if (g.ok) sum.files.push_back(rel), sum.grids++;
      grids[row.distill_hash] = {g.ok ? rel : "", g.note, g.ok ? g.width : 0, g.ok ? g.height : 0};
    }
    std::tie(row.grid, row.grid_note, row.grid_width, row.grid_height) = grids[row.distill_hash];
    row.details["synthetic set"] = synset;
    row.details["image grid"] = row.grid_note;
  }

  // Leaderboards: (dataset, IPC) of accuracy rows; ranked by reproduced accuracy, quoted-only last (by paper value).
  std::map<std::pair<std::string, int64_t>, std::vector<const Row*>> boards;
  for (const auto& r : rows)
    if (r.metric == "accuracy" && (r.mean || r.paper)) boards[{r.dataset, r.ipc}].push_back(&r);
  for (auto& [k, v] : boards)
    std::stable_sort(v.begin(), v.end(), [](const Row* a, const Row* b) {
      if (a->mean.has_value() != b->mean.has_value()) return a->mean.has_value();
      if (a->mean) return *a->mean > *b->mean;
      return a->paper.value_or(-1e300) > b->paper.value_or(-1e300);
    });

  // Plots.
  std::vector<std::pair<std::string, std::string>> plots;  // (file, svg)
  {
    std::map<std::string, std::map<std::string, std::map<int64_t, const Row*>>> by_ds;  // dataset -> series -> ipc -> best
    for (const auto& [k, v] : boards)
      for (const Row* r : v)
        if (r->mean) {
          const std::string series = r->method + (r->kind == "submitted" ? " (submitted)" : "");
          auto& slot = by_ds[r->dataset][series][r->ipc];
          if (!slot) slot = r;
        }
    for (const auto& [ds, series] : by_ds) {
      std::vector<SvgPointSeries> ss;
      for (const auto& [name, pts] : series) {
        SvgPointSeries s{name, {}};
        for (const auto& [ipc, r] : pts)
          s.points.push_back({static_cast<double>(ipc), *r->mean, name + ", IPC " + std::to_string(ipc) + ": " + fmt_mean_std(r->mean, r->std)});
        ss.push_back(s);
      }
      plots.push_back({"plots/accuracy-vs-ipc-" + safe_name(ds) + ".svg",
                       svg_line_plot("accuracy vs IPC: " + ds, "images per class", "reproduced accuracy (%)", ss, true)});
    }
    std::map<std::string, SvgPointSeries> fid;
    for (const auto& r : rows)
      if (r.mean && r.paper && r.metric == "accuracy") {
        auto& s = fid[r.dataset];
        s.name = r.dataset;
        s.points.push_back({*r.paper, *r.mean, r.suite_id + " / " + r.cell_id + " (" + r.setting + "): paper " +
                                                   fmt_value(r.paper) + ", ours " + fmt_value(r.mean)});
      }
    std::vector<SvgPointSeries> fs_;
    for (auto& [k, s] : fid) fs_.push_back(s);
    plots.push_back({"plots/reproduced-vs-paper.svg",
                     svg_scatter_diagonal("reproduced vs paper (accuracy cells)", "paper (%)", "reproduced (%)", fs_)});
    std::vector<std::string> cats;
    SvgStack pass{"pass/above", "#2a7", {}}, fail{"fail", "#c22", {}}, notrun{"not run", "#bbb", {}},
        skip{"skipped", "#e9b", {}}, other{"other", "#69c", {}};
    for (const Suite* s : in.suites) {
      cats.push_back(s->id + " " + str_or(s->source, "table", ""));
      double p = 0, f = 0, nr = 0, sk = 0, ot = 0;
      for (const auto& r : in.cells) {
        if (r.suite != s) continue;
        const StatusInfo si = status_info(r.status);
        if (r.status == Status::Pass || r.status == Status::Above) p++;
        else if (si.is_failure) f++;
        else if (r.status == Status::NotRun) nr++;
        else if (si.is_skip || r.status == Status::Unimplemented) sk++;
        else ot++;
      }
      pass.values.push_back(p), fail.values.push_back(f), notrun.values.push_back(nr), skip.values.push_back(sk),
          other.values.push_back(ot);
    }
    plots.push_back({"plots/pass-fail.svg", svg_stacked_bars("cells per paper table", cats, {pass, fail, skip, notrun, other})});
    for (const auto& [f, svg] : plots) write_file(dir, f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg, sum);
  }

  // index.html
  {
    std::ostringstream o;
    o << page_head(in.title) << "<h1>" << h(in.title) << "</h1>\n<p>Tier <code>" << h(in.tier) << "</code>. Generated "
      << h(str_or(in.provenance, "generated_at", "")) << " from <code>" << h(str_or(in.provenance, "store", ""))
      << "</code> by ddbench " << h(str_or(in.provenance, "git_commit", "")) << ".</p>\n"
      << "<p>Rows: " << badge("in-tree") << " ran from a suite in this tree, " << badge("submitted")
      << " evaluated from a submission bundle (<code>ddbench submit</code>) under the dataset's leaderboard protocol, "
      << badge("quoted-only") << " the paper's number with no run here. Ranked by reproduced accuracy "
         "(mean ± std over n pooled runs); click a header to sort.</p>\n<h2>Leaderboards</h2>\n";
    for (const auto& [k, v] : boards) {
      o << "<h3 id=\"lb-" << h(safe_name(k.first)) << "-" << k.second << "\">" << h(k.first) << ", IPC " << k.second << "</h3>\n";
      o << leaderboard_table(v);
      sum.leaderboards++;
      sum.rows += static_cast<int>(v.size());
    }
    if (boards.empty()) o << "<p>No accuracy cells with a result or a paper value.</p>\n";
    o << "<h2>Plots</h2>\n<div class=\"plots\">\n";
    for (const auto& [f, svg] : plots) o << "<figure>" << svg << "<figcaption><a href=\"" << h(f) << "\">" << h(f) << "</a></figcaption></figure>\n";
    o << "</div>\n<h2>Paper tables</h2>\n<ul>\n";
    for (const Suite* s : in.suites)
      o << "<li><a href=\"" << h(suite_pages[s]) << "\">" << h(s->id) << "</a> — " << h(s->title) << " ("
        << h(str_or(s->source, "paper", "") + " " + str_or(s->source, "table", "")) << ")</li>\n";
    o << "</ul>\n<p><a href=\"rows.html\">All rows with provenance</a></p>\n" << page_tail();
    write_file(dir, "index.html", o.str(), sum);
  }
  // One page per suite: every cell with its status and reason.
  for (const Suite* s : in.suites) {
    std::ostringstream o;
    o << page_head(s->id) << "<p><a href=\"index.html\">← leaderboard</a></p><h1>" << h(s->id) << " — " << h(s->title)
      << "</h1>\n<p>Source: " << h(str_or(s->source, "paper", "") + " " + str_or(s->source, "table", "")) << " (<code>"
      << h(s->path) << "</code>). Band k = " << s->band.k << ", floor = " << s->band.floor << ".</p>\n";
    std::map<std::string, int> counts;
    for (const auto& r : in.cells)
      if (r.suite == s) counts[status_name(r.status)]++;
    o << "<p class=\"counts\">";
    for (const auto& [k, v] : counts) o << "<span class=\"v-" << h(k) << "\">" << h(k) << " " << v << "</span> · ";
    o << "</p>\n<table class=\"sortable cells\"><thead><tr><th data-key=\"cell\">cell</th><th data-key=\"setting\">setting</th>"
         "<th data-key=\"metric\">metric</th><th data-key=\"paper\">paper</th><th data-key=\"expected\">expected</th>"
         "<th data-key=\"ours\">ours</th><th data-key=\"n\">n</th><th data-key=\"delta\">Δ</th><th data-key=\"verdict\">status</th>"
         "<th data-key=\"reason\">reason</th><th data-key=\"links\">provenance</th></tr></thead><tbody>\n";
    for (const auto& r : in.cells) {
      if (r.suite != s) continue;
      const int id = cell_row[&r];
      const Row& row = rows[static_cast<size_t>(id - 1)];
      o << "<tr id=\"c-" << id << "\"><td>" << h(r.cell->id) << "</td><td>" << h(cell_setting(r)) << "</td><td>"
        << h(str_or(r.cell->spec, "metric", "")) << "</td>" << num_td(r.cell->paper.value, r.cell->paper.std)
        << num_td(r.expected, r.expected_std) << num_td(r.mean, r.std) << "<td class=\"num\" data-v=\"" << r.n << "\">"
        << h(pooled_runs_text(r)) << "</td>" << num_td(r.delta) << verdict_td(status_name(r.status)) << "<td>"
        << h(r.reason) << (r.cell->uncertain.empty() ? "" : " — uncertain: " + h(r.cell->uncertain)) << "</td><td><a href=\"rows.html#r"
        << id << "\">details</a>" << (row.grid.empty() ? "" : " · <a class=\"grid\" href=\"" + h(row.grid) + "\">images</a>")
        << "</td></tr>\n";
    }
    o << "</tbody></table>\n";
    for (const auto& rel : in.relations)
      if (rel.suite == s)
        o << "<p>Relation " << h(rel.relation.cell) << " beats " << h(rel.relation.beats) << ": <b>"
          << (!rel.checked ? "not checked" : rel.holds ? "holds" : "FAILS") << "</b> — " << h(rel.detail) << "</p>\n";
    o << page_tail();
    write_file(dir, suite_pages[s], o.str(), sum);
  }
  // rows.html: provenance of every row.
  {
    std::ostringstream o;
    o << page_head("provenance") << "<p><a href=\"index.html\">← leaderboard</a></p><h1>Provenance of every row</h1>\n";
    for (const auto& r : rows) {
      o << "<dl class=\"prov\" id=\"r" << r.id << "\"><dt>" << h(r.method) << ", " << h(r.dataset) << ", IPC " << r.ipc
        << " " << badge(r.kind) << "</dt>\n<dd>verdict " << h(r.verdict) << "; reproduced " << h(fmt_mean_std(r.mean, r.std))
        << " (n " << r.n << "); paper " << h(fmt_value(r.paper)) << "</dd>\n";
      if (!r.suite_page.empty()) o << "<dd><a href=\"" << h(r.suite_page) << "#c-" << r.id << "\">cell on its suite page</a></dd>\n";
      if (!r.grid.empty()) {
        // Small grids (28 px images, one column at IPC 1) scaled up by a whole factor, pixels kept sharp, within
        // 420 x 640 px.
        const int64_t scale = r.grid_width > 0 && r.grid_height > 0
                                  ? std::max<int64_t>(1, std::min({int64_t{4}, 420 / r.grid_width, 640 / r.grid_height}))
                                  : 1;
        o << "<dd><a class=\"grid\" href=\"" << h(r.grid) << "\"><img src=\"" << h(r.grid)
          << "\" alt=\"image grid\" style=\"max-width:420px;image-rendering:pixelated\""
          << (r.grid_width > 0 ? " width=\"" + std::to_string(r.grid_width * scale) + "\"" : std::string()) << "></a></dd>\n";
      }
      for (auto it = r.details.begin(); it != r.details.end(); ++it) {
        std::string v;
        if (it.value().is_array())
          for (const auto& x : it.value()) v += (v.empty() ? "" : "\n") + str_of(x);
        else
          v = str_of(it.value());
        if (!v.empty()) o << "<dd><b>" << h(it.key()) << "</b>: " << (v.find('\n') != std::string::npos ? "<pre>" + h(v) + "</pre>" : h(v)) << "</dd>\n";
      }
      o << "</dl>\n";
    }
    o << page_tail();
    write_file(dir, "rows.html", o.str(), sum);
  }
  return sum;
}

// Listed with the stream formats (`ddbench list formats`, the --format check); `ddbench report` sees `site`
// and calls write_html_site above.
DDBENCH_REGISTER_REPORTER(ReporterInfo{"html",
                                       "a static site (--out DIR): leaderboards, SVG plots, image grids; works from file://",
                                       nullptr, true});

}  // namespace ddb
