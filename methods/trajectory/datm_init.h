// DATM's initialisation (Guo et al., ICLR 2024; reference NUS-HPC-AI-Lab/DATM distill/DATM.py, the
// `pix_init == 'samples_predicted_correctly'` branch and the "only sum correct predicted logits" block):
// images the experts classify correctly, and soft labels from the experts' logits on them. EDF uses the
// same code (edf_distill.py).
#pragma once
#include <functional>

#include "methods/method.h"
#include "methods/trajectory/param_binding.h"

namespace ddb {

// The parameters expert i ends its training with (DATM's Label_Model_Timestamp -1), flat [P].
using FinalParams = std::function<torch::Tensor(int64_t expert)>;

struct CorrectlyClassifiedInit {
  SyntheticSet set;                     // class-major, hard labels
  int64_t experts_consulted = 1;        // experts the selection needed (1 unless a class ran out)
  int64_t misclassified_fill = 0;       // images no consulted expert classified correctly (0 in the reference)
};

// Per class c: the class's training images in a random order (get_images(c, all): one permutation from the
// global generator), scanned in batches of 256 under expert 0's final parameters, keeping in order the
// first ipc that the expert classifies as c. A class with fewer than ipc such images is scanned again
// under the next expert (DATM.py moves to another expert when it reaches the end of the class), adding
// images not yet kept. When every expert has been tried, the first images not kept fill the class (the
// reference would loop forever); the count is returned so the meta can say so. `net` runs in eval mode.
CorrectlyClassifiedInit correctly_classified_init(const LoadedDataset& data, int64_t ipc, NetImpl& net,
                                                  ParamBinding& binding, const FinalParams& final_params,
                                                  int64_t num_experts, torch::Device device);

// DATM's label initialisation: the logits of every expert's final parameters on `images`, and per image the
// mean of the logits of the experts whose argmax equals its class (hard label). Where no expert is correct
// the reference divides 0 by 0; here the mean over all experts is taken (returned count says how often).
// Returns [N, K] logits.
struct ExpertLogits {
  torch::Tensor logits;
  int64_t images_without_correct_expert = 0;
  double initial_accuracy = 0;  // DATM.py's InitialAcc: share of images whose averaged logits pick their class
};
ExpertLogits correct_expert_logits(NetImpl& net, ParamBinding& binding, const torch::Tensor& images,
                                   const torch::Tensor& labels, const FinalParams& final_params, int64_t num_experts,
                                   torch::Device device);

}  // namespace ddb
