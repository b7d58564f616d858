#include "harness/types.h"

namespace ddb {

void LoadedDataset::index_classes() {
  class_indices.clear();
  for (int64_t c = 0; c < info.num_classes; ++c) {
    class_indices.push_back(torch::nonzero(train.labels == c).flatten());
  }
}

torch::Tensor LoadedDataset::sample_class(int64_t c, int64_t n) const {
  TORCH_CHECK(c < static_cast<int64_t>(class_indices.size()), "class index not built; call index_classes()");
  const torch::Tensor& idx = class_indices[c];
  const int64_t have = idx.size(0);
  TORCH_CHECK(have > 0, "class ", c, " has no training images");
  // np.random.permutation(indices_class[c])[:n]: without replacement, so n larger than the class
  // returns the whole class once, in random order (IDM CIFAR-100 IPC 1 asks 5000 of 500).
  const torch::Tensor pick = idx.index_select(0, torch::randperm(have, torch::kLong).narrow(0, 0, std::min(n, have)));
  return train.images.index_select(0, pick);
}

}  // namespace ddb
