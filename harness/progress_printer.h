// Live progress on stderr: job i/N, what runs, the current phase, elapsed time and ETA.
// On a terminal one line is rewritten in place; in a log a line is written at most every 15 s.
#pragma once
#include <chrono>
#include <string>

namespace ddb {

class ProgressPrinter {
 public:
  explicit ProgressPrinter(int total_jobs, bool quiet = false);
  void start_job(int index, const std::string& label, int phases);
  void update(const std::string& phase, long done, long total);
  void end_job(const std::string& outcome);
  void message(const std::string& line);

 private:
  double elapsed() const;
  std::string eta() const;
  void emit(const std::string& line, bool force);

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
