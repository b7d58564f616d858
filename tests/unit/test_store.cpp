// ddbench: torch-free
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "harness/store.h"
#include "test_helpers.h"

using namespace ddb;
using testing_support::eval_record;

TEST(Store, FinishIsAtomicAndRerunReplacesInsteadOfDuplicating) {
  const auto dir = ddb::testing_support::temp_dir("store");
  EvalRecord r = eval_record("abc", "e1", 0);
  r.provenance = {{"git_commit", "x"}};
  {
    Store s(dir.string());
    s.mark_running(r);
    EXPECT_EQ(s.find(r.key)->status, "running");
    s.finish(r, {{0, "accuracy", 80.0}, {1, "accuracy", 81.0}});
  }
  Store s(dir.string());  // reopened: the results survived
  auto got = s.find(r.key);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, "done");
  EXPECT_EQ(got->distill_key, "abc/s0");
  EXPECT_EQ(got->provenance["git_commit"], "x");
  EXPECT_EQ(s.metric_values("abc", "e1", "accuracy", 1).size(), 2u);
  // Running the same evaluation again (e.g. after a crash mid-job) replaces it.
  s.mark_running(r);
  EXPECT_TRUE(s.metric_values("abc", "e1", "accuracy", 1).empty());  // running evaluations do not count
  s.finish(r, {{0, "accuracy", 82.0}});
  EXPECT_EQ(s.metric_values("abc", "e1", "accuracy", 1), std::vector<double>{82.0});
  EXPECT_EQ(s.all_evaluations().size(), 1u);
}

TEST(Store, FailedJobsKeepTheirReason) {
  const auto dir = ddb::testing_support::temp_dir("store");
  Store s(dir.string());
  EvalRecord r = eval_record("k", "e", 1);
  r.error = "boom";
  s.fail(r);
  EXPECT_EQ(s.find("k/s1/e")->status, "failed");
  EXPECT_EQ(s.find("k/s1/e")->error, "boom");
}

TEST(Store, MetricValuesKeepToTheSeedsAskedForAndFailedRunsAreKept) {
  const auto dir = ddb::testing_support::temp_dir("store");
  Store s(dir.string());
  for (int seed = 0; seed < 3; ++seed) {
    std::vector<EvalFailure> failed;
    if (seed == 2) failed.push_back({1, "training loss became nan at epoch 7"});
    s.finish(eval_record("h", "e", seed), {{0, "accuracy", 10.0 * (seed + 1)}}, failed);
  }
  EXPECT_EQ(s.metric_values("h", "e", "accuracy", 2), (std::vector<double>{10.0, 20.0}));
  EXPECT_EQ(s.metric_values("h", "e", "accuracy", 3).size(), 3u);
  EXPECT_TRUE(s.eval_failures("h", "e", 2).empty());
  const auto f = s.eval_failures("h", "e", 3);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].seed_index, 2);
  EXPECT_EQ(f[0].eval_run, 1);
  EXPECT_NE(f[0].error.find("nan"), std::string::npos);
}

// Two evaluations of one distillation are kept apart; the distillation is one row.
TEST(Store, DistillationsAndEvaluationsAreSeparateTables) {
  const auto dir = ddb::testing_support::temp_dir("store");
  Store s(dir.string());
  DistillRecord d;
  d.key = "h/s0";
  d.distill_hash = "h";
  d.config = {{"method", "dm"}};
  d.seed = 123456789012345ULL;
  d.synset_path = "synsets/h/s0.pt";
  s.mark_distillation_running(d);
  EXPECT_EQ(s.find_distillation("h/s0")->status, "running");
  s.finish_distillation(d);
  s.finish(eval_record("h", "short", 0), {{0, "accuracy", 50.0}});
  s.finish(eval_record("h", "long", 0), {{0, "accuracy", 60.0}});
  ASSERT_EQ(s.all_distillations().size(), 1u);
  EXPECT_EQ(s.find_distillation("h/s0")->status, "done");
  EXPECT_EQ(s.find_distillation("h/s0")->seed, 123456789012345ULL);
  EXPECT_EQ(s.all_evaluations().size(), 2u);
  EXPECT_EQ(s.metric_values("h", "short", "accuracy", 1), std::vector<double>{50.0});
  EXPECT_EQ(s.metric_values("h", "long", "accuracy", 1), std::vector<double>{60.0});
}

// A store of the previous schema (one `runs` table keyed by the whole configuration) is refused with
// the fix, and left as it was.
TEST(Store, OldSchemaIsAClearErrorNotAMisreading) {
  const auto dir = ddb::testing_support::temp_dir("store-v1");
  const std::string path = (dir / "results.sqlite").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE runs (job_key TEXT PRIMARY KEY, config_hash TEXT NOT NULL, config_json TEXT NOT "
                         "NULL, seed_index INTEGER NOT NULL, seed TEXT NOT NULL, status TEXT NOT NULL, error TEXT, "
                         "provenance_json TEXT, wall_s REAL, synset_path TEXT, updated_at TEXT);"
                         "INSERT INTO runs VALUES ('abc/s0','abc','{}',0,'1','done','','{}',1.0,'','');",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  try {
    Store s(dir.string());
    FAIL() << "opened a schema-1 store";
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("schema 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("new --results directory"), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
  }
  // Untouched: no schema-2 tables were added to it.
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  int tables = 0;
  sqlite3_exec(
      db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
      [](void* n, int, char** v, char**) {
        *static_cast<int*>(n) = std::atoi(v[0]);
        return 0;
      },
      &tables, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(tables, 1);
}
