// JSON as the harness's lingua franca (configurations, metadata, provenance), torch-free.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace ddb {

using json = nlohmann::json;

// j[key] as a string, or `fallback` when the key is missing or null (suites write `distill_net: null`
// for methods that distill nothing).
inline std::string str_or(const json& j, const std::string& key, const std::string& fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return (it == j.end() || it->is_null() || !it->is_string()) ? fallback : it->get<std::string>();
}

}  // namespace ddb
