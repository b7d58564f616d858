// OOD images for TrustDD-style evaluation and outlier exposure: test OOD sets and auxiliary training
// outliers, brought to an in-distribution (InD) dataset's image shape and normalisation.
#pragma once
#include <cstdint>
#include <string>

#include "datasets/spec.h"  // LoadOptions
#include "harness/types.h"

namespace ddb {

// Test OOD images for an in-distribution (InD) dataset, as TrustDD's test_ood_model_syn.py feeds them:
// in the InD's image shape (channels converted grey<->RGB, resized) and normalised with the InD mean/std.
struct OodImages {
  std::string name;
  torch::Tensor images;   // float32 [n, C, H, W] of the InD shape, normalised space
  std::string identity;   // what was used (dataset identity / generator + seed), for provenance
};

// name: "gaussian-noise" = clip(N(0, 0.5^2), -1, 1), "uniform-noise" = U[-1, 1] (OE code; generated directly in
// normalised space, InD shape, from a private torch::Generator seeded with `seed`, never the global RNG);
// any other name: a dataset of the catalog/manifests (role ood or auxiliary: all its images; a role-train dataset
// such as cifar10 or fashion-mnist-6to9: its TEST split), raw [0,1] pixels converted to the InD shape and
// normalised with the InD mean/std. At most n images (n < 0: all; the noises need n >= 0), a random sample drawn
// with `seed` when the set is larger (the reference scores a shuffled prefix). Missing files -> the catalog's
// DatasetMissing error (naming where it looked and how to get the data).
// Conversion: RGB -> grey with PIL's convert("L") weights (0.299/0.587/0.114, fixed point, on the 8-bit
// pixels), grey -> RGB by repeating the channel, then a bilinear resize (align_corners=false, no antialias)
// when the height/width differ. The loaded sets are cached per (name, options) in the process as 8-bit pixels.
OodImages load_ood_test_set(const std::string& name, const LoadedDataset& ind, int64_t n, uint64_t seed,
                            const LoadOptions& opts);

// Auxiliary outlier images for OE training (TrustDD's oe_data): same conversion, from the TRAIN split of a
// dataset (or the generated noises), at most `limit` images (a seeded random sample when larger; all when limit < 0).
// A dataset without a train split (a flat OOD folder) gives all its images.
OodImages load_aux_outliers(const std::string& name, const LoadedDataset& ind, int64_t limit, uint64_t seed,
                            const LoadOptions& opts);

// The sets this file generates itself (gaussian-noise, uniform-noise): available everywhere, no files.
bool is_generated_ood_set(const std::string& name);

}  // namespace ddb
