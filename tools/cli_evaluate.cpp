// `ddbench evaluate`: a saved synthetic set (ddbench's or Python's torch.save) through a protocol.
#include "cli_common.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "core/hashing.h"
#include "datasets/registry.h"
#include "harness/check.h"
#include "harness/eval_protocol.h"
#include "harness/runner.h"
#include "harness/runtime.h"
#include "harness/shifted_tests.h"
#include "harness/synset_io.h"
#include "harness/zca.h"
#include "methods/method.h"

namespace ddb::cli {

namespace fs = std::filesystem;

void register_evaluate_command(CLI::App& app) {
  {
    auto* c = app.add_subcommand("evaluate", "Evaluate a saved synthetic set (ddbench's or Python's torch.save)");
    static std::string file, dataset, protocol = "dc", net = "ConvNet", augment = "none", data_root, device = "auto",
                       stack_runs = "auto", cache_dir = default_cache_dir();
    static int64_t epochs = 300, runs = 1, seed = 0;
    static int threads = 0, index = 0;
    static bool zca = false;
    static std::vector<std::string> ood;
    static int64_t test_every = 0, keep_from = -1, steps = 0, teacher_epochs = 0, batch_train = 0;
    static std::string teacher_net;
    c->add_option("file", file, "tensor file: {'images','labels'} dict, (images, labels) pair, or list of pairs")->required();
    c->add_option("--dataset", dataset, "dataset whose test split is used (default: the sidecar's)");
    c->add_option("--protocol", protocol, "eval protocol (ddbench list protocols)")->capture_default_str();
    c->add_option("--net", net, "evaluation network")->capture_default_str();
    c->add_option("--epochs", epochs,
                  "the protocol's epochs (dc, mtt, trustdd: the reference's Epoch, Epoch+1 are trained; idc: exactly "
                  "these); default: the protocol's (300; idc 1000)")->check(at_least(0));
    c->add_option("--augment", augment,
                  "none | dsa | dc_aug (dc, mtt, trustdd); none | dsa | dsa+cutmix (idc); rded (kd; soft_label_ce also "
                  "none); default: the protocol's (none; idc dsa+cutmix; kd, soft_label_ce rded; cl_gdumb dsa)");
    c->add_option("--runs", runs, "fresh networks to train")->check(at_least(1))->capture_default_str();
    c->add_option("--seed", seed, "seed of the first run")->check(at_least(0))->capture_default_str();
    c->add_option("--ood", ood,
                  "protocol trustdd: OOD test sets to score the trained nets against (gaussian-noise, uniform-noise, or "
                  "dataset names: ddbench list datasets); a set with outliers ('outliers' in the file) trains with OE. "
                  "Protocols dc, mtt, idc, pdd: shifted test sets generated from the test split (rdd-noise, rdd-blur, "
                  "rdd-invert: accuracy@ and accuracy_drop@ rows; rdd-kmeans10: worst_group_accuracy@ and accuracy_drop@)");
    c->add_option("--test-every", test_every, "protocol trustdd: test accuracy every N epochs (default 50)")->check(at_least(1));
    c->add_option("--keep-from", keep_from,
                  "protocol trustdd: the best-test-accuracy model from this epoch on is scored (default 100; none "
                  "before it: the last epoch's model)")->check(at_least(0));
    c->add_option("--batch-train", batch_train, "training batch size (default: the protocol's; kd: RDED's by IPC)")->check(at_least(1));
    c->add_option("--steps", steps, "protocol cl_gdumb: the class-incremental steps (5 or 10 in DM / IDM); kip: the training updates (default 5000)")->check(at_least(1));
    c->add_option("--teacher-net", teacher_net,
                  "protocols kd, soft_label_ce: the teacher's net (default: --net), trained once into --cache");
    c->add_option("--teacher-epochs", teacher_epochs, "protocols kd, soft_label_ce: the teacher's epochs (default 50)")->check(at_least(1));
    c->add_option("--index", index, "which set of a list of (images, labels) pairs")->check(at_least(0))->capture_default_str();
    c->add_option("--data-root", data_root, "where datasets live");
    c->add_option("--cache", cache_dir, "reusable artefacts such as the kd protocol's teacher (default $DDBENCH_CACHE, else ./cache)");
    c->add_option("--device", device, "cpu | cuda | auto")->capture_default_str();
    c->add_option("--threads", threads, "intra-op threads (default: all cores)")->check(at_least(1));
    c->add_option("--stack-runs", stack_runs,
                  "on | off | auto: train the --runs as one stacked model where the protocol and net allow (as\n"
                  "ddbench run --stack-runs; auto: on for GPUs, off on the CPU)")
        ->check(CLI::IsMember({"on", "off", "auto"}))
        ->capture_default_str();
    c->add_flag("--zca", zca, "ZCA-whiten the test split (fit on train, eps 0.1) for sets distilled on whitened data; "
                              "automatic when the sidecar's options have zca: true");
    c->callback(guarded([cmd = c] {
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
      {
        // Multi-formation sets (idc, idm) train the evaluation net on their decoded images, as in a suite run.
        const int64_t stored = set.size();
        set = decode_for_evaluation(set);
        if (set.size() != stored)
          std::cerr << "decoded " << stored << " stored images into " << set.size() << " (method "
                    << set.meta.value("method", std::string()) << ")\n";
      }
      json ej = {{"protocol", protocol}, {"net", net}, {"runs", runs}};
      if (cmd->count("--epochs")) ej["epochs"] = epochs;  // else the protocol's default
      if (cmd->count("--augment")) ej["augment"] = augment;
      if (!ood.empty()) ej["ood"] = ood;
      // What was given goes to the protocol as given (it says what does not apply); the rest are its defaults.
      if (cmd->count("--test-every")) ej["test_every"] = test_every;
      if (cmd->count("--keep-from")) ej["keep_from"] = keep_from;
      if (cmd->count("--steps")) ej["steps"] = steps;
      if (cmd->count("--batch-train")) ej["batch_train"] = batch_train;
      if (cmd->count("--teacher-net")) ej["teacher_net"] = teacher_net;
      if (cmd->count("--teacher-epochs")) ej["teacher_epochs"] = teacher_epochs;
      EvalSpec es = EvalSpec::from_json(ej);
      const ProtocolInfo& pinfo = protocol_registry().get(es.protocol);
      for (const auto& o : es.ood)  // before any training: a name the protocol cannot score
        if (es.protocol != "trustdd" && !(pinfo.shifted_sets && is_generated_shift_set(o)))
          throw UserError("--ood " + o + ": protocol " + es.protocol +
                          (pinfo.shifted_sets ? " scores the generated shifted test sets (rdd-noise, rdd-blur, rdd-invert, "
                                                "rdd-kmeans10); OOD detection sets need --protocol trustdd"
                                              : " scores no extra test sets"));
      // Seeds come from what is evaluated (the set's content, the data, the settings), never from
      // the file's name: a copied or renamed file gives the same numbers.
      const std::string eval_identity =
          short_hash(synset_content_hash(set) + "|" + data.identity + "|" + es.to_json().dump());
      std::vector<double> accs;
      std::map<std::string, std::vector<double>> rows;  // the protocol's other rows (trustdd: OOD metrics)
      const torch::Device dev = resolve_device(device);
      std::vector<uint64_t> seeds;
      for (int64_t r = 0; r < runs; ++r) seeds.push_back(derive_seed(eval_identity, static_cast<int>(seed + r), "evaluate"));
      long last = -1;
      // What the protocol's progress counts: epochs, or training steps where it does not train in epochs.
      const std::string unit = pinfo.uses_epochs ? " epoch " : " step ";
      const ProgressFn progress = [&last, &unit](const std::string& phase, long done, long total) {
        const long pct = total ? done * 100 / total : 0;
        if (pct / 25 != last / 25) std::cerr << phase << unit << done << "/" << total << "\n";
        last = pct;
      };
      const EvalRuns evaluated =
          evaluate_runs_of(set, data, es, seeds, dev, resolve_stack_runs(stack_runs, dev), progress, "eval",
                           EvalPaths(lo, cache_dir));
      if (evaluated.stacked) std::cerr << runs << " runs trained as one stacked model (--stack-runs)\n";
      if (stack_runs == "on" && runs > 1 && !evaluated.stacked) std::cerr << "runs one after the other: " << evaluated.why_not_stacked << "\n";
      const std::vector<EvalRunOutcome>& outcomes = evaluated.outcomes;
      for (size_t r = 0; r < outcomes.size(); ++r) {
        const EvalRunResult& res = outcomes[r].result;
        if (!outcomes[r].failure.empty()) {
          std::printf("run %zu: diverged (%s)\n", r + 1, outcomes[r].failure.c_str());
          continue;
        }
        accs.push_back(res.accuracy);
        std::printf("run %zu: accuracy %.2f%% (train loss %.4f, %.1f s)\n", r + 1, res.accuracy, res.train_loss, res.seconds);
        for (const auto& v : res.values)
          if (v.metric != "accuracy") rows[v.metric].push_back(v.value);
      }
      if (accs.empty()) throw Diverged("every run diverged");
      const auto [m, s] = mean_std(accs);
      const std::string epochs_text = unit == " epoch " ? ", " + std::to_string(es.epochs) + " epochs" : "";
      std::printf("%s on %s (%lld images, protocol %s, %s%s): accuracy %.2f ± %.2f (n=%zu)\n", file.c_str(), ds.c_str(),
                  static_cast<long long>(set.size()), protocol.c_str(), net.c_str(), epochs_text.c_str(), m, s, accs.size());
      for (const auto& [row, values] : rows) {
        const auto [rm, rs] = mean_std(values);
        std::printf("  %-32s %.2f ± %.2f (n=%zu)\n", row.c_str(), rm, rs, values.size());
      }
    }));
  }
}

}  // namespace ddb::cli
