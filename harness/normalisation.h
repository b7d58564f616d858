// Between the loader's normalised tensors and ToTensor()'s [0, 1] pixels, with a dataset's mean/std:
// what ZCA whitening, POE corruptions and OOD-set conversion need (torchvision applies corruptions and
// transforms to [0, 1] images, then Normalize).
#pragma once
#include "harness/types.h"

namespace ddb {

// The ToTensor() values ([0, 1]) of images the loader normalised with info's mean/std: x * std + mean,
// snapped to k/255 (the same bits as u8 / 255) when `snap_to_8bit` and the images are normalised 8-bit
// data. No mean/std: a copy.
torch::Tensor undo_normalisation(const torch::Tensor& images, const DatasetInfo& info, bool snap_to_8bit = true);

// torchvision Normalize on [0, 1] images: (x - mean) / std in float32, as the loader computes it. No
// mean/std: x unchanged.
torch::Tensor apply_normalisation(const torch::Tensor& pixels, const DatasetInfo& info);

}  // namespace ddb
