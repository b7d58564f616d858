// Seconds per distillation iteration (harness/iteration_clock.h): the clock's arithmetic on given
// times, and the metrics built on it (time_per_iter_s, a set metric; time_per_iter_extra_s, derived)
// through plan -> run -> check on toy data.
#include <gtest/gtest.h>

#include "harness/check.h"
#include "harness/iteration_clock.h"
#include "harness/runner.h"
#include "harness/synset_io.h"
#include "test_helpers.h"

using namespace ddb;
using Clock = IterationClock::Clock;

namespace {
Clock::time_point t_at(double s) {
  return Clock::time_point{} + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}
}  // namespace

TEST(IterationClock, SteadyRateBetweenTheFirstAndLastTick) {
  IterationClock clock("distill", t_at(0));
  clock.tick("experts", 5, 5, t_at(4));  // another phase: set-up, not an iteration
  clock.tick("distill", 1, 4, t_at(5));  // the first iteration ends after 5 s of set-up + warm-up
  clock.tick("eval 1/2", 3, 10, t_at(6));
  clock.tick("distill", 2, 4, t_at(7));
  clock.tick("distill", 3, 4, t_at(9));
  clock.tick("distill", 4, 4, t_at(11));
  clock.tick("distill", 4, 4, t_at(30));  // a repeated final report adds no iteration
  const json s = clock.summary();
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["iterations_timed"], 3);
  EXPECT_DOUBLE_EQ(s["seconds_timed"].get<double>(), 6.0);
  EXPECT_DOUBLE_EQ(s["s_per_iteration"].get<double>(), 2.0);
  EXPECT_EQ(s["iterations_total"], 4);
  EXPECT_FALSE(s["includes_setup"].get<bool>());
  EXPECT_DOUBLE_EQ(s["wall_s"].get<double>(), 11.0);
}

TEST(IterationClock, EveryNthReportCountsTheIterationsBetween) {
  IterationClock clock("distill", t_at(0));
  clock.tick("distill", 10, 30, t_at(3));
  clock.tick("distill", 20, 30, t_at(4));
  clock.tick("distill", 30, 30, t_at(5));
  EXPECT_DOUBLE_EQ(clock.summary()["s_per_iteration"].get<double>(), 0.1);
}

TEST(IterationClock, OneReportFallsBackToStartAndSaysSo) {
  IterationClock clock("distill", t_at(0));
  clock.tick("distill", 2, 2, t_at(3));
  const json s = clock.summary();
  EXPECT_DOUBLE_EQ(s["s_per_iteration"].get<double>(), 1.5);
  EXPECT_TRUE(s["includes_setup"].get<bool>());
}

TEST(IterationClock, NoIterationNoFigure) {
  IterationClock clock("distill", t_at(0));
  clock.tick("eval 1/1", 1, 1, t_at(1));
  EXPECT_TRUE(clock.summary().is_null());
}

TEST(IterationClock, WrapPassesEveryReportOn) {
  IterationClock clock;
  int seen = 0;
  const ProgressFn fn = clock.wrap([&](const std::string&, long, long) { ++seen; });
  fn("distill", 1, 2);
  fn("other", 1, 1);
  EXPECT_EQ(seen, 2);
  EXPECT_FALSE(clock.summary().is_null());
}

// dm reports every iteration; random reports none, so its time cell fails with the reason; the
// derived cell is the difference of the two dm runs' figures.
TEST(IterationClock, TimePerIterationCellsRunAndCheck) {
  const auto dir = ddb::testing_support::temp_dir("iteration-clock");
  const Suite s = load_suite(ddb::testing_support::write_file(dir / "time.yaml", R"(id: t.time
source: {paper: demo}
defaults: {dataset: toy28, method: dm, ipc: 1, distill_net: ConvNetW32, metric: time_per_iter_s, seeds: 1,
           options: {iterations: 3, batch_real: 8}, eval: {protocol: dc, net: ConvNetW32, runs: 1, epochs: 1}, paper: {value: 1}}
tiers: {cpu: {}}
cells:
  - {id: dm-time}
  - {id: random-time, method: random, options: {}}
  - {id: dm-extra, metric: time_per_iter_extra_s, options: {iterations: 3, batch_real: 32}, delta_from: {options: {batch_real: 8}}}
)"));
  PlanEnv env;
  env.tier = "cpu";
  const auto cells = plan_suite(s, env);
  for (const auto& c : cells) ASSERT_EQ(c.status, Status::NotRun) << c.cell->id << ": " << c.reason;
  Store store((dir / "results").string());
  RunnerOptions ro;
  ro.quiet = true;
  const RunSummary sum = run_jobs(jobs_for(cells), store, ro);
  EXPECT_EQ(sum.succeeded, 2);  // dm batch_real 8 (shared by dm-time and dm-extra) and batch_real 32
  EXPECT_EQ(sum.failed, 1);     // random: no iterations to time

  const auto rs = check_cells(cells, store, "cpu");
  auto result = [&](const std::string& id) -> const CellResult& {
    for (const auto& r : rs)
      if (r.cell->id == id) return r;
    throw std::runtime_error("no cell " + id);
  };
  const CellResult& dm = result("dm-time");
  ASSERT_TRUE(dm.mean) << dm.reason;
  EXPECT_GT(*dm.mean, 0.0);
  EXPECT_LT(*dm.mean, 60.0);
  const CellResult& rnd = result("random-time");
  EXPECT_EQ(rnd.status, Status::RunFailed);
  EXPECT_NE(rnd.reason.find("no distill_timing"), std::string::npos) << rnd.reason;
  const CellResult& extra = result("dm-extra");
  ASSERT_TRUE(extra.mean) << extra.reason;
  ASSERT_EQ(extra.operands.size(), 2u);
  ASSERT_TRUE(extra.operands[0].mean && extra.operands[1].mean);
  EXPECT_DOUBLE_EQ(*extra.mean, *extra.operands[0].mean - *extra.operands[1].mean);
  EXPECT_DOUBLE_EQ(*extra.operands[1].mean, *dm.mean);  // the same job as dm-time

  // The stored set carries the figure it came from.
  bool found = false;
  for (const auto& d : store.all_distillations())
    if (!d.synset_path.empty() && std::filesystem::exists(d.synset_path)) {
      const SyntheticSet set = load_synset(d.synset_path);
      if (set.meta.value("method", "") != "dm") continue;
      ASSERT_TRUE(set.meta.contains("distill_timing"));
      EXPECT_EQ(set.meta["distill_timing"]["iterations_timed"], 2);
      EXPECT_EQ(set.meta["distill_timing"]["iterations_total"], 3);
      found = true;
    }
  EXPECT_TRUE(found);
}
