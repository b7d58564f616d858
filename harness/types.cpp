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
  torch::Tensor pick;
  if (n <= have) {
    pick = idx.index_select(0, torch::randperm(have, torch::kLong).narrow(0, 0, n));
  } else {
    pick = idx.index_select(0, torch::randint(have, {n}, torch::kLong));
  }
  return train.images.index_select(0, pick);
}

}  // namespace ddb
