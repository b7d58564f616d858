// Selection rules: `best_iter` evaluates the set at each evaluation point of the distillation and
// keeps the point with the best mean (MTT distill.py's best_acc); a method that does not expose its
// intermediate sets leaves such a cell unimplemented.
#include <gtest/gtest.h>

#include "harness/check.h"
#include "harness/eval_protocol.h"
#include "harness/runner.h"
#include "methods/method.h"
#include "test_helpers.h"

using namespace ddb;

namespace {

// The set after u updates has every pixel at value(u) = -(u - 3)^2: best after 3 updates.
double value_after(int64_t u) { return -static_cast<double>((u - 3) * (u - 3)); }

class PeakProbe : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    const int64_t iterations = ctx.options.integer("iterations");
    auto set_after = [&](int64_t u) {
      SyntheticSet s;
      s.images = torch::full({10, 1, 28, 28}, value_after(u));
      s.labels = torch::arange(10);
      return s;
    };
    for (int64_t u = 0; u < iterations; ++u)
      if (ctx.snapshot_due(u)) ctx.snapshot(u, set_after(u));
    SyntheticSet out = set_after(iterations);
    if (ctx.snapshot_due(iterations)) ctx.snapshot(iterations, out);
    return out;
  }
};
DDBENCH_REGISTER_METHOD(MethodInfo{"peak_probe_test", "test probe: a set whose value peaks after 3 updates",
                                   {{"iterations", "int", 6, "updates"}},
                                   [] { return std::make_unique<PeakProbe>(); },
                                   /*matching=*/false, /*snapshots=*/true});
DDBENCH_REGISTER_METHOD(MethodInfo{"final_only_test", "test probe: no intermediate sets",
                                   {{"iterations", "int", 6, "updates"}},
                                   [] { return std::make_unique<PeakProbe>(); }});

// accuracy = 100 + the set's pixel value + the run index / 10 (runs differ, deterministically).
class ValueProtocol : public EvalProtocol {
 public:
  EvalRunResult run(const EvalContext& ctx) const override {
    EvalRunResult r;
    r.accuracy = 100.0 + ctx.set.images.mean().item<double>() + (ctx.phase.find("eval 2/") != std::string::npos ? 0.1 : 0);
    r.values = {{"accuracy", r.accuracy}};
    return r;
  }
};
DDBENCH_REGISTER_PROTOCOL(ProtocolInfo{"value_test", "1", "test-only protocol", {"accuracy"},
                                       [] { return std::make_unique<ValueProtocol>(); }});

Suite suite(const std::filesystem::path& dir, const std::string& method, const std::string& eval_extra) {
  return load_suite(ddb::testing_support::write_file(dir / "sel.yaml", R"(id: t.sel
source: {paper: demo}
defaults: {dataset: toy28, ipc: 1, distill_net: ConvNetW32, metric: accuracy, seeds: 1,
           eval: {protocol: value_test, net: ConvNetW32, runs: 2)" + eval_extra + R"(}, paper: {value: 10}}
tiers: {cpu: {}}
cells:
  - {id: a, method: )" + method + R"(}
)"));
}

}  // namespace

TEST(Selection, BestIterKeepsTheBestEvaluationPointPerDistillation) {
  const auto dir = ddb::testing_support::temp_dir("selection");
  const Suite s = suite(dir, "peak_probe_test", ", selection: best_iter, eval_every: 1, eval_from: 2");
  PlanEnv env;
  const auto cells = plan_suite(s, env);
  ASSERT_TRUE(cells[0].runnable()) << cells[0].reason;
  Store store((dir / "results").string());
  RunnerOptions ro;
  ro.quiet = true;
  const auto jobs = jobs_for(cells);
  EXPECT_EQ(run_jobs(jobs, store, ro).succeeded, 1);
  // Points 2..6 (eval_from 2, every update, the final one included); the best is after 3 updates.
  EXPECT_EQ(store.metrics_of(jobs[0].key()).size(), 2u);
  const CellResult r = check_cell(cells[0], store, "cpu");
  EXPECT_DOUBLE_EQ(*r.mean, 100.05);
  const json sel = store.find(jobs[0].key())->provenance.at("selection");
  EXPECT_EQ(sel.at("chosen_iteration"), 3);
  ASSERT_EQ(sel.at("points").size(), 5u);
  EXPECT_EQ(sel.at("points")[0].at("iteration"), 2);
  EXPECT_DOUBLE_EQ(sel.at("points")[4].at("mean").get<double>(), 100.05 + value_after(6));
  EXPECT_EQ(store.find_distillation(jobs[0].distill_key())->provenance.at("snapshots"),
            json({{"eval_every", 1}, {"eval_from", 2}}));

  // `last` on the same distillation: its final set (after 6 updates), without distilling again.
  const Suite last = suite(dir / "last", "peak_probe_test", "");
  const auto cells2 = plan_suite(last, env);
  EXPECT_EQ(cells2[0].run->distill_hash, cells[0].run->distill_hash);
  EXPECT_NE(cells2[0].run->eval_hash, cells[0].run->eval_hash);
  run_jobs(jobs_for(cells2), store, ro);
  EXPECT_DOUBLE_EQ(*check_cell(cells2[0], store, "cpu").mean, 100.05 + value_after(6));
  EXPECT_EQ(store.all_distillations().size(), 1u);
  std::filesystem::remove_all(dir);
}

TEST(Selection, BestIterNeedsAnIntervalAndAMethodThatExposesItsSets) {
  const auto dir = ddb::testing_support::temp_dir("selection");
  PlanEnv env;
  const Suite no_interval = suite(dir, "peak_probe_test", ", selection: best_iter");
  auto c = plan_suite(no_interval, env);
  EXPECT_EQ(c[0].status, Status::Invalid);
  EXPECT_NE(c[0].reason.find("eval_every"), std::string::npos) << c[0].reason;
  const Suite final_only = suite(dir / "f", "final_only_test", ", selection: best_iter, eval_every: 2");
  c = plan_suite(final_only, env);
  EXPECT_EQ(c[0].status, Status::Unimplemented);
  EXPECT_NE(c[0].reason.find("selection best_iter for method final_only_test"), std::string::npos) << c[0].reason;
  std::filesystem::remove_all(dir);
}
