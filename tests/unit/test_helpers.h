// Small helpers shared by the unit tests: temporary directories and files.
#pragma once
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace ddb::testing_support {

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
