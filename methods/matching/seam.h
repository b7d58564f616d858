// The matching seam: what the seed papers change inside a matching method, in one place every
// matching method (dc, dsa, dm, idm, mtt, tesla, ftd) calls, so a paper's change is an option of
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
//
// Modifiers register themselves (DDBENCH_REGISTER_MODIFIER) with the options that switch them on;
// those options are added to every method declared with `matching = true` in its MethodInfo.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "methods/method.h"

namespace ddb {

struct SynBatch {
  torch::Tensor images;  // [N, C, H, W], part of the autograd graph of the synthetic set
  torch::Tensor labels;  // int64 [N] or soft float [N, K]
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
};

struct ModifierInfo {
  std::string name;
  std::string description;
  std::vector<OptionSpec> options;                 // added to every matching method's schema
  std::function<bool(const Options&)> enabled;     // switched on by these options?
  std::function<std::unique_ptr<MatchingModifier>(const Options&)> make;
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
