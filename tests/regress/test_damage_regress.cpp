// ddbench: torch-free
// The nightly report end to end on toy28: a baseline run, a candidate run of a deliberately damaged method
// (the test-only $DDBENCH_TEST_DAMAGE: a fraction of the synthetic set's labels moved to the next class) is
// flagged by `ddbench regress` (exit 1, the cell named, its SVG written and linked), and an undamaged rerun on
// new seeds (the test-only $DDBENCH_TEST_SEED_SALT: same configurations and keys, other seeds) is not. The
// false-positive rate over many same-distribution pairs is tests/unit/test_regress.cpp's.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

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

const std::string kSuite = ddb::testing_support::toy_suite_yaml({"t.damage", 3, 10, 2, {2}});

const auto& contents = ddb::testing_support::store_contents;

json read_json(const fs::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}

}  // namespace

TEST(CliRegressDamage, ADamagedMethodIsFlaggedAndNewSeedsAreNot) {
  const fs::path dir = ddb::testing_support::temp_dir("damage");
  const std::string suite = ddb::testing_support::write_file(dir / "suite.yaml", kSuite);
  const std::string common = " --tier cpu --threads 1 -q --no-report";
  const std::string base = (dir / "base").string(), damaged = (dir / "damaged").string(),
                    reseeded = (dir / "reseeded").string(), out = (dir / "out").string();
  Result r = ddbench("run " + suite + common + " --results " + base);
  ASSERT_EQ(r.code, 0) << r.output;
  r = ddbench("run " + suite + common + " --results " + damaged, "DDBENCH_TEST_DAMAGE=random:0.6");
  ASSERT_EQ(r.code, 0) << r.output;
  r = ddbench("run " + suite + common + " --results " + reseeded, "DDBENCH_TEST_SEED_SALT=night-2");
  ASSERT_EQ(r.code, 0) << r.output;

  // Same keys in all three stores (the cells match); the damaged and reseeded values differ from the baseline.
  const auto b = contents(base), d = contents(damaged), s = contents(reseeded);
  ASSERT_EQ(b.size(), 3u);
  for (const auto& [key, values] : b) {
    ASSERT_TRUE(d.count(key) && s.count(key)) << key;
    EXPECT_NE(values, d.at(key)) << key;
    EXPECT_NE(values, s.at(key)) << key << ": the salt gives new seeds";
  }
  for (const auto& e : ddb::Store(damaged).all_evaluations()) EXPECT_EQ(e.provenance.value("test_damage", 0.0), 0.6);
  for (const auto& e : ddb::Store(reseeded).all_evaluations())
    EXPECT_EQ(e.provenance.value("test_seed_salt", ""), "night-2");

  const std::string trend = (fs::path(out) / "trend.csv").string();
  r = ddbench("regress " + suite + " --tier cpu --baseline " + base + " --candidate " + damaged + " --out-dir " + out +
              " --name damaged --trend " + trend + " --trend-date 2026-01-02");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("| **regressed** | t.damage | r2 |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[svg](damaged-plots/t.damage.r2.svg)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("![t.damage / r2: regressed](damaged-plots/t.damage.r2.svg)"), std::string::npos) << r.output;
  const fs::path svg = fs::path(out) / "damaged-plots" / "t.damage.r2.svg";
  ASSERT_TRUE(fs::exists(svg));
  std::stringstream text;
  text << std::ifstream(svg).rdbuf();
  EXPECT_EQ(text.str().rfind("<?xml", 0), 0u);
  const json doc = read_json(fs::path(out) / "damaged.json");
  EXPECT_EQ(doc["counts"]["regressed"], 1);
  EXPECT_EQ(doc["cells"][0]["plot"], "damaged-plots/t.damage.r2.svg");
  EXPECT_EQ(doc["cells"][0]["candidate"]["runs"].size(), 6u);

  r = ddbench("regress " + suite + " --tier cpu --baseline " + base + " --candidate " + reseeded + " --out-dir " + out +
              " --name reseeded --trend " + trend);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("| unchanged | t.damage | r2 |"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(fs::path(out) / "reseeded-plots")) << "no changed cell, no plot";
  // The trend file: a header, then one line per cell and night.
  std::ifstream tf(trend);
  std::vector<std::string> lines;
  for (std::string line; std::getline(tf, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "date,commit,suite,cell,metric,mean,std,n,verdict");
  EXPECT_EQ(lines[1].rfind("2026-01-02,", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find(",t.damage,r2,accuracy,"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(",6,regressed"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find(",6,unchanged"), std::string::npos) << lines[2];

  // A malformed damage value fails the jobs with a clear reason instead of running undamaged.
  r = ddbench("run " + suite + common + " --results " + (dir / "bad").string(), "DDBENCH_TEST_DAMAGE=lots");
  EXPECT_NE(r.code, 0) << r.output;
  bool said = false;
  for (const auto& e : ddb::Store((dir / "bad").string()).all_evaluations())
    said = said || e.error.find("DDBENCH_TEST_DAMAGE='lots'") != std::string::npos;
  EXPECT_TRUE(said) << r.output;
}
