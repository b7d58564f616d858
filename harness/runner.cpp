#include "harness/devices.h"
#include "harness/runner.h"
#include "harness/plugins.h"

#include <cstdlib>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <map>
#include <memory>

#include "harness/eval_protocol.h"
#include "harness/iteration_clock.h"
#include "harness/metrics.h"
#include "harness/nets/net.h"
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

namespace {

// The whitened copy when the configuration asks for ZCA and `loaded` is not whitened yet.
const LoadedDataset& data_for(const json& cfg, const LoadedDataset& loaded, std::unique_ptr<LoadedDataset>& holder) {
  if (wants_zca(cfg) && !has_zca(loaded)) {
    holder = std::make_unique<LoadedDataset>(with_zca(loaded));
    return *holder;
  }
  return loaded;
}

}  // namespace

SyntheticSet distill_job(const Job& job, const LoadedDataset& loaded, const RunnerOptions& opts, const ProgressFn& progress,
                         const std::string& synset_path) {
  const json& cfg = job.run.config;
  // `zca: true`: distillation and evaluation both see the whitened train/test (run_jobs passes the
  // cached whitened copy; ddbench distill passes the loaded data, whitened here).
  std::unique_ptr<LoadedDataset> whitened;
  const LoadedDataset& data = data_for(cfg, loaded, whitened);
  const MethodInfo& info = MethodRegistry::instance().get(cfg.at("method").get<std::string>());
  check_ipc(info, cfg.at("ipc").get<int64_t>());
  require_net(cfg.at("distill_net").get<std::string>());  // recorded in the key even where the method builds none
  const Options options(cfg.at("options"));
  torch::manual_seed(job.seed);
  // Seconds per iteration come from the method's own progress reports (harness/iteration_clock.h).
  IterationClock clock;
  DistillContext ctx{data, cfg.at("ipc").get<int64_t>(), cfg.at("distill_net").get<std::string>(), options, job.seed,
                     opts.device, clock.wrap(progress), opts.cache_dir, /*snapshot=*/nullptr, 0, 0, /*load=*/opts.data};
  // best_iter: the set at each evaluation point is saved beside the final one (FILE.it<N>.pt).
  // Saving draws no random numbers, so the final set is the same with or without them.
  const json points = snapshot_spec(job);
  json snapshots = json::array();
  if (!points.is_null()) {
    if (synset_path.empty()) throw UserError("selection best_iter needs the distillation saved (no synset path given)");
    ctx.snapshot_every = points.at("eval_every").get<int64_t>();
    ctx.snapshot_from = points.at("eval_from").get<int64_t>();
    ctx.snapshot = [&](int64_t updates, const SyntheticSet& s) {
      const std::string path = snapshot_path(synset_path, updates);
      save_synset(s, path);
      snapshots.push_back({{"iteration", updates}, {"path", path}});
    };
  }
  SyntheticSet set = info.make()->distill(ctx);
  if (!points.is_null()) {
    if (snapshots.empty())
      throw UserError("selection best_iter: " + info.name + " reached no evaluation point (eval_every " +
                      std::to_string(ctx.snapshot_every) + ", eval_from " + std::to_string(ctx.snapshot_from) + ")");
    set.meta["snapshots"] = snapshots;
  }
  json timing = clock.summary();
  if (!timing.is_null()) {
    timing["threads"] = torch::get_num_threads();
    set.meta["distill_timing"] = timing;
  }
  set.meta["method"] = info.name;
  set.meta["options"] = cfg.at("options");
  set.meta["dataset"] = cfg.at("dataset");
  set.meta["dataset_identity"] = data.identity;
  set.meta["ipc"] = cfg.at("ipc");
  set.meta["distill_net"] = cfg.at("distill_net");
  set.meta["seed"] = job.seed;
  set.meta["seed_index"] = job.seed_index;
  set.meta["distill_hash"] = job.run.distill_hash;
  set.meta["git_commit"] = git_commit();
  if (!synset_path.empty()) save_synset(set, synset_path);
  return set;
}

namespace {

// Test-only damage (the nightly report's deliberate regression, tests/regress): $DDBENCH_TEST_DAMAGE =
// "<fraction>" (every method) or "<method>:<fraction>" gives that fraction of the synthetic set's images,
// drawn with the job's seed, the next class's label (soft labels: the next class's row), so a method's
// numbers get worse while its configuration, keys and cells stay the same. The runner records it in the
// result's provenance. 0 when unset or for another method.
double test_damage_for(const std::string& method) {
  const char* env = std::getenv("DDBENCH_TEST_DAMAGE");
  if (!env || !*env) return 0;
  std::string spec = env;
  const auto colon = spec.find(':');
  if (colon != std::string::npos) {
    if (spec.substr(0, colon) != method) return 0;
    spec = spec.substr(colon + 1);
  }
  char* end = nullptr;
  const double f = std::strtod(spec.c_str(), &end);
  if (end == spec.c_str() || *end || !(f >= 0 && f <= 1))
    throw UserError("DDBENCH_TEST_DAMAGE='" + std::string(env) + "': expected <fraction in [0,1]> or <method>:<fraction>");
  return f;
}

SyntheticSet damaged(const SyntheticSet& set, double fraction, uint64_t seed, int64_t classes) {
  SyntheticSet out = set;
  const int64_t m = set.size();
  const int64_t k = std::min<int64_t>(m, static_cast<int64_t>(std::llround(fraction * static_cast<double>(m))));
  if (k == 0 || !set.labels.defined()) return out;
  torch::Generator gen = at::detail::createCPUGenerator(seed ^ 0x7e57da4aULL);
  const torch::Tensor pick = torch::randperm(m, gen, torch::kLong).slice(0, 0, k).to(set.labels.device());
  torch::Tensor labels = set.labels.clone();
  if (labels.dim() == 1) {
    labels.index_put_({pick}, (labels.index({pick}) + 1).remainder(classes));
  } else {
    labels.index_put_({pick}, labels.index({pick}).roll(1, 1));
  }
  out.labels = labels;
  return out;
}

// `runs` evaluation runs of one decoded set; each run's seed from `key` and the run index.
EvalOutput evaluate_runs(const SyntheticSet& train_set, const LoadedDataset& data, const EvalSpec& es,
                         const std::string& key, const RunnerOptions& opts, const ProgressFn& progress,
                         const std::string& phase_prefix) {
  EvalOutput out;
  const std::string salt = test_seed_salt();  // test-only: new evaluation seeds for the same key
  const std::string seed_key = salt.empty() ? key : key + "#salt:" + salt;
  std::vector<uint64_t> seeds;
  for (int r = 0; r < es.runs; ++r) seeds.push_back(derive_seed(seed_key, r, "eval"));
  const EvalRuns runs =
      evaluate_runs_of(train_set, data, es, seeds, opts.device, opts.stack_runs, progress, phase_prefix + "eval",
                       EvalPaths(opts.data, opts.cache_dir));
  for (size_t r = 0; r < runs.outcomes.size(); ++r) {
    const int run = static_cast<int>(r);
    // A diverged run is recorded as failed (check treats the cell as failed unless it allows failed
    // runs); the job's other runs go on.
    if (!runs.outcomes[r].failure.empty()) out.failures.push_back({run, runs.outcomes[r].failure});
    for (const auto& v : runs.outcomes[r].result.values) out.metrics.push_back({run, v.metric, v.value});
  }
  out.stacked = runs.stacked;
  return out;
}

double mean_of(const std::vector<MetricRow>& rows, const std::string& metric) {
  double sum = 0;
  int n = 0;
  for (const auto& m : rows)
    if (m.metric == metric) sum += m.value, ++n;
  return n ? sum / n : std::nan("");
}

}  // namespace

bool resolve_stack_runs(const std::string& mode, torch::Device device) {
  if (mode == "on") return true;
  if (mode == "off") return false;
  if (mode == "auto") return !device.is_cpu();
  throw UserError("--stack-runs must be on, off or auto, got '" + mode + "'");
}

json snapshot_spec(const Job& job) {
  const json& cfg = job.run.config;
  if (cfg.contains("metric") || !cfg.contains("eval")) return nullptr;  // a set metric: the final set only
  const EvalSpec es = EvalSpec::from_json(cfg.at("eval"));
  if (es.selection != "best_iter") return nullptr;
  return {{"eval_every", es.eval_every}, {"eval_from", es.eval_from}};
}

std::string snapshot_path(const std::string& synset_path, int64_t updates) {
  const std::filesystem::path p(synset_path);
  return (p.parent_path() / (p.stem().string() + ".it" + std::to_string(updates) + p.extension().string())).string();
}

EvalOutput evaluate_job(const Job& job, const SyntheticSet& set, const LoadedDataset& loaded, const RunnerOptions& opts,
                        const ProgressFn& progress) {
  const json& cfg = job.run.config;
  std::unique_ptr<LoadedDataset> whitened;
  const LoadedDataset& data = data_for(cfg, loaded, whitened);
  const MethodInfo& info = MethodRegistry::instance().get(cfg.at("method").get<std::string>());
  const Options options(cfg.at("options"));
  SyntheticSet train_set = info.make()->decode(set, options);
  // The distillation's timing belongs to the stored set; a decode (IDC's multi-formation) builds a new one.
  if (set.meta.contains("distill_timing") && !train_set.meta.contains("distill_timing"))
    train_set.meta["distill_timing"] = set.meta["distill_timing"];
  EvalOutput out;
  // A set metric (harness/set_metrics.h) is measured on the set itself: no evaluation networks.
  if (const SetMetricFn* set_metric = SetMetricRegistry::instance().find(str_or(cfg, "metric", ""))) {
    out.metrics.push_back({0, cfg.at("metric").get<std::string>(), (*set_metric)(train_set, data, cfg, job.seed, opts.device)});
    return out;
  }
  // Evaluation settings come from the configuration alone (the suite's eval block), never from the
  // set. Each run's seed comes from the job's evaluation key (distillation and evaluation identity).
  const EvalSpec es = EvalSpec::from_json(cfg.at("eval"));
  if (es.selection != "best_iter") return evaluate_runs(train_set, data, es, job.key(), opts, progress, "");
  // best_iter: every evaluation point's set, `runs` times each; the point with the best mean of the
  // cell's metric gives the job's values (per distillation, as distill.py's best_acc). A point whose
  // runs all diverged cannot be chosen.
  const json& points = set.meta.contains("snapshots") ? set.meta["snapshots"] : json::array();
  if (points.empty())
    throw std::runtime_error("selection best_iter: the distillation has no intermediate sets (distilled before "
                             "they were saved; run with --retry-failed after removing it, or a new --results)");
  const std::string metric = metric_base(job.run.metric);
  const bool higher = metric_higher_is_better(metric).value_or(true);
  json tried = json::array();
  std::optional<EvalOutput> best;
  double best_mean = 0;
  int64_t best_it = -1;
  for (const auto& p : points) {
    const int64_t it = p.at("iteration").get<int64_t>();
    const SyntheticSet point = info.make()->decode(load_synset(p.at("path").get<std::string>()), options);
    EvalOutput o = evaluate_runs(point, data, es, job.key() + "@it" + std::to_string(it), opts, progress,
                                 "it " + std::to_string(it) + " ");
    const double m = mean_of(o.metrics, job.run.metric);
    tried.push_back({{"iteration", it}, {"mean", std::isnan(m) ? json(nullptr) : json(m)}});
    if (std::isnan(m)) continue;
    if (!best || (higher ? m > best_mean : m < best_mean)) {
      best = std::move(o);
      best_mean = m;
      best_it = it;
    }
  }
  EvalOutput chosen = best ? std::move(*best) : evaluate_runs(train_set, data, es, job.key(), opts, progress, "");
  chosen.detail = {{"selection", "best_iter"}, {"metric", job.run.metric}, {"chosen_iteration", best_it}, {"points", tried}};
  return chosen;
}

JobOutput execute_job(const Job& job, const LoadedDataset& loaded, const RunnerOptions& opts, const ProgressFn& progress,
                      const std::string& synset_path) {
  std::unique_ptr<LoadedDataset> whitened;
  const LoadedDataset& data = data_for(job.run.config, loaded, whitened);
  JobOutput out;
  out.set = distill_job(job, data, opts, progress, synset_path);
  EvalOutput e = evaluate_job(job, out.set, data, opts, progress);
  out.metrics = std::move(e.metrics);
  out.failures = std::move(e.failures);
  return out;
}

namespace {

json base_provenance(const RunnerOptions& opts) {
  json p = {{"git_commit", git_commit()},     {"ddbench_version", ddbench_version()}, {"torch_version", torch_version()},
            {"device", device_name(opts.device)}, {"threads", torch::get_num_threads()}, {"host", hostname()},
            {"hardware", device_provenance(opts.device)}};  // CPU model; GPU model, driver, memory
  if (!loaded_plugins().empty()) p["plugins"] = loaded_plugins();  // out-of-tree methods: which file, which bytes
  return p;
}

std::string first_line_of_error(const std::exception& e) {
  std::string msg = e.what();
  const auto nl = msg.find("\nException raised from");  // drop LibTorch's C++ backtrace
  if (nl != std::string::npos) msg.resize(nl);
  return msg;
}

// The job's synthetic set: the stored one when its distillation is done and the file is there,
// else distilled now (and recorded). Throws with the reason when the distillation fails, now or before.
SyntheticSet synthetic_set_for(const Job& job, Store& store, const LoadedDataset& data, const RunnerOptions& opts,
                               const ProgressFn& progress, bool& reused) {
  const auto prev = store.find_distillation(job.distill_key());
  reused = false;
  // A stored set serves when its file is there and it kept the evaluation points this job needs;
  // otherwise the distillation runs again (same seed, so the same final set) and saves them.
  const json points = snapshot_spec(job);
  const bool has_points =
      points.is_null() || (prev && prev->provenance.value("snapshots", json()) == points);
  if (prev && prev->status == "done" && has_points && std::filesystem::exists(prev->synset_path)) {
    reused = true;
    return load_synset(prev->synset_path);
  }
  if (prev && prev->status == "failed" && !opts.retry_failed)
    throw std::runtime_error("distillation failed earlier (--retry-failed reruns it): " + prev->error);
  DistillRecord rec;
  rec.key = job.distill_key();
  rec.distill_hash = job.run.distill_hash;
  rec.config = job.run.distillation();
  rec.seed_index = job.seed_index;
  rec.seed = job.seed;
  // A method that keeps no file (`full`) is distilled again whenever a job needs its set.
  const bool stores_set = MethodRegistry::instance().get(job.run.config.at("method").get<std::string>()).stores_set;
  if (stores_set)
    rec.synset_path = (std::filesystem::path(store.dir()) / "synsets" / job.run.distill_hash /
                       ("s" + std::to_string(job.seed_index) + ".pt"))
                          .string();
  rec.provenance = base_provenance(opts);
  rec.provenance["dataset_identity"] = data.identity;
  rec.provenance["dataset_dir"] = data.source_dir;  // which copy was read
  if (!points.is_null()) rec.provenance["snapshots"] = points;
  store.mark_distillation_running(rec);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    SyntheticSet set = distill_job(job, data, opts, progress, rec.synset_path);
    rec.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    store.finish_distillation(rec);
    return set;
  } catch (const std::exception& e) {
    rec.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rec.error = first_line_of_error(e);
    store.fail_distillation(rec);
    throw std::runtime_error("distillation failed: " + rec.error);
  }
}

}  // namespace

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
    const json& cfg = job->run.config;
    const bool set_metric = cfg.contains("metric");
    const EvalSpec es = EvalSpec::from_json(cfg.at("eval"));
    const std::string label = job->run.label() + " seed " + std::to_string(job->seed_index + 1) + "/" +
                              std::to_string(job->run.seeds);
    printer.start_job(index, label, 1 + (set_metric ? 0 : static_cast<int>(es.runs)));
    EvalRecord rec;
    rec.key = job->key();
    rec.distill_key = job->distill_key();
    rec.distill_hash = job->run.distill_hash;
    rec.eval_hash = job->run.eval_hash;
    rec.config = cfg;
    rec.seed_index = job->seed_index;
    rec.provenance = base_provenance(opts);
    if (set_metric) {
      rec.provenance["set_metric"] = cfg.at("metric");
    } else {
      rec.provenance["protocol"] = es.protocol;
      rec.provenance["protocol_version"] = find_protocol(es.protocol) ? find_protocol(es.protocol)->version : "?";
    }
    store.mark_running(rec);
    // Test hook of the device pool's crash isolation (tests/cli): a process whose job key contains
    // $DDBENCH_TEST_ABORT_JOB dies here, as a segfault or an out-of-memory kill would end it.
    if (const char* abort_key = std::getenv("DDBENCH_TEST_ABORT_JOB"))
      if (*abort_key && rec.key.find(abort_key) != std::string::npos) std::abort();
    const auto jt0 = std::chrono::steady_clock::now();
    ++sum.ran;
    try {
      const LoadedDataset& data = cached_dataset(cfg.at("dataset").get<std::string>(), opts.data, wants_zca(cfg));
      rec.provenance["dataset_identity"] = data.identity;
      rec.provenance["dataset_dir"] = data.source_dir;
      auto progress = [&printer](const std::string& phase, long done, long total) { printer.update(phase, done, total); };
      bool reused = false;
      SyntheticSet set = synthetic_set_for(*job, store, data, opts, progress, reused);
      if (const double damage = test_damage_for(str_or(cfg, "method", "")); damage > 0) {
        set = damaged(set, damage, job->seed, std::max<int64_t>(data.info.num_classes, 2));  // the stored set stays intact
        rec.provenance["test_damage"] = damage;
      }
      if (!test_seed_salt().empty()) rec.provenance["test_seed_salt"] = test_seed_salt();
      rec.provenance["distillation_reused"] = reused;  // a stored set, evaluated again
      if (!set_metric && opts.stack_runs && stacked_runs_unsupported(es, data.info).empty()) printer.set_phases(2);
      const EvalOutput out = evaluate_job(*job, set, data, opts, progress);
      if (!out.detail.is_null()) rec.provenance["selection"] = out.detail;
      if (!set_metric) rec.provenance["eval_runs"] = out.stacked ? "stacked" : "sequential";
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
      printer.end_job(std::string(reused ? "done (stored set), " : "done, ") +
                      (out.metrics.empty() ? std::string("accuracy") : out.metrics.front().metric) + " " + accs);
    } catch (const std::exception& e) {
      // A diverging or crashing job is recorded with its reason; the others go on.
      rec.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - jt0).count();
      rec.error = first_line_of_error(e);
      store.fail(rec);
      ++sum.failed;
      printer.end_job("FAILED: " + rec.error.substr(0, 200));
    }
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace ddb
