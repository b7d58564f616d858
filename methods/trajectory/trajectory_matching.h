// Trajectory matching (MTT, Cazenavette et al. CVPR 2022; reference GeorgeCazenavette/mtt-distillation
// distill.py) and the variants that share its loop: TESLA (Cui et al. ICML 2023: the same gradient in
// memory constant in syn_steps, plus soft labels), FTD (Du et al. CVPR 2023: flat experts, EMA of
// the synthetic images), DATM (Guo et al. ICLR 2024: learned soft labels from the experts, images the
// experts classify correctly, a start-epoch window that widens, a loss gate) and EDF (DATM + Common
// Pattern Dropout + Discriminative Area Enhancement). mtt.cpp / tesla.cpp / ftd.cpp / datm.cpp / edf.cpp
// only choose flags and register options.
//
// One iteration: a student starts at an expert's parameters at epoch s, takes syn_steps SGD steps
// on minibatches of the (augmented) synthetic set with the learnable lr, and the loss is
// ||θ_N − θ*_{s+M}||² / ||θ*_s − θ*_{s+M}||². Its gradient reaches the images, the lr and (TESLA's
// learned labels) the label logits.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "harness/augment/dsa.h"
#include "methods/matching/seam.h"
#include "methods/method.h"
#include "methods/trajectory/param_binding.h"

namespace ddb {

// Options every trajectory-matching method declares (names fixed by the committed suites).
std::vector<OptionSpec> trajectory_option_specs();
// The `meta_gradient` option (exact | first_order) of a method that declares it; `exact` is MTT's
// gradient (unrolled, or the adjoint recomputation when `exact_mode` says so).
enum class MetaGradient;
MetaGradient meta_gradient_option(const std::string& method, const Options& o, MetaGradient exact_mode);

enum class MetaGradient {
  Unrolled,  // MTT: keep the graph of all syn_steps (memory grows with syn_steps)
  Adjoint,   // the same exact gradient, storing θ_i only and recomputing each step backwards (memory
             // constant in syn_steps)
  FirstOrder,  // TESLA's (justincui03/tesla distill.py): each step's gradient detached, so the images of
               // step i get -η (∂g_i/∂X_i)ᵀ ∂L/∂θ_N and the lr -∂L/∂θ_N · Σ g_i: the Hessian chain through
               // the later steps is dropped (constant memory, one backward per step)
};
enum class SoftLabels { None, Expert, Learned };
// Where learned soft labels start.
enum class LabelInit {
  ExpertAtMaxStart,  // expert 0's logits at epoch max_start_epoch (tesla soft_labels: learned; not TESLA's)
  CorrectExperts,    // DATM.py: per image, the mean logits of the experts (final epoch) that classify it
                     // correctly (all experts' mean where none does)
};
// Common Pattern Dropout (EDF Eq. 2): which per-parameter matching losses are dropped.
// Table 7 (caption: "the dropping ratio of all criteria is fixed at 25%"; "Param. to layer" names the
// layers that hold the dropped parameters) names four static criteria without their rule; ddbench's
// reading drops the same floor(ratio * P) elements as EDF's, fixed for the whole distillation, located
// as the name says in the flat parameter vector (net.parameters() order: first conv ... classifier).
enum class DropCriterion {
  Loss,     // edf_distill.py: the floor(ratio * P) smallest (θ_N − θ*)² elements
  Random,   // Table 7's "dynamic: random selection": a fresh uniform subset of the same size every iteration
  Uniform,  // static: the same share of every parameter tensor, at evenly spaced positions within it
  First,    // static: the first floor(ratio * P) elements (the shallow layers)
  Middle,   // static: the floor(ratio * P) elements centred in the vector
  Last,     // static: the last floor(ratio * P) elements (the deep layers and the classifier)
};
bool is_static_criterion(DropCriterion c);
const char* criterion_name(DropCriterion c);

// The indices a static criterion keeps (int64, ascending, P - floor(ratio * P) of them) for a net whose
// parameter tensors have `tensor_sizes` elements (in flat order). Uniform apportions floor(ratio * P)
// over the tensors by largest remainder (floor(ratio * n_l) each, the rest one each to the largest
// fractional parts) and drops, in a tensor of n elements losing d, positions floor((j + 1/2) * n / d).
torch::Tensor static_dropout_keep(DropCriterion c, double ratio, const std::vector<int64_t>& tensor_sizes);

struct TrajectoryConfig {
  std::string method;  // for messages
  int64_t iterations = 5000;
  int64_t syn_steps = 20;
  int64_t expert_epochs = 2;
  int64_t max_start_epoch = 20;
  double lr_img = 1000.0;
  double lr_lr = 1e-5;
  double lr_teacher = 0.01;
  double momentum = 0.5;
  int64_t batch_syn = 0;  // 0: all images
  int64_t num_experts = 100;
  int64_t expert_train_epochs = 50;
  int64_t expert_images_per_class = 0;
  std::string pix_init = "real";
  std::string dsa_strategy;  // "" = dataset default; "none" = no augmentation
  int64_t eval_it = 100;
  int64_t res = 0;
  MetaGradient gradient = MetaGradient::Unrolled;
  SoftLabels soft_labels = SoftLabels::None;
  double lr_label = 2.0;
  double ema_decay = 0.0;  // FTD; 0 = no EMA (the stored images are the optimised ones)
  double expert_rho = 0.0;  // FTD's sharpness-aware experts; 0 = MTT's plain SGD experts
  double expert_alpha = 0.0;
  // DATM / EDF (defaults keep MTT's behaviour).
  int64_t min_start_epoch = 0;
  // Sequential generation (DATM.py): the start epoch's exclusive upper bound is
  // min(max_start_epoch, current_max + int((max_start_epoch − current_max) · it / expansion_end));
  // current_max_start_epoch 0 = off (the bound is max_start_epoch throughout).
  int64_t current_max_start_epoch = 0;
  int64_t expansion_end_epoch = 3000;
  double loss_threshold = 0;  // > 0: no update in an iteration whose loss exceeds it (DATM `threshold`)
  LabelInit label_init = LabelInit::ExpertAtMaxStart;
  double momentum_label = -1;  // SGD momentum of the label logits; < 0 = `momentum`
  double drop_ratio = 0;       // CPD: the share of per-parameter losses dropped; 0 = off
  DropCriterion drop_criterion = DropCriterion::Loss;

  // Reads the shared options (and those of the variant that are present); validates ranges.
  static TrajectoryConfig from(const std::string& method, const Options& o);
};

// The learnable state of one distillation.
struct SyntheticState {
  torch::Tensor images;        // [N,C,H,W] leaf, requires grad
  torch::Tensor hard_labels;   // int64 [N], class-major
  torch::Tensor label_logits;  // [N,K] (soft labels) or undefined; a leaf requiring grad when learned
  torch::Tensor syn_lr;        // 0-d leaf, requires grad
  // TrustDD OE / POE on the student (paper Eq. 11): unlabelled outliers S_out [M,C,H,W] (a leaf
  // requiring grad) and the weight of H(U; f(S_out)) in each student step's loss; undefined / 0 = off.
  torch::Tensor outliers;
  double lambda_oe = 0;

  // Training targets of the student: hard labels, or softmax(label_logits) (probabilities).
  torch::Tensor targets() const;
};

// How one meta-gradient is taken (everything but the learnable state and the expert segment).
struct UnrollSettings {
  int64_t syn_steps = 20;
  int64_t batch_syn = 0;  // 0: all
  MetaGradient gradient = MetaGradient::Unrolled;
  const Dsa* dsa = nullptr;  // null or disabled: no augmentation
  const MatchingSeam* seam = nullptr;
  double drop_ratio = 0;  // Common Pattern Dropout (EDF); 0 = MTT's loss over every parameter
  DropCriterion drop_criterion = DropCriterion::Loss;
  torch::Tensor static_keep;  // a static criterion's kept indices (static_dropout_keep)
};

// The matching loss ||θ_N − θ*||² / ||θ_s − θ*||² (each divided by P, as distill.py). With drop_ratio
// α > 0 (EDF's Common Pattern Dropout, edf_distill.py): the floor(α·P) elements of (θ_N − θ*)² that the
// criterion selects are dropped from numerator and denominator alike (the selection carries no gradient).
// Random selection draws from the global CPU generator. A static criterion keeps `static_keep`
// (static_dropout_keep; required then).
torch::Tensor trajectory_match_loss(const torch::Tensor& theta_n, const torch::Tensor& start, const torch::Tensor& target,
                                    double drop_ratio = 0, DropCriterion criterion = DropCriterion::Loss,
                                    const torch::Tensor& static_keep = {});

// DATM.py's start-epoch upper bound (exclusive) at iteration `it` (see TrajectoryConfig).
int64_t start_epoch_bound(const TrajectoryConfig& cfg, int64_t it);

// One iteration's loss; its gradient is ADDED to the .grad() of state.images, state.syn_lr and (when
// it requires grad) state.label_logits. `start` / `target`: flat expert parameters (any device; moved
// to the images' device and dtype). Random draws, in order: torch::randperm for each epoch of
// minibatch indices (the reference pops chunks from the end), then DSA's per-sample draws for the
// step; both from the global CPU generator. The adjoint mode saves the generator state before each
// step's augmentation and restores it when it recomputes that step, so it applies the same
// per-sample DSA transform as the forward pass; it leaves the generator where the forward pass left
// it. Both modes therefore consume the generator identically: with the same seed they compute the
// same gradient (the tests check this).
double trajectory_meta_gradient(ParamBinding& student, SyntheticState& state, const torch::Tensor& start,
                                const torch::Tensor& target, const UnrollSettings& settings);

// Exponential moving average of the synthetic images (FTD distill_FTD.py ModelEmaV2([image_syn])):
// initialised to the initial images, ema = decay * ema + (1 - decay) * images after every step.
class ImageEma {
 public:
  ImageEma(const torch::Tensor& images, double decay);
  void update(const torch::Tensor& images);
  const torch::Tensor& value() const { return ema_; }

 private:
  torch::Tensor ema_;
  double decay_;
};

// Expert trajectories as the loop sees them: count and loader (ExpertCache in the methods, a
// ready-made vector in tests). Each trajectory is its epochs+1 flat parameter snapshots.
struct ExpertSource {
  int64_t count = 0;
  std::function<std::vector<torch::Tensor>(int64_t index)> load;
};

// Called after each iteration's meta-gradient and before the update (EDF's Discriminative Area
// Enhancement re-weights state.images.grad()): the iteration, the state, the expert trajectory of the
// iteration. Whatever it records goes into `meta` of the result under "image_gradient".
struct ImageGradientHook {
  std::function<void(int64_t it, SyntheticState& state, const std::vector<torch::Tensor>& trajectory)> apply;
  std::function<json()> describe;
  // Optional: called once with the set as stored (EMA images where kept); its record goes to
  // meta.image_gradient.stored_set (EDF: the discriminative area of every stored image vs its initial one).
  std::function<json(const SyntheticSet& stored)> on_stored;
};

// The whole distillation. `frozen` (PDD's earlier stages): images and hard labels placed before the new
// ctx.ipc per class, in the student's batches but never updated (their gradient rows are zeroed before each
// step); the set returned holds both. `observer` (tests) sees the images before the first update (iteration -1)
// and the optimised images after every update.
// `outliers` (TrustDD): the real outliers S_out is initialised from; S_out is optimised like the images.
class OutlierSource;
SyntheticSet run_trajectory_matching(const TrajectoryConfig& cfg, const DistillContext& ctx,
                                     const ExpertSource& experts,
                                     const std::function<void(int64_t, const torch::Tensor&)>& observer = nullptr,
                                     OutlierSource* outliers = nullptr, const ImageGradientHook* image_gradient = nullptr,
                                     const SyntheticSet* frozen = nullptr);

// distill() of mtt/tesla/ftd/datm/edf: trains or loads the experts (methods/trajectory/experts.h ExpertCache,
// spec from the options), then runs the loop. `make_hook` (EDF) builds the image-gradient hook once the
// experts exist.
using ImageGradientHookFactory = std::function<ImageGradientHook(const ExpertSource& experts)>;
// MTT buffer.py's expert recipe for this configuration (net, epochs, lr_teacher, DSA, subset, FTD's
// sharpness-aware settings); distill_with_experts adds TrustDD's outliers.
struct ExpertSpec;
ExpertSpec mtt_expert_spec(const TrajectoryConfig& cfg, const std::string& net);
SyntheticSet distill_with_experts(const TrajectoryConfig& cfg, const DistillContext& ctx,
                                  const ImageGradientHookFactory& make_hook = nullptr);

}  // namespace ddb
