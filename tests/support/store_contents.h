// A store's evaluations as comparable text, for tests that check two stores hold the same results
// (a pool or Slurm run against a local run, a merge, a reseeded run).
#pragma once
#include <map>
#include <string>

#include "harness/store.h"

namespace ddb::testing_support {

// key -> "status metric=value ..." for every evaluation in the store at `dir`.
inline std::map<std::string, std::string> store_contents(const std::string& dir) {
  Store store(dir);
  std::map<std::string, std::string> out;
  for (const auto& r : store.all_evaluations()) {
    std::string s = r.status;
    for (const auto& m : store.metrics_of(r.key)) s += " " + m.metric + "=" + std::to_string(m.value);
    out[r.key] = s;
  }
  return out;
}

}  // namespace ddb::testing_support
