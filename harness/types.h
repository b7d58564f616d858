// Core value types that flow between the stages: datasets in, synthetic sets out.
#pragma once
// Built without LibTorch on purpose (CMake marks such files 'torch-free'); include a torch-free header.
#ifdef DDBENCH_TORCH_FREE
#error "this translation unit is marked torch-free but includes harness/types.h (LibTorch)"
#endif
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/errors.h"
#include "core/json.h"
#include "datasets/spec.h"  // ImageShape, DatasetInfo

namespace ddb {

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
  // n random training images of class c, drawn with the global torch RNG without replacement; the
  // whole class (min(n, class size) images) when n exceeds it, as the references' permutation[:n].
  torch::Tensor sample_class(int64_t c, int64_t n) const;
};

// The output of a distillation method. Images live in normalised space like the real data.
struct SyntheticSet {
  torch::Tensor images;           // [M,C,H,W] float32
  torch::Tensor labels;           // [M] int64 (hard) or [M,K] float (soft)
  torch::Tensor learned_lr;       // undefined unless the method learns an evaluation lr (MTT)
  // TrustDD's S_out: unlabelled synthetic outliers [M,C,H,W] distilled beside the labelled images
  // (OE / POE); undefined for every other set. Protocols that train with outlier exposure use them.
  torch::Tensor outliers;
  json meta = json::object();     // method, options, seed, dataset, ipc, hashes
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

}  // namespace ddb
