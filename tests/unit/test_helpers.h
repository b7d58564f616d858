// Small helpers shared by the unit tests: temporary directories and files.
#pragma once
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

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

}  // namespace ddb::testing_support
