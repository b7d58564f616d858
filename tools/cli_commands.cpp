// The verbs of the ddbench command line. Each callback sets the process exit code.
#include "cli_commands.h"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "datasets/registry.h"
#include "core/planned.h"
#include "harness/check.h"
#include "harness/eval_protocol.h"
#include "harness/metrics.h"
#include "harness/nets/net.h"
#include "harness/plan.h"
#include "harness/report/reporter.h"
#include "harness/runner.h"
#include "harness/runtime.h"
#include "harness/suite.h"
#include "harness/synset_io.h"
#include "harness/zca.h"
#include "methods/method.h"

namespace ddb::cli {

namespace fs = std::filesystem;

namespace {

int g_exit = 0;
constexpr int kSkipped = 77;  // ctest SKIP_RETURN_CODE

struct Common {
  std::string tier = "auto";
  std::string results = "results";
  std::string data_root;
  std::string device = "auto";
  int threads = 0;
  bool allow_cpu = false;
};

void add_common(CLI::App* c, Common& o, bool run_options) {
  c->add_option("--tier", o.tier, "cpu | paper | auto (paper when a GPU is present, else cpu)")->capture_default_str();
  c->add_option("--results", o.results, "result store directory (SQLite + synthetic sets)")->capture_default_str();
  c->add_option("--data-root", o.data_root, "where datasets live (default $DDBENCH_DATA, else ./data)");
  c->add_flag("--allow-cpu", o.allow_cpu, "run paper-tier cells without a GPU (slow)");
  if (run_options) {
    c->add_option("--threads", o.threads, "intra-op threads (default: all cores)");
    c->add_option("--device", o.device, "cpu | cuda | auto")->capture_default_str();
  }
}

bool cuda_available() { return torch::cuda::is_available(); }

std::string resolve_tier(const std::string& t) {
  if (t == "auto") return cuda_available() ? "paper" : "cpu";
  return t;
}

torch::Device resolve_device(const std::string& d) {
  if (d == "cpu") return torch::kCPU;
  if (d == "cuda") {
    if (!cuda_available()) throw UserError("--device cuda: no CUDA device (this LibTorch build or machine has none)");
    return torch::kCUDA;
  }
  if (d == "auto") return cuda_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  throw UserError("--device must be cpu, cuda or auto");
}

PlanEnv make_env(const Common& o) {
  PlanEnv env;
  env.tier = resolve_tier(o.tier);
  env.cuda_available = cuda_available();
  env.allow_paper_on_cpu = o.allow_cpu;
  env.data.data_root = o.data_root;
  return env;
}

std::vector<std::string> expand_suite_args(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const auto& a : args)
    for (const auto& f : find_suite_files(a)) files.push_back(f);
  return files;
}

struct Loaded {
  std::vector<std::unique_ptr<Suite>> suites;
  std::vector<PlannedCell> cells;
};

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
    fs::path p(args[0]);
    if (fs::is_directory(p)) return p.filename().string();
    return p.stem().string();
  }
  return "leaderboard";
}

// Wraps a callback: bad input becomes a one-line error and exit code 2, never a crash.
template <typename F>
std::function<void()> guarded(F f) {
  return [f]() {
    try {
      f();
    } catch (const UserError& e) {
      std::cerr << "ddbench: error: " << e.what() << "\n";
      g_exit = 2;
    } catch (const DatasetMissing& e) {
      std::cerr << "ddbench: dataset missing: " << e.what() << "\n";
      g_exit = 2;
    }
  };
}

json parse_option_value(const std::string& v) {
  json j = json::parse(v, nullptr, false);
  return j.is_discarded() ? json(v) : j;
}

}  // namespace

int exit_code() { return g_exit; }
void set_exit_code(int code) { g_exit = code; }

void register_commands(CLI::App& app) {
  // ---- run -------------------------------------------------------------------------------------
  {
    auto* c = app.add_subcommand("run", "Run suites: plan jobs (cells x seeds), distill, evaluate, store, check, report");
    static Common o;
    static std::vector<std::string> suites;
    static std::string report_dir = "reports", shard = "0/1", cache_dir = default_cache_dir();
    static bool retry_failed = false, no_report = false, quiet = false;
    c->add_option("suites", suites, "suite files or directories")->required();
    add_common(c, o, true);
    c->add_flag("--retry-failed", retry_failed, "rerun jobs recorded as failed (completed jobs are always skipped)");
    c->add_option("--report-dir", report_dir, "where the Markdown/CSV leaderboard goes")->capture_default_str();
    c->add_flag("--no-report", no_report, "do not write reports");
    c->add_option("--shard", shard, "i/n: run only every n-th job starting at i (Slurm array tasks)")->capture_default_str();
    c->add_flag("-q,--quiet", quiet, "no progress lines");
    c->add_option("--cache", cache_dir, "reusable artefacts such as expert trajectories (default $DDBENCH_CACHE, else ./cache)")
        ->capture_default_str();
    c->callback(guarded([] {
      init_runtime(o.threads);
      const PlanEnv env = make_env(o);
      Loaded l = load_and_plan(suites, env);
      const auto jobs = jobs_for(l.cells);
      int runnable = 0;
      for (const auto& pc : l.cells) runnable += pc.runnable() ? 1 : 0;
      RunnerOptions ro;
      ro.device = resolve_device(o.device);
      ro.data = env.data;
      ro.retry_failed = retry_failed;
      ro.quiet = quiet;
      ro.cache_dir = cache_dir;
      if (std::sscanf(shard.c_str(), "%d/%d", &ro.shard_index, &ro.shard_count) != 2 || ro.shard_count < 1 ||
          ro.shard_index < 0 || ro.shard_index >= ro.shard_count)
        throw UserError("--shard must be i/n with 0 <= i < n, got '" + shard + "'");
      std::cerr << "ddbench run: tier " << env.tier << ", device " << device_name(ro.device) << ", threads "
                << torch::get_num_threads() << ", " << l.cells.size() << " cells (" << runnable << " runnable here), "
                << jobs.size() << " jobs, store " << o.results << "\n";
      Store store(o.results);
      const RunSummary s = run_jobs(jobs, store, ro);
      std::cerr << "ddbench run: " << s.succeeded << " jobs done, " << s.failed << " failed, " << s.skipped_done
                << " already done, " << s.skipped_failed << " failed earlier, in " << static_cast<int>(s.seconds) << " s\n";
      const ReportInput in = make_report(l, store, env.tier, "ddbench leaderboard: " + report_name_for(suites));
      const bool failed = print_verdicts(in);
      if (!no_report) write_reports(in, report_dir, report_name_for(suites));
      g_exit = (failed || s.failed > 0) ? 1 : 0;
    }));
  }
  // ---- check / report / ctest-suite ------------------------------------------------------------
  {
    auto* c = app.add_subcommand("check", "Verdicts of suites from the stored results; exit 1 when a cell fails");
    static Common o;
    static std::vector<std::string> suites;
    c->add_option("suites", suites, "suite files or directories")->required();
    add_common(c, o, false);
    c->callback(guarded([] {
      const PlanEnv env = make_env(o);
      Loaded l = load_and_plan(suites, env);
      Store store(o.results);
      g_exit = print_verdicts(make_report(l, store, env.tier, "check")) ? 1 : 0;
    }));
  }
  {
    auto* c = app.add_subcommand("report", "Render the leaderboard of suites from the stored results");
    static Common o;
    static std::vector<std::string> suites;
    static std::string format = "markdown", out;
    c->add_option("suites", suites, "suite files or directories")->required();
    add_common(c, o, false);
    c->add_option("--format", format, "markdown | csv | json")->capture_default_str();
    c->add_option("--out", out, "output file (default: stdout)");
    c->callback(guarded([] {
      const PlanEnv env = make_env(o);
      Loaded l = load_and_plan(suites, env);
      Store store(o.results);
      const ReportInput in = make_report(l, store, env.tier, "ddbench leaderboard: " + report_name_for(suites));
      auto rep = make_reporter(format);
      if (out.empty()) {
        rep->write(in, std::cout);
      } else {
        std::ofstream f(out);
        rep->write(in, f);
      }
    }));
  }
  {
    auto* c = app.add_subcommand("ctest-suite", "Run + check one suite for ctest: exit 77 (skipped) when nothing runs here; results go to\n<results>/<git commit>, so a new commit recomputes every number and a rerun resumes");
    static Common o;
    static std::string suite;
    c->add_option("suite", suite, "suite file")->required();
    add_common(c, o, true);
    c->callback(guarded([] {
      init_runtime(o.threads);
      const PlanEnv env = make_env(o);
      Loaded l = load_and_plan({suite}, env);
      int runnable = 0;
      std::vector<const PlannedCell*> invalid;
      for (const auto& pc : l.cells) {
        runnable += pc.runnable() ? 1 : 0;
        if (pc.status == Status::Invalid) invalid.push_back(&pc);
      }
      // An invalid cell is a failure of the suite itself, on every machine: never skipped.
      if (!invalid.empty()) {
        std::cout << "FAILED: " << invalid.size() << " invalid cell" << (invalid.size() == 1 ? "" : "s") << " in "
                  << suite << "\n";
        for (const PlannedCell* pc : invalid) std::cout << "  invalid: " << pc->reason << "\n";
        g_exit = 1;
        return;
      }
      if (runnable == 0) {
        std::map<std::string, int> why;
        for (const auto& pc : l.cells) why[status_name(pc.status) + (pc.reason.empty() ? "" : ": " + pc.reason)]++;
        std::cout << "SKIPPED: no cell of " << suite << " can run here at tier " << env.tier << "\n";
        for (const auto& [k, v] : why) std::cout << "  " << v << " x " << k << "\n";
        if (!env.cuda_available) {  // what would still block these cells on a GPU machine
          PlanEnv gpu = env;
          gpu.cuda_available = true;
          std::map<std::string, int> deeper;
          for (const auto& s : l.suites)
            for (const auto& pc : plan_suite(*s, gpu))
              deeper[pc.runnable() ? std::string("runnable") : status_name(pc.status) + ": " + pc.reason]++;
          std::cout << "on a GPU machine with this machine's data:\n";
          for (const auto& [k, v] : deeper) std::cout << "  " << v << " x " << k << "\n";
        }
        g_exit = kSkipped;
        return;
      }
      RunnerOptions ro;
      ro.device = resolve_device(o.device);
      ro.data = env.data;
      // One store per commit: a rerun of the same build resumes, a new commit recomputes every number
      // instead of checking results an older build produced.
      Store store((std::filesystem::path(o.results) / git_commit()).string());
      const RunSummary s = run_jobs(jobs_for(l.cells), store, ro);
      const bool failed = print_verdicts(make_report(l, store, env.tier, "ctest"));
      g_exit = (failed || s.failed > 0) ? 1 : 0;
    }));
  }
  // ---- list ------------------------------------------------------------------------------------
  {
    auto* c = app.add_subcommand("list", "List methods | datasets | nets | suites | protocols | metrics");
    static std::string what;
    static Common o;
    c->add_option("what", what, "methods | datasets | nets | suites | protocols | metrics")
        ->required()
        ->check(CLI::IsMember({"methods", "datasets", "nets", "suites", "protocols", "metrics"}));
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
          const bool here = dataset_available(s.name, lo);
          std::cout << s.name << "  [" << (here ? "available" : "missing") << "] " << s.info.num_classes << " classes, "
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
  // ---- distill / evaluate ----------------------------------------------------------------------
  {
    auto* c = app.add_subcommand("distill", "Distill one synthetic set and save it (tensor file + JSON sidecar)");
    static std::string method, dataset, out, net = "ConvNet", data_root, device = "auto", cache_dir = default_cache_dir();
    static int64_t ipc = 10, seed = 0;
    static int threads = 0;
    static std::vector<std::string> opts;
    c->add_option("--method", method, "registry name (ddbench list methods)")->required();
    c->add_option("--dataset", dataset, "registry name (ddbench list datasets)")->required();
    c->add_option("--ipc", ipc, "images per class")->capture_default_str();
    c->add_option("--out", out, "output tensor file (.pt)")->required();
    c->add_option("--net", net, "distillation network")->capture_default_str();
    c->add_option("-o,--option", opts, "method option name=value (repeatable)");
    c->add_option("--seed", seed, "seed index (the seed itself is derived from the configuration)")->capture_default_str();
    c->add_option("--data-root", data_root, "where datasets live");
    c->add_option("--device", device, "cpu | cuda | auto")->capture_default_str();
    c->add_option("--threads", threads, "intra-op threads (default: all cores)");
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
      RunConfig rc;
      rc.config = {{"method", method}, {"options", resolve_options(info, options)}, {"dataset", dataset},
                   {"ipc", ipc},       {"distill_net", net},                       {"eval", EvalSpec{}.to_json()}};
      rc.config["eval"]["runs"] = 0;
      rc.hash = config_hash(rc.config);
      Job job{rc, static_cast<int>(seed), derive_seed(rc.hash, static_cast<int>(seed))};
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
      // eval runs = 0: distill and save only.
      JobOutput o2 = execute_job(job, data, ro, progress, out);
      std::cerr << "wrote " << out << " (" << o2.set.size() << " images) and " << out << ".json\n";
    }));
  }
  {
    auto* c = app.add_subcommand("evaluate", "Evaluate a saved synthetic set (ddbench's or Python's torch.save)");
    static std::string file, dataset, protocol = "dc", net = "ConvNet", augment = "none", data_root, device = "auto";
    static int64_t epochs = 300, runs = 1, seed = 0;
    static int threads = 0, index = 0;
    static bool zca = false;
    c->add_option("file", file, "tensor file: {'images','labels'} dict, (images, labels) pair, or list of pairs")->required();
    c->add_option("--dataset", dataset, "dataset whose test split is used (default: the sidecar's)");
    c->add_option("--protocol", protocol, "eval protocol (ddbench list protocols)")->capture_default_str();
    c->add_option("--net", net, "evaluation network")->capture_default_str();
    c->add_option("--epochs", epochs, "the protocol's Epoch (Epoch+1 are trained)")->capture_default_str();
    c->add_option("--augment", augment, "none | dsa | dc_aug")->capture_default_str();
    c->add_option("--runs", runs, "fresh networks to train")->capture_default_str();
    c->add_option("--seed", seed, "seed of the first run")->capture_default_str();
    c->add_option("--index", index, "which set of a list of (images, labels) pairs")->capture_default_str();
    c->add_option("--data-root", data_root, "where datasets live");
    c->add_option("--device", device, "cpu | cuda | auto")->capture_default_str();
    c->add_option("--threads", threads, "intra-op threads (default: all cores)");
    c->add_flag("--zca", zca, "ZCA-whiten the test split (fit on train, eps 0.1) for sets distilled on whitened data; "
                              "automatic when the sidecar's options have zca: true");
    c->callback(guarded([] {
      init_runtime(threads);
      SyntheticSet set = load_synset(file, index);
      std::string ds = dataset.empty() ? set.meta.value("dataset", std::string("")) : dataset;
      if (ds.empty()) throw UserError("--dataset is required (the file has no sidecar naming one)");
      LoadOptions lo;
      lo.data_root = data_root;
      LoadedDataset data = load_dataset(ds, lo);
      std::cerr << "dataset " << ds << ": " << (data.source_dir.empty() ? std::string("generated") : data.source_dir)
                << " (" << data.identity << ")\n";
      // A set distilled on whitened data lives in whitened space: its test split must go through the
      // same fit, or accuracy drops to chance (MTT issue #11).
      const json* so = set.meta.contains("options") ? &set.meta.at("options") : nullptr;
      if (zca || (so && so->is_object() && so->contains("zca") && so->at("zca").is_boolean() && so->at("zca").get<bool>())) {
        data = with_zca(data);
        std::cerr << "ZCA-whitened " << ds << " (" << data.identity << ")\n";
      }
      const auto& sh = data.info.shape;
      if (set.images.size(1) != sh.channels || set.images.size(2) != sh.height || set.images.size(3) != sh.width)
        throw UserError(file + ": images are " + std::to_string(set.images.size(1)) + "x" +
                        std::to_string(set.images.size(2)) + "x" + std::to_string(set.images.size(3)) + " but " + ds +
                        " is " + std::to_string(sh.channels) + "x" + std::to_string(sh.height) + "x" + std::to_string(sh.width));
      EvalSpec es = EvalSpec::from_json({{"protocol", protocol}, {"net", net}, {"epochs", epochs}, {"augment", augment}, {"runs", runs}});
      // Seeds come from what is evaluated (the set's content, the data, the settings), never from
      // the file's name: a copied or renamed file gives the same numbers.
      const std::string eval_identity =
          short_hash(synset_content_hash(set) + "|" + data.identity + "|" + es.to_json().dump());
      std::vector<double> accs;
      for (int64_t r = 0; r < runs; ++r) {
        long last = -1;
        auto progress = [&last, r](const std::string& phase, long done, long total) {
          const long pct = total ? done * 100 / total : 0;
          if (pct / 25 != last / 25) std::cerr << "run " << r + 1 << " " << phase << " epoch " << done << "/" << total << "\n";
          last = pct;
        };
        const auto res = evaluate_once(set, data, es, derive_seed(eval_identity, static_cast<int>(seed + r), "evaluate"),
                                       resolve_device(device), progress);
        accs.push_back(res.accuracy);
        std::printf("run %lld: accuracy %.2f%% (train loss %.4f, %.1f s)\n", static_cast<long long>(r + 1), res.accuracy,
                    res.train_loss, res.seconds);
      }
      const auto [m, s] = mean_std(accs);
      std::printf("%s on %s (%lld images, protocol %s, %s, %lld epochs): accuracy %.2f ± %.2f (n=%zu)\n", file.c_str(),
                  ds.c_str(), static_cast<long long>(set.size()), protocol.c_str(), net.c_str(),
                  static_cast<long long>(epochs), m, s, accs.size());
    }));
  }
  register_suite_commands(app);
  register_experts_command(app);
}

}  // namespace ddb::cli
