// Image-folder listing and batch decoding, shared by read_image_folder and the registry (which
// also hashes the listing into the dataset identity and reads TinyImageNet's annotated val split).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/readers.h"

namespace ddb {

struct FolderEntry {
  std::string path;     // absolute (or as given) path of the image file
  std::string relpath;  // relative to the listing root, '/'-separated
  int64_t label = 0;
  int64_t bytes = 0;
};

struct FolderListing {
  std::string root;
  std::vector<std::string> classes;  // directory names (wnids), label i = classes[i]
  std::vector<FolderEntry> entries;  // grouped by class, each class sorted by relative path
};

// Whether a file name has an image extension (.jpg, .jpeg, .png, any case).
bool is_image_name(const std::string& name);

// root/<class>/**/*.{jpg,jpeg,png}: every image below a class directory (recursively, like
// torchvision's ImageFolder), sorted by path. Classes: `classes` in the given order (a missing class
// directory throws DatasetMissing), else the sorted sub-directory names. per_class_limit >= 0 keeps
// the first N of each class.
FolderListing list_image_folder(const std::string& root, const std::vector<std::string>& classes = {},
                                int64_t per_class_limit = -1);

// A folder used whole (OOD sets): ImageFolder layout (list_image_folder) when `root` has
// sub-directories, else every image directly in `root` as a single class named after it.
FolderListing list_any_folder(const std::string& root, const std::vector<std::string>& classes = {},
                              int64_t per_class_limit = -1);

// Flat image directory + annotation file mapping file name -> class name (TinyImageNet
// val/images + val_annotations.txt: "<file>\t<wnid>\t..."). Labels follow `classes`; a class not in
// `classes` is a UserError. Entries in file-name order; `limit` >= 0 keeps the first N overall.
FolderListing list_annotated_folder(const std::string& images_dir, const std::string& annotations_file,
                                    const std::vector<std::string>& classes, int64_t limit = -1);

// Decodes every entry (in parallel) and resizes to size x size (bilinear, align_corners=false) when
// needed. size <= 0 keeps the native size, which must then be the same for all images. center_crop:
// torchvision's Resize(size) + CenterCrop(size) instead: the shorter side scaled to size (antialiased
// bilinear, the other side int(size * long / short) as torchvision computes it), then the centred
// size x size window (offsets int(round((h - size) / 2)), likewise for w).
RawImages decode_listing(const FolderListing& listing, int64_t size, bool center_crop = false);

// RGB -> grey with PIL's convert("L") weights (ITU-R 601-2, fixed point): uint8 [N,3,H,W] -> [N,1,H,W].
torch::Tensor rgb_to_grey(const torch::Tensor& rgb);

// sha256 over "relpath\tbytes\tlabel\n" of every entry: cheap identity of a folder dataset.
std::string listing_digest(const FolderListing& listing);

}  // namespace ddb
