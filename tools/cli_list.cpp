// `ddbench list`: methods, datasets, nets, suites, protocols, metrics (registered and planned).
#include "cli_common.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "core/planned.h"
#include "datasets/reader_registry.h"
#include "datasets/registry.h"
#include "harness/report/reporter.h"
#include "harness/eval_protocol.h"
#include "harness/metrics.h"
#include "harness/nets/net.h"
#include "harness/ood_sets.h"
#include "harness/shifted_tests.h"
#include "harness/runtime.h"
#include "harness/suite.h"
#include "methods/method.h"

namespace ddb::cli {

namespace fs = std::filesystem;

void register_list_command(CLI::App& app) {
  {
    auto* c = app.add_subcommand("list", "List methods | datasets | nets | suites | protocols | metrics | readers | formats");
    static std::string what;
    static Common o;
    c->add_option("what", what, "methods | datasets | nets | suites | protocols | metrics | readers | formats")
        ->required()
        ->check(CLI::IsMember({"methods", "datasets", "nets", "suites", "protocols", "metrics", "readers", "formats"}));
    c->add_option("--data-root", o.data_root, "where datasets live (default $DDBENCH_DATA, else ./data)");
    c->callback(guarded([] {
      if (what == "methods") {
        for (const MethodInfo* m : MethodRegistry::instance().all()) {
          std::cout << m->name << "  " << m->description << "\n";
          for (const auto& op : m->options)
            std::cout << "    " << op.name << " (" << op.type << ", default " << op.default_value.dump() << "): " << op.doc << "\n";
        }
        std::cout << "\nplanned (suites name them; not implemented yet):";
        for (const auto& [k, v] : planned_methods())
          if (!MethodRegistry::instance().has(k)) std::cout << " " << k;
        std::cout << "\n";
      } else if (what == "datasets") {
        LoadOptions lo;
        lo.data_root = o.data_root;
        for (const auto& s : dataset_specs()) {
          // made at evaluation time by harness/ood_sets (noises) and harness/shifted_tests (RDD's shifted sets)
          const bool generated = is_generated_ood_set(s.name) || is_generated_shift_set(s.name);
          const bool here = generated || dataset_available(s.name, lo);
          std::cout << s.name << "  [" << (generated ? "generated" : here ? "available" : "missing") << "] " << s.info.num_classes << " classes, "
                    << s.info.shape.channels << "x" << s.info.shape.height << "x" << s.info.shape.width << ", reader "
                    << s.reader << "\n";
          if (!here) std::cout << "    " << dataset_missing_reason(s.name, lo) << "\n    get it: " << s.howto << "\n";
        }
      } else if (what == "nets") {
        for (const auto& n : list_nets()) std::cout << n.name << "  " << n.description << "\n";
      } else if (what == "protocols") {
        for (const auto& [name, p] : protocol_registry().items()) {
          std::string produces;
          for (const auto& m : p.metrics) produces += (produces.empty() ? "" : ", ") + m;
          std::cout << name << " v" << p.version << "  " << p.description << " [metrics: " << produces << "]\n";
        }
        std::cout << "\nplanned (suites name them; not implemented yet):\n";
        for (const auto& [name, facts] : planned().section("protocols"))
          if (!find_protocol(name)) std::cout << "  " << name << "  " << str_or(facts, "description", "") << "\n";
      } else if (what == "readers") {  // dataset file formats (a manifest's reader:)
        for (const auto& [name, r] : dataset_reader_registry().items()) std::cout << name << "  " << r.description << "\n";
      } else if (what == "formats") {  // report formats (ddbench report --format)
        for (const auto& [name, r] : reporter_registry().items()) std::cout << name << "  " << r.description << "\n";
      } else if (what == "metrics") {
        for (const auto& [name, m] : metric_registry().items())
          std::cout << name << " (" << (m.higher_is_better ? "higher" : "lower") << " is better, " << m.kind
                    << " metric, " << m.aggregate << " over runs" << (m.unit.empty() ? "" : ", " + m.unit) << ")  "
                    << m.description << "\n";
        std::cout << "\nplanned (suites name them; not implemented yet):\n";
        for (const auto& [name, facts] : planned().section("metrics"))
          if (!find_metric(name))
            std::cout << "  " << name << " (" << str_or(facts, "direction", "higher") << " is better)  "
                      << str_or(facts, "description", "") << "\n";
      } else {
        for (const auto& f : find_suite_files((fs::path(source_root()) / "suites").string())) {
          try {
            const Suite s = load_suite(f);
            std::cout << s.id << "  " << s.cells.size() << " cells  " << f << "  " << s.title << "\n";
          } catch (const UserError& e) {
            std::cout << "INVALID " << f << ": " << std::string(e.what()).substr(0, 200) << "\n";
          }
        }
      }
    }));
  }
}

}  // namespace ddb::cli
