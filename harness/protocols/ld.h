// LD's training of a network on its base examples (Bohdal et al. 2020, "Flexible Dataset Distillation:
// Learn Labels Instead of Images"; ondrejbohdal/label-distillation, label_distillation_or2.py validate()
// and test()), shared by the `ld` method (its validation runs) and the `ld` evaluation protocol.
#pragma once
#include "harness/nets/net.h"
#include "harness/progress.h"

namespace ddb {

// `steps` Adam steps (lr 1e-3, PyTorch's defaults) with the soft-label cross-entropy, each on the first
// `inner_batch` examples of a fresh random permutation of `images` (the global torch RNG), the net in
// train mode. Returns the last step's loss (0 without steps); throws Diverged on a non-finite one.
double train_on_base_examples(NetImpl& net, const torch::Tensor& images, const torch::Tensor& labels, int64_t steps,
                              int64_t inner_batch, const ProgressFn& progress = nullptr, const std::string& phase = "train");

// What the `ld` method records in set.meta["ld"] for the evaluation: the number of training steps it chose
// on its validation split (the reference's best_num_steps) and its inner batch size.
struct LdTraining {
  int64_t steps = 0;
  int64_t inner_batch = 0;
};
// UserError when the set carries no such record (it was not distilled by `ld`).
LdTraining ld_training_of(const SyntheticSet& set);

}  // namespace ddb
