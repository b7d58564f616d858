// PDD's progressive evaluation (Chen, Yang, Wang, Mirzasoleiman, ICLR 2024, "Data Distillation Can Be Like
// Vodka"; VITA-Group/ProgressiveDD evaluate_mtt.py and MTT/utils.py evaluate_synset): one network trained on
// the union of the first k stages for k = 1 .. P in turn, each stage with its own learned lr, the SGD
// momentum carried from stage to stage. Shared by the `pdd` protocol and the `pdd` method (which trains the
// next stage's experts from a network trained on the current union).
#pragma once
#include <vector>

#include "harness/train.h"
#include "harness/types.h"

namespace ddb {

// What a PDD set records in meta.pdd for its evaluation: images per stage, in the set's order (stage 1's
// first), and each stage's learned lr.
struct PddStages {
  std::vector<int64_t> sizes;
  std::vector<double> lrs;
};
void record_pdd_stages(SyntheticSet& set, const PddStages& stages);
// UserError when the set carries no such record (it was not distilled by `pdd`) or the sizes do not add
// up to the set's size.
PddStages pdd_stages_of(const SyntheticSet& set);

// PDD's evaluate_synset schedule on top of `base` (epochs, batch, augmentation): Epoch + 1 epochs of
// SGD(lr, momentum 0.9, wd 5e-4); after epoch Epoch//2 + 1 (0-based) the lr x0.1 in place (PDD's utils set
// param_groups' lr: the momentum is kept; VICO's builds a new optimizer).
TrainSchedule pdd_stage_schedule(TrainSchedule base, double lr);

}  // namespace ddb
