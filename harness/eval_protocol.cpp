#include "harness/eval_protocol.h"

#include <chrono>

#include "harness/augment/dc_aug.h"
#include "harness/augment/dsa.h"
#include "harness/nets/net.h"
#include "harness/train.h"

namespace ddb {

const std::vector<ProtocolInfo>& protocol_infos() {
  static const std::vector<ProtocolInfo> infos = {
      {"dc", "1",
       "VICO evaluate_synset: fresh net, SGD lr 0.01 mom 0.9 wd 5e-4, batch 256, Epoch+1 epochs, lr x0.1 after "
       "epoch Epoch//2+1 (new optimizer), last-epoch test accuracy",
       true},
      {"mtt", "1", "as dc, with the synthetic set's learned lr (MTT's args.lr_net = syn_lr)", true},
      {"idc", "0", "IDC's evaluation of its decoded (multi-formation) set", false},
      {"kd", "0", "soft-label knowledge-distillation evaluation (SRe2L / RDED)", false},
      {"soft_label_ce", "0", "cross-entropy on stored soft labels without a teacher (EDF appendix)", false},
      {"trustdd", "0", "TrustDD: best-epoch checkpoint, accuracy and OOD metrics", false},
      {"cl_gdumb", "0", "continual learning with GDumb-style replay of the synthetic set (IDM text)", false},
      {"kip", "0", "KIP's kernel evaluation", false},
      {"transfer_finetune", "0", "fine-tune on a transfer dataset (RDD: ImageNet-50 -> CUB-200)", false},
      {"idc_mmd", "0", "IDC evaluation with an MMD training pipeline (RDD appendix)", false},
      {"idc_rsc", "0", "IDC evaluation with RSC training (RDD appendix)", false},
      {"idc_hypo", "0", "IDC evaluation with HYPO training (RDD appendix)", false},
  };
  return infos;
}

const ProtocolInfo* find_protocol(const std::string& name) {
  for (const auto& p : protocol_infos())
    if (p.name == name) return &p;
  return nullptr;
}

json EvalSpec::to_json() const {
  json j{{"protocol", protocol}, {"net", net},         {"epochs", epochs},       {"augment", augment},
         {"runs", runs},         {"batch_train", batch_train}, {"lr_net", lr_net}, {"dsa_strategy", dsa_strategy}};
  if (selection != "last") j["selection"] = selection;  // absent = last: older configurations keep their hash
  return j;
}

EvalSpec EvalSpec::from_json(const json& j) {
  EvalSpec s;
  if (!j.is_object()) throw UserError("eval must be a mapping");
  s.protocol = str_or(j, "protocol", s.protocol);
  if (!find_protocol(s.protocol)) {
    std::string names;
    for (const auto& p : protocol_infos()) names += (names.empty() ? "" : ", ") + p.name;
    throw UserError("unknown eval protocol '" + s.protocol + "'; known: " + names);
  }
  s.net = str_or(j, "net", s.net);
  if (j.contains("epochs") && !j["epochs"].is_null()) s.epochs = j["epochs"].get<int64_t>();
  s.augment = str_or(j, "augment", s.augment);
  if (s.augment != "none" && s.augment != "dsa" && s.augment != "dc_aug")
    throw UserError("eval.augment '" + s.augment + "' is not supported (none, dsa, dc_aug)");
  s.runs = j.value("runs", s.runs);
  s.batch_train = j.value("batch_train", s.batch_train);
  s.lr_net = j.value("lr_net", s.lr_net);
  s.dsa_strategy = str_or(j, "dsa_strategy", s.dsa_strategy);
  s.selection = str_or(j, "selection", s.selection);
  if (s.selection != "last" && s.selection != "best_iter")
    throw UserError("eval.selection '" + s.selection + "' is not supported (last, best_iter)");
  return s;
}

EvalRunResult evaluate_once(const SyntheticSet& set, const LoadedDataset& data, const EvalSpec& spec, uint64_t seed,
                            torch::Device device, const ProgressFn& progress, const std::string& phase) {
  const ProtocolInfo* info = find_protocol(spec.protocol);
  if (!info || !info->implemented) throw UserError("eval protocol '" + spec.protocol + "' is not implemented");
  const auto t0 = std::chrono::steady_clock::now();
  // The reference seeds each evaluation net from the clock; we seed from the run identity so that
  // every number can be replayed.
  torch::manual_seed(seed);
  Net net = make_net(spec.net, data.info.shape, data.info.num_classes);
  net->to(device);

  TrainSchedule sched;
  sched.epochs = spec.epochs;
  sched.batch = spec.batch_train;
  sched.lr = spec.lr_net;
  if (spec.protocol == "mtt") {
    if (!set.learned_lr.defined())
      throw UserError("eval protocol 'mtt' needs a synthetic set with a learned lr (method did not learn one)");
    sched.lr = set.learned_lr.item<double>();
  }
  if (spec.augment == "dsa") {
    const Dsa dsa(spec.dsa_strategy.empty() ? Dsa::default_strategy_for(data.info.name) : spec.dsa_strategy);
    sched.augment = [dsa](const torch::Tensor& x) { return dsa(x, -1); };  // per-sample, as in evaluation
  } else if (spec.augment == "dc_aug") {
    const std::string strategy = dc_aug_strategy_for(data.info.name, spec.net);
    if (strategy != "none") sched.augment = [strategy](const torch::Tensor& x) { return dc_augment(x, strategy); };
  }
  const torch::Tensor images = set.images.to(device).detach();
  const torch::Tensor labels = set.labels.to(device).detach();
  EvalRunResult r;
  r.train_loss = train_classifier(*net, images, labels, sched, progress, phase);
  r.accuracy = test_accuracy(*net, data.test, device);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace ddb
