// EDF's Discriminative Area Enhancement (Sec. 2.2, Eqs. 3-5; reference NUS-HPC-AI-Lab/EDF
// distill/edf_distill.py create_soft_mask and its `image_syn.grad *= softmask`): Grad-CAM maps of the
// synthetic images, refreshed every K iterations, turned into a per-pixel weight that scales the
// images' gradient before the update.
#pragma once
#include <optional>

#include "harness/nets/net.h"
#include "methods/trajectory/trajectory_matching.h"

namespace ddb {

// Eq. 4 as create_soft_mask computes it, per image i of maps [N,H,W]: weight = M + beta where
// M >= threshold_i, 1 elsewhere; threshold_i = the fixed `threshold`, or (nullopt; the code's
// act_threshold 0) the mean of map i. Returns [N,1,H,W] (broadcast over colour channels).
torch::Tensor discriminative_area_weights(const torch::Tensor& maps, double beta, std::optional<double> threshold);

// Per map of maps [N,H,W], the share of pixels at or above the threshold (the fixed `threshold`, or
// nullopt: the map's own mean): [N] float64 in [0,1]. EDF's "discriminative area" (Sec. 5, Fig. 5b:
// "the percentage of pixels whose activation values are higher than the mean"); at-or-above, as the
// enhancement's mask (create_soft_mask's act >= threshold), so the figure counts the pixels DAE enhances.
torch::Tensor discriminative_area_share(const torch::Tensor& maps, std::optional<double> threshold);

struct DiscriminativeAreaSettings {
  double beta = 1.0;                 // enhance_factor
  std::optional<double> threshold;   // activation_threshold; nullopt = per-image mean
  int64_t update_freq = 100;         // K: maps recomputed when it % K == 0
};

// The hook for run_trajectory_matching. `cam_net` computes the maps (Grad-CAM on its last conv block,
// harness/gradcam.h) for the class each image's label names (argmax of the soft label, as the code's
// labels.argmax); it is not trained here. Records the refreshes and the mean share of pixels at or above
// the threshold at each refresh (the "discriminative area" of Fig. 5b). Its on_stored compares every stored
// image's discriminative area with the same image's at the first refresh (iteration 0: the initial
// images), with the same net and threshold, for the image's own class (its hard label; the enhancement's
// maps follow the soft label's argmax, which can move): what Fig. 5b prints under each image, and what the set
// metrics discriminative_area_gain(_smallest) read (discriminative_area_metrics.cpp).
ImageGradientHook discriminative_area_hook(const DiscriminativeAreaSettings& settings, Net cam_net, torch::Device device,
                                           json cam_model_description);

}  // namespace ddb
