// ddbench: torch-free
#include "harness/progress_printer.h"

#include <unistd.h>

#include <cstdio>

namespace ddb {

std::string format_duration(double s) {
  if (s < 0) return "--";
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

ProgressPrinter::ProgressPrinter(std::vector<std::string> groups, bool quiet)
    : groups_(std::move(groups)), total_(static_cast<int>(groups_.size())), tty_(isatty(STDERR_FILENO)), quiet_(quiet), t0_(std::chrono::steady_clock::now()) {}

double ProgressPrinter::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

double ProgressPrinter::estimate(const std::string& group) const {
  auto it = group_time_.find(group);
  if (it != group_time_.end()) return it->second.first / it->second.second;
  return jobs_done_ ? job_seconds_sum_ / jobs_done_ : -1;
}

std::string ProgressPrinter::eta() const {
  const double in_job = std::chrono::duration<double>(std::chrono::steady_clock::now() - job_t0_).count();
  double left = 0;
  // The current job: from its own group's timing, else extrapolated from its progress fraction.
  const int cur = index_ - 1;
  if (cur >= 0 && cur < total_) {
    double est = estimate(groups_[cur]);
    if (group_time_.find(groups_[cur]) == group_time_.end() && job_fraction_ > 0.05) est = in_job / job_fraction_;
    if (est < 0) return "--";
    left += std::max(0.0, est - in_job);
  }
  for (int j = std::max(cur + 1, 0); j < total_; ++j) {
    const double est = estimate(groups_[j]);
    if (est < 0) return "--";
    left += est;
  }
  return format_duration(left);
}

void ProgressPrinter::start_job(int index, const std::string& label, int phases) {
  index_ = index;
  label_ = label;
  phases_ = std::max(1, phases);
  phase_no_ = 0;
  phase_.clear();
  job_fraction_ = 0;
  job_t0_ = std::chrono::steady_clock::now();
  emit("", true);
}

void ProgressPrinter::update(const std::string& phase, long done, long total) {
  if (phase != phase_) {
    if (!phase_.empty()) ++phase_no_;
    phase_ = phase;
  }
  const double within = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0;
  job_fraction_ = std::min(0.999, (std::min(phase_no_, phases_ - 1) + within) / phases_);
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s %ld/%ld", phase.c_str(), done, total);
  emit(buf, done == total && !tty_ ? false : false);
}

void ProgressPrinter::end_job(const std::string& outcome) {
  ++jobs_done_;
  job_fraction_ = 0;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - job_t0_).count();
  job_seconds_sum_ += secs;
  if (index_ >= 1 && index_ <= total_) {
    auto& g = group_time_[groups_[index_ - 1]];
    g.first += secs;
    g.second += 1;
  }
  if (quiet_) return;
  char buf[512];
  std::snprintf(buf, sizeof buf, "[%d/%d] %s: %s in %s | elapsed %s | ETA %s", index_, total_, label_.c_str(),
                outcome.c_str(), format_duration(secs).c_str(), format_duration(elapsed()).c_str(), eta().c_str());
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", buf);
  std::fflush(stderr);
}

void ProgressPrinter::message(const std::string& line) {
  if (quiet_) return;
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void ProgressPrinter::emit(const std::string& phase_text, bool force) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_emit_).count();
  if (!force && since < (tty_ ? 0.2 : 15.0)) return;
  last_emit_ = now;
  char buf[512];
  std::snprintf(buf, sizeof buf, "[%d/%d] %s | %s | elapsed %s | ETA %s", index_, total_, label_.c_str(),
                phase_text.empty() ? "starting" : phase_text.c_str(), format_duration(elapsed()).c_str(),
                eta().c_str());
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", buf);
  } else {
    std::fprintf(stderr, "%s\n", buf);
  }
  std::fflush(stderr);
}

}  // namespace ddb
