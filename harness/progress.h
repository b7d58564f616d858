// How long work reports where it is. Methods and protocols call it; the runner renders it.
#pragma once
#include <functional>
#include <string>

namespace ddb {

// phase: "distill", "eval 2/5", ...; done/total: steps within the phase.
using ProgressFn = std::function<void(const std::string& phase, long done, long total)>;

inline void report(const ProgressFn& fn, const std::string& phase, long done, long total) {
  if (fn) fn(phase, done, total);
}

}  // namespace ddb
