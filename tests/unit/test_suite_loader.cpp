// ddbench: torch-free
#include <gtest/gtest.h>

#include "harness/suite.h"
#include "test_helpers.h"

using namespace ddb;
using ddb::testing_support::temp_dir;
using ddb::testing_support::write_file;

namespace {

const char* kGood = R"(id: t.good
title: demo
source: {paper: demo, table: "Table 1"}
defaults:
  dataset: fashion-mnist
  method: dm
  ipc: 10
  eval: {protocol: dc, net: ConvNet, epochs: 1000, augment: dsa, runs: 5}
  seeds: 5
  metric: accuracy
  paper: {runs: 25, selection: last}
band: {k: 2.0, floor: 1.0}
tiers:
  cpu:
    eval: {epochs: 50, runs: 1}
    seeds: 2
cells:
  - id: a
    paper: {value: 80.5, std: 0.4}
  - id: b
    method: random
    ipc: 1
    paper: {unavailable: "lost"}
    tiers:
      cpu: {eval: {net: ConvNetW32}}
relations:
  - {cell: a, beats: b, by: 2}
)";

std::string load_error(const std::string& text) {
  const auto dir = temp_dir("suite");
  const std::string path = write_file(dir / "bad.yaml", text);
  try {
    load_suite(path);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SuiteLoader, MergesDefaultsTiersAndInheritedPaperConventions) {
  const auto dir = temp_dir("suite");
  const Suite s = load_suite(write_file(dir / "good.yaml", kGood));
  ASSERT_EQ(s.cells.size(), 2u);
  const Cell& a = s.cells[0];
  EXPECT_EQ(a.spec["method"], "dm");
  EXPECT_EQ(a.spec["eval"]["epochs"], 1000);
  EXPECT_EQ(a.paper.runs.value_or(0), 25);  // inherited from defaults.paper
  EXPECT_DOUBLE_EQ(*a.paper.value, 80.5);
  const json cpu = *s.spec_at(a, "cpu");
  EXPECT_EQ(cpu["eval"]["epochs"], 50);
  EXPECT_EQ(cpu["eval"]["augment"], "dsa");  // maps merge key by key
  EXPECT_EQ(cpu["seeds"], 2);
  const Cell& b = s.cells[1];
  EXPECT_EQ(b.spec["method"], "random");
  EXPECT_EQ((*s.spec_at(b, "cpu"))["eval"]["net"], "ConvNetW32");  // cell-level tier override
  EXPECT_EQ(b.paper.unavailable, "lost");
  EXPECT_FALSE(s.spec_at(a, "gpu-small").has_value());
  ASSERT_EQ(s.relations.size(), 1u);
}

TEST(SuiteLoader, UnknownFieldNamesFileLineAndField) {
  std::string text = kGood;
  text.replace(text.find("  - id: b"), 9, "  - id: b\n    metrc: accuracy");
  const std::string err = load_error(text);
  EXPECT_NE(err.find("bad.yaml:"), std::string::npos) << err;
  EXPECT_NE(err.find("cells[1].metrc"), std::string::npos) << err;
  EXPECT_NE(err.find("bad.yaml:21:"), std::string::npos) << err;  // the line of the typo
}

TEST(SuiteLoader, WrongTypeIsAnError) {
  std::string text = kGood;
  text.replace(text.find("ipc: 1\n"), 7, "ipc: one\n");
  const std::string err = load_error(text);
  EXPECT_NE(err.find("cells[1].ipc"), std::string::npos) << err;
  EXPECT_NE(err.find("integer"), std::string::npos) << err;
}

TEST(SuiteLoader, MissingPaperValueAndDuplicateIds) {
  std::string text = kGood;
  text.replace(text.find("paper: {value: 80.5, std: 0.4}"), 30, "paper: {std: 0.4}");
  EXPECT_NE(load_error(text).find("needs a value"), std::string::npos);
  std::string dup = kGood;
  dup.replace(dup.find("  - id: b"), 9, "  - id: a");
  EXPECT_NE(load_error(dup).find("duplicate cell id 'a'"), std::string::npos);
}

TEST(SuiteLoader, SyntaxErrorNamesLine) {
  const std::string err = load_error("id: x\ncells: [\n  {id: a\n");
  EXPECT_NE(err.find("bad.yaml:"), std::string::npos) << err;
  EXPECT_NE(err.find("YAML syntax error"), std::string::npos) << err;
}

TEST(SuiteLoader, RelationToUnknownCellIsAnError) {
  std::string text = kGood;
  text.replace(text.find("beats: b"), 8, "beats: zz");
  EXPECT_NE(load_error(text).find("no cell 'zz'"), std::string::npos);
}

TEST(SuiteLoader, MergeJsonIsDeepForMapsOnly) {
  const json m = merge_json({{"a", {{"x", 1}, {"y", 2}}}, {"l", {1, 2}}}, {{"a", {{"y", 3}}}, {"l", {9}}});
  EXPECT_EQ(m["a"]["x"], 1);
  EXPECT_EQ(m["a"]["y"], 3);
  EXPECT_EQ(m["l"], json::array({9}));
}

// A cpu profile can cut one method's options without handing them to methods that lack them.
TEST(SuiteLoader, TierMethodOptionsReachOnlyThatMethod) {
  std::string text = kGood;
  text.replace(text.find("    seeds: 2\n"), 13, "    seeds: 2\n    method_options: {dm: {iterations: 7}}\n");
  const auto dir = temp_dir("suite");
  const Suite s = load_suite(write_file(dir / "mo.yaml", text));
  const json a = *s.spec_at(s.cells[0], "cpu");
  EXPECT_EQ(a["options"]["iterations"], 7);
  EXPECT_FALSE(a.contains("method_options"));
  const json b = *s.spec_at(s.cells[1], "cpu");  // random
  EXPECT_FALSE(b.contains("options") && b["options"].contains("iterations")) << b.dump();
  EXPECT_EQ(s.spec_at(s.cells[0], "paper")->value("options", json::object()).count("iterations"), 0u);
  std::string bad = kGood;
  bad.replace(bad.find("    seeds: 2\n"), 13, "    seeds: 2\n    method_options: {dm: 7}\n");
  EXPECT_NE(load_error(bad).find("tiers.cpu.method_options.dm"), std::string::npos) << load_error(bad);
}

// Options belong to a method: a cell of another method than the defaults' starts from no options
// (TrustDD's text suite has TESLA cells in a file whose defaults are DSA's).
TEST(SuiteLoader, DefaultOptionsReachOnlyCellsOfTheDefaultMethod) {
  std::string text = kGood;
  text.replace(text.find("  ipc: 10\n"), 10, "  ipc: 10\n  options: {iterations: 9}\n");
  text.replace(text.find("  - id: b\n"), 10, "  - id: c\n    options: {lr_img: 2.0}\n    paper: {value: 1}\n  - id: b\n");
  const auto dir = temp_dir("suite");
  const Suite s = load_suite(write_file(dir / "opt.yaml", text));
  ASSERT_EQ(s.cells.size(), 3u);
  EXPECT_EQ(s.cells[0].spec["options"]["iterations"], 9);
  EXPECT_EQ(s.cells[1].spec["options"]["iterations"], 9);  // same method: maps merge key by key
  EXPECT_EQ(s.cells[1].spec["options"]["lr_img"], 2.0);
  EXPECT_FALSE(s.cells[2].spec.contains("options")) << s.cells[2].spec.dump();  // method random
}
