// `ddbench run --stack-runs on|off|auto`: a job's evaluation runs trained as one stacked model give the
// sequential run's values (same keys; each value within 1 point on 40 test images per class x 10, i.e.
// a prediction or two), are recorded as provenance eval_runs, and bad values are refused.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "harness/store.h"
#include "../unit/test_helpers.h"
#include "../support/command.h"
#include "../support/toy_suite.h"

using ddb::testing_support::ddbench;
using ddb::testing_support::temp_dir;
using ddb::testing_support::write_file;

namespace {

// key -> [(metric, value)] per evaluation, and key -> provenance.eval_runs.
struct Contents {
  std::map<std::string, std::vector<std::pair<std::string, double>>> values;
  std::map<std::string, std::string> eval_runs;
};

Contents contents(const std::string& dir) {
  ddb::Store store(dir);
  Contents c;
  for (const auto& r : store.all_evaluations()) {
    for (const auto& m : store.metrics_of(r.key)) c.values[r.key].push_back({m.metric, m.value});
    c.eval_runs[r.key] = r.provenance.value("eval_runs", "");
  }
  return c;
}

}  // namespace

TEST(StackRuns, StackedRunsGiveTheSequentialValuesAndSaySo) {
  const auto dir = temp_dir("stack-runs");
  const std::string suite = write_file(dir / "toy.yaml", ddb::testing_support::toy_suite_yaml({"t.stack", 1, 4, 3, {1, 2}}));
  const std::string common = " --no-report --tier cpu --threads 1";
  const auto seq = ddbench("run " + suite + " --results " + (dir / "seq").string() + common);  // auto: off on the CPU
  ASSERT_EQ(seq.code, 0) << seq.output;
  const auto stacked = ddbench("run " + suite + " --results " + (dir / "stacked").string() + common + " --stack-runs on");
  ASSERT_EQ(stacked.code, 0) << stacked.output;
  EXPECT_NE(stacked.output.find("evaluation runs stacked where the net allows"), std::string::npos) << stacked.output;
  EXPECT_NE(seq.output.find("evaluation runs one after the other"), std::string::npos) << seq.output;
  const Contents a = contents((dir / "seq").string()), b = contents((dir / "stacked").string());
  ASSERT_EQ(a.values.size(), 2u);
  ASSERT_EQ(b.values.size(), 2u);
  for (const auto& [key, rows] : a.values) {
    ASSERT_TRUE(b.values.count(key)) << key;
    ASSERT_EQ(rows.size(), 3u) << key;
    ASSERT_EQ(b.values.at(key).size(), 3u) << key;
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(rows[i].first, b.values.at(key)[i].first);
      EXPECT_NEAR(rows[i].second, b.values.at(key)[i].second, 1.0) << key << " run " << i;
    }
    EXPECT_EQ(a.eval_runs.at(key), "sequential");
    EXPECT_EQ(b.eval_runs.at(key), "stacked");
  }
}

TEST(StackRuns, BadValuesAreRefused) {
  const auto r = ddbench("run toy.yaml --stack-runs maybe --results /nonexistent");
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("--stack-runs: maybe not in {on,off,auto}"), std::string::npos) << r.output;
}

TEST(StackRuns, EvaluateTrainsItsRunsStackedOrSaysWhyNot) {
  const auto dir = temp_dir("stack-eval");
  const std::string set = (dir / "r1.pt").string();
  const auto distill = ddbench("distill --method random --dataset toy28 --ipc 1 --out " + set + " --threads 1");
  ASSERT_EQ(distill.code, 0) << distill.output;
  const std::string eval = "evaluate " + set + " --epochs 2 --runs 2 --threads 1 --device cpu --stack-runs on";
  const auto stacked = ddbench(eval + " --net ConvNetW32");
  ASSERT_EQ(stacked.code, 0) << stacked.output;
  EXPECT_NE(stacked.output.find("2 runs trained as one stacked model"), std::string::npos) << stacked.output;
  EXPECT_NE(stacked.output.find("run 2: accuracy"), std::string::npos) << stacked.output;
  const auto mlp = ddbench(eval + " --net MLP");
  ASSERT_EQ(mlp.code, 0) << mlp.output;
  EXPECT_NE(mlp.output.find("runs one after the other: the net is not a ConvNet"), std::string::npos) << mlp.output;
  EXPECT_NE(mlp.output.find("run 2: accuracy"), std::string::npos) << mlp.output;
}
