// `full` (the whole training split as the "set") keeps no file in the store: the set is the data, and
// at the paper tier it would be gigabytes per seed. A second evaluation of the same distillation
// rebuilds it (same seed, same set) and gives the same numbers as the first.
#include <gtest/gtest.h>

#include <filesystem>

#include "harness/store.h"
#include "../unit/test_helpers.h"
#include "../support/command.h"

using ddb::testing_support::ddbench;
using ddb::testing_support::temp_dir;
using ddb::testing_support::write_file;

namespace {

std::string suite(const std::string& id, int epochs) {
  return "id: " + id +
         "\ntitle: full\nsource: {paper: demo}\ndefaults:\n  dataset: toy28\n  distill_net: null\n"
         "  eval: {protocol: dc, net: ConvNetW32, epochs: " +
         std::to_string(epochs) +
         ", runs: 1}\n  seeds: 1\n  metric: accuracy\n  paper: {unavailable: \"toy\"}\nband: {k: 2.0, floor: 1.0}\n"
         "tiers:\n  cpu: {}\ncells:\n  - {id: whole, method: full, ipc: 0}\n  - {id: r1, method: random, ipc: 1}\n";
}

}  // namespace

TEST(FullKeepsNoFile, TheSetIsRebuiltForEachEvaluation) {
  const auto dir = temp_dir("full-no-file");
  const std::string results = (dir / "res").string();
  const std::string common = " --results " + results + " --no-report --tier cpu --threads 1";
  const auto first = ddbench("run " + write_file(dir / "a.yaml", suite("t.full.a", 1)) + common);
  ASSERT_EQ(first.code, 0) << first.output;
  // A second suite: the same distillations, other evaluation settings (new evaluation keys).
  const auto second = ddbench("run " + write_file(dir / "b.yaml", suite("t.full.b", 2)) + common);
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_NE(second.output.find("2 jobs done, 0 failed"), std::string::npos) << second.output;
  ddb::Store store(results);
  int full = 0, random = 0;
  for (const auto& d : store.all_distillations()) {
    EXPECT_EQ(d.status, "done");
    if (d.config.value("method", "") == "full") {
      ++full;
      EXPECT_EQ(d.synset_path, "") << "full keeps no file";
    } else {
      ++random;
      EXPECT_TRUE(std::filesystem::exists(d.synset_path)) << d.synset_path;
    }
  }
  EXPECT_EQ(full, 1);
  EXPECT_EQ(random, 1);
  // No file of the training split anywhere in the store.
  for (const auto& e : std::filesystem::recursive_directory_iterator(results))
    if (e.is_regular_file()) EXPECT_LT(e.file_size(), 1000u * 1000u) << e.path();
  // The rebuilt set is the same set: the same configuration evaluated again gives the same value.
  const auto again = ddbench("run " + (dir / "a.yaml").string() + " --results " + (dir / "res2").string() +
                             " --no-report --tier cpu --threads 1");
  ASSERT_EQ(again.code, 0) << again.output;
  ddb::Store a(results), b((dir / "res2").string());
  for (const auto& e : b.all_evaluations())
    if (e.config.value("method", "") == "full") {
      const auto mb = b.metrics_of(e.key), ma = a.metrics_of(e.key);
      ASSERT_EQ(ma.size(), 1u);
      ASSERT_EQ(mb.size(), 1u);
      EXPECT_EQ(ma[0].value, mb[0].value);
    }
}
