// End-to-end tests of the ddbench command line: clear errors on bad input, crash-safe resume,
// Python interop, the repository's own suites staying valid.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <thread>

#include "ddbench_config.h"
#include "harness/plan.h"
#include "harness/store.h"
#include "../unit/test_helpers.h"
#include "../support/command.h"

using ddb::testing_support::temp_dir;
using ddb::testing_support::write_file;

namespace {

using ddb::testing_support::CommandResult;
CommandResult run(const std::string& args) { return ddb::testing_support::ddbench(args); }

const char* kToySuite = R"(id: t.cli
title: toy
source: {paper: demo}
defaults:
  dataset: toy28
  distill_net: ConvNetW32
  eval: {protocol: dc, net: ConvNetW32, epochs: 40, runs: 2}
  seeds: 3
  metric: accuracy
  paper: {unavailable: "toy"}
tiers:
  cpu: {}
cells:
  - {id: r1, method: random, ipc: 1}
  - {id: r2, method: random, ipc: 2}
)";

}  // namespace

TEST(Cli, MalformedSuiteNamesFileLineAndField) {
  const auto dir = temp_dir("cli");
  std::string text = kToySuite;
  text.replace(text.find("ipc: 2}"), 7, "ipc: 2, methd: dm}");
  const std::string path = write_file(dir / "broken.yaml", text);
  const CommandResult r = run("run " + path + " --results " + (dir / "res").string() + " --no-report");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("broken.yaml:15: field 'cells[1].methd': unknown field"), std::string::npos) << r.output;
}

TEST(Cli, UnknownMethodListsTheValidOnes) {
  const auto dir = temp_dir("cli");
  const CommandResult r = run("distill --method dmm --dataset toy28 --ipc 1 --out " + (dir / "x.pt").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("unknown method 'dmm'; registered methods: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("random"), std::string::npos);
}

TEST(Cli, UnknownOptionListsTheValidOnes) {
  const auto dir = temp_dir("cli");
  const CommandResult r =
      run("distill --method dm --dataset toy28 --ipc 1 -o iteratons=3 --out " + (dir / "x.pt").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("has no option 'iteratons'; valid options: iterations"), std::string::npos) << r.output;
}

// Counts below their floor are refused before anything runs, naming the flag. Before: `evaluate --runs 0`
// said "every run diverged", `--protocol kip --steps 0` trained the default 5000 steps, `distill --ipc -1`
// crashed inside LibTorch, `run --workers -1` ran.
TEST(Cli, CountsBelowTheirFloorNameTheFlag) {
  const auto dir = temp_dir("cli_counts");
  const std::string set = (dir / "s.pt").string();
  const std::array<std::pair<const char*, const char*>, 6> cases = {{
      {"evaluate S --runs 0", "--runs: must be >= 1, got 0"},
      {"evaluate S --protocol kip --steps 0", "--steps: must be >= 1, got 0"},
      {"evaluate S --epochs -5", "--epochs: must be >= 0, got -5"},
      {"evaluate S --batch-train x", "--batch-train: must be a whole number, got 'x'"},
      {"distill --method random --dataset toy28 --ipc -1 --out S", "--ipc: must be >= 0, got -1"},
      {"run S --workers -1", "--workers: must be >= 1, got -1"},
  }};
  for (const auto& [args, expected] : cases) {
    std::string a = args;
    a.replace(a.find('S', a.find(' ')), 1, set);
    const CommandResult r = run(a);
    EXPECT_EQ(r.code, 2) << a;  // a usage error exits 2 like any other bad input
    EXPECT_NE(r.output.find(expected), std::string::npos) << a << "\n" << r.output;
  }
  const CommandResult verb = run("evalute " + set);  // a mistyped verb is named, with the verbs there are
  EXPECT_EQ(verb.code, 2) << verb.output;
  EXPECT_NE(verb.output.find("unknown command 'evalute'; commands: run, "), std::string::npos) << verb.output;
  EXPECT_NE(verb.output.find("evaluate"), std::string::npos) << verb.output;
  const CommandResult ipc0 = run("distill --method random --dataset toy28 --ipc 0 --out " + set);
  EXPECT_EQ(ipc0.code, 2) << ipc0.output;
  EXPECT_NE(ipc0.output.find("method 'random' distills ipc >= 1"), std::string::npos) << ipc0.output;
}

// Before: `distill --method random --net NopeNet` saved a set keyed by a net that does not exist, and
// `run DIR` on a directory without suites exited 0 and wrote an empty report.
TEST(Cli, UnknownDistillNetAndASuitelessDirectoryAreErrors) {
  const auto dir = temp_dir("cli_nothing");
  const CommandResult net =
      run("distill --method random --dataset toy28 --ipc 1 --net NopeNet --out " + (dir / "x.pt").string());
  EXPECT_EQ(net.code, 2) << net.output;
  EXPECT_NE(net.output.find("NopeNet"), std::string::npos) << net.output;
  EXPECT_NE(net.output.find("ConvNet"), std::string::npos) << net.output;  // the registered ones are listed
  std::filesystem::create_directories(dir / "empty");
  const CommandResult empty = run("run " + (dir / "empty").string() + " --results " + (dir / "res").string() +
                                  " --report-dir " + (dir / "reports").string());
  EXPECT_EQ(empty.code, 2) << empty.output;
  EXPECT_NE(empty.output.find("a directory without suite files"), std::string::npos) << empty.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "reports"));
}

TEST(Cli, KillDuringRunThenRerunCompletesWithoutDuplicatesOrLoss) {
  const auto dir = temp_dir("cli");
  const std::string suite = write_file(dir / "toy.yaml", kToySuite);
  const std::string results = (dir / "res").string();
  const pid_t pid = fork();
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(DDBENCH_BINARY, DDBENCH_BINARY, "run", suite.c_str(), "--results", results.c_str(), "--no-report",
          "--tier", "cpu", "--threads", "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until at least one job is stored, then kill -9 mid-run.
  int done = 0;
  for (int i = 0; i < 600 && done < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!std::filesystem::exists(results + "/results.sqlite")) continue;
    done = 0;
    for (const auto& r : ddb::Store(results).all_evaluations()) done += r.status == "done";
  }
  ASSERT_GE(done, 2) << "the run never stored a job";
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  size_t done_before = 0;
  for (const auto& r : ddb::Store(results).all_evaluations()) done_before += r.status == "done";
  ASSERT_LT(done_before, 6u) << "the run finished before it could be killed; make the suite slower";

  const CommandResult again = run("run " + suite + " --results " + results + " --no-report --tier cpu --threads 1");
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("jobs already done"), std::string::npos) << again.output;
  ddb::Store store(results);
  const auto runs = store.all_evaluations();
  EXPECT_EQ(runs.size(), 6u);  // 2 configurations x 3 seeds, each exactly once
  for (const auto& r : runs) {
    EXPECT_EQ(r.status, "done") << r.key;
    EXPECT_EQ(store.metrics_of(r.key).size(), 2u) << r.key;  // 2 eval runs each
  }
  for (const auto& d : store.all_distillations()) EXPECT_EQ(d.status, "done") << d.key;
}

TEST(Cli, EvaluatesASetSavedByPythonTorchSave) {
  const std::string py = DDBENCH_PYTHON;
  if (py.empty() || std::system((py + " -c 'import torch' >/dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << "no python3 with torch (Debian python3-torch)";
  const auto dir = temp_dir("cli");
  const std::string file = (dir / "from_python.pt").string();
  const std::string save = py + " -c \"import torch; torch.save({'images': torch.randn(10, 1, 28, 28), 'labels': " +
                           "torch.arange(10)}, '" + file + "')\"";
  ASSERT_EQ(std::system(save.c_str()), 0);
  const CommandResult r = run("evaluate " + file + " --dataset toy28 --net ConvNetW32 --epochs 3 --runs 2 --threads 1");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("accuracy"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(n=2)"), std::string::npos) << r.output;
}

TEST(Cli, SuiteWithNothingRunnableIsSkippedForCtest) {
  const auto dir = temp_dir("cli");
  std::string text = kToySuite;
  text.replace(text.find("method: random, ipc: 1"), 22, "method: frepo, ipc: 1");
  text.replace(text.find("method: random, ipc: 2"), 22, "method: frepo, ipc: 2");
  const std::string suite = write_file(dir / "gpu.yaml", text);
  const CommandResult r = run("ctest-suite " + suite + " --tier cpu --results " + (dir / "res").string());
  EXPECT_EQ(r.code, 77) << r.output;
  EXPECT_NE(r.output.find("unimplemented: method frepo"), std::string::npos) << r.output;
}

TEST(Cli, RepositorySuitesAreValid) {
  const CommandResult r = run(std::string("suites validate ") + DDBENCH_SOURCE_DIR + "/suites");
  EXPECT_EQ(r.code, 0) << r.output.substr(0, 4000);
  EXPECT_NE(r.output.find(" 0 errors"), std::string::npos) << r.output.substr(0, 4000);
}

TEST(Cli, EveryVerbHasHelp) {
  for (const char* verb : {"run", "check", "report", "list", "distill", "evaluate", "suites", "ctest-suite"}) {
    const CommandResult r = run(std::string(verb) + " --help");
    EXPECT_EQ(r.code, 0) << verb;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << verb << r.output;
  }
}

// Defect: a mistyped option made the cell `unimplemented` and `suites validate` only warned.
TEST(Cli, MistypedOptionFailsValidateRunAndCtestSuite) {
  const auto dir = temp_dir("cli");
  std::string text = kToySuite;
  text.replace(text.find("method: random, ipc: 2"), 22, "method: dm, ipc: 2, options: {iteratons: 100}");
  const std::string suite = write_file(dir / "typo.yaml", text);
  const CommandResult v = run("suites validate " + suite);
  EXPECT_EQ(v.code, 1) << v.output;
  EXPECT_NE(v.output.find("typo.yaml:15: cell 'r2': method 'dm' has no option 'iteratons'; valid options: "),
            std::string::npos) << v.output;
  // Defect: ctest-suite exited 77 (skipped) when nothing could run, even with invalid cells.
  std::string none_runnable = text;
  none_runnable.replace(none_runnable.find("method: random, ipc: 1"), 22, "method: frepo, ipc: 1");
  const std::string suite2 = write_file(dir / "typo2.yaml", none_runnable);
  const CommandResult c = run("ctest-suite " + suite2 + " --tier cpu --results " + (dir / "res").string());
  EXPECT_EQ(c.code, 1) << c.output;
  EXPECT_NE(c.output.find("invalid: "), std::string::npos) << c.output;
}

// Defect: an unknown method in a suite without a cpu profile was reported needs-gpu; run exited 0.
TEST(Cli, UnknownMethodIsInvalidBeforeAnyTierGating) {
  const auto dir = temp_dir("cli");
  std::string text = kToySuite;
  text.replace(text.find("tiers:\n  cpu: {}\n"), 17, "");
  text.replace(text.find("method: random, ipc: 2"), 22, "method: no-such-method, ipc: 2");
  const std::string suite = write_file(dir / "nocpu.yaml", text);
  const CommandResult r = run("run " + suite + " --tier cpu --no-report --results " + (dir / "res").string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("invalid"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("unknown method 'no-such-method'"), std::string::npos) << r.output;
}

// Defect: `evaluate FILE` derived its seeds from the file's path; a copy gave another number.
TEST(Cli, EvaluateSeedsComeFromTheSetNotThePath) {
  const auto dir = temp_dir("cli");
  const std::string a = (dir / "a.pt").string(), b = (dir / "copy" / "b.pt").string();
  const CommandResult d = run("distill --method random --dataset toy28 --ipc 2 --out " + a);
  ASSERT_EQ(d.code, 0) << d.output;
  std::filesystem::create_directories(dir / "copy");
  std::filesystem::copy_file(a, b);
  const std::string args = " --dataset toy28 --net ConvNetW32 --epochs 4 --runs 1 --threads 1";
  const CommandResult ra = run("evaluate " + a + args), rb = run("evaluate " + b + args);
  ASSERT_EQ(ra.code, 0) << ra.output;
  ASSERT_EQ(rb.code, 0) << rb.output;
  auto line = [](const std::string& out) { return out.substr(out.find("run 1: accuracy"), 24); };
  EXPECT_EQ(line(ra.output), line(rb.output)) << ra.output << rb.output;
}

// LD's set carries what its evaluation needs (meta.ld) through the saved file's sidecar; the ld protocol
// counts steps, not epochs, and a set from another method gets a clear error.
TEST(Cli, LdSetEvaluatesWithItsOwnProtocolThroughTheSidecar) {
  const auto dir = temp_dir("cli");
  const std::string ld = (dir / "ld.pt").string(), rnd = (dir / "random.pt").string();
  const CommandResult d = run("distill --method ld --dataset toy28 --ipc 2 --net MLP -o epochs=1 -o batch_real=250 "
                              "-o val_size=200 --threads 1 --out " + ld);
  ASSERT_EQ(d.code, 0) << d.output;
  const CommandResult e = run("evaluate " + ld + " --protocol ld --net MLP --runs 2 --threads 1");
  ASSERT_EQ(e.code, 0) << e.output;
  EXPECT_NE(e.output.find("protocol ld, MLP): accuracy"), std::string::npos) << e.output;  // no epochs it does not use
  EXPECT_NE(e.output.find(" step "), std::string::npos) << e.output;
  ASSERT_EQ(run("distill --method random --dataset toy28 --ipc 2 --out " + rnd).code, 0);
  const CommandResult wrong = run("evaluate " + rnd + " --protocol ld --net MLP --threads 1");
  EXPECT_NE(wrong.code, 0);
  EXPECT_NE(wrong.output.find("distilled by method 'ld'"), std::string::npos) << wrong.output;
}

// Defect: a --data-root with an incomplete Fashion-MNIST was passed over for the system copy.
TEST(Cli, IncompleteDataRootIsAnErrorNamingTheMissingFile) {
  const std::filesystem::path sys = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(sys / "t10k-labels-idx1-ubyte.gz")) GTEST_SKIP() << "no dataset-fashion-mnist";
  const auto dir = temp_dir("cli");
  const auto root = dir / "data";
  std::filesystem::create_directories(root / "fashion-mnist");
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"})
    std::filesystem::create_symlink(sys / f, root / "fashion-mnist" / f);
  const std::string set = (dir / "s.pt").string();
  ASSERT_EQ(run("distill --method random --dataset toy28 --ipc 1 --out " + set).code, 0);
  const CommandResult r = run("evaluate " + set + " --dataset fashion-mnist --epochs 1 --data-root " + root.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("incomplete"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("t10k-labels-idx1-ubyte"), std::string::npos) << r.output;
}

// Defect: check and report re-planned against the reader's machine, so a store made on a GPU machine
// showed needs-gpu on a laptop. Here a store is faked as a GPU machine would write it.
TEST(Cli, ReportShowsAStoreFromAGpuMachine) {
  const auto dir = temp_dir("cli");
  const std::string suite = write_file(dir / "gpu.yaml", R"(id: t.gpu
title: made on a GPU
source: {paper: demo}
defaults: {dataset: toy28, ipc: 1, distill_net: ConvNetW32, metric: accuracy, seeds: 2,
           eval: {protocol: dc, net: ConvNetW32, epochs: 5, runs: 1}, requires: [gpu]}
cells:
  - {id: g, method: random, paper: {value: 61.0, std: 1.0}}
)");
  ddb::PlanEnv gpu;
  gpu.tier = "paper";
  gpu.cuda_available = true;
  const ddb::Suite s = ddb::load_suite(suite);
  const ddb::PlannedCell pc = ddb::plan_cell(s, s.cells[0], gpu);
  ASSERT_TRUE(pc.runnable()) << pc.reason;
  {
    ddb::Store store((dir / "gpu-store").string());
    for (int seed = 0; seed < 2; ++seed) {
      const ddb::Job job = ddb::make_job(*pc.run, seed);
      ddb::EvalRecord r;
      r.key = job.key();
      r.distill_key = job.distill_key();
      r.distill_hash = pc.run->distill_hash;
      r.eval_hash = pc.run->eval_hash;
      r.config = pc.run->config;
      r.seed_index = seed;
      r.provenance = {{"device", "cuda:0"}};
      store.finish(r, {{0, "accuracy", seed == 0 ? 60.0 : 62.0}});
    }
  }
  std::filesystem::copy(dir / "gpu-store", dir / "copied", std::filesystem::copy_options::recursive);
  const CommandResult r = run("report " + suite + " --tier paper --format csv --results " + (dir / "copied").string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("61.00"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("needs-gpu"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pass"), std::string::npos) << r.output;
  const CommandResult c = run("check " + suite + " --tier paper --results " + (dir / "copied").string());
  EXPECT_EQ(c.code, 0) << c.output;
  EXPECT_NE(c.output.find("pass"), std::string::npos) << c.output;
}

// Committed references keep the raw per-run values: `references` prints them from a store, and the
// loader checks that value/std/n summarise them.
TEST(Cli, ReferencesPrintsRawRunsThatTheLoaderAccepts) {
  const auto dir = temp_dir("cli");
  std::string text = kToySuite;
  text.replace(text.find("  - {id: r2, method: random, ipc: 2}\n"), 37, "");
  text.replace(text.find("epochs: 40"), 10, "epochs: 3");
  const std::string suite = write_file(dir / "ref.yaml", text);
  const std::string results = (dir / "res").string();
  ASSERT_EQ(run("run " + suite + " --tier cpu --no-report --threads 1 --results " + results).code, 0);
  const CommandResult r = run("references " + suite + " --tier cpu --results " + results);
  ASSERT_EQ(r.code, 0) << r.output;
  const auto at = r.output.find("r1: reference: {cpu: {value: ");
  ASSERT_NE(at, std::string::npos) << r.output;
  EXPECT_NE(r.output.find(", n: 6, runs: ["), std::string::npos) << r.output;  // 3 seeds x 2 eval runs
  const std::string block = r.output.substr(at + 4, r.output.find('\n', at) - at - 4);
  std::string with_ref = text;
  with_ref.replace(with_ref.find("ipc: 1}"), 7, "ipc: 1, " + block + "}");
  const std::string suite2 = write_file(dir / "ref2.yaml", with_ref);
  const CommandResult v = run("suites validate " + suite2);
  EXPECT_EQ(v.code, 0) << v.output << with_ref;
  const CommandResult c = run("check " + suite2 + " --tier cpu --results " + results);
  EXPECT_EQ(c.code, 0) << c.output;
  EXPECT_NE(c.output.find("pass"), std::string::npos) << c.output;
  std::string tampered = with_ref;
  const size_t first = tampered.find("runs: [") + 7;  // the first run's leading digit: the mean no longer matches
  tampered.replace(first, 1, tampered[first] == '9' ? "1" : "9");
  const CommandResult bad = run("suites validate " + write_file(dir / "ref3.yaml", tampered));
  EXPECT_EQ(bad.code, 1) << bad.output;
  EXPECT_NE(bad.output.find("do not match value/std"), std::string::npos) << bad.output;
}

// A mistyped --results must not read as an empty store (every cell not-run, exit 0).
TEST(Cli, CheckAndReportNeedAnExistingStore) {
  const auto dir = temp_dir("cli");
  const std::string suite = write_file(dir / "toy.yaml", kToySuite);
  for (const char* verb : {"check", "report", "references"}) {
    const CommandResult r = run(std::string(verb) + " " + suite + " --tier cpu --results " + (dir / "typo").string());
    EXPECT_EQ(r.code, 2) << verb << r.output;
    EXPECT_NE(r.output.find("no result store"), std::string::npos) << verb << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "typo")) << verb;
  }
}
