// Expert trajectories for trajectory matching (MTT buffer.py, TESLA, FTD buffer_FTD.py): networks
// trained on the real data with their parameters snapshotted after every epoch, cached on disk
// by content (dataset identity incl. ZCA + training spec) and shared by every run that needs them.
#pragma once
#include <ATen/CPUGeneratorImpl.h>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "harness/nets/net.h"
#include "harness/progress.h"
#include "harness/types.h"

namespace ddb {

// Puts the global CPU RNG back as it was when constructed. Expert training draws from it (seeded per
// expert); a method's distillation must see the same RNG stream whether its experts were cached or just
// trained.
class CpuRngRestore {
 public:
  CpuRngRestore() : gen_(at::detail::getDefaultCPUGenerator()) {
    std::lock_guard<std::mutex> lock(gen_.mutex());
    state_ = gen_.get_state();
  }
  ~CpuRngRestore() {
    std::lock_guard<std::mutex> lock(gen_.mutex());
    gen_.set_state(state_);
  }

 private:
  at::Generator gen_;
  at::Tensor state_;
};

struct ExpertSpec {
  std::string net = "ConvNet";
  int64_t epochs = 50;          // MTT --train_epochs: snapshots at init and after every epoch (epochs+1)
  double lr = 0.01;             // --lr_teacher
  double momentum = 0.0;        // --mom 0
  double weight_decay = 0.0;    // --l2 0
  int64_t batch = 256;          // --batch_train
  bool dsa = true;              // DSA (per-sample, non-Siamese) on real data during expert training
  std::string dsa_strategy;     // "" = Dsa::default_strategy_for(dataset)
  double sam_rho = 0.0;         // FTD: sharpness-aware expert training (SAM ascent radius); 0 = plain SGD (MTT)
  // FTD buffer_FTD.py trains with GSAM(adaptive=True, gsam_alpha=--alpha, default 0.4) and
  // run_buffer.sh's --rho_max = --rho_min = 0.01. Defaults here are plain SAM; the FTD method sets them.
  double sam_alpha = 0.0;       // GSAM surrogate-gap weight; 0 = SAM. Needs sam_rho > 0
  bool sam_adaptive = false;    // ASAM-style perturbation scaled by |theta| (GSAM adaptive=True). Needs sam_rho > 0
  int64_t images_per_class = 0; // 0 = the whole training split (reference); >0 = a fixed subset (cpu tier)
  // TrustDD (Eq. 10, "L_T replaces L_ce ... the expert trajectories of MTT"): experts trained on
  // CE(real batch) + lambda_oe * H(U; f(outlier batch)), the outliers from the cache's sampler.
  // `outliers` says what they are (part of the key); in to_json() only when lambda_oe > 0, so the keys of
  // plain experts stay.
  double lambda_oe = 0.0;
  int64_t batch_oe = 0;  // outliers per real batch (the method's batch_oe); 0 = the real batch's size
  json outliers;
  json to_json() const;
};

// Flat parameter vector in net->parameters() order (all parameters, float32, detached).
torch::Tensor flatten_parameters(NetImpl& net);
// Copies `flat` (numel = parameter count, any device) into the net's parameters, without grad.
void load_flat_parameters(NetImpl& net, const torch::Tensor& flat);
// Number of scalar parameters (the length of flatten_parameters).
int64_t parameter_count(NetImpl& net);

// One sharpness-aware SGD step on the batch (x, y) with cross-entropy (FTD's GSAM; alpha = 0 and
// adaptive = false is SAM): see experts.cpp for the update. Returns the loss at the unperturbed
// parameters (detached).
torch::Tensor sharpness_aware_step(NetImpl& net, torch::optim::SGD& opt, const torch::Tensor& x,
                                   const torch::Tensor& y, double rho, double alpha, bool adaptive = false);

struct Trajectory {
  std::vector<torch::Tensor> snapshots;  // epochs+1 flat parameter vectors [P] float32 on the CPU
  double test_accuracy = -1;             // percent, after the last epoch
};

// One trajectory file (expert_<i>.pt, the cache's format and PDD's stage experts'): a pickled dict
// {snapshots [epochs+1, P] float32, test_accuracy, seed}, written atomically (temp file + rename).
void save_trajectory_file(const std::string& path, const std::vector<torch::Tensor>& snapshots, double test_accuracy,
                          uint64_t seed);
// UserError naming the file when it is missing, corrupt or holds no 2-D float `snapshots`.
Trajectory load_trajectory_file(const std::string& path);

class ExpertCache {
 public:
  // Directory: <cache_dir>/experts/<sha256-16 of {dataset identity (incl. zca), spec json, format version}>
  // with a meta.json (dataset identity, spec, created, ddbench version, per-expert accuracy) for humans.
  // The cache keeps its own handles on `data`'s tensors (no reference to `data` is kept).
  ExpertCache(const std::string& cache_dir, const LoadedDataset& data, ExpertSpec spec);
  const std::string& dir() const;
  const std::string& key() const { return key_; }
  // The spec as keyed: dsa_strategy resolved ("none" when dsa is off).
  const ExpertSpec& spec() const { return spec_; }
  // Experts 0 .. available()-1 are all complete on disk (the count of the unbroken prefix).
  int64_t available() const;
  bool has(int64_t index) const;  // expert_<index>.pt is on disk
  // The seed expert `index` is trained with (torch::manual_seed right before make_net): derived
  // from the cache key and the index, never the clock.
  uint64_t seed_of(int64_t index) const;
  // The training images the experts see: the whole train split, or the fixed per-class subset.
  const TensorSplit& training_split() const { return train_; }
  // Trains the missing experts among 0 .. count-1 (resumable: expert i is written atomically to
  // expert_<i>.pt via a temp file + rename once complete; a crash loses at most the expert in
  // progress). Progress: ("expert i/K", epoch, epochs).
  void ensure(int64_t count, torch::Device device, const ProgressFn& progress);
  // UserError naming the file if it is missing or not a trajectory of this spec.
  Trajectory load(int64_t index) const;
  std::string path_of(int64_t index) const;
  // The real outliers of an OE spec (n at a time, global RNG); required when spec().lambda_oe > 0.
  void set_outlier_sampler(std::function<torch::Tensor(int64_t n)> sampler) { outlier_sampler_ = std::move(sampler); }
  // How experts 0 .. count-1 were trained, from meta.json: the distinct devices and thread counts
  // ({"devices": ["cpu"], "threads": [1]}; "unrecorded" entries for experts meta.json lost). CPU
  // results depend on the thread count, so a distillation records it beside the experts' key.
  json trained_with(int64_t count) const;

 private:
  void train_one(int64_t index, torch::Device device, const ProgressFn& progress, const std::string& phase) const;
  void record_in_meta(int64_t index, const json& facts) const;

  LoadedDataset data_;
  TensorSplit train_;
  ExpertSpec spec_;
  std::string key_, dir_;
  int64_t params_ = 0;
  std::function<torch::Tensor(int64_t)> outlier_sampler_;
};

}  // namespace ddb
