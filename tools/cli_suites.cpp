// `ddbench suites validate` and `ddbench suites coverage`: the suites' own health and gap report.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <array>
#include <map>
#include <sstream>

#include "cli_commands.h"
#include "datasets/registry.h"
#include "harness/eval_protocol.h"
#include "harness/metrics.h"
#include "harness/plan.h"
#include "harness/runtime.h"
#include "harness/suite.h"
#include "methods/method.h"

namespace ddb::cli {

namespace fs = std::filesystem;

namespace {

bool dataset_known(const std::string& name) {
  for (const auto& s : dataset_specs())
    if (s.name == name) return true;
  return false;
}

// Semantic checks of one cell's spec (structure was checked by the loader).
void check_spec(const Suite& s, const Cell& c, const json& spec, const std::string& tier, std::vector<std::string>& errors,
                std::vector<std::string>& warnings) {
  const std::string at = s.path + ":" + std::to_string(c.line) + ": cell '" + c.id + "'" +
                         (tier == "paper" ? "" : " (tier " + tier + ")") + ": ";
  const std::string method = str_or(spec, "method", "");
  const auto& reg = MethodRegistry::instance();
  if (!reg.has(method) && !planned_methods().count(method))
    errors.push_back(at + "field 'method': unknown method '" + method + "' (registered: " + reg.names_joined() +
                     "; or list it in methods/planned/<paper>.yaml)");
  const std::string dataset = str_or(spec, "dataset", "");
  if (!dataset_known(dataset)) errors.push_back(at + "field 'dataset': unknown dataset '" + dataset + "' (ddbench list datasets)");
  const std::string metric = str_or(spec, "metric", "");
  if (!find_metric(metric))
    errors.push_back(at + "field 'metric': unknown metric '" + metric + "' (known: " + metric_names_joined() + ")");
  const json ev = spec.value("eval", json::object());
  const std::string protocol = str_or(ev, "protocol", "");
  if (!find_protocol(protocol)) errors.push_back(at + "field 'eval.protocol': unknown protocol '" + protocol + "'");
  if (spec.contains("ood") && !spec["ood"].is_null()) {
    const json ood = spec["ood"].is_array() ? spec["ood"] : json::array({spec["ood"]});
    for (const auto& o : ood)
      if (!o.is_string() || !dataset_known(o.get<std::string>()))
        errors.push_back(at + "field 'ood': unknown dataset " + o.dump());
  }
  if (reg.has(method)) {
    try {
      resolve_options(reg.get(method), spec.value("options", json::object()));
    } catch (const UnknownOption& e) {
      warnings.push_back(at + e.what() + " (not implemented yet: the cell reports unimplemented)");
    } catch (const UserError& e) {
      errors.push_back(at + "field 'options': " + e.what());
    }
  }
}

}  // namespace

void register_suite_commands(CLI::App& app) {
  auto* suites = app.add_subcommand("suites", "Validate the suites and report coverage (what can run, and why not)");
  suites->require_subcommand(1);
  {
    auto* c = suites->add_subcommand("validate", "Parse every suite and check every cell; errors name file, line, field");
    static std::vector<std::string> paths;
    static bool show_warnings = false;
    c->add_option("paths", paths, "suite files or directories (default: the suites/ tree)");
    c->add_flag("-w,--warnings", show_warnings, "print each warning (options of methods not implemented yet)");
    c->callback([] {
      if (paths.empty()) paths = {(fs::path(source_root()) / "suites").string()};
      std::vector<std::string> errors, warnings;
      std::map<std::string, std::string> ids;  // suite id -> file
      int files = 0, cells = 0;
      for (const auto& p : paths) {
        std::vector<std::string> list;
        try {
          list = find_suite_files(p);
        } catch (const UserError& e) {
          errors.push_back(e.what());
          continue;
        }
        for (const auto& f : list) {
          ++files;
          try {
            const Suite s = load_suite(f);
            if (ids.count(s.id)) errors.push_back(f + ": suite id '" + s.id + "' also used by " + ids[s.id]);
            ids[s.id] = f;
            for (const auto& cell : s.cells) {
              ++cells;
              check_spec(s, cell, cell.spec, "paper", errors, warnings);
              for (const auto& [tier, _] : s.tiers) check_spec(s, cell, *s.spec_at(cell, tier), tier, errors, warnings);
            }
          } catch (const UserError& e) {
            errors.push_back(e.what());
          }
        }
      }
      for (const auto& e : errors) std::cout << "error: " << e << "\n";
      if (show_warnings)
        for (const auto& w : warnings) std::cout << "warning: " << w << "\n";
      std::cout << files << " suite files, " << cells << " cells: " << errors.size() << " errors, " << warnings.size()
                << " warnings" << (show_warnings || warnings.empty() ? "" : " (-w lists them)") << "\n";
      set_exit_code(errors.empty() ? 0 : 1);
    });
  }
  {
    auto* c = suites->add_subcommand("coverage", "Per paper and table: cells, runnable here, and why the rest cannot run");
    static std::vector<std::string> paths;
    static std::string out, data_root;
    c->add_option("paths", paths, "suite files or directories (default: the suites/ tree)");
    c->add_option("--out", out, "also write the Markdown report here (e.g. reports/coverage.md)");
    c->add_option("--data-root", data_root, "where datasets live");
    c->callback([] {
      if (paths.empty()) paths = {(fs::path(source_root()) / "suites").string()};
      PlanEnv cpu_env;
      cpu_env.tier = "cpu";
      cpu_env.cuda_available = torch::cuda::is_available();
      cpu_env.data.data_root = data_root;
      PlanEnv gpu_env = cpu_env;  // what would block the paper tier on a GPU machine with this data
      gpu_env.tier = "paper";
      gpu_env.cuda_available = true;
      PlanEnv full_env = gpu_env;  // ... and with every dataset fetched: what the code itself can run
      full_env.assume_datasets_present = true;
      std::ostringstream md;
      md << "# Suite coverage\n\nGenerated by `ddbench suites coverage` at commit " << git_commit()
         << ". For each table: its cells; how many run here at the `cpu` tier; how many could run at the `paper` tier on "
            "a GPU machine with the data present on this machine; how many with every dataset fetched (what the code "
            "can run); and the reasons the others cannot here (a cell counts once, under its first blocking "
            "reason).\n\n";
      std::map<std::string, std::array<int, 4>> per_paper;
      std::map<std::string, int> all_reasons;
      std::ostringstream rows;
      rows << "| suite | source | cells | cpu tier runnable | paper tier runnable (GPU) | paper tier, all data | "
              "blocking reasons (paper tier) |\n|---|---|---|---|---|---|---|\n";
      for (const auto& p : paths) {
        for (const auto& f : find_suite_files(p)) {
          Suite s;
          try {
            s = load_suite(f);
          } catch (const UserError& e) {
            rows << "| " << f << " | INVALID | | | | " << std::string(e.what()).substr(0, 200) << " |\n";
            continue;
          }
          int cpu_ok = 0, gpu_ok = 0, full_ok = 0;
          std::map<std::string, int> reasons;
          for (const auto& cell : s.cells) {
            if (plan_cell(s, cell, cpu_env).run) ++cpu_ok;
            if (plan_cell(s, cell, full_env).run) ++full_ok;
            const PlannedCell g = plan_cell(s, cell, gpu_env);
            if (g.run) {
              ++gpu_ok;
            } else {
              std::string r = status_name(g.status);
              if (g.status == Status::Unimplemented) r += ": " + g.reason.substr(0, g.reason.find(';'));
              if (g.status == Status::DatasetMissing) r += ": " + g.reason.substr(0, g.reason.find(' '));
              if (g.status == Status::NeedsPretrained) r += ": " + g.reason.substr(g.reason.find(':') + 2);
              if (g.status == Status::Invalid) r += ": " + g.reason.substr(0, 80);
              reasons[r]++;
              all_reasons[r]++;
            }
          }
          const std::string paper = str_or(s.source, "paper", "?");
          auto& pp = per_paper[paper];
          pp[0] += static_cast<int>(s.cells.size());
          pp[1] += cpu_ok;
          pp[2] += gpu_ok;
          pp[3] += full_ok;
          std::string rs;
          for (const auto& [k, v] : reasons) rs += (rs.empty() ? "" : "; ") + std::to_string(v) + " × " + k;
          rows << "| " << s.id << " | " << str_or(s.source, "table", "") << " | " << s.cells.size() << " | "
               << cpu_ok << " | " << gpu_ok << " | " << full_ok << " | " << rs << " |\n";
        }
      }
      md << "## Per paper\n\n| paper | cells | cpu tier runnable | paper tier runnable (GPU) | paper tier, all data "
            "|\n|---|---|---|---|---|\n";
      std::array<int, 4> tot{0, 0, 0, 0};
      for (const auto& [k, v] : per_paper) {
        md << "| " << k << " | " << v[0] << " | " << v[1] << " | " << v[2] << " | " << v[3] << " |\n";
        for (int i = 0; i < 4; ++i) tot[i] += v[i];
      }
      md << "| **all** | " << tot[0] << " | " << tot[1] << " | " << tot[2] << " | " << tot[3] << " |\n\n";
      md << "## What blocks the paper tier (all suites)\n\n| reason | cells |\n|---|---|\n";
      std::vector<std::pair<int, std::string>> sorted;
      for (const auto& [k, v] : all_reasons) sorted.push_back({v, k});
      std::sort(sorted.rbegin(), sorted.rend());
      for (const auto& [v, k] : sorted) md << "| " << k << " | " << v << " |\n";
      md << "\n## Per table\n\n" << rows.str();
      std::cout << md.str();
      if (!out.empty()) {
        fs::create_directories(fs::path(out).parent_path());
        std::ofstream(out) << md.str();
        std::cerr << "wrote " << out << "\n";
      }
    });
  }
}

}  // namespace ddb::cli
