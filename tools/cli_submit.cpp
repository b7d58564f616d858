// `ddbench submit`: a submission bundle (examples/submission/README.md) checked, evaluated under the leaderboard
// protocol of each dataset and stored as rows marked submitted.
#include "cli_common.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "core/hashing.h"
#include "datasets/registry.h"
#include "harness/check.h"
#include "harness/eval_protocol.h"
#include "harness/plan.h"
#include "harness/runtime.h"
#include "harness/submission.h"
#include "harness/synset_io.h"

namespace ddb::cli {

namespace fs = std::filesystem;

namespace {

std::string first_line(const std::string& s) {
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// A submitted set's identity, as the store keys rows: <distill_hash>/s<file>/<eval_hash>. The method
// name is not a registered method, so the distillation hash is formed here (config_hash checks the
// name against the method registry); the evaluation hash is formed as the planner forms it.
struct Identity {
  json config;  // {method, options, dataset, ipc, distill_net, eval}
  std::string distill_hash, eval_hash;
  json distillation() const {
    json d = config;
    d.erase("eval");
    return d;
  }
};

struct Planned {
  const SubmittedSet* set;
  EvalSpec spec;
  Identity run;
};

}  // namespace

void register_submit_command(CLI::App& app) {
  auto* c = app.add_subcommand(
      "submit",
      "Check a submission bundle (folder or .tar.gz with submission.yaml, examples/submission/README.md), evaluate each set "
      "under the leaderboard protocol of its dataset and store the results as submitted rows");
  static std::string bundle, results = "results", data_root, device = "auto";
  static int threads = 0;
  static bool dry_run = false;
  static uint64_t max_file_bytes = SubmissionLimits{}.max_file_bytes;
  static uint64_t max_total_bytes = SubmissionLimits{}.max_total_bytes;
  static double max_ratio = SubmissionLimits{}.max_ratio;
  c->add_option("bundle", bundle, "a folder or .tar.gz holding submission.yaml")->required();
  c->add_flag("--dry-run", dry_run, "check the bundle only: no evaluation, nothing stored");
  c->add_option("--results", results, "result store directory")->capture_default_str();
  c->add_option("--data-root", data_root, "where datasets live (default $DDBENCH_DATA, else ./data)");
  c->add_option("--threads", threads, "intra-op threads (default: all cores)")->check(at_least(1));
  c->add_option("--device", device, "cpu | cuda | auto")->capture_default_str();
  c->add_option("--max-file-bytes", max_file_bytes, "largest set file (and archive entry) accepted")->capture_default_str();
  c->add_option("--max-total-bytes", max_total_bytes, "a .tar.gz: most bytes its entries may expand to")->capture_default_str();
  c->add_option("--max-ratio", max_ratio, "a .tar.gz: highest uncompressed/compressed ratio (past 16 MiB)")->capture_default_str();
  c->callback(guarded([] {
    init_runtime(threads);
    SubmissionLimits lim;
    lim.max_file_bytes = max_file_bytes;
    lim.max_total_bytes = max_total_bytes;
    lim.max_ratio = max_ratio;
    const Submission sub = open_submission(bundle, lim);
    const std::string method = sub.meta.value("method", std::string());
    std::printf("submission %s: method %s, %zu set(s), bundle sha256 %s\n", bundle.c_str(), method.c_str(),
                sub.sets.size(), sub.bundle_sha256.c_str());
    std::vector<Planned> plan;
    for (const auto& s : sub.sets) {
      EvalSpec es = EvalSpec::from_json(leaderboard_eval(s.dataset));
      json contents = json::array();
      for (const auto& f : s.files) contents.push_back(f.content_hash);
      // The rows' identity: the method's name and what its sets are (content hashes, never file names),
      // so an identical bundle maps onto the same rows and a re-submission is a no-op.
      json config = {{"method", method},
                     {"options", {{"submitted", true}, {"sets", contents}}},
                     {"dataset", s.dataset},
                     {"ipc", s.ipc},
                     {"distill_net", "submitted"},
                     {"eval", es.to_json()}};
      Identity id;
      id.config = config;
      id.distill_hash = "sub-" + short_hash(id.distillation().dump());
      id.eval_hash = short_hash(json{{"eval", config.at("eval")}}.dump());
      plan.push_back(Planned{&s, es, id});
      for (const auto& f : s.files)
        std::printf("  ok  %-14s ipc %-4lld %-40s %lld images, %s labels, %llu bytes, sha256 %.16s\n", s.dataset.c_str(),
                    static_cast<long long>(s.ipc), f.path.c_str(), static_cast<long long>(f.images), f.labels.c_str(),
                    static_cast<unsigned long long>(f.bytes), f.sha256.c_str());
      std::printf("  %s ipc %lld: protocol %s, %s, %lld epochs, augment %s, %lld runs per file\n", s.dataset.c_str(),
                  static_cast<long long>(s.ipc), es.protocol.c_str(), es.net.c_str(), static_cast<long long>(es.epochs),
                  es.augment.c_str(), static_cast<long long>(es.runs));
    }
    if (dry_run) {
      std::printf("dry run: the bundle passes every check; nothing evaluated or stored\n");
      return;
    }
    // Everything that can fail on input (datasets present) before any compute; nothing is written to the
    // store until every evaluation has run.
    LoadOptions lo;
    lo.data_root = data_root;
    std::map<std::string, LoadedDataset> data;
    for (const auto& p : plan)
      if (!data.count(p.set->dataset)) data.emplace(p.set->dataset, load_dataset(p.set->dataset, lo));
    const torch::Device dev = resolve_device(device);
    const fs::path store_file = fs::path(results) / "results.sqlite";
    std::unique_ptr<Store> existing;
    if (fs::exists(store_file)) existing = std::make_unique<Store>(results);

    struct Row {
      DistillRecord d;
      EvalRecord e;
      std::vector<MetricRow> metrics;
      std::vector<EvalFailure> failures;
      std::string source;  // file to copy into the store
      bool stored = false; // already in the store
    };
    std::vector<Row> rows;
    const json base = {{"submitted", true},
                       {"submission", sub.meta},
                       {"bundle_sha256", sub.bundle_sha256},
                       {"submission_yaml_sha256", sub.yaml_sha256},
                       {"git_commit", git_commit()},
                       {"ddbench_version", ddbench_version()},
                       {"torch_version", torch_version()},
                       {"device", dev.str()},
                       {"threads", torch::get_num_threads()}};
    for (const auto& p : plan) {
      const LoadedDataset& ds = data.at(p.set->dataset);
      const ProtocolInfo& pinfo = protocol_registry().get(p.spec.protocol);
      for (size_t i = 0; i < p.set->files.size(); ++i) {
        const SubmittedFile& f = p.set->files[i];
        Row row;
        row.source = sub.file_path(f);
        json prov = base;
        prov["file"] = {{"path", f.path}, {"sha256", f.sha256}, {"content_hash", f.content_hash}, {"bytes", f.bytes},
                        {"labels", f.labels}};
        prov["dataset_identity"] = ds.identity;
        row.d.key = p.run.distill_hash + "/s" + std::to_string(i);
        row.d.distill_hash = p.run.distill_hash;
        row.d.config = p.run.distillation();
        row.d.seed_index = static_cast<int>(i);
        row.d.seed = 0;  // nothing was distilled here
        row.d.provenance = prov;
        row.d.synset_path = (fs::path(results) / "submissions" / p.run.distill_hash / ("s" + std::to_string(i) + ".pt")).string();
        row.e.key = row.d.key + "/" + p.run.eval_hash;
        row.e.distill_key = row.d.key;
        row.e.distill_hash = p.run.distill_hash;
        row.e.eval_hash = p.run.eval_hash;
        row.e.config = p.run.config;
        row.e.seed_index = static_cast<int>(i);
        if (existing) {
          const auto prev = existing->find(row.e.key);
          if (prev && prev->status == "done") {
            row.stored = true;
            row.metrics = existing->metrics_of(row.e.key);
            row.failures = existing->failures_of(row.e.key);
            rows.push_back(std::move(row));
            continue;
          }
        }
        SyntheticSet set = load_synset(row.source);
        set.meta = json::object();
        // Seeds from what is evaluated, as `ddbench evaluate` derives them (--seed 0): a maintainer's re-run,
        // or `ddbench evaluate FILE` with these settings, gives the same numbers on the same device.
        const std::string eval_identity =
            short_hash(synset_content_hash(set) + "|" + ds.identity + "|" + p.spec.to_json().dump());
        prov["protocol"] = p.spec.protocol;
        prov["protocol_version"] = pinfo.version;
        prov["eval_identity"] = eval_identity;
        const auto t0 = std::chrono::steady_clock::now();
        for (int64_t r = 0; r < p.spec.runs; ++r) {
          try {
            const auto res = evaluate_once(set, ds, p.spec, derive_seed(eval_identity, static_cast<int>(r), "evaluate"), dev,
                                           nullptr, "eval", lo);
            for (const auto& v : res.values) row.metrics.push_back(MetricRow{static_cast<int>(r), v.metric, v.value});
            std::fprintf(stderr, "%s ipc %lld %s run %lld: accuracy %.2f%%\n", p.set->dataset.c_str(),
                         static_cast<long long>(p.set->ipc), f.path.c_str(), static_cast<long long>(r + 1), res.accuracy);
          } catch (const Diverged& e) {
            row.failures.push_back(EvalFailure{static_cast<int>(r), first_line(e.what())});
          }
        }
        row.e.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        row.e.provenance = prov;
        rows.push_back(std::move(row));
      }
    }
    existing.reset();
    bool wrote = false;
    if (std::any_of(rows.begin(), rows.end(), [](const Row& r) { return !r.stored; })) {
      Store store(results);
      for (auto& r : rows) {
        if (r.stored) continue;
        fs::create_directories(fs::path(r.d.synset_path).parent_path());
        fs::copy_file(r.source, r.d.synset_path, fs::copy_options::overwrite_existing);
      }
      // Every row of the submission in one transaction: all of it is stored, or none.
      store.transaction([&] {
        for (auto& r : rows) {
          if (r.stored) continue;
          r.d.status = r.e.status = "done";
          store.put_distillation(r.d);
          store.put_evaluation(r.e, r.metrics, r.failures);
          wrote = true;
        }
      });
    }
    std::printf("\n%-14s %5s %3s  %-16s %s\n", "dataset", "ipc", "n", "accuracy", "");
    size_t i = 0;
    for (const auto& p : plan) {
      std::vector<double> acc;
      size_t failed = 0;
      bool all_stored = true;
      for (size_t k = 0; k < p.set->files.size(); ++k, ++i) {
        for (const auto& m : rows[i].metrics)
          if (m.metric == "accuracy") acc.push_back(m.value);
        failed += rows[i].failures.size();
        all_stored = all_stored && rows[i].stored;
      }
      const auto [m, s] = mean_std(acc);
      std::printf("%-14s %5lld %3zu  %6.2f ± %-6.2f  %s%s\n", p.set->dataset.c_str(), static_cast<long long>(p.set->ipc),
                  acc.size(), m, s, all_stored ? "already in the store" : "stored",
                  failed ? (" (" + std::to_string(failed) + " diverged)").c_str() : "");
    }
    std::printf("%s %s (rows marked submitted; provenance: bundle sha256 %.16s)\n",
                wrote ? "results stored in" : "nothing new: every row was already in", results.c_str(),
                sub.bundle_sha256.c_str());
  }));
}

}  // namespace ddb::cli
