// Evaluation protocols: how a synthetic set is turned into test accuracy. Named and versioned;
// every result records which protocol (and version) produced it.
#pragma once
#include <string>
#include <vector>

#include "harness/progress.h"
#include "harness/types.h"

namespace ddb {

struct EvalSpec {
  std::string protocol = "dc";
  std::string net = "ConvNet";
  int64_t epochs = 300;       // the reference's Epoch (Epoch + 1 are trained)
  std::string augment = "none";  // none | dsa | dc_aug
  int64_t runs = 1;           // fresh networks trained per synthetic set
  int64_t batch_train = 256;
  double lr_net = 0.01;       // `dc`; `mtt` uses the set's learned lr
  std::string dsa_strategy;   // empty: the dataset's default (no flip for digits)
  // Which number a run reports: `last` = the evaluation of the final set (VICO, DC-BENCH);
  // `best_iter` = the best mean over the distillation's evaluation points (MTT distill.py
  // best_acc). Recorded in to_json() when not `last` (so existing configuration hashes stay);
  // the planner reports best_iter cells as unimplemented until intermediate sets are evaluated.
  std::string selection = "last";

  json to_json() const;
  // From a suite cell's `eval` mapping; unknown protocol -> UserError listing them.
  static EvalSpec from_json(const json& j);
};

struct ProtocolInfo {
  std::string name;
  std::string version;
  std::string description;
  bool implemented;
};
const std::vector<ProtocolInfo>& protocol_infos();
const ProtocolInfo* find_protocol(const std::string& name);

struct EvalRunResult {
  double accuracy = 0;      // percent, after the last epoch
  double train_loss = 0;    // last epoch
  double seconds = 0;
};

// One evaluation run: a fresh network (seeded with `seed`) trained on the set, tested on data.test.
EvalRunResult evaluate_once(const SyntheticSet& set, const LoadedDataset& data, const EvalSpec& spec, uint64_t seed,
                            torch::Device device, const ProgressFn& progress = nullptr,
                            const std::string& phase = "eval");

}  // namespace ddb
