// Small helpers shared by the unit tests: temporary directories and files.
#pragma once
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "harness/plan.h"
#include "harness/store.h"

namespace ddb::testing_support {

// An evaluation record of configuration (distill_hash, eval_hash) at a seed index, keyed as the
// runner keys it.
inline EvalRecord eval_record(const std::string& distill_hash, const std::string& eval_hash, int seed_index) {
  EvalRecord r;
  r.distill_key = distill_hash + "/s" + std::to_string(seed_index);
  r.key = r.distill_key + "/" + eval_hash;
  r.distill_hash = distill_hash;
  r.eval_hash = eval_hash;
  r.config = nlohmann::json::object();
  r.seed_index = seed_index;
  return r;
}

inline std::filesystem::path temp_dir(const std::string& name) {
  static std::mt19937_64 rng(std::random_device{}());
  auto dir = std::filesystem::temp_directory_path() / ("ddbench-test-" + name + "-" + std::to_string(rng()));
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
  return path.string();
}

// A suite file `id` with the given `defaults` block (YAML lines indented two spaces), a cpu profile and
// `cells` (YAML list items), written to a temporary directory and loaded.
inline Suite suite_with(const std::string& id, const std::string& defaults, const std::string& cells) {
  const auto dir = temp_dir(id);
  const std::string text = "id: " + id + "\nsource: {paper: demo}\ndefaults:\n" + defaults +
                           "tiers:\n  cpu: {}\ncells:\n" + cells;
  return load_suite(write_file(dir / "s.yaml", text));
}

inline PlanEnv cpu_env() {
  PlanEnv e;
  e.tier = "cpu";
  return e;
}

}  // namespace ddb::testing_support
