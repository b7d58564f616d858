// YAML -> JSON conversion that keeps line numbers, so errors can name file and line.
#pragma once
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>

namespace ddb {

// Plain scalars become int / double / bool / null where they read as such; quoted scalars stay strings.
nlohmann::json yaml_to_json(const YAML::Node& node);
// 1-based line of a node (0 when unknown).
inline int yaml_line(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;  // an invalid (missing) node has no mark
  return node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
}
// Loads a file; throws UserError "file:line: why" on a syntax error.
YAML::Node load_yaml_file(const std::string& path);

}  // namespace ddb
