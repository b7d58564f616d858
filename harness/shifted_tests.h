// Shifted test sets: RDD's robustness evaluation (datasets/manifests/rdd.yaml, entries rdd-*), generated
// from the cell dataset's own test split, so they work with any dataset (CIFAR, Fashion-MNIST, ImageNet
// subsets). A protocol that trains a classifier scores its net on each one eval.ood names:
//   rdd-noise, rdd-blur, rdd-invert: transformed copies of the test split -> accuracy@<set>;
//   rdd-kmeans10: a grouping of the test split into 10 KMeans clusters -> worst_group_accuracy@<set>
//   (RDD's "Cluster-min": the lowest per-cluster top-1 accuracy);
//   and accuracy_drop@<set> = the standard test accuracy minus that number (per run).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "harness/eval_protocol.h"
#include "harness/types.h"

namespace ddb {

// rdd-noise, rdd-blur, rdd-invert, rdd-kmeans10: made here at evaluation time, no files.
bool is_generated_shift_set(const std::string& name);
// rdd-kmeans10: a partition of the test split into groups (worst_group_accuracy applies to it).
bool is_grouping_set(const std::string& name);

// --- The transforms (RDD data_processing.ipynb), on ToTensor()-style [0, 1] pixels [N, C, H, W]. ---

// Which of the notebook's two noise recipes a dataset gets: images of 32 px and smaller the CIFAR-10
// one, larger ones (ImageNet subsets, and TinyImageNet, whose set is not in the release) the ImageNet one.
enum class NoiseRecipe {
  Cifar,    // x + N(0, var 0.005) (sigma = sqrt(0.005) = 0.0707), clip to [0, 1]; kept as floats
  ImageNet  // x + N(0, sigma 0.2), clip to [0, 1], np.uint8(x * 255) (truncation), i.e. k / 255
};
NoiseRecipe noise_recipe_for(const ImageShape& shape);
// Gaussian noise from a private generator seeded with `seed` (the global RNG is untouched): the same
// seed gives the same set on every run. float32 in, float32 out.
torch::Tensor rdd_noise(const torch::Tensor& pixels, NoiseRecipe recipe, uint64_t seed);
// PIL ImageOps.invert on the 8-bit image: (255 - round(255 x)) / 255.
torch::Tensor rdd_invert(const torch::Tensor& pixels);
// PIL ImageFilter.GaussianBlur(radius=2) on the 8-bit image (round(255 x)), back to [0, 1] as k / 255.
torch::Tensor rdd_blur(const torch::Tensor& pixels);

// Pillow's GaussianBlur (libImaging/BoxBlur.c ImagingGaussianBlur, Pillow 9.4): `passes` (3) extended
// box blurs along the rows, then `passes` along the columns, each an 8-bit fixed-point pass:
//   out[x] = (ww * sum_{|k| <= r} in[x + k] + fw * (in[x - r - 1] + in[x + r + 1]) + 2^23) >> 24,
// indices clamped to the line (edge pixels repeated), r = int(R), ww = uint32(2^24 / (2 R + 1)) in
// float, fw = (2^24 - (2 r + 1) ww) / 2, R = pil_box_radius(radius, passes). u8: uint8 [N, C, H, W].
torch::Tensor pil_gaussian_blur(const torch::Tensor& u8, float radius, int passes = 3);
// _gaussian_blur_radius: the extended box radius whose `passes` passes have the variance radius^2
// (Gwosdek et al. 2011), in float as Pillow computes it (radius 2, 3 passes: 1.375).
float pil_box_radius(float radius, int passes);

// The test split of `data` transformed by a generated shift set other than the grouping, in the
// loader's normalised space: undo the normalisation (8-bit data snapped to k / 255), transform,
// normalise again. Throws UserError for another name.
torch::Tensor shifted_test_images(const std::string& name, const LoadedDataset& data);

// --- KMeans (sklearn.cluster.KMeans as RDD's test_glad.py cluster_loss calls it). ---

struct KMeansOptions {
  int64_t clusters = 10;
  int64_t n_init = 10;     // sklearn's default before 1.4 (the authors' era)
  int64_t max_iter = 300;  // sklearn's default
  double tol = 1e-4;       // relative: times the mean per-feature variance of x (sklearn's _tolerance)
  uint64_t seed = 0;       // random_state=0 in the reference; our own RNG, not numpy's
};

struct KMeansResult {
  torch::Tensor labels;   // int64 [N], cluster of each row
  torch::Tensor centers;  // float32 [k, D]
  double inertia = 0;     // sum of squared distances to the assigned centres
  int64_t iterations = 0; // Lloyd iterations of the kept run
};

// sklearn's algorithm (lloyd) with our RNG: n_init runs, each from greedy k-means++ seeding
// (2 + floor(ln k) candidates per centre, drawn proportionally to the squared distance, the one that
// lowers the potential most kept), Lloyd iterations until the labels stop changing or the centres
// move less than tol in total (squared), at most max_iter; an empty cluster is re-seeded with the
// point farthest from its centre; a final assignment to the final centres; the run with the lowest
// inertia is kept. x: float [N, D] (centred internally, as sklearn does); N >= clusters.
KMeansResult kmeans(const torch::Tensor& x, const KMeansOptions& options = {});

// The rdd-kmeans10 grouping of data's test split: KMeans(10 clusters, n_init 10, seed 0) on the
// flattened normalised test images of all classes. Computed once per process for each test split
// (keyed by the data's identity, or a hash of the images when it has none); int64 [N_test].
torch::Tensor test_split_clusters(const LoadedDataset& data);

// Top-1 accuracy in percent inside each group 0..groups-1 (NaN for an empty group).
std::vector<double> group_accuracies(const torch::Tensor& predictions, const torch::Tensor& labels,
                                     const torch::Tensor& groups, int64_t num_groups);

// The rows of the generated shift sets `sets` for a trained net (another name: UserError), in the
// order given: accuracy@<set> (or worst_group_accuracy@<set> for a grouping), then
// accuracy_drop@<set> = standard_accuracy minus it. The net is put in eval mode (train mode after).
std::vector<MetricValue> shifted_test_rows(NetImpl& net, const LoadedDataset& data, const std::vector<std::string>& sets,
                                           double standard_accuracy, torch::Device device);

}  // namespace ddb
