// `ddbench distill`: one synthetic set, saved as a tensor file + JSON sidecar.
#include "cli_common.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "datasets/registry.h"
#include "harness/eval_protocol.h"
#include "harness/runner.h"
#include "harness/runtime.h"
#include "methods/method.h"

namespace ddb::cli {

namespace fs = std::filesystem;

void register_distill_command(CLI::App& app) {
  {
    auto* c = app.add_subcommand("distill", "Distill one synthetic set and save it (tensor file + JSON sidecar)");
    static std::string method, dataset, out, net = "ConvNet", data_root, device = "auto", cache_dir = default_cache_dir();
    static int64_t ipc = 10, seed = 0;
    static int threads = 0;
    static std::vector<std::string> opts;
    c->add_option("--method", method, "registry name (ddbench list methods)")->required();
    c->add_option("--dataset", dataset, "registry name (ddbench list datasets)")->required();
    c->add_option("--ipc", ipc, "images per class")->check(at_least(0))->capture_default_str();
    c->add_option("--out", out, "output tensor file (.pt)")->required();
    c->add_option("--net", net, "distillation network")->capture_default_str();
    c->add_option("-o,--option", opts, "method option name=value (repeatable)");
    c->add_option("--seed", seed, "seed index (the seed itself is derived from the distillation configuration, as in a suite run)")->check(at_least(0))->capture_default_str();
    c->add_option("--data-root", data_root, "where datasets live");
    c->add_option("--device", device, "cpu | cuda | auto")->capture_default_str();
    c->add_option("--threads", threads, "intra-op threads (default: all cores)")->check(at_least(1));
    c->add_option("--cache", cache_dir, "reusable artefacts such as expert trajectories (default $DDBENCH_CACHE, else ./cache)")
        ->capture_default_str();
    c->callback(guarded([] {
      init_runtime(threads);
      json options = json::object();
      for (const auto& kv : opts) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos) throw UserError("--option expects name=value, got '" + kv + "'");
        options[kv.substr(0, eq)] = parse_option_value(kv.substr(eq + 1));
      }
      const MethodInfo& info = MethodRegistry::instance().get(method);
      // The distillation part of a configuration alone: its seed, and so the set, are those of the
      // same distillation in any suite run (seed index `--seed`), whatever evaluates it there.
      json config = {{"method", method}, {"options", resolve_options(info, options)}, {"dataset", dataset},
                     {"ipc", ipc},       {"distill_net", net},                       {"eval", EvalSpec{}.to_json()}};
      const Job job = make_job(identify(config), static_cast<int>(seed));
      LoadOptions lo;
      lo.data_root = data_root;
      const LoadedDataset data = load_dataset(dataset, lo);
      RunnerOptions ro;
      ro.device = resolve_device(device);
      ro.cache_dir = cache_dir;
      long last = -1;
      auto progress = [&last](const std::string& phase, long done, long total) {
        const long pct = total ? done * 100 / total : 0;
        if (pct / 10 != last / 10 || done == total) std::cerr << phase << " " << done << "/" << total << "\n";
        last = pct;
      };
      const SyntheticSet set = distill_job(job, data, ro, progress, out);
      std::cerr << "wrote " << out << " (" << set.size() << " images"
                << (set.outliers.defined() ? " + " + std::to_string(set.outliers.size(0)) + " outliers" : std::string())
                << ", distillation " << job.distill_key() << ") and "
                << out << ".json\n";
    }));
  }
}

}  // namespace ddb::cli
