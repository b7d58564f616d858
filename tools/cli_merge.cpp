// `ddbench merge`: combine result stores (Slurm array tasks, other machines) into one (harness/merge.h).
#include "cli_common.h"

#include <iostream>

#include "harness/merge.h"

namespace ddb::cli {

void register_merge_command(CLI::App& app) {
  auto* c = app.add_subcommand(
      "merge",
      "Combine result stores (directories written by `ddbench run --results DIR`, e.g. one per Slurm array task)\n"
      "into one, idempotently: a job present twice is stored once, identical results are skipped, a done result\n"
      "replaces a failed or running one, and two different results for one key are an error naming both stores\n"
      "(nothing is written). Synthetic-set files are copied into the target with their paths rewritten;\n"
      "provenance is kept (plus merged_from)");
  static std::vector<std::string> sources;
  static std::string into;
  c->add_option("stores", sources, "source store directories")->required();
  c->add_option("--into", into, "target store directory (created when absent; may already hold results)")->required();
  c->callback(guarded([] {
    const MergeSummary s = merge_stores(sources, into);
    for (const auto& w : s.warnings) std::cerr << "ddbench merge: warning: " << w << "\n";
    std::cout << "ddbench merge: " << s.sources << " store" << (s.sources == 1 ? "" : "s") << " into " << into << ": "
              << s.evaluations_written << " evaluations and " << s.distillations_written << " distillations written ("
              << s.replaced << " replacing failed or running ones), " << s.identical_skipped << " identical and "
              << s.superseded_skipped << " superseded records skipped, " << s.files_copied << " files copied\n";
  }));
}

}  // namespace ddb::cli
