// Dataset Distillation's (Wang, Zhu, Torralba & Efros 2018; SsnL/dataset-distillation) training of a
// network with its distilled steps, shared by the `dd` method and the `dd` evaluation protocol.
#pragma once
#include <vector>

#include "harness/nets/net.h"

namespace ddb {

// The reference's network initialisation (networks/utils.py init_weights, its default --init xavier,
// --init_param 1): conv and linear weights xavier_normal_ with gain 1, their biases 0; normalisation
// weights 1 and biases 0. Draws from the global torch RNG.
void dd_initialise(NetImpl& net);

// What the `dd` method records in set.meta["dd"]: the images form `steps` blocks of equal size (in the
// set's order), and the training takes T = steps * epochs SGD steps, step t on block t mod steps with
// learning rate lrs[t] (the learned lrs, softplus already applied).
struct DdSteps {
  int64_t steps = 0;
  int64_t epochs = 0;
  std::vector<double> lrs;
};
// UserError when the set carries no such record or it does not fit the set.
DdSteps dd_steps_of(const SyntheticSet& set);

}  // namespace ddb
