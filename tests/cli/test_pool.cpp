// The device pool (`ddbench run --workers N`): the numbers of a sequential run, one writer, crash
// isolation (a worker that dies fails its job only), resume, and clear errors for bad pool options.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "ddbench_config.h"
#include "harness/store.h"
#include "../unit/test_helpers.h"
#include "../support/command.h"
#include "../support/store_contents.h"
#include "../support/toy_suite.h"

using ddb::testing_support::temp_dir;
using ddb::testing_support::write_file;

namespace {

using Result = ddb::testing_support::CommandResult;
using ddb::testing_support::ddbench;

const std::string kSuite = ddb::testing_support::toy_suite_yaml({"t.pool", 2, 3, 2, {1, 2}});

const auto& contents = ddb::testing_support::store_contents;

}  // namespace

TEST(Pool, WorkersGiveTheSequentialNumbersAndResume) {
  const auto dir = temp_dir("pool");
  const std::string suite = write_file(dir / "toy.yaml", kSuite);
  const std::string common = " --no-report --tier cpu --threads 1";
  const Result seq = ddbench("run " + suite + " --results " + (dir / "seq").string() + common);
  ASSERT_EQ(seq.code, 0) << seq.output;
  const Result pool = ddbench("run " + suite + " --results " + (dir / "pool").string() + common + " --workers 2");
  ASSERT_EQ(pool.code, 0) << pool.output;
  EXPECT_NE(pool.output.find("pool of 2 workers"), std::string::npos) << pool.output;
  EXPECT_NE(pool.output.find("(worker 1, cpu)"), std::string::npos) << pool.output;
  const auto a = contents((dir / "seq").string()), b = contents((dir / "pool").string());
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(a, b);  // same keys, same statuses, same values
  EXPECT_FALSE(std::filesystem::exists(dir / "pool" / ".pool")) << "the workers' stores are merged and removed";
  const Result again = ddbench("run " + suite + " --results " + (dir / "pool").string() + common + " --workers 2");
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("4 already done"), std::string::npos) << again.output;
}

TEST(Pool, AWorkerThatDiesFailsItsJobOnlyAndKeepsItsLog) {
  const auto dir = temp_dir("pool-crash");
  const std::string suite = write_file(dir / "toy.yaml", kSuite);
  const std::string results = (dir / "res").string();
  // Learn one job's key from a sequential run elsewhere, then make the worker running it abort.
  ASSERT_EQ(ddbench("run " + suite + " --results " + (dir / "probe").string() + " --no-report --tier cpu --threads 1").code, 0);
  std::string victim;
  for (const auto& [key, s] : contents((dir / "probe").string()))
    if (key.find("/s1/") != std::string::npos) victim = key;
  ASSERT_FALSE(victim.empty());
  const Result r = ddbench("run " + suite + " --results " + results + " --no-report --tier cpu --threads 1 --workers 2",
                           "DDBENCH_TEST_ABORT_JOB=" + victim);
  EXPECT_EQ(r.code, 1) << r.output;
  ddb::Store store(results);
  int done = 0;
  for (const auto& e : store.all_evaluations()) {
    if (e.key == victim) {
      EXPECT_EQ(e.status, "failed");
      EXPECT_NE(e.error.find("killed by signal 6"), std::string::npos) << e.error;
      const auto at = e.error.find("its log: ");
      ASSERT_NE(at, std::string::npos) << e.error;
      EXPECT_TRUE(std::filesystem::exists(e.error.substr(at + 9))) << e.error;
    } else {
      done += e.status == "done";
    }
  }
  EXPECT_EQ(done, 3);
}

TEST(Pool, BadPoolOptionsAreClearErrors) {
  const auto dir = temp_dir("pool-bad");
  const std::string suite = write_file(dir / "toy.yaml", kSuite);
  const std::string res = " --results " + (dir / "res").string() + " --no-report --tier cpu";
  const Result unknown = ddbench("run " + suite + res + " --devices tpu:0");
  EXPECT_EQ(unknown.code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("unknown device 'tpu:0'"), std::string::npos) << unknown.output;
  const Result job = ddbench("run " + suite + res + " --only-job nope/s0/x");
  EXPECT_EQ(job.code, 2) << job.output;
  EXPECT_NE(job.output.find("--only-job nope/s0/x: no such job"), std::string::npos) << job.output;
  if (!std::getenv("CUDA_VISIBLE_DEVICES")) {  // on a machine without a GPU, cuda:7 does not exist
    const Result gpu = ddbench("run " + suite + res + " --devices cuda:7");
    EXPECT_EQ(gpu.code, 2) << gpu.output;
    EXPECT_NE(gpu.output.find("cuda:7"), std::string::npos) << gpu.output;
  }
}
