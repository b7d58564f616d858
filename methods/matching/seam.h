// The matching seam: what the seed papers change inside a matching method, in one place every
// matching method (dc, dsa, dm, idm, idc, cafe, datadam, mtt, tesla, ftd, ...) calls, so a paper's change is an option of
// those methods instead of a fork of each.
//
// A matching step, seen by the seam:
//   1. the method takes a class's (or a batch's) synthetic images and labels;
//   2. transform_synthetic()    -- FYI concatenates the batch with its flip here (labels duplicated);
//   3. the method augments (DSA), runs its net, and computes its loss as separate terms
//      (one per class, per layer, per parameter group: whatever its loss is a sum of);
//   4. reduce()                 -- sum by default; EDF drops low-loss terms, RDD takes a CVaR here;
//   5. backward, then on_pixel_gradient() on the synthetic images' gradient before the optimiser step
//      (EDF re-weights pixel gradients by Grad-CAM here).
// And where a method trains the network that supplies its matching signal on REAL data (IDC's net
// update, IDM's model queue): network_batch() may change that update's batch size and
// network_loss() its loss (RDD minimises CE + CVaR over clusters there).
//
// Modifiers register themselves (DDBENCH_REGISTER_MODIFIER) with the options that switch them on;
// those options are added to every method declared with `matching = true` in its MethodInfo.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "harness/nets/net.h"
#include "methods/method.h"

namespace ddb {

struct SynBatch {
  torch::Tensor images;  // [N, C, H, W], part of the autograd graph of the synthetic set
  torch::Tensor labels;  // int64 [N] or soft float [N, K]
};

// One batch of a network update on real data, as a modifier sees it.
struct NetworkBatch {
  NetImpl* net = nullptr;
  torch::Tensor images;      // the (augmented) batch the net was run on
  torch::Tensor labels;      // int64 [B]
  torch::Tensor per_sample;  // the host's per-sample training loss [B] (CE, or CutMix's mixed CE), in the graph
  // The current synthetic images the host would call "the synthetic samples" (normalised, detached,
  // class-major, `centre_labels` int64), for modifiers that group real samples around them.
  torch::Tensor centres;
  torch::Tensor centre_labels;
  int64_t step = 0;          // index of this batch within the current network update (0-based)
};

class MatchingModifier {
 public:
  virtual ~MatchingModifier() = default;
  virtual SynBatch transform_synthetic(SynBatch batch) const { return batch; }
  // A batch of the synthetic set in a method's inner-loop network training (DC/DSA's `epoch('train')`
  // between pixel steps); not evaluation.
  virtual SynBatch transform_inner_batch(SynBatch batch) const { return batch; }
  // Returns an empty tensor when this modifier does not change the reduction.
  virtual torch::Tensor reduce(const torch::Tensor& /*per_term*/) const { return {}; }
  virtual void on_pixel_gradient(torch::Tensor& /*grad*/) const {}
  // Real-data network updates: the batch size (0 = the host's), and the scalar loss (undefined = the
  // host's mean of per_sample).
  virtual int64_t network_batch() const { return 0; }
  virtual torch::Tensor network_loss(const NetworkBatch& /*batch*/) const { return {}; }
  virtual bool needs_centres() const { return false; }
  // Facts a set's metadata should record about how this modifier ran (empty: nothing).
  virtual json describe() const { return json(); }
};

struct ModifierInfo {
  std::string name;
  std::string description;
  std::vector<OptionSpec> options;                 // added to every matching method's schema
  std::function<bool(const Options&)> enabled;     // switched on by these options?
  std::function<std::unique_ptr<MatchingModifier>(const Options&)> make;
  // The methods whose schema gets these options; empty = every matching method. A modifier that acts
  // on a step only some methods have (RDD: a network update on real data) lists them, so a suite
  // cannot switch it on where it would silently do nothing.
  std::vector<std::string> hosts = {};
};

// A facade over the one registry template (core/registry.h). Modifiers apply in name order: static
// registration order across files is unspecified, so name order is the one every build reproduces.
class ModifierRegistry {
 public:
  static ModifierRegistry& instance();
  bool add(ModifierInfo info);
  std::vector<ModifierInfo> all() const;  // in name order
  // Every option of every modifier, in name order.
  std::vector<OptionSpec> option_specs() const;
  // The options of the modifiers that apply to `method` (hosts empty or naming it).
  std::vector<OptionSpec> option_specs_for(const std::string& method) const;

 private:
  Registry<ModifierInfo> modifiers_{"modifiers"};
};

// The modifiers one run has switched on, applied in name order.
class MatchingSeam {
 public:
  MatchingSeam() = default;  // no modifiers: identity transform, sum, untouched gradient
  explicit MatchingSeam(const Options& options);

  SynBatch transform_synthetic(SynBatch batch) const;
  SynBatch transform_inner_batch(SynBatch batch) const;
  bool empty() const { return modifiers_.empty(); }
  // per_term: 1-D tensor of loss terms. The scalar the method minimises.
  torch::Tensor reduce(const torch::Tensor& per_term) const;
  // Call between backward() and the optimiser step on the synthetic images (and only on them).
  void on_pixel_gradient(const torch::Tensor& images) const;
  // Real-data network updates (see MatchingModifier): the batch size to use, and the loss.
  int64_t network_batch(int64_t host_default) const;
  torch::Tensor network_loss(const NetworkBatch& batch) const;
  // Whether an active modifier reads NetworkBatch::centres (hosts skip building them otherwise).
  bool needs_centres() const;
  // {modifier name: describe()} of the active modifiers that describe themselves.
  json describe() const;
  // Steps 4-5 in one call, for methods with a single pixel optimiser: reduce the terms, back-propagate
  // to `images` only (nets' parameter gradients are not wanted here), run the pixel-gradient hook,
  // take the optimiser step. Returns the reduced loss.
  double pixel_step(const std::vector<torch::Tensor>& terms, const torch::Tensor& images,
                    torch::optim::Optimizer& optimizer) const;
  // Names of the active modifiers (recorded in the set's metadata).
  std::vector<std::string> active() const { return names_; }

 private:
  std::vector<std::unique_ptr<MatchingModifier>> modifiers_;
  std::vector<std::string> names_;
};

// Stacks scalar loss terms into the 1-D tensor reduce() takes.
torch::Tensor stack_terms(const std::vector<torch::Tensor>& terms);

}  // namespace ddb

#define DDBENCH_REGISTER_MODIFIER(...)                                       \
  static const bool DDBENCH_CONCAT(ddbench_modifier_registered_, __LINE__) = \
      ::ddb::ModifierRegistry::instance().add(__VA_ARGS__)
