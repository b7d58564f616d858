// The two-level identity, end to end: one distillation serves every evaluation of it, changing the
// evaluation does not re-distill, and `ddbench distill` replays a stored distillation exactly.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "ddbench_config.h"
#include "harness/store.h"
#include "harness/synset_io.h"
#include "../unit/test_helpers.h"

using ddb::testing_support::temp_dir;
using ddb::testing_support::write_file;

namespace {

std::string run(const std::string& args, int* code = nullptr) {
  const std::string cmd = std::string(DDBENCH_BINARY) + " " + args + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int status = pclose(p);
  if (code) *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Two cells: the same DM distillation, evaluated for 3 and for 6 epochs.
std::string suite(int epochs_b) {
  return R"(id: t.identity
title: two evaluations of one distillation
source: {paper: demo}
defaults:
  dataset: toy28
  distill_net: ConvNetW32
  ipc: 1
  method: dm
  options: {iterations: 2, batch_real: 8}
  seeds: 2
  metric: accuracy
  paper: {unavailable: "toy"}
tiers:
  cpu: {}
cells:
  - {id: a, eval: {protocol: dc, net: ConvNetW32, epochs: 3, runs: 1}}
  - {id: b, eval: {protocol: dc, net: ConvNetW32, epochs: )" +
         std::to_string(epochs_b) + R"(, runs: 1}}
)";
}

}  // namespace

TEST(Identity, OneDistillationServesEveryEvaluationAndDistillReplaysIt) {
  const auto dir = temp_dir("identity");
  const std::string results = (dir / "res").string();
  int code = -1;
  std::string out = run("run " + write_file(dir / "s.yaml", suite(6)) + " --results " + results +
                            " --no-report --tier cpu --threads 1",
                        &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(count(out, "done (stored set)"), 2u) << out;  // cell b reuses cell a's two sets
  std::vector<ddb::DistillRecord> d;
  {
    ddb::Store store(results);
    d = store.all_distillations();
    ASSERT_EQ(d.size(), 2u);  // 2 seeds, shared by both cells
    EXPECT_EQ(store.all_evaluations().size(), 4u);
  }

  // Changing an evaluation setting evaluates again without distilling again.
  out = run("run " + write_file(dir / "s.yaml", suite(9)) + " --results " + results +
                " --no-report --tier cpu --threads 1",
            &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("2 jobs already done"), std::string::npos) << out;
  EXPECT_EQ(count(out, "done (stored set)"), 2u) << out;
  {
    ddb::Store store(results);
    const auto d2 = store.all_distillations();
    ASSERT_EQ(d2.size(), 2u);
    for (size_t i = 0; i < d.size(); ++i) EXPECT_EQ(d2[i].updated_at, d[i].updated_at) << d2[i].key;
    EXPECT_EQ(store.all_evaluations().size(), 6u);
  }

  // `ddbench distill` with the distillation's settings and seed index replays the stored set exactly.
  const std::string replay = (dir / "replay.pt").string();
  out = run("distill --method dm --dataset toy28 --ipc 1 --net ConvNetW32 -o iterations=2 -o batch_real=8 --seed 1 "
            "--threads 1 --out " + replay,
            &code);
  ASSERT_EQ(code, 0) << out;
  const ddb::DistillRecord& s1 = d[0].seed_index == 1 ? d[0] : d[1];
  EXPECT_NE(out.find(s1.key), std::string::npos) << out;
  const ddb::SyntheticSet stored = ddb::load_synset(s1.synset_path), again = ddb::load_synset(replay);
  EXPECT_TRUE(torch::equal(stored.images, again.images));
  EXPECT_TRUE(torch::equal(stored.labels, again.labels));
  std::filesystem::remove_all(dir);
}
