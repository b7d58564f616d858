// Low-level readers for the on-disk formats. They return raw uint8 images [N,C,H,W] and labels.
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "core/hashing.h"  // sha256_file / sha256_bytes, used with the readers

namespace ddb {

struct RawImages {
  torch::Tensor images;  // uint8 [N,C,H,W]
  torch::Tensor labels;  // int64 [N]
  std::vector<std::string> class_names;  // filled by the folder reader
};

// Reads a whole file, gunzipping when it starts with the gzip magic. Throws UserError on failure.
std::string read_maybe_gzip(const std::string& path);
// idx3 images + idx1 labels (MNIST, Fashion-MNIST), gzip or raw.
RawImages read_idx(const std::string& images_path, const std::string& labels_path);
// CIFAR-10 (1 label byte) or CIFAR-100 (coarse + fine label bytes; fine used) binary batches.
RawImages read_cifar_bin(const std::vector<std::string>& paths, bool cifar100);
// root/<class>/*.{jpg,jpeg,png} (case-insensitive), classes sorted by directory name unless
// `classes` gives the order; each image resized (bilinear) to size x size, RGB.
RawImages read_image_folder(const std::string& root, int64_t size, const std::vector<std::string>& classes = {});
// Same, keeping only the first `per_class_limit` images of each class (< 0: all); the others are
// not decoded.
RawImages read_image_folder(const std::string& root, int64_t size, const std::vector<std::string>& classes,
                            int64_t per_class_limit);
// Decodes one JPEG or PNG file to uint8 [C,H,W] (C = 3).
torch::Tensor decode_image(const std::string& path);

}  // namespace ddb
