// ddbench: torch-free
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "core/json.h"
#include "harness/merge.h"
#include "harness/store.h"
#include "test_helpers.h"

using namespace ddb;
using testing_support::eval_record;
namespace fs = std::filesystem;

namespace {

// A shard's store: done evaluations of configuration (h, e) at the given seeds, accuracy = value(seed).
void add_done(const fs::path& dir, int seed, double accuracy, const std::string& host = "node1") {
  Store s(dir.string());
  EvalRecord r = eval_record("h", "e", seed);
  r.provenance = {{"git_commit", "abc1234"}, {"host", host}};
  s.finish(r, {{0, "accuracy", accuracy}, {1, "accuracy", accuracy + 0.5}});
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(Merge, SameJobTwiceIsStoredOnceAndMergingAgainChangesNothing) {
  const auto root = testing_support::temp_dir("merge");
  add_done(root / "a", 0, 80.0);
  add_done(root / "a", 1, 81.0);
  add_done(root / "b", 1, 81.0, "node2");  // the same job, run by another task (another host)
  add_done(root / "b", 2, 82.0);
  const std::string into = (root / "merged").string();
  MergeSummary s = merge_stores({(root / "a").string(), (root / "b").string()}, into);
  EXPECT_EQ(s.evaluations_written, 3);
  EXPECT_EQ(s.identical_skipped, 1);
  {
    Store m(into);
    EXPECT_EQ(m.all_evaluations().size(), 3u);
    EXPECT_EQ(m.metric_values("h", "e", "accuracy", 3), (std::vector<double>{80.0, 80.5, 81.0, 81.5, 82.0, 82.5}));
    const auto rec = m.find("h/s1/e");
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->provenance["host"], "node1");  // the first copy stays, with its provenance
    EXPECT_EQ(rec->provenance["git_commit"], "abc1234");
    EXPECT_EQ(rec->provenance["merged_from"], (root / "a").string());
  }
  const std::string updated = Store(into).find("h/s0/e")->updated_at;
  // Again, and a store given twice: nothing new.
  s = merge_stores({(root / "b").string(), (root / "a").string(), (root / "a").string()}, into);
  EXPECT_EQ(s.evaluations_written, 0);
  EXPECT_EQ(s.distillations_written, 0);
  EXPECT_EQ(s.identical_skipped, 6);
  Store m(into);
  EXPECT_EQ(m.all_evaluations().size(), 3u);
  EXPECT_EQ(m.metric_values("h", "e", "accuracy", 3).size(), 6u);
  EXPECT_EQ(m.find("h/s0/e")->updated_at, updated);
}

TEST(Merge, ConflictingResultsNameBothStoresAndTheKeyAndWriteNothing) {
  const auto root = testing_support::temp_dir("merge");
  add_done(root / "a", 0, 80.0);
  add_done(root / "b", 0, 80.25);  // same key, another value
  add_done(root / "b", 1, 81.0);
  add_done(root / "c", 3, 70.0);
  const std::string into = (root / "merged").string();
  merge_stores({(root / "c").string()}, into);  // the target already holds a result
  try {
    merge_stores({(root / "a").string(), (root / "b").string()}, into);
    FAIL() << "conflicting results were merged";
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("h/s0/e"), std::string::npos) << msg;
    EXPECT_NE(msg.find((root / "a").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find((root / "b").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("80.25"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nothing was merged"), std::string::npos) << msg;
  }
  Store m(into);  // as before: b's non-conflicting seed 1 is not half-merged either
  ASSERT_EQ(m.all_evaluations().size(), 1u);
  EXPECT_EQ(m.all_evaluations()[0].key, "h/s3/e");
  // A conflict with what the target already holds names the target.
  add_done(root / "d", 3, 71.0);
  try {
    merge_stores({(root / "d").string()}, into);
    FAIL() << "a result conflicting with the target was merged";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(into), std::string::npos) << e.what();
  }
}

TEST(Merge, DoneReplacesFailedAndRunningButNotTheOtherWayRound) {
  const auto root = testing_support::temp_dir("merge");
  {
    Store a((root / "a").string());
    EvalRecord r = eval_record("h", "e", 0);
    r.error = "out of memory";
    a.fail(r);
    a.mark_running(eval_record("h", "e", 1));  // a task killed mid-job
  }
  add_done(root / "b", 0, 80.0);
  add_done(root / "b", 1, 81.0);
  const std::string into = (root / "merged").string();
  merge_stores({(root / "a").string()}, into);
  MergeSummary s = merge_stores({(root / "b").string()}, into);
  EXPECT_EQ(s.replaced, 2);
  EXPECT_EQ(Store(into).find("h/s0/e")->status, "done");
  EXPECT_EQ(Store(into).find("h/s1/e")->status, "done");
  s = merge_stores({(root / "a").string()}, into);  // the failed copy does not come back
  EXPECT_EQ(s.superseded_skipped, 2);
  EXPECT_EQ(Store(into).find("h/s0/e")->status, "done");
  EXPECT_EQ(Store(into).metric_values("h", "e", "accuracy", 2).size(), 4u);
}

TEST(Merge, SyntheticSetFilesAreCopiedWithTheirPathsRewritten) {
  const auto root = testing_support::temp_dir("merge");
  const fs::path a = root / "a", sets = a / "synsets" / "h";
  testing_support::write_file(sets / "s0.pt", "tensor bytes of seed 0");
  testing_support::write_file(sets / "s0.it10.pt", "snapshot at 10");
  testing_support::write_file(sets / "s0.it10.pt.json", "{\"seed\": 1}");
  testing_support::write_file(
      sets / "s0.pt.json", json{{"seed", 1}, {"snapshots", {{{"iteration", 10}, {"path", (sets / "s0.it10.pt").string()}}}}}.dump());
  testing_support::write_file(sets / "s10.pt", "another seed's set");  // not s0's
  {
    Store s(a.string());
    DistillRecord d;
    d.key = "h/s0";
    d.distill_hash = "h";
    d.config = {{"method", "dm"}};
    d.seed = 42;
    // As a run from another working directory recorded it: found through the store's own layout.
    d.synset_path = "somewhere/else/a/synsets/h/s0.pt";
    d.provenance = {{"git_commit", "abc1234"}, {"dataset_identity", "fmnist-sha"}};
    s.finish_distillation(d);
    DistillRecord lost = d;  // a done distillation whose file is gone: merged, with a warning
    lost.key = "h/s1";
    lost.seed_index = 1;
    lost.synset_path = (sets / "s1.pt").string();
    s.finish_distillation(lost);
  }
  const fs::path into = root / "merged";
  const MergeSummary sum = merge_stores({a.string()}, into.string());
  EXPECT_EQ(sum.distillations_written, 2);
  EXPECT_EQ(sum.files_copied, 4);
  ASSERT_EQ(sum.warnings.size(), 1u);
  EXPECT_NE(sum.warnings[0].find("h/s1"), std::string::npos);
  const fs::path out = into / "synsets" / "h";
  EXPECT_EQ(read(out / "s0.pt"), "tensor bytes of seed 0");
  EXPECT_EQ(read(out / "s0.it10.pt"), "snapshot at 10");
  EXPECT_FALSE(fs::exists(out / "s10.pt"));
  const json meta = json::parse(read(out / "s0.pt.json"));
  EXPECT_EQ(meta["snapshots"][0]["path"], (out / "s0.it10.pt").string());
  EXPECT_EQ(meta["seed"], 1);
  Store m(into.string());
  const auto d = m.find_distillation("h/s0");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->synset_path, (out / "s0.pt").string());
  EXPECT_EQ(d->seed, 42u);
  EXPECT_EQ(d->status, "done");
  EXPECT_EQ(d->provenance["dataset_identity"], "fmnist-sha");
  EXPECT_EQ(d->provenance["merged_from"], a.string());
  EXPECT_EQ(m.find_distillation("h/s1")->synset_path, (out / "s1.pt").string());
}

TEST(Merge, RefusesAMissingStoreAndMergingAStoreIntoItself) {
  const auto root = testing_support::temp_dir("merge");
  EXPECT_THROW(merge_stores({(root / "nothing").string()}, (root / "m").string()), UserError);
  add_done(root / "a", 0, 80.0);
  EXPECT_THROW(merge_stores({(root / "a").string()}, (root / "a").string()), UserError);
  EXPECT_THROW(merge_stores({}, (root / "m").string()), UserError);
}
