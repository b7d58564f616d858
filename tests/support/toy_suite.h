// The toy suite the command-level tests run (pool, merge/regress, damage, Slurm array): toy28 data,
// ConvNetW32, one random cell per IPC, a few epochs: seconds per job, real runs through the CLI.
#pragma once
#include <string>
#include <vector>

namespace ddb::testing_support {

struct ToySuite {
  std::string id;                // the suite id ("t.pool")
  int seeds = 2;
  int epochs = 10;               // evaluation epochs (Epoch + 1 are trained)
  int runs = 2;                  // evaluation runs per seed
  std::vector<int> ipcs = {1, 2};  // one `random` cell "r<ipc>" per entry
};

inline std::string toy_suite_yaml(const ToySuite& s) {
  std::string y = "id: " + s.id +
                  "\ntitle: toy\nsource: {paper: demo}\ndefaults:\n  dataset: toy28\n  distill_net: ConvNetW32\n"
                  "  eval: {protocol: dc, net: ConvNetW32, epochs: " +
                  std::to_string(s.epochs) + ", runs: " + std::to_string(s.runs) +
                  ", lr_net: 0.01}\n  seeds: " + std::to_string(s.seeds) +
                  "\n  metric: accuracy\n  paper: {unavailable: \"toy\"}\nband: {k: 2.0, floor: 1.0}\n"
                  "tiers:\n  cpu: {}\ncells:\n";
  for (int ipc : s.ipcs)
    y += "  - {id: r" + std::to_string(ipc) + ", method: random, ipc: " + std::to_string(ipc) + "}\n";
  return y;
}

}  // namespace ddb::testing_support
