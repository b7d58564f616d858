#include "harness/iteration_clock.h"

#include <utility>

namespace ddb {

IterationClock::IterationClock(std::string phase, Clock::time_point start) : phase_(std::move(phase)), start_(start) {}

void IterationClock::tick(const std::string& phase, long done, long total, Clock::time_point now) {
  if (phase != phase_ || done <= 0) return;
  if (first_done_ < 0) first_done_ = done, first_t_ = now;
  // A method that reports the same count twice (a final "done" after the loop) adds no iteration.
  if (done > last_done_) last_done_ = done, last_t_ = now;
  total_ = total;
}

ProgressFn IterationClock::wrap(ProgressFn inner) {
  return [this, inner = std::move(inner)](const std::string& phase, long done, long total) {
    tick(phase, done, total);
    if (inner) inner(phase, done, total);
  };
}

json IterationClock::summary() const {
  if (last_done_ <= 0) return nullptr;
  const auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  const bool steady = last_done_ > first_done_;
  const long iterations = steady ? last_done_ - first_done_ : last_done_;
  const double seconds = steady ? secs(last_t_ - first_t_) : secs(last_t_ - start_);
  return {{"phase", phase_},
          {"iterations_timed", iterations},
          {"seconds_timed", seconds},
          {"s_per_iteration", seconds / static_cast<double>(iterations)},
          {"iterations_total", total_},
          {"includes_setup", !steady},
          {"wall_s", secs(last_t_ - start_)}};
}

}  // namespace ddb
