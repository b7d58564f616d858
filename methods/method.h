// The method interface and its registry. A method declares its options (name, type, default, doc);
// suites pass options by name and anything unknown is an error listing the valid ones.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "harness/progress.h"
#include "harness/types.h"

namespace ddb {

struct OptionSpec {
  std::string name;
  std::string type;  // int | float | bool | string | list (a list of strings)
  json default_value;
  std::string doc;
  // True when the option at its default leaves the method's behaviour as it was before the option
  // existed (every matching-modifier option: a modifier at its default is off). Such an option at its
  // default stays out of the configuration hash, so adding a modifier does not reseed every existing
  // configuration (harness/plan.cpp config_hash).
  bool neutral_default = false;
};

// Resolved options of one run: every declared option present, typed.
class Options {
 public:
  Options() = default;
  explicit Options(json values) : values_(std::move(values)) {}
  int64_t integer(const std::string& name) const;
  double real(const std::string& name) const;
  bool flag(const std::string& name) const;
  std::string str(const std::string& name) const;
  std::vector<std::string> strings(const std::string& name) const;  // a `list` option
  const json& values() const { return values_; }

 private:
  const json& at(const std::string& name) const;
  json values_ = json::object();
};

struct DistillContext {
  const LoadedDataset& data;
  int64_t ipc = 1;
  std::string net = "ConvNet";  // distillation network
  Options options;
  uint64_t seed = 0;            // derived from the run identity; the runner also seeds torch with it
  torch::Device device = torch::kCPU;
  ProgressFn progress;
  // Where reusable artefacts live (expert trajectories, ...): content-addressed, shared by runs.
  std::string cache_dir = "cache";
  // The set at the evaluation points of a best_iter selection (after `updates` updates); set by the
  // runner only for methods whose MethodInfo says `snapshots`.
  std::function<void(int64_t updates, const SyntheticSet&)> snapshot;
  int64_t snapshot_every = 0, snapshot_from = 0;
  // Where datasets other than `data` are found (auxiliary outliers for OE: --data-root, ...).
  LoadOptions load;
  // Whether the set after `updates` updates is an evaluation point (0 and multiples of the interval,
  // from snapshot_from on, as the reference's eval_it_pool).
  bool snapshot_due(int64_t updates) const {
    return snapshot && snapshot_every > 0 && updates >= snapshot_from && updates % snapshot_every == 0;
  }
};

class Method {
 public:
  virtual ~Method() = default;
  virtual SyntheticSet distill(const DistillContext& ctx) = 0;
  // How the stored set becomes a training set for the eval protocol (identity for most methods;
  // multi-formation methods such as IDM/IDC expand it here).
  virtual SyntheticSet decode(const SyntheticSet& stored, const Options& options) const { return stored; }
};

struct MethodInfo {
  std::string name;
  std::string description;
  std::vector<OptionSpec> options;
  std::function<std::unique_ptr<Method>()> make;
  // A matching method: the matching modifiers' options (fyi, ...) are added to its schema the
  // first time the registry is read, and it builds a MatchingSeam from its options.
  bool matching = false;
  // distill() calls ctx.snapshot at the evaluation points, so best_iter selection can evaluate them.
  bool snapshots = false;
  // False: a suite run keeps no file of the set (`full`: the training split itself, gigabytes at the paper
  // tier); evaluating it again rebuilds it (same seed, same set). `ddbench distill --out` still writes it.
  bool stores_set = true;
  // False: the method ignores ipc and is named with ipc 0 (`full`: the whole training set). Every other
  // method distills ipc >= 1 images per class (check_ipc).
  bool takes_ipc = true;
};

class MethodRegistry {
 public:
  static MethodRegistry& instance();
  bool add(MethodInfo info);
  // Throws UserError listing the registered methods.
  const MethodInfo& get(const std::string& name) const;
  bool has(const std::string& name) const { return methods_.has(name); }
  std::vector<const MethodInfo*> all() const;
  std::string names_joined() const;

 private:
  // Adds the matching modifiers' options to matching methods. Done on first read because static
  // registration order across files is unspecified.
  void attach_modifier_options() const;
  mutable Registry<MethodInfo> methods_{"methods"};  // the one registry template (core/registry.h)
  mutable bool modifiers_attached_ = false;
};

// An option the method does not declare (yet): suites may encode options of later work.
struct UnknownOption : UserError {
  using UserError::UserError;
};

// Checks `given` against the method's schema (unknown name or wrong type -> UserError naming the
// option and listing the valid ones) and fills in the defaults.
json resolve_options(const MethodInfo& info, const json& given);

// UserError unless `ipc` suits the method: >= 1 images per class, or 0 for a method that takes none (`full`).
// One check for a suite cell (the planner) and `ddbench distill` (distill_job).
void check_ipc(const MethodInfo& info, int64_t ipc);

// The training set a stored set stands for: decoded by the method its sidecar names (multi-formation
// methods such as idc/idm store fewer, denser images), with the options it was distilled with. A set
// without a sidecar, or from a method not registered here, is returned as it is.
SyntheticSet decode_for_evaluation(const SyntheticSet& stored);

// Methods suites may name before they are implemented: the `methods` of planned/*.yaml (name -> description).
const std::map<std::string, std::string>& planned_methods();

}  // namespace ddb

#define DDBENCH_CONCAT_INNER(a, b) a##b
#define DDBENCH_CONCAT(a, b) DDBENCH_CONCAT_INNER(a, b)
// DDBENCH_REGISTER_METHOD(MethodInfo{...}); at namespace scope in the method's .cpp file.
#define DDBENCH_REGISTER_METHOD(...)                                           \
  static const bool DDBENCH_CONCAT(ddbench_method_registered_, __LINE__) = \
      ::ddb::MethodRegistry::instance().add(__VA_ARGS__)
