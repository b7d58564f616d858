// Core value types that flow between the stages: datasets in, synthetic sets out.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/errors.h"
#include "core/json.h"

namespace ddb {

// What a network needs to know about its input (ConvNet pads differently for 28x28 one-channel data).
struct ImageShape {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
};

// Static facts about a dataset: shape, classes and the reference normalisation.
struct DatasetInfo {
  std::string name;
  ImageShape shape;
  int64_t num_classes = 0;
  std::vector<double> mean;  // per channel, the reference implementation's values
  std::vector<double> std;
  std::vector<std::string> class_names;
};

// One split, already normalised: images float32 [N,C,H,W], labels int64 [N].
struct TensorSplit {
  torch::Tensor images;
  torch::Tensor labels;
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

struct LoadedDataset {
  DatasetInfo info;
  TensorSplit train;
  TensorSplit test;
  // Identity of the data as loaded (file hashes + transform); part of every result's provenance.
  std::string identity;
  // The directory the files were read from (which copy was used: --data-root, $DDBENCH_DATA, ./data
  // or the system package); empty for generated data.
  std::string source_dir;
  // Indices of the training images of class c (filled by index_classes()).
  std::vector<torch::Tensor> class_indices;

  void index_classes();
  // n random training images of class c (drawn with the global torch RNG, without replacement
  // when n <= class size).
  torch::Tensor sample_class(int64_t c, int64_t n) const;
};

// The output of a distillation method. Images live in normalised space like the real data.
struct SyntheticSet {
  torch::Tensor images;           // [M,C,H,W] float32
  torch::Tensor labels;           // [M] int64 (hard) or [M,K] float (soft)
  torch::Tensor learned_lr;       // undefined unless the method learns an evaluation lr (MTT)
  json meta = json::object();     // method, options, seed, dataset, ipc, hashes
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

}  // namespace ddb
