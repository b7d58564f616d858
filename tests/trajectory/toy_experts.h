// Small ready-made expert trajectories on the toy28 dataset for the trajectory-matching tests (never
// trained through the expert cache).
#pragma once
#include <string>
#include <vector>

#include "datasets/registry.h"
#include "harness/nets/net.h"
#include "methods/trajectory/param_binding.h"

namespace ddb::testing_toy {

inline const LoadedDataset& toy() {
  static const LoadedDataset d = [] {
    LoadOptions lo;
    lo.train_limit = 20;
    return load_dataset("toy28", lo);
  }();
  return d;
}

// A short real trajectory: `epochs` SGD steps of lr 0.01 on 64 real images each.
inline std::vector<torch::Tensor> toy_trajectory(const std::string& net_name, int64_t epochs) {
  torch::manual_seed(21);
  const auto& d = toy();
  Net net = make_net(net_name, d.info.shape, d.info.num_classes);
  ParamBinding b(*net);
  torch::optim::SGD opt(net->parameters(), 0.01);
  std::vector<torch::Tensor> snaps{b.flat_parameters()};
  for (int64_t e = 0; e < epochs; ++e) {
    const torch::Tensor idx = torch::randperm(d.train.size(), torch::kLong).narrow(0, 0, 64);
    opt.zero_grad();
    torch::nn::functional::cross_entropy(net->forward(d.train.images.index_select(0, idx)),
                                         d.train.labels.index_select(0, idx))
        .backward();
    opt.step();
    snaps.push_back(b.flat_parameters());
  }
  return snaps;
}

}  // namespace ddb::testing_toy
