// Gradient matching (DC, Zhao et al. ICLR 2021; DSA, Zhao & Bilen ICML 2021), as the reference
// VICO-UoE/DatasetCondensation main.py runs it. The pieces are exposed for tests and benchmarks;
// the methods `dc` and `dsa` (gradient_matching.cpp) are the loop around them.
#pragma once
#include <cstdint>
#include <random>
#include <string>

#include "harness/augment/dsa.h"
#include "harness/nets/net.h"
#include "harness/train.h"
#include "methods/matching/outlier_exposure.h"
#include "methods/matching/seam.h"
#include "methods/method.h"

namespace ddb {

struct MatchingLoops {
  int64_t outer = 1;  // pixel steps per iteration (fresh net per iteration)
  int64_t inner = 1;  // net-training epochs on the synthetic set between pixel steps
};

// The reference's get_loops(ipc): 1 -> (1, 1), 10 -> (10, 50), 20 -> (20, 25), 30 -> (30, 20),
// 40 -> (40, 15), 50 -> (50, 10). Other IPCs -> UserError (the reference exits there).
MatchingLoops get_loops(int64_t ipc);

// outer_loop / inner_loop options, 0 meaning get_loops(ipc).
MatchingLoops resolve_loops(int64_t ipc, int64_t outer_loop, int64_t inner_loop);

// The inner-loop net training: `inner_loop` epochs of plain SGD (reference main.py:
// `optimizer_net = torch.optim.SGD(net.parameters(), lr=args.lr_net)`: no momentum, no weight
// decay, no lr drop), batch batch_train, shuffled. `augment` (DSA per-sample) may be empty.
TrainSchedule inner_loop_schedule(double lr_net, int64_t inner_loop, int64_t batch_train,
                                  std::function<torch::Tensor(const torch::Tensor&)> augment);

// inner_loop_schedule for a net trained on the synthetic set between pixel steps (dc/dsa's inner loop,
// cafe's network update): per-sample DSA on every batch when `dsa` is given (the reference's
// `epoch('train', ..., aug=True)`), and every batch through seam.transform_inner_batch() when a
// modifier is active. The schedule refers to `dsa` and `seam`: they must outlive it.
TrainSchedule synthetic_training_schedule(double lr_net, int64_t epochs, int64_t batch_train, const Dsa* dsa,
                                          const MatchingSeam& seam);

// Freezes BatchNorm statistics the way main.py does before each pixel step (BNSizePC = 16): one
// train-mode forward over `per_class` real images of every class (concatenated), which moves the
// running statistics one momentum step towards that batch, then eval mode for the BatchNorm modules
// only. Returns false (and does nothing) when the net has no BatchNorm module.
bool freeze_batchnorm_stats(NetImpl& net, const LoadedDataset& data, int64_t per_class, torch::Device device);

// One outer step and the inner loop of one DC/DSA iteration, on a given net.
class GradientMatchingStep {
 public:
  // options: the resolved options of `dc` or `dsa` (batch_real, batch_train, lr_net, dis_metric,
  // and dsa_strategy when use_dsa; the matching modifiers' options build the seam).
  GradientMatchingStep(const LoadedDataset& data, int64_t ipc, const Options& options, bool use_dsa,
                       uint64_t seed, torch::Device device);

  // BatchNorm freeze (if any), then for each class: real batch and the class's synthetic images
  // through the seam, Siamese DSA with one seed for both (if DSA), cross-entropy gradients of the
  // net's parameters, gradient distance terms; all terms -> seam.reduce -> backward ->
  // seam.on_pixel_gradient -> optimiser step on `syn`. Returns the loss (summed over classes).
  // syn: [classes * ipc, C, H, W] leaf with requires_grad, class-major; labels int64 class-major.
  // single_set (TrustDD Appendix A.5.2, Eq. 12: T_in and T_out distilled into one labelled set): the
  // real side's loss for class c is CE(A(T_in,c)) + lambda_oe * H(U; f(A(T_out))), T_out = batch_oe
  // real outliers of slot c under the class's Siamese seed; the synthetic side keeps its CE.
  double outer_step(NetImpl& net, const torch::Tensor& syn, const torch::Tensor& labels,
                    torch::optim::Optimizer& pixel_optimizer, OutlierSource* single_set = nullptr);

  // TrustDD's outlier term (main_oe.py / main_poe.py "2. oe data"), after outer_step on the same net:
  // for every outlier slot c, batch_oe real outliers of the slot and S_out's slot c (ipc images), one
  // Siamese DSA seed for both, the gradients of H(U; f) matched with the same distance; the terms go
  // through the seam to their own pixel optimiser on `syn_out`. Returns the summed loss.
  double outlier_step(NetImpl& net, const torch::Tensor& syn_out, OutlierSource& source,
                      torch::optim::Optimizer& pixel_optimizer);

  // `inner_loop` epochs of net training on a detached copy of the synthetic set (DSA per-sample
  // augmentation when DSA is on, as the reference's `epoch(..., aug=True if args.dsa)`); with outliers
  // (`syn_out` defined) TrustDD's epoch_oe: CE(S_in) + lambda_oe * H(U; f(S_out)).
  void train_net(NetImpl& net, const torch::Tensor& syn, const torch::Tensor& labels, int64_t inner_loop,
                 const torch::Tensor& syn_out = {}) const;
  const OutlierOptions& outliers() const { return outliers_; }
  // TrustDD's variants of its outlier set, dc/dsa options (both need oe or poe):
  //   single_set      (Appendix A.5.2, Eq. 12): no S_out; T_out enters S_in's matching term.
  //   random_outliers (Figure 5(b) '-R'): S_out = randomly selected real outliers, never distilled.
  bool single_set() const { return single_set_; }
  bool random_outliers() const { return random_outliers_; }

  // Size of the last synthetic batch the matching loss saw (after the seam's transform).
  int64_t last_synthetic_batch() const { return last_syn_batch_; }
  const MatchingSeam& seam() const { return seam_; }

 private:
  const LoadedDataset& data_;
  int64_t ipc_;
  int64_t batch_real_;
  int64_t batch_train_;
  double lr_net_;
  std::string metric_;
  bool use_dsa_;
  Dsa dsa_;
  MatchingSeam seam_;
  OutlierOptions outliers_;
  bool single_set_ = false;
  bool random_outliers_ = false;
  std::mt19937_64 siamese_rng_;  // the reference draws Siamese seeds from the clock
  torch::Device device_;
  int64_t last_syn_batch_ = 0;
};

}  // namespace ddb
