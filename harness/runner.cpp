#include "harness/runner.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>

#include "harness/eval_protocol.h"
#include "harness/progress_printer.h"
#include "harness/runtime.h"
#include "harness/set_metrics.h"
#include "harness/synset_io.h"
#include "harness/zca.h"
#include "methods/method.h"

namespace ddb {

std::string device_name(torch::Device d) { return d.str(); }

std::string default_cache_dir() {
  const char* env = std::getenv("DDBENCH_CACHE");
  return env && *env ? env : "cache";
}

namespace {

std::string hostname() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

// Datasets are loaded once per process and shared by all jobs that use them; the ZCA-whitened
// copy (fit on the train split) likewise.
const LoadedDataset& cached_dataset(const std::string& name, const LoadOptions& opts, bool zca = false) {
  static std::map<std::string, std::unique_ptr<LoadedDataset>> cache;
  const std::string key = zca ? name + "+zca" : name;
  auto it = cache.find(key);
  if (it == cache.end()) {
    auto d = zca ? std::make_unique<LoadedDataset>(with_zca(cached_dataset(name, opts)))
                 : std::make_unique<LoadedDataset>(load_dataset(name, opts));
    it = cache.emplace(key, std::move(d)).first;
  }
  return *it->second;
}

// Methods that train on whitened data (MTT and its followers' --zca) declare a `zca` option.
bool wants_zca(const json& config) {
  const auto o = config.find("options");
  if (o == config.end() || !o->is_object()) return false;
  const auto z = o->find("zca");
  return z != o->end() && z->is_boolean() && z->get<bool>();
}

}  // namespace

JobOutput execute_job(const Job& job, const LoadedDataset& loaded, const RunnerOptions& opts, const ProgressFn& progress,
                      const std::string& synset_path) {
  const json& cfg = job.run.config;
  // `zca: true`: distillation and evaluation both see the whitened train/test (run_jobs passes the
  // cached whitened copy; ddbench distill passes the loaded data, whitened here).
  std::unique_ptr<LoadedDataset> whitened;
  if (wants_zca(cfg) && !has_zca(loaded)) whitened = std::make_unique<LoadedDataset>(with_zca(loaded));
  const LoadedDataset& data = whitened ? *whitened : loaded;
  const MethodInfo& info = MethodRegistry::instance().get(cfg.at("method").get<std::string>());
  const Options options(cfg.at("options"));
  torch::manual_seed(job.seed);
  DistillContext ctx{data, cfg.at("ipc").get<int64_t>(), cfg.at("distill_net").get<std::string>(), options, job.seed,
                     opts.device, progress, opts.cache_dir};
  std::unique_ptr<Method> method = info.make();
  JobOutput out;
  out.set = method->distill(ctx);
  out.set.meta["method"] = info.name;
  out.set.meta["options"] = cfg.at("options");
  out.set.meta["dataset"] = cfg.at("dataset");
  out.set.meta["dataset_identity"] = data.identity;
  out.set.meta["ipc"] = cfg.at("ipc");
  out.set.meta["distill_net"] = cfg.at("distill_net");
  out.set.meta["seed"] = job.seed;
  out.set.meta["config_hash"] = job.run.hash;
  out.set.meta["git_commit"] = git_commit();
  if (!synset_path.empty()) save_synset(out.set, synset_path);
  const SyntheticSet train_set = method->decode(out.set, options);
  // A set metric (harness/set_metrics.h) is measured on the set itself: no evaluation networks.
  if (const SetMetricFn* set_metric = SetMetricRegistry::instance().find(str_or(cfg, "metric", ""))) {
    out.metrics.push_back({0, cfg.at("metric").get<std::string>(), (*set_metric)(train_set, data, cfg, job.seed, opts.device)});
    return out;
  }
  // Evaluation settings come from the configuration alone (the suite's eval block), never from the set.
  const EvalSpec es = EvalSpec::from_json(cfg.at("eval"));
  for (int r = 0; r < es.runs; ++r) {
    const std::string phase = "eval " + std::to_string(r + 1) + "/" + std::to_string(es.runs);
    try {
      const EvalRunResult er =
          evaluate_once(train_set, data, es, derive_seed(job.run.hash, job.seed_index, "eval" + std::to_string(r)),
                        opts.device, progress, phase);
      for (const auto& v : er.values) out.metrics.push_back({r, v.metric, v.value});
    } catch (const Diverged& e) {
      // Recorded as a failed run (check treats the cell as failed unless it allows failed runs);
      // the job's other runs go on.
      out.failures.push_back({r, e.what()});
    }
  }
  return out;
}

RunSummary run_jobs(const std::vector<Job>& jobs, Store& store, const RunnerOptions& opts) {
  RunSummary sum;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<const Job*> todo;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (static_cast<int>(i % opts.shard_count) != opts.shard_index) continue;
    ++sum.planned;
    const auto prev = store.find(jobs[i].key());
    if (prev && prev->status == "done") {
      ++sum.skipped_done;
      continue;
    }
    if (prev && prev->status == "failed" && !opts.retry_failed) {
      ++sum.skipped_failed;
      continue;
    }
    todo.push_back(&jobs[i]);
  }
  std::vector<std::string> groups;
  for (const Job* j : todo) groups.push_back(j->run.hash);
  ProgressPrinter printer(groups, opts.quiet);
  if (sum.skipped_done || sum.skipped_failed)
    printer.message("resuming: " + std::to_string(sum.skipped_done) + " jobs already done, " +
                    std::to_string(sum.skipped_failed) + " failed earlier (--retry-failed reruns them), " +
                    std::to_string(todo.size()) + " to run");
  int index = 0;
  for (const Job* job : todo) {
    ++index;
    const EvalSpec es = EvalSpec::from_json(job->run.config.at("eval"));
    const std::string label = job->run.label() + " seed " + std::to_string(job->seed_index + 1) + "/" +
                              std::to_string(job->run.seeds);
    printer.start_job(index, label, 1 + static_cast<int>(es.runs));
    RunRecord rec;
    rec.job_key = job->key();
    rec.config_hash = job->run.hash;
    rec.config = job->run.config;
    rec.seed_index = job->seed_index;
    rec.seed = job->seed;
    rec.synset_path =
        (std::filesystem::path(store.dir()) / "synsets" / job->run.hash / ("s" + std::to_string(job->seed_index) + ".pt"))
            .string();
    rec.provenance = {{"git_commit", git_commit()},
                      {"ddbench_version", ddbench_version()},
                      {"torch_version", torch_version()},
                      {"device", device_name(opts.device)},
                      {"threads", torch::get_num_threads()},
                      {"host", hostname()},
                      {"protocol", es.protocol},
                      {"protocol_version", find_protocol(es.protocol) ? find_protocol(es.protocol)->version : "?"}};
    store.mark_running(rec);
    const auto jt0 = std::chrono::steady_clock::now();
    ++sum.ran;
    try {
      const LoadedDataset& data =
          cached_dataset(job->run.config.at("dataset").get<std::string>(), opts.data, wants_zca(job->run.config));
      rec.provenance["dataset_identity"] = data.identity;
      rec.provenance["dataset_dir"] = data.source_dir;  // which copy was read
      auto progress = [&printer](const std::string& phase, long done, long total) { printer.update(phase, done, total); };
      JobOutput out = execute_job(*job, data, opts, progress, rec.synset_path);
      rec.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - jt0).count();
      store.finish(rec, out.metrics, out.failures);
      ++sum.succeeded;
      std::string accs;
      for (const auto& m : out.metrics) {
        char b[32];
        std::snprintf(b, sizeof b, "%s%.2f", accs.empty() ? "" : " ", m.value);
        accs += b;
      }
      for (const auto& f : out.failures) accs += " run" + std::to_string(f.eval_run + 1) + ":diverged";
      printer.end_job("done, " + (out.metrics.empty() ? std::string("accuracy") : out.metrics.front().metric) + " " + accs);
    } catch (const std::exception& e) {
      // A diverging or crashing job is recorded with its reason; the others go on.
      rec.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - jt0).count();
      rec.error = e.what();
      const auto nl = rec.error.find("\nException raised from");  // drop LibTorch's C++ backtrace
      if (nl != std::string::npos) rec.error.resize(nl);
      store.fail(rec);
      ++sum.failed;
      printer.end_job("FAILED: " + rec.error.substr(0, 200));
    }
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace ddb
