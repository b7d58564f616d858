// ddbench: torch-free
// `ddbench run --shard i/n` into one store per shard, `ddbench merge` of those stores, and `ddbench regress`
// on the merged store: the merged shards hold exactly what one local run holds (seeds come from the
// configuration), merging again adds nothing, a conflicting store is refused, and an injected regression
// makes regress exit 1 with the cell on top of its report.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/json.h"
#include "ddbench_config.h"
#include "harness/store.h"
#include "../unit/test_helpers.h"
#include "../support/command.h"
#include "../support/store_contents.h"
#include "../support/toy_suite.h"

namespace fs = std::filesystem;
using ddb::json;

namespace {

using Result = ddb::testing_support::CommandResult;
using ddb::testing_support::ddbench;

const std::string kSuite = ddb::testing_support::toy_suite_yaml({"t.merge", 2, 10, 2, {1, 2}});

const auto& contents = ddb::testing_support::store_contents;

}  // namespace

TEST(CliMergeRegress, ShardStoresMergeToTheLocalRunAndAnInjectedRegressionIsFlagged) {
  const fs::path dir = ddb::testing_support::temp_dir("merge-regress");
  const std::string suite = ddb::testing_support::write_file(dir / "suite.yaml", kSuite);
  const std::string common = " --tier cpu --threads 1 -q --no-report --report-dir " + (dir / "reports").string();
  for (int i = 0; i < 2; ++i) {
    const Result r = ddbench("run " + suite + common + " --shard " + std::to_string(i) + "/2 --results " +
                             (dir / ("shard" + std::to_string(i))).string());
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("no report (partial results)"), std::string::npos) << r.output;
  }
  const Result local = ddbench("run " + suite + common + " --results " + (dir / "local").string());
  ASSERT_EQ(local.code, 0) << local.output;
  const std::string merged = (dir / "merged").string();
  const std::string shards = (dir / "shard0").string() + " " + (dir / "shard1").string();
  Result m = ddbench("merge " + shards + " --into " + merged);
  ASSERT_EQ(m.code, 0) << m.output;
  EXPECT_NE(m.output.find("4 evaluations and 4 distillations written"), std::string::npos) << m.output;
  EXPECT_EQ(contents(merged), contents((dir / "local").string()));
  ASSERT_EQ(contents(merged).size(), 4u);
  m = ddbench("merge " + shards + " " + (dir / "local").string() + " --into " + merged);  // again: nothing new
  ASSERT_EQ(m.code, 0) << m.output;
  EXPECT_NE(m.output.find("0 evaluations and 0 distillations written"), std::string::npos) << m.output;
  for (const auto& d : ddb::Store(merged).all_distillations()) {
    EXPECT_TRUE(fs::exists(d.synset_path)) << d.synset_path;
    EXPECT_EQ(d.synset_path.rfind(merged, 0), 0u) << d.synset_path;
  }

  // The candidate: the merged results with every r2 value 30 points lower (a damaged method).
  const std::string cand = (dir / "candidate").string();
  ASSERT_EQ(ddbench("merge " + merged + " --into " + cand).code, 0);
  std::string r2_key;
  {
    ddb::Store c(cand);
    c.transaction([&] {
      for (const auto& e : c.all_evaluations()) {
        if (e.config.at("ipc") != 2) continue;
        r2_key = e.key;
        auto rows = c.metrics_of(e.key);
        for (auto& row : rows) row.value -= 30;
        c.put_evaluation(e, rows, c.failures_of(e.key));
      }
    });
  }
  ASSERT_FALSE(r2_key.empty());
  // A store holding the damaged values conflicts with the merged one: refused, naming both and the key.
  m = ddbench("merge " + cand + " --into " + merged);
  EXPECT_EQ(m.code, 2) << m.output;
  EXPECT_NE(m.output.find(cand), std::string::npos) << m.output;
  EXPECT_NE(m.output.find(merged), std::string::npos) << m.output;
  EXPECT_NE(m.output.find(r2_key), std::string::npos) << m.output;

  const std::string out = (dir / "regress").string();
  Result r = ddbench("regress " + suite + " --tier cpu --baseline " + merged + " --candidate " + merged + " --out-dir " + out);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("regressed 0"), std::string::npos) << r.output;
  r = ddbench("regress " + suite + " --tier cpu --baseline " + merged + " --candidate " + cand + " --out-dir " + out);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("| **regressed** | t.merge | r2 |"), std::string::npos) << r.output;
  std::ifstream js(fs::path(out) / "regress.json");
  const json doc = json::parse(js);
  EXPECT_EQ(doc["counts"]["regressed"], 1);
  EXPECT_EQ(doc["cells"][0]["cell"], "r2");
  EXPECT_EQ(doc["cells"][1]["verdict"], "unchanged");
  EXPECT_TRUE(fs::exists(fs::path(out) / "regress.md"));
}
