#include "harness/worker_pool.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "harness/merge.h"

extern char** environ;

namespace ddb {

namespace fs = std::filesystem;

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = strsignal(sig);
    return "killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : std::string());
  }
  return "ended with wait status " + std::to_string(status);
}

namespace {

struct Task {
  std::vector<const Job*> jobs;  // sharing one distillation
  double estimate = -1;          // seconds; < 0: never measured
};

struct Running {
  size_t task = 0;
  int slot = 0;
  std::string dir, log;
  std::chrono::steady_clock::time_point t0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string clock_text(double s) {
  const long t = static_cast<long>(s + 0.5);
  char b[32];
  if (t >= 3600)
    std::snprintf(b, sizeof b, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    std::snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
  return b;
}

// The worker's command line; its stdout and stderr go to `log`.
pid_t spawn_worker(const PoolOptions& o, const Task& task, const std::string& device, const std::string& dir,
                   const std::string& log) {
  std::vector<std::string> args{o.executable};
  args.insert(args.end(), o.run_args.begin(), o.run_args.end());
  for (const std::string& a : {std::string("--results"), dir, std::string("--device"), device, std::string("--threads"),
                               std::to_string(o.threads_per_worker), std::string("--no-report"), std::string("-q")})
    args.push_back(a);
  for (const Job* j : task.jobs) {
    args.push_back("--only-job");
    args.push_back(j->key());
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, o.executable.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw UserError("cannot start worker " + o.executable + ": " + std::strerror(rc));
  return pid;
}

EvalRecord record_of(const Job& j) {
  EvalRecord rec;
  rec.key = j.key();
  rec.distill_key = j.distill_key();
  rec.distill_hash = j.run.distill_hash;
  rec.eval_hash = j.run.eval_hash;
  rec.config = j.run.config;
  rec.seed_index = j.seed_index;
  return rec;
}

}  // namespace

RunSummary run_pool(const std::vector<Job>& jobs, Store& store, const PoolOptions& o) {
  if (o.slots.empty()) throw UserError("the device pool needs at least one worker slot");
  RunSummary sum;
  const auto t0 = std::chrono::steady_clock::now();
  // What is left to run, as run_jobs decides it.
  std::map<std::string, size_t> task_of;  // distill_key -> task
  std::vector<Task> tasks;
  for (const Job& j : jobs) {
    ++sum.planned;
    const auto prev = store.find(j.key());
    if (prev && prev->status == "done") {
      ++sum.skipped_done;
      continue;
    }
    if (prev && prev->status == "failed" && !o.retry_failed) {
      ++sum.skipped_failed;
      continue;
    }
    auto it = task_of.find(j.distill_key());
    if (it == task_of.end()) {
      it = task_of.emplace(j.distill_key(), tasks.size()).first;
      tasks.emplace_back();
    }
    tasks[it->second].jobs.push_back(&j);
  }
  // Longest first: measured configurations by their mean wall time, unmeasured ones before them.
  for (Task& t : tasks) {
    double total = 0;
    bool measured = true;
    for (const Job* j : t.jobs) {
      double s = 0;
      int n = 0;
      for (const auto& r : store.evaluations_of(j->run.distill_hash, j->run.eval_hash))
        if (r.status == "done" && r.wall_s > 0) s += r.wall_s, ++n;
      if (n == 0) measured = false;
      total += n ? s / n : 0;
    }
    t.estimate = measured ? total : -1;
  }
  std::stable_sort(tasks.begin(), tasks.end(), [](const Task& a, const Task& b) {
    if ((a.estimate < 0) != (b.estimate < 0)) return a.estimate < 0;
    return a.estimate > b.estimate;
  });
  int total_jobs = 0;
  for (const Task& t : tasks) total_jobs += static_cast<int>(t.jobs.size());
  fs::create_directories(o.work_dir);
  if (!o.quiet)
    std::cerr << "ddbench run: pool of " << o.slots.size() << " workers (" << o.threads_per_worker
              << " threads each), " << total_jobs << " jobs in " << tasks.size() << " tasks"
              << (sum.skipped_done || sum.skipped_failed
                      ? "; resuming: " + std::to_string(sum.skipped_done) + " done, " +
                            std::to_string(sum.skipped_failed) + " failed earlier"
                      : std::string())
              << "\n";

  std::map<pid_t, Running> running;
  std::vector<bool> busy(o.slots.size(), false);
  size_t next = 0;
  int finished_jobs = 0;
  double finished_seconds = 0;  // worker time of the finished tasks (for the ETA of unmeasured ones)
  int finished_tasks = 0;
  auto eta = [&]() -> std::string {
    double left = 0;
    const double mean = finished_tasks ? finished_seconds / finished_tasks : -1;
    for (size_t k = next; k < tasks.size(); ++k) {
      const double e = tasks[k].estimate >= 0 ? tasks[k].estimate : mean;
      if (e < 0) return "--";
      left += e;
    }
    for (const auto& [pid, r] : running) {
      const double e = tasks[r.task].estimate >= 0 ? tasks[r.task].estimate : mean;
      if (e < 0) return "--";
      left += std::max(0.0, e - seconds_since(r.t0));
    }
    return clock_text(left / static_cast<double>(o.slots.size()));
  };
  auto launch = [&](int slot) {
    const size_t k = next++;
    Running r;
    r.task = k;
    r.slot = slot;
    r.dir = (fs::path(o.work_dir) / ("task-" + std::to_string(k))).string();
    fs::remove_all(r.dir);
    fs::create_directories(r.dir);
    r.log = (fs::path(r.dir) / "worker.log").string();
    r.t0 = std::chrono::steady_clock::now();
    for (const Job* j : tasks[k].jobs) {  // running in the main store too, so a crash of the parent shows it
      EvalRecord rec = record_of(*j);
      rec.provenance = {{"pool_slot", slot}, {"device", o.slots[slot]}};
      store.mark_running(rec);
    }
    const pid_t pid = spawn_worker(o, tasks[k], o.slots[slot], r.dir, r.log);
    busy[slot] = true;
    running.emplace(pid, r);
    sum.ran += static_cast<int>(tasks[k].jobs.size());
  };
  while (true) {
    for (size_t s = 0; s < busy.size() && next < tasks.size(); ++s)
      if (!busy[s]) launch(static_cast<int>(s));
    if (running.empty()) break;
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const Running r = it->second;
    running.erase(it);
    busy[r.slot] = false;
    const double took = seconds_since(r.t0);
    ++finished_tasks;
    finished_seconds += took;
    // One writer: the worker's store goes into the main store.
    std::string merge_error;
    if (fs::exists(fs::path(r.dir) / "results.sqlite")) {
      try {
        merge_stores({r.dir}, store.dir());
      } catch (const std::exception& e) {
        merge_error = e.what();
      }
    }
    bool keep_dir = !merge_error.empty();
    for (const Job* j : tasks[r.task].jobs) {
      ++finished_jobs;
      const auto rec = store.find(j->key());
      std::string outcome;
      if (rec && rec->status == "done") {
        ++sum.succeeded;
        std::string vals;
        for (const auto& m : store.metrics_of(j->key())) {
          char b[32];
          std::snprintf(b, sizeof b, " %.2f", m.value);
          vals += b;
        }
        const auto metrics = store.metrics_of(j->key());
        outcome = "done, " + (metrics.empty() ? std::string("no metric") : metrics.front().metric) + vals;
      } else if (rec && rec->status == "failed") {
        ++sum.failed;
        outcome = "FAILED: " + rec->error.substr(0, 200);
      } else {
        // The worker ended without finishing this job: it crashed, was killed, or the merge failed.
        ++sum.failed;
        EvalRecord fail = record_of(*j);
        fail.error = "worker process on " + o.slots[r.slot] + " " + describe_wait_status(status) +
                     " before finishing this job" + (merge_error.empty() ? "" : "; merging its store failed: " + merge_error) +
                     "; its log: " + r.log;
        fail.provenance = {{"pool_slot", r.slot}, {"device", o.slots[r.slot]}, {"worker", describe_wait_status(status)}};
        fail.wall_s = took;
        store.fail(fail);
        keep_dir = true;
        outcome = "FAILED: " + fail.error;
      }
      if (!o.quiet)
        std::cerr << "[" << finished_jobs << "/" << total_jobs << "] " << j->run.label() << " seed "
                  << j->seed_index + 1 << "/" << j->run.seeds << " (worker " << r.slot << ", " << o.slots[r.slot]
                  << "): " << outcome << " in " << static_cast<int>(took) << "s | elapsed "
                  << clock_text(seconds_since(t0)) << " | ETA " << eta() << "\n";
    }
    if (!keep_dir) fs::remove_all(r.dir);
  }
  std::error_code ec;
  fs::remove(o.work_dir, ec);  // only when empty: kept logs stay
  sum.seconds = seconds_since(t0);
  return sum;
}

}  // namespace ddb
