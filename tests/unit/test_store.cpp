// ddbench: torch-free
#include <gtest/gtest.h>

#include "harness/store.h"
#include "test_helpers.h"

using namespace ddb;

TEST(Store, FinishIsAtomicAndRerunReplacesInsteadOfDuplicating) {
  const auto dir = ddb::testing_support::temp_dir("store");
  RunRecord r;
  r.job_key = "abc/s0";
  r.config_hash = "abc";
  r.config = {{"method", "dm"}};
  r.seed = 123456789012345ULL;
  r.provenance = {{"git_commit", "x"}};
  {
    Store s(dir.string());
    s.mark_running(r);
    EXPECT_EQ(s.find("abc/s0")->status, "running");
    s.finish(r, {{0, "accuracy", 80.0}, {1, "accuracy", 81.0}});
  }
  Store s(dir.string());  // reopened: the results survived
  auto got = s.find("abc/s0");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, "done");
  EXPECT_EQ(got->seed, 123456789012345ULL);
  EXPECT_EQ(got->provenance["git_commit"], "x");
  EXPECT_EQ(s.metric_values("abc", "accuracy", 1).size(), 2u);
  // Running the same job again (e.g. after a crash mid-job) replaces it.
  s.mark_running(r);
  EXPECT_TRUE(s.metric_values("abc", "accuracy", 1).empty());  // running jobs do not count
  s.finish(r, {{0, "accuracy", 82.0}});
  EXPECT_EQ(s.metric_values("abc", "accuracy", 1), std::vector<double>{82.0});
  EXPECT_EQ(s.all_runs().size(), 1u);
}

TEST(Store, FailedJobsKeepTheirReason) {
  const auto dir = ddb::testing_support::temp_dir("store");
  Store s(dir.string());
  RunRecord r;
  r.job_key = "k/s1";
  r.config_hash = "k";
  r.config = json::object();
  r.seed_index = 1;
  r.error = "boom";
  s.fail(r);
  EXPECT_EQ(s.find("k/s1")->status, "failed");
  EXPECT_EQ(s.find("k/s1")->error, "boom");
}

TEST(Store, MetricValuesKeepToTheSeedsAskedForAndFailedRunsAreKept) {
  const auto dir = ddb::testing_support::temp_dir("store");
  Store s(dir.string());
  for (int seed = 0; seed < 3; ++seed) {
    RunRecord r;
    r.job_key = "h/s" + std::to_string(seed);
    r.config_hash = "h";
    r.config = json::object();
    r.seed_index = seed;
    std::vector<EvalFailure> failed;
    if (seed == 2) failed.push_back({1, "training loss became nan at epoch 7"});
    s.finish(r, {{0, "accuracy", 10.0 * (seed + 1)}}, failed);
  }
  EXPECT_EQ(s.metric_values("h", "accuracy", 2), (std::vector<double>{10.0, 20.0}));
  EXPECT_EQ(s.metric_values("h", "accuracy", 3).size(), 3u);
  EXPECT_TRUE(s.eval_failures("h", 2).empty());
  const auto f = s.eval_failures("h", 3);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].seed_index, 2);
  EXPECT_EQ(f[0].eval_run, 1);
  EXPECT_NE(f[0].error.find("nan"), std::string::npos);
}
