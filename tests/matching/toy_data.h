// The generated toy28 dataset for the matching tests, whole and restricted to its first two classes
// (matching costs per class; the gradient-matching and CAFE tests need two).
#pragma once
#include "datasets/registry.h"

namespace ddb::testing_support {

inline const LoadedDataset& toy28_data() {
  static const LoadedDataset d = load_dataset("toy28", {});
  return d;
}

inline const LoadedDataset& toy28_two_classes() {
  static const LoadedDataset d = [] {
    LoadedDataset t = toy28_data();
    t.info.num_classes = 2;
    t.class_indices.resize(2);
    return t;
  }();
  return d;
}

}  // namespace ddb::testing_support
