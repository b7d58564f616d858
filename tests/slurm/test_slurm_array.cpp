// ddbench: torch-free
// `ddbench slurm --submit` against a real Slurm (ci/slurm-setup.sh starts a single-node one): a tiny suite
// (toy28, `random`, 4 jobs) as an array of 2 tasks, each into its own store; wait for the array (squeue),
// merge the shard stores, and compare with a local `ddbench run` of the same suite: the same keys with
// the same values (seeds come from the configuration). Without sbatch/sinfo/squeue, or with no controller
// or usable node, the test is SKIPPED with the reason: it never fails for that.
// Also, with no Slurm needed: the script `ddbench slurm` writes, and --submit without sbatch on PATH.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "ddbench_config.h"
#include "harness/store.h"
#include "../unit/test_helpers.h"
#include "../support/command.h"
#include "../support/store_contents.h"
#include "../support/toy_suite.h"

namespace fs = std::filesystem;

namespace {

using Result = ddb::testing_support::CommandResult;
using ddb::testing_support::ddbench;
const auto& sh = ddb::testing_support::shell;

const std::string kSuite = ddb::testing_support::toy_suite_yaml({"t.slurm", 2, 5, 1, {1, 2}});

const auto& contents = ddb::testing_support::store_contents;

// Empty when a Slurm controller answers with a node that takes jobs; else why not.
std::string slurm_unavailable() {
  for (const char* tool : {"sbatch", "sinfo", "squeue", "scontrol"})
    if (sh(std::string("command -v ") + tool).code != 0)
      return std::string(tool) + " is not installed (Slurm's client tools; ci/slurm-setup.sh installs and starts a single-node Slurm)";
  Result info = sh("timeout 8 sinfo -h -o '%T'");
  while (!info.output.empty() && info.output.back() == '\n') info.output.pop_back();
  if (info.code != 0)
    return "no Slurm controller answers (sinfo exit " + std::to_string(info.code) + ": " + info.output +
           "); start one with ci/slurm-setup.sh";
  if (!std::regex_search(info.output, std::regex("(^|\n)(idle|mixed|allocated|completing)")))
    return "Slurm has no node that takes jobs (sinfo: " + info.output + ")";
  return "";
}

std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

TEST(SlurmCli, WritesTheArrayScriptAndNeedsSbatchOnlyToSubmit) {
  const fs::path dir = ddb::testing_support::temp_dir("slurm-cli");
  const std::string suite = ddb::testing_support::write_file(dir / "suite.yaml", kSuite);
  const std::string results = (dir / "res").string();
  Result r = ddbench("slurm " + suite + " --array 3 --tier cpu --partition p1 --gres gpu:1 --time 10 --cpus-per-task 2 "
                     "--results " + results + " --out " + (dir / "job.sh").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("array of 3 tasks over 4 jobs (2 of 2 cells runnable here at tier cpu"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("merge " + results + "/shard-* --into " + results + "/merged"), std::string::npos) << r.output;
  const std::string script = read(dir / "job.sh");
  for (const std::string& want : std::vector<std::string>{"#SBATCH --array=0-2\n", "#SBATCH --job-name=ddbench-suite\n", "#SBATCH --partition=p1\n",
                                 "#SBATCH --gres=gpu:1\n", "#SBATCH --time=10\n", "#SBATCH --cpus-per-task=2\n",
                                 "#SBATCH --output=" + results + "/logs/%x-%A_%a.out\n",
                                 "--shard \"${SLURM_ARRAY_TASK_ID}/3\" --results " + results +
                                     "/shard-\"${SLURM_ARRAY_TASK_ID}\" --no-report",
                                 " --tier cpu ", " --threads 2"})
    EXPECT_NE(script.find(want), std::string::npos) << want << "\n" << script;
  EXPECT_TRUE(fs::is_directory(results + "/logs"));  // Slurm does not create the --output directory

  // --submit without sbatch: a clear error, exit 2, the script still written.
  r = sh("PATH=/nonexistent " + std::string(DDBENCH_BINARY) + " slurm " + suite + " --array 2 --results " + results +
         " --submit");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("sbatch is not on PATH"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(results + "/ddbench-slurm.sh"));
  r = ddbench("slurm " + suite + " --array 0");
  EXPECT_EQ(r.code, 2) << r.output;
  fs::remove_all(dir);
}

TEST(SlurmArray, SubmittedArrayMergesToTheLocalRun) {
  const std::string why = slurm_unavailable();
  if (!why.empty()) GTEST_SKIP() << why;
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path dir = ddb::testing_support::temp_dir("slurm-array");
  const std::string suite = ddb::testing_support::write_file(dir / "suite.yaml", kSuite);
  const std::string results = (dir / "res").string();
  const std::string cache = (dir / "cache").string();

  Result r = ddbench("slurm " + suite + " --array 2 --cpus-per-task 1 --time 10 --tier cpu --cache " + cache +
                     " --results " + results + " --submit");
  ASSERT_EQ(r.code, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("submitted array job ([0-9]+)"))) << r.output;
  const std::string job = m[1];

  // The local run meanwhile (same threads as each task: 1).
  const Result local = ddbench("run " + suite + " --tier cpu --threads 1 -q --no-report --cache " + cache +
                               " --results " + (dir / "local").string());
  ASSERT_EQ(local.code, 0) << local.output;

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  std::string queued;
  while (true) {  // squeue lists pending and running tasks; a finished array lists nothing
    queued = sh("squeue -h -j " + job + " -o '%i %T %R'").output;
    if (queued.find_first_not_of(" \n") == std::string::npos) break;
    if (std::chrono::steady_clock::now() > deadline) {
      sh("scancel " + job);
      FAIL() << "array " << job << " not done after 240 s:\n" << queued << sh("sinfo -N -o '%N %T %E'").output;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const std::string states = sh("scontrol show job " + job + " -o").output;
  const std::string logs = sh("cat " + results + "/logs/*.out").output;
  int completed = 0;
  const std::regex state_re("JobState=([A-Z_]+)");
  for (auto it = std::sregex_iterator(states.begin(), states.end(), state_re);
       it != std::sregex_iterator(); ++it) {
    EXPECT_EQ((*it)[1], "COMPLETED") << states << "\n" << logs;
    completed += (*it)[1] == "COMPLETED";
  }
  EXPECT_EQ(completed, 2) << states << "\n" << logs;
  ASSERT_TRUE(fs::exists(results + "/shard-0/results.sqlite")) << logs;
  ASSERT_TRUE(fs::exists(results + "/shard-1/results.sqlite")) << logs;
  EXPECT_EQ(contents(results + "/shard-0").size(), 2u) << logs;  // every other job of 4
  EXPECT_EQ(contents(results + "/shard-1").size(), 2u) << logs;

  r = ddbench("merge " + results + "/shard-0 " + results + "/shard-1 --into " + results + "/merged");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("4 evaluations and 4 distillations written"), std::string::npos) << r.output;
  const auto merged = contents(results + "/merged");
  EXPECT_EQ(merged.size(), 4u);
  EXPECT_EQ(merged, contents((dir / "local").string()));
  for (const auto& [key, value] : merged) EXPECT_EQ(value.rfind("done accuracy=", 0), 0u) << key << ": " << value;
  std::cout << "array job " << job << ": submit, run, merge and the local run in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
  fs::remove_all(dir);
}
