// ddbench: torch-free
// The text of `ddbench slurm`'s sbatch array script (harness/slurm_script.h): the #SBATCH header carries
// the array and the resources given (and nothing for those not given), task i runs shard i/N into its own
// store with the run flags, and bash hands the task exactly the arguments meant (paths with spaces and
// quotes survive). Needs no Slurm.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <vector>

#include "core/errors.h"
#include "harness/slurm_script.h"
#include "../unit/test_helpers.h"

namespace fs = std::filesystem;

namespace {

ddb::SlurmArraySpec spec() {
  ddb::SlurmArraySpec s;
  s.executable = "/opt/ddbench/bin/ddbench";
  s.suites = {"/home/u/suites/smoke", "/home/u/suites/idm/t1.yaml"};
  s.array = 4;
  s.results = "/scratch/u/results";
  s.work_dir = "/home/u";
  s.job_name = "ddbench-smoke";
  s.tier = "cpu";
  s.cache = "/scratch/u/cache";
  return s;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines(text))
    if (l == line) return true;
  return false;
}

}  // namespace

TEST(SlurmScript, HeaderCarriesTheArrayAndOnlyTheResourcesGiven) {
  const std::string s = ddb::slurm_array_script(spec());
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u) << s;
  EXPECT_TRUE(has_line(s, "#SBATCH --array=0-3")) << s;
  EXPECT_TRUE(has_line(s, "#SBATCH --job-name=ddbench-smoke")) << s;
  EXPECT_TRUE(has_line(s, "#SBATCH --output=/scratch/u/results/logs/%x-%A_%a.out")) << s;
  EXPECT_TRUE(has_line(s, "#SBATCH --chdir=/home/u")) << s;
  for (const char* absent : {"--partition", "--gres", "--time", "--cpus-per-task", "--threads", "--data-root", "--device"})
    EXPECT_EQ(s.find(absent), std::string::npos) << absent << "\n" << s;
  // The merge command is in the header, for whoever finds the script later.
  EXPECT_TRUE(has_line(s, "#   /opt/ddbench/bin/ddbench merge /scratch/u/results/shard-* --into /scratch/u/results/merged"))
      << s;

  ddb::SlurmArraySpec r = spec();
  r.partition = "gpu";
  r.gres = "gpu:1";
  r.time = "4:00:00";
  r.cpus_per_task = 8;
  r.data_root = "/data";
  r.device = "cuda";
  const std::string t = ddb::slurm_array_script(r);
  EXPECT_TRUE(has_line(t, "#SBATCH --partition=gpu")) << t;
  EXPECT_TRUE(has_line(t, "#SBATCH --gres=gpu:1")) << t;
  EXPECT_TRUE(has_line(t, "#SBATCH --time=4:00:00")) << t;
  EXPECT_TRUE(has_line(t, "#SBATCH --cpus-per-task=8")) << t;
  EXPECT_NE(t.find(" --threads 8"), std::string::npos) << t;  // the task's threads follow its CPUs
  EXPECT_NE(t.find(" --data-root /data"), std::string::npos) << t;
  EXPECT_NE(t.find(" --device cuda"), std::string::npos) << t;
  // Every #SBATCH line comes before the first command (sbatch stops reading them there).
  bool command_seen = false;
  for (const auto& l : lines(t)) {
    if (l.rfind("#SBATCH", 0) == 0) EXPECT_FALSE(command_seen) << l << "\n" << t;
    if (!l.empty() && l[0] != '#') command_seen = true;
  }
  r.threads = 3;  // an explicit --threads wins over the CPUs
  EXPECT_NE(ddb::slurm_array_script(r).find(" --threads 3"), std::string::npos);
}

TEST(SlurmScript, TaskRunsItsShardIntoItsOwnStore) {
  const std::string s = ddb::slurm_array_script(spec());
  EXPECT_NE(s.find("exec /opt/ddbench/bin/ddbench run /home/u/suites/smoke /home/u/suites/idm/t1.yaml \\\n"
                   "  --shard \"${SLURM_ARRAY_TASK_ID}/4\" --results /scratch/u/results/shard-\"${SLURM_ARRAY_TASK_ID}\""
                   " --no-report \\\n  --tier cpu --cache /scratch/u/cache\n"),
            std::string::npos)
      << s;
  EXPECT_EQ(ddb::slurm_merge_command(spec()),
            "/opt/ddbench/bin/ddbench merge /scratch/u/results/shard-* --into /scratch/u/results/merged");
}

TEST(SlurmScript, BashHandsTheTaskExactlyTheArguments) {
  const fs::path dir = ddb::testing_support::temp_dir("slurm-script");
  // A stand-in for ddbench that prints its arguments one per line.
  const std::string fake = ddb::testing_support::write_file(dir / "fake ddbench", "#!/bin/sh\nfor a; do echo \"[$a]\"; done\n");
  fs::permissions(fake, fs::perms::owner_all);
  ddb::SlurmArraySpec s = spec();
  s.executable = fake;
  s.suites = {"/a b/it's.yaml"};
  s.results = (dir / "res ults").string();
  s.data_root = "/d$HOME`x`";
  s.cpus_per_task = 2;
  const std::string script = ddb::testing_support::write_file(dir / "job.sh", ddb::slurm_array_script(s));
  const std::string cmd = "SLURM_ARRAY_TASK_ID=2 bash '" + script + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 1024> buf{};
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  ASSERT_EQ(pclose(p), 0) << out;
  const std::string res = (dir / "res ults").string();
  EXPECT_EQ(out, "[run]\n[/a b/it's.yaml]\n[--shard]\n[2/4]\n[--results]\n[" + res +
                     "/shard-2]\n[--no-report]\n[--tier]\n[cpu]\n[--data-root]\n[/d$HOME`x`]\n[--cache]\n"
                     "[/scratch/u/cache]\n[--threads]\n[2]\n");
  // The log directory of a path with a space is quoted for sbatch's own parser.
  EXPECT_TRUE(has_line(ddb::slurm_array_script(s), "#SBATCH --output=\"" + res + "/logs/%x-%A_%a.out\""));
  fs::remove_all(dir);
}

TEST(SlurmScript, RefusesWhatCannotBeWritten) {
  ddb::SlurmArraySpec s = spec();
  s.array = 0;
  EXPECT_THROW(ddb::slurm_array_script(s), ddb::UserError);
  s = spec();
  s.suites.clear();
  EXPECT_THROW(ddb::slurm_array_script(s), ddb::UserError);
  s = spec();
  s.partition = "gpu\n#SBATCH --exclusive";
  EXPECT_THROW(ddb::slurm_array_script(s), ddb::UserError);
  EXPECT_EQ(ddb::shell_quote("plain/path-1.yaml"), "plain/path-1.yaml");
  EXPECT_EQ(ddb::shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(ddb::shell_quote(""), "''");
}
