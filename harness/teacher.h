// Teachers: a network trained once on a dataset's training split, frozen, and shared by everything
// that needs one -- the kd evaluation protocol (SRe2L / RDED relabelling: the student learns the
// teacher's soft outputs) and the teacher-guided methods (RDED scores real crops with it). Cached on
// disk by content, like the expert trajectories (methods/trajectory/experts.h).
//
// The recipe is ours to state: RDED loads pretrained weights (./data/pretrain_models/<subset>_<arch>.pth,
// LINs-lab/RDED synthesize/utils.py load_model) whose training it does not publish, and EDF says only
// "train a teacher on the real dataset and freeze it" (App. B.2). The default below is the VICO
// evaluation schedule on the whole training split; every result names the teacher's key, recipe and
// test accuracy, so a different recipe is a different, visible configuration.
#pragma once
#include <string>

#include "harness/nets/net.h"
#include "harness/progress.h"
#include "harness/types.h"

namespace ddb {

struct TeacherSpec {
  std::string net = "ConvNetD5BN";  // RDED's conv5 (BatchNorm, width 128) for 128 px subsets
  int64_t epochs = 50;              // exactly these epochs
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  int64_t batch = 256;
  std::string augment = "dsa";  // dsa (the dataset's default strategy, per sample) | none
  json to_json() const;
};

struct Teacher {
  Net net;                    // eval mode, parameters frozen, on the requested device
  TeacherSpec spec;
  std::string key;            // sha256-16 of {format, dataset identity, spec}
  std::string path;           // the weights file
  double test_accuracy = -1;  // percent on the test split, measured after training
  json provenance() const;    // {key, spec, test_accuracy}: what a set made with it records
};

// <cache_dir>/teachers/<key>/teacher.pt: a dict of the net's parameters and buffers by name (torch
// pickle, readable with torch.load), and meta.json (dataset identity, spec, accuracy, seconds, device,
// threads). Trains it when missing, seeded from the key, holding <dir>/lock so that workers of one pool
// train it once; the caller's random stream is left as it was (KeepStreams), so a run draws the same
// numbers whether the teacher was on disk or not. Progress phase "teacher". A corrupt or mismatched
// file is a UserError naming it.
Teacher load_or_train_teacher(const std::string& cache_dir, const LoadedDataset& data, const TeacherSpec& spec,
                              torch::Device device, const ProgressFn& progress = nullptr);

}  // namespace ddb
