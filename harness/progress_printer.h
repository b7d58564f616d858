// Live progress on stderr: job i/N, what runs, the current phase, elapsed time and ETA.
// On a terminal one line is rewritten in place; in a log a line is written at most every 15 s.
#pragma once
#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace ddb {

class ProgressPrinter {
 public:
  // groups[i]: a key shared by jobs of equal cost (the configuration hash); the ETA uses the measured
  // time of finished jobs of the same group, else the mean over all finished jobs.
  explicit ProgressPrinter(std::vector<std::string> groups, bool quiet = false);
  void start_job(int index, const std::string& label, int phases);
  // The job's phase count once known (a job whose evaluation runs train stacked has two).
  void set_phases(int phases) { phases_ = phases < 1 ? 1 : phases; }
  void update(const std::string& phase, long done, long total);
  void end_job(const std::string& outcome);
  void message(const std::string& line);

 private:
  double elapsed() const;
  std::string eta() const;
  void emit(const std::string& line, bool force);

  double estimate(const std::string& group) const;
  std::vector<std::string> groups_;
  std::map<std::string, std::pair<double, int>> group_time_;  // group -> (seconds, jobs)
  int total_, index_ = 0, phases_ = 1, phase_no_ = 0, jobs_done_ = 0;
  std::string label_, phase_;
  double job_fraction_ = 0;
  bool tty_, quiet_;
  std::chrono::steady_clock::time_point t0_, last_emit_;
  double job_seconds_sum_ = 0;
  std::chrono::steady_clock::time_point job_t0_;
};

std::string format_duration(double seconds);

}  // namespace ddb
