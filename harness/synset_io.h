// Synthetic sets on disk: a tensor file Python's torch.load reads (a dict of tensors written with
// torch::pickle_save) plus a JSON sidecar with the provenance (FILE.json).
#pragma once
#include <string>

#include "harness/types.h"

namespace ddb {

// Writes atomically (temporary file + rename). Keys: images, labels, lr when learned, outliers (TrustDD's
// S_out) when distilled.
void save_synset(const SyntheticSet& set, const std::string& path);

// Reads a file written by save_synset or by Python's torch.save. Accepted layouts:
//   {'images': x, 'labels': y[, 'lr': t][, 'outliers': o]}  (also image_syn/label_syn, x/y, data/targets,
//                                          image_syn_oe)
//   (x, y) / [x, y]                        a tuple or list of two tensors
//   [[x, y], [x, y], ...]                  the reference repositories' per-experiment lists: `index` picks one
// Images must be float [N,C,H,W]; labels int64 [N] or float [N,K]. Anything else: UserError naming the file.
// The returned tensors are converted (images float32, hard labels int64); `facts`, when given, receives
// what the file stored before that conversion (submission checks: harness/submission.h).
struct SynsetFileFacts {
  std::string images_dtype, labels_dtype;  // c10::toString(ScalarType): "Float", "Double", "Long", "Int", "Byte" ...
  int sets_in_file = 1;                    // a list of (images, labels) pairs: how many it holds
};
SyntheticSet load_synset(const std::string& path, int index = 0, SynsetFileFacts* facts = nullptr);

// SHA-256 of what a set is (image and label values, dtypes and shapes, the learned lr), not of
// where it is stored: a copy of the file hashes the same.
std::string synset_content_hash(const SyntheticSet& set);

}  // namespace ddb
