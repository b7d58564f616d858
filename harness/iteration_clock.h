// Seconds per distillation iteration, read off the progress a method reports. Papers quote "time per
// loop / iteration" (RDD App. D.3: IDC 70 s per loop, CVaR +30 s); ddbench measures the same thing on
// every method without asking them to time themselves: each method already reports
// ("distill", done, total) after its iterations, so the steady-state time per iteration is the time
// between the first and the last tick divided by the iterations between them. Set-up before the first
// tick (data loading, expert trajectories, the first iteration's warm-up) is left out; with a single
// tick the figure falls back to start-to-tick and says so (includes_setup).
#pragma once
#include <chrono>
#include <string>

#include "core/json.h"
#include "harness/progress.h"

namespace ddb {

class IterationClock {
 public:
  using Clock = std::chrono::steady_clock;
  // `phase` is the progress phase that counts iterations ("distill" for every method).
  explicit IterationClock(std::string phase = "distill", Clock::time_point start = Clock::now());
  // Record one progress report (call it from the ProgressFn the method gets).
  void tick(const std::string& phase, long done, long total, Clock::time_point now = Clock::now());
  // Wraps `inner`: every report is recorded here, then passed on.
  ProgressFn wrap(ProgressFn inner);
  // {"phase", "iterations_timed", "seconds_timed", "s_per_iteration", "iterations_total", "includes_setup",
  //  "wall_s" (start to the last tick)}; null when the method reported no iteration.
  json summary() const;

 private:
  std::string phase_;
  Clock::time_point start_, first_t_, last_t_;
  long first_done_ = -1, last_done_ = -1, total_ = 0;
};

}  // namespace ddb
