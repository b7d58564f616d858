// The generated toy28 dataset and real-image sets drawn from it, for the protocol tests.
#pragma once
#include <vector>

#include "datasets/registry.h"

namespace ddb::testing_support {

inline const LoadedDataset& toy28() {
  static const LoadedDataset d = load_dataset("toy28", {});
  return d;
}

// ipc real toy28 training images per class, class-major, hard labels (the same images every call).
inline SyntheticSet toy28_real_set(int64_t ipc) {
  torch::manual_seed(5);
  SyntheticSet s;
  std::vector<torch::Tensor> imgs;
  for (int64_t c = 0; c < toy28().info.num_classes; ++c) imgs.push_back(toy28().sample_class(c, ipc));
  s.images = torch::cat(imgs);
  s.labels = torch::arange(toy28().info.num_classes).repeat_interleave(ipc);
  return s;
}

}  // namespace ddb::testing_support
