// The evaluation runs of one job trained together (issue 16's batched evaluation runs): R fresh nets
// of one stackable architecture (harness/nets/stacked_convnet.h) as one stacked model, each run with
// its own data order, augmentation draws and initial weights from its own random stream
// (harness/run_streams.h), its own loss and its own optimizer state. The result of each run equals
// train_classifier's for the same seed up to float rounding: tests/unit/test_train_stacked.cpp
// measures how close.
#pragma once
#include <string>
#include <vector>

#include "harness/nets/net.h"
#include "harness/run_streams.h"
#include "harness/train.h"

namespace ddb {

// Empty when train_classifiers_stacked runs this schedule; else why not (outlier exposure, CutMix and
// per-epoch callbacks are per-net loops: those protocols train their runs one after the other).
std::string stacked_schedule_unsupported(const TrainSchedule& s);

struct StackedRunTraining {
  double last_loss = 0;  // the run's last epoch's mean training loss
  std::string failure;   // non-empty: the run diverged (its loss became non-finite); the others go on
};

// Trains nets[r] on (images, labels) with schedule s, drawing from streams' stream r, all runs in one
// stacked model; writes the trained weights back into nets. Progress: one phase for all runs.
std::vector<StackedRunTraining> train_classifiers_stacked(const std::vector<Net>& nets, const torch::Tensor& images,
                                                          const torch::Tensor& labels, const TrainSchedule& s,
                                                          RunStreams& streams, const ProgressFn& progress = nullptr,
                                                          const std::string& phase = "train");

}  // namespace ddb
