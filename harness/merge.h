// Combining result stores (ddbench merge): the stores of Slurm array tasks or of other machines, each a
// directory with results.sqlite and the synthetic sets under synsets/, into one store.
//
//   Idempotent: a record (distillation or evaluation, by key) already in the target or met earlier is
//   written once; identical results are skipped, so merging the same store twice changes nothing.
//   Precedence for one key: done > failed > running (a shard that retried a failed job wins).
//   Conflict: two done evaluations of one key with different metric values (or different diverged runs)
//   are an error naming both stores, the key and the first differing value; nothing is written.
//   Atomic: every record goes in one transaction; the synthetic-set files are copied first (a failure
//   there leaves files the target's records do not point to, which the runner overwrites when it needs them).
//   Synthetic sets: each written distillation's files (the set, its .json sidecar, best_iter snapshots
//   FILE.it<N>.pt and theirs) are copied to <target>/synsets/<distill_hash>/, the record's synset_path and
//   the sidecar's snapshot paths rewritten to the copies.
//   Provenance: kept as it was, plus "merged_from" (the source store) on every record written.
#pragma once
#include <string>
#include <vector>

namespace ddb {

struct MergeSummary {
  int sources = 0;
  int distillations_written = 0, evaluations_written = 0;
  int identical_skipped = 0;       // records equal to one already there (same key, same result)
  int superseded_skipped = 0;      // records a better one (done over failed over running) already covers
  int replaced = 0;                // failed/running records in the target replaced by done ones
  int files_copied = 0;
  std::vector<std::string> warnings;  // e.g. a done distillation whose synthetic-set file is absent
};

// Throws UserError on a missing source store, a source equal to the target, or conflicting results.
MergeSummary merge_stores(const std::vector<std::string>& sources, const std::string& into);

}  // namespace ddb
