// The shared pieces of the command line (cli_common.h).
#include "harness/devices.h"
#include "cli_common.h"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>

#include "harness/check.h"
#include "harness/runtime.h"
#include "harness/suite.h"

namespace ddb::cli {

namespace fs = std::filesystem;

namespace {
int g_exit = 0;
}  // namespace

int exit_code() { return g_exit; }
void set_exit_code(int code) { g_exit = code; }

CLI::Validator at_least(long long min) {
  return CLI::Validator(
      [min](std::string& value) -> std::string {
        long long v = 0;
        size_t used = 0;
        try {
          v = std::stoll(value, &used);
        } catch (const std::exception&) {
          return "must be a whole number, got '" + value + "'";
        }
        if (used != value.size()) return "must be a whole number, got '" + value + "'";
        return v < min ? "must be >= " + std::to_string(min) + ", got " + value : std::string();
      },
      "INT>=" + std::to_string(min));
}

void add_common(CLI::App* c, Common& o, bool run_options) {
  c->add_option("--tier", o.tier, "cpu | paper | auto (paper when a GPU is present, else cpu)")->capture_default_str();
  c->add_option("--results", o.results, "result store directory (SQLite + synthetic sets)")->capture_default_str();
  c->add_option("--data-root", o.data_root, "where datasets live (default $DDBENCH_DATA, else ./data)");
  c->add_flag("--allow-cpu", o.allow_cpu, "run paper-tier cells without a GPU (slow)");
  if (run_options) {
    c->add_option("--threads", o.threads, "intra-op threads (default: all cores)")->check(at_least(1));
    c->add_option("--device", o.device, "cpu | cuda | cuda:N | auto")->capture_default_str();
  }
}

bool cuda_available() { return ddb::cuda_available(); }

std::string resolve_tier(const std::string& t) {
  if (t == "auto") return cuda_available() ? "paper" : "cpu";
  return t;
}

torch::Device resolve_device(const std::string& d) { return parse_device(d); }

PlanEnv make_env(const Common& o) {
  PlanEnv env;
  env.tier = resolve_tier(o.tier);
  env.cuda_available = cuda_available();
  env.allow_paper_on_cpu = o.allow_cpu;
  env.data.data_root = o.data_root;
  return env;
}

StoredResults read_stored_results(const std::vector<std::string>& suites, const Common& o, const std::string& title) {
  if (!fs::exists(fs::path(o.results) / "results.sqlite"))
    throw UserError("no result store in '" + o.results + "' (no results.sqlite): `ddbench run` writes one; pass --results DIR");
  StoredResults r;
  r.env = make_env(o);
  r.loaded = load_and_plan(suites, r.env);
  r.store = std::make_unique<Store>(o.results);
  r.report = make_report(r.loaded, *r.store, r.env.tier, title);
  return r;
}

std::vector<std::string> expand_suite_args(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const auto& a : args) {
    const std::vector<std::string> found = find_suite_files(a);
    // A directory without suites would otherwise "run" nothing, exit 0 and write an empty report.
    if (found.empty()) throw UserError(a + ": a directory without suite files (*.yaml, *.yml)");
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

Loaded load_and_plan(const std::vector<std::string>& args, const PlanEnv& env) {
  Loaded l;
  for (const auto& f : expand_suite_args(args)) {
    l.suites.push_back(std::make_unique<Suite>(load_suite(f)));
    for (auto& pc : plan_suite(*l.suites.back(), env)) l.cells.push_back(pc);
  }
  return l;
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

ReportInput make_report(const Loaded& l, const Store& store, const std::string& tier, const std::string& title) {
  ReportInput in;
  in.title = title;
  in.tier = tier;
  for (const auto& s : l.suites) in.suites.push_back(s.get());
  in.cells = check_cells(l.cells, store, tier);
  for (const auto& s : l.suites)
    for (auto& r : check_relations(*s, in.cells)) in.relations.push_back(r);
  in.submitted = submitted_rows(store);  // one leaderboard: the suites' cells and the store's submissions
  in.provenance = {{"generated_at", now_utc()}, {"git_commit", git_commit()}, {"store", store.dir()}};
  return in;
}

// Prints the verdict table; returns whether any cell or relation failed.
bool print_verdicts(const ReportInput& in) {
  bool failed = false;
  std::map<std::string, int> counts;
  for (const auto& r : in.cells) {
    counts[status_name(r.status)]++;
    failed |= status_info(r.status).is_failure;
    char line[512];
    std::snprintf(line, sizeof line, "%-16s %-28s %-34s ours %-16s expected %-16s %s", status_name(r.status).c_str(),
                  r.suite->id.c_str(), r.cell->id.c_str(),
                  r.mean ? (fmt_mean_std(r.mean, r.std) + " (" + std::to_string(r.n) + (r.n == r.n_expected ? "" : "/" + std::to_string(r.n_expected)) + ")").c_str() : "-",
                  r.expected ? fmt_mean_std(r.expected, r.expected_std).c_str() : "-", r.reason.substr(0, 120).c_str());
    std::cout << line << "\n";
  }
  for (const auto& rel : in.relations) {
    failed |= rel.checked && !rel.holds;
    std::cout << (rel.checked ? (rel.holds ? "relation holds   " : "relation FAILS   ") : "relation unchecked ")
              << rel.detail << "\n";
  }
  std::cout << "summary:";
  for (const auto& [k, v] : counts) std::cout << " " << k << "=" << v;
  std::cout << "\n";
  return failed;
}

void write_reports(const ReportInput& in, const std::string& dir, const std::string& name) {
  fs::create_directories(dir);
  for (const std::string fmt : {"markdown", "csv"}) {
    auto rep = make_reporter(fmt);
    const std::string path = (fs::path(dir) / (name + "." + rep->extension())).string();
    std::ofstream out(path + ".tmp");
    rep->write(in, out);
    out.close();
    fs::rename(path + ".tmp", path);
    std::cerr << "wrote " << path << "\n";
  }
}

std::string report_name_for(const std::vector<std::string>& args) {
  if (args.size() == 1) {
    // "suites/trustdd/cpu/" names the directory too (its filename() is empty: the report was ".md").
    fs::path p = fs::path(args[0]).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();
    const std::string name = fs::is_directory(p) ? p.filename().string() : p.stem().string();
    if (!name.empty() && name != "." && name != "..") return name;
  }
  return "leaderboard";
}

std::string report_title_for(const std::vector<std::string>& args) {
  const std::string name = report_name_for(args);
  return args.size() == 1 && name != "leaderboard" ? "ddbench leaderboard: " + name : "ddbench leaderboard";
}

json parse_option_value(const std::string& v) {
  json j = json::parse(v, nullptr, false);
  return j.is_discarded() ? json(v) : j;
}

}  // namespace ddb::cli
