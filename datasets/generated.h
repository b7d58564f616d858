// Generated (file-less) datasets for tests and smoke runs: toy28 (1x28x28) and toy32 (3x32x32).
#pragma once
#include <cstdint>

#include "datasets/readers.h"
#include "harness/types.h"

namespace ddb {

struct ToyOptions {
  ImageShape shape;
  int64_t num_classes = 10;
  int64_t train_per_class = 100;
  int64_t test_per_class = 20;
  uint64_t seed = 0;
};

// Each class is a fixed random smooth template (a 4x4 uniform field upsampled bilinearly,
// stretched to [0.2, 0.8]); every image is its class template + per-image brightness shift +
// per-pixel Gaussian noise (std 0.25), clamped and quantised to uint8. Drawn from a private
// torch::Generator seeded with `seed` (the global RNG is never touched), so the same options give
// bit-identical data. Train and test images are each shuffled (labels follow).
void generate_toy(const ToyOptions& opts, RawImages& train, RawImages& test);

}  // namespace ddb
