#include "datasets/readers.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "datasets/codec.h"
#include "datasets/folder.h"
#include "harness/types.h"

namespace fs = std::filesystem;

namespace ddb {

namespace {

uint32_t be32(const std::string& b, size_t off) {
  const auto* p = reinterpret_cast<const uint8_t*>(b.data() + off);
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string read_maybe_gzip(const std::string& path) {
  std::string bytes = read_file_bytes(path);
  if (is_gzip(bytes)) {
    return gunzip_bytes(bytes, path);
  }
  return bytes;
}

RawImages read_idx(const std::string& images_path, const std::string& labels_path) {
  const std::string img = read_maybe_gzip(images_path);
  if (img.size() < 16) {
    throw UserError(images_path + ": not an idx3 image file (" + std::to_string(img.size()) +
                    " bytes, shorter than the 16-byte header)");
  }
  const uint32_t magic = be32(img, 0);
  if (magic != 0x00000803u) {
    throw UserError(images_path + ": not an idx3 ubyte image file (magic " + hex32(magic) + ", expected 0x00000803)");
  }
  const uint64_t n = be32(img, 4), rows = be32(img, 8), cols = be32(img, 12);
  if (rows == 0 || cols == 0 || rows > 65536 || cols > 65536) {
    throw UserError(images_path + ": implausible idx3 image size " + std::to_string(rows) + "x" + std::to_string(cols));
  }
  const uint64_t expect_img = 16 + n * rows * cols;
  if (img.size() != expect_img) {
    throw UserError(images_path + ": idx3 header says " + std::to_string(n) + " images of " + std::to_string(rows) +
                    "x" + std::to_string(cols) + " (" + std::to_string(expect_img) + " bytes) but the data has " +
                    std::to_string(img.size()) + " bytes" + (img.size() < expect_img ? " (truncated)" : ""));
  }
  const std::string lab = read_maybe_gzip(labels_path);
  if (lab.size() < 8) {
    throw UserError(labels_path + ": not an idx1 label file (" + std::to_string(lab.size()) +
                    " bytes, shorter than the 8-byte header)");
  }
  const uint32_t lmagic = be32(lab, 0);
  if (lmagic != 0x00000801u) {
    throw UserError(labels_path + ": not an idx1 ubyte label file (magic " + hex32(lmagic) + ", expected 0x00000801)");
  }
  const uint64_t nl = be32(lab, 4);
  if (lab.size() != 8 + nl) {
    throw UserError(labels_path + ": idx1 header says " + std::to_string(nl) + " labels (" + std::to_string(8 + nl) +
                    " bytes) but the data has " + std::to_string(lab.size()) + " bytes" +
                    (lab.size() < 8 + nl ? " (truncated)" : ""));
  }
  if (nl != n) {
    throw UserError(images_path + " has " + std::to_string(n) + " images but " + labels_path + " has " +
                    std::to_string(nl) + " labels");
  }
  RawImages out;
  out.images = torch::empty({static_cast<int64_t>(n), 1, static_cast<int64_t>(rows), static_cast<int64_t>(cols)},
                            torch::kUInt8);
  if (n > 0) std::memcpy(out.images.data_ptr<uint8_t>(), img.data() + 16, n * rows * cols);
  torch::Tensor l8 = torch::empty({static_cast<int64_t>(n)}, torch::kUInt8);
  if (n > 0) std::memcpy(l8.data_ptr<uint8_t>(), lab.data() + 8, n);
  out.labels = l8.to(torch::kLong);
  return out;
}

RawImages read_cifar_bin(const std::vector<std::string>& paths, bool cifar100) {
  const size_t label_bytes = cifar100 ? 2 : 1;
  const size_t pixels = 3 * 32 * 32;
  const size_t record = label_bytes + pixels;
  const int max_label = cifar100 ? 100 : 10;
  std::vector<std::string> contents;
  size_t total = 0;
  for (const auto& p : paths) {
    contents.push_back(read_file_bytes(p));
    const std::string& b = contents.back();
    if (b.empty() || b.size() % record != 0) {
      throw UserError(p + ": " + std::to_string(b.size()) + " bytes is not a positive multiple of the " +
                      std::to_string(record) + "-byte " + (cifar100 ? "CIFAR-100" : "CIFAR-10") + " record");
    }
    total += b.size() / record;
  }
  RawImages out;
  out.images = torch::empty({static_cast<int64_t>(total), 3, 32, 32}, torch::kUInt8);
  out.labels = torch::empty({static_cast<int64_t>(total)}, torch::kLong);
  uint8_t* dst = out.images.data_ptr<uint8_t>();
  int64_t* lab = out.labels.data_ptr<int64_t>();
  size_t i = 0;
  for (size_t f = 0; f < contents.size(); ++f) {
    const std::string& b = contents[f];
    const size_t n = b.size() / record;
    for (size_t r = 0; r < n; ++r, ++i) {
      const auto* rec = reinterpret_cast<const uint8_t*>(b.data() + r * record);
      if (cifar100 && rec[0] >= 20) {
        throw UserError(paths[f] + ": record " + std::to_string(r) + " has coarse label " + std::to_string(rec[0]) +
                        " (expected < 20); not a CIFAR-100 binary file?");
      }
      const int label = rec[label_bytes - 1];  // CIFAR-100: <coarse><fine>; the fine label is used
      if (label >= max_label) {
        throw UserError(paths[f] + ": record " + std::to_string(r) + " has label " + std::to_string(label) +
                        " (expected < " + std::to_string(max_label) + "); not a " +
                        (cifar100 ? "CIFAR-100" : "CIFAR-10") + " binary file?");
      }
      lab[i] = label;
      std::memcpy(dst + i * pixels, rec + label_bytes, pixels);
    }
  }
  return out;
}

torch::Tensor decode_image(const std::string& path) {
  DecodedImage img = decode_image_bytes(read_file_bytes(path), path);
  torch::Tensor hwc = torch::from_blob(img.pixels.data(), {img.height, img.width, img.channels}, torch::kUInt8);
  return hwc.permute({2, 0, 1}).contiguous();
}

RawImages read_image_folder(const std::string& root, int64_t size, const std::vector<std::string>& classes) {
  return read_image_folder(root, size, classes, -1);
}

RawImages read_image_folder(const std::string& root, int64_t size, const std::vector<std::string>& classes,
                            int64_t per_class_limit) {
  return decode_listing(list_image_folder(root, classes, per_class_limit), size);
}


// ---------------------------------------------------------------------------------------------
// Folders

bool is_image_name(const std::string& name) {
  const auto dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == "jpg" || ext == "jpeg" || ext == "png";
}

namespace {

std::vector<std::string> sorted_subdirs(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->is_directory(ec2)) out.push_back(it->path().filename().string());
  }
  if (ec) throw UserError("cannot list " + root + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

// Every image file below `dir`, as (relative dir, file name) pairs sorted like torchvision's
// sorted(os.walk(...)) + sorted(fnames).
std::vector<std::pair<std::string, std::string>> images_below(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
  if (ec) throw UserError("cannot list " + dir.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw UserError("cannot list " + dir.string() + ": " + ec.message());
    std::error_code ec2;
    if (!it->is_regular_file(ec2)) continue;
    const std::string name = it->path().filename().string();
    if (!is_image_name(name)) continue;
    out.emplace_back(it->path().parent_path().lexically_relative(dir).generic_string(), name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t file_bytes(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? -1 : static_cast<int64_t>(n);
}

}  // namespace

FolderListing list_image_folder(const std::string& root, const std::vector<std::string>& classes,
                                int64_t per_class_limit) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    throw DatasetMissing("image folder " + root + " does not exist");
  }
  FolderListing listing;
  listing.root = root;
  listing.classes = classes.empty() ? sorted_subdirs(root) : classes;
  if (listing.classes.empty()) {
    throw UserError(root + ": no class directories (expected " + root + "/<class>/*.jpg|jpeg|png)");
  }
  for (size_t c = 0; c < listing.classes.size(); ++c) {
    const fs::path cdir = fs::path(root) / listing.classes[c];
    if (!fs::is_directory(cdir, ec)) {
      throw DatasetMissing("class directory " + cdir.string() + " is missing (class " + std::to_string(c) + " of " +
                           std::to_string(listing.classes.size()) + ")");
    }
    int64_t kept = 0;
    for (const auto& [sub, name] : images_below(cdir)) {
      if (per_class_limit >= 0 && kept >= per_class_limit) break;
      const fs::path p = sub.empty() || sub == "." ? cdir / name : cdir / sub / name;
      FolderEntry e;
      e.path = p.string();
      e.relpath = p.lexically_relative(root).generic_string();
      e.label = static_cast<int64_t>(c);
      e.bytes = file_bytes(p);
      listing.entries.push_back(std::move(e));
      ++kept;
    }
  }
  return listing;
}

FolderListing list_any_folder(const std::string& root, const std::vector<std::string>& classes,
                              int64_t per_class_limit) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    throw DatasetMissing("image folder " + root + " does not exist");
  }
  if (!classes.empty() || !sorted_subdirs(root).empty()) {
    return list_image_folder(root, classes, per_class_limit);
  }
  FolderListing listing;
  listing.root = root;
  listing.classes = {fs::path(root).filename().string()};
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (!it->is_regular_file(ec2) || !is_image_name(it->path().filename().string())) continue;
    FolderEntry e;
    e.path = it->path().string();
    e.relpath = it->path().filename().string();
    e.bytes = file_bytes(it->path());
    listing.entries.push_back(std::move(e));
  }
  if (ec) throw UserError("cannot list " + root + ": " + ec.message());
  std::sort(listing.entries.begin(), listing.entries.end(),
            [](const FolderEntry& a, const FolderEntry& b) { return a.relpath < b.relpath; });
  if (per_class_limit >= 0 && static_cast<int64_t>(listing.entries.size()) > per_class_limit) {
    listing.entries.resize(static_cast<size_t>(per_class_limit));
  }
  return listing;
}

torch::Tensor rgb_to_grey(const torch::Tensor& rgb) {
  TORCH_CHECK(rgb.dim() == 4 && rgb.size(1) == 3 && rgb.scalar_type() == torch::kUInt8, "rgb_to_grey: uint8 [N,3,H,W]");
  torch::Tensor x = rgb.to(torch::kInt);
  torch::Tensor l = (x.select(1, 0) * 19595 + x.select(1, 1) * 38470 + x.select(1, 2) * 7471 + 0x8000)
                        .div(65536, "floor");
  return l.clamp(0, 255).to(torch::kUInt8).unsqueeze(1).contiguous();
}

FolderListing list_annotated_folder(const std::string& images_dir, const std::string& annotations_file,
                                    const std::vector<std::string>& classes, int64_t limit) {
  std::map<std::string, int64_t> index;
  for (size_t c = 0; c < classes.size(); ++c) index[classes[c]] = static_cast<int64_t>(c);
  std::ifstream in(annotations_file);
  if (!in) {
    throw DatasetMissing("annotation file " + annotations_file + " does not exist");
  }
  struct Row {
    int64_t label;
    std::string file;
  };
  std::vector<Row> rows;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::istringstream ss(line);
    std::string file, cls;
    if (!(ss >> file >> cls)) {
      throw UserError(annotations_file + ":" + std::to_string(lineno) + ": expected '<file> <class> ...', got '" +
                      line + "'");
    }
    auto it = index.find(cls);
    if (it == index.end()) {
      throw UserError(annotations_file + ":" + std::to_string(lineno) + ": class '" + cls +
                      "' is not one of the training classes");
    }
    rows.push_back({it->second, file});
  }
  std::sort(rows.begin(), rows.end(),
            [](const Row& a, const Row& b) { return a.label != b.label ? a.label < b.label : a.file < b.file; });
  FolderListing listing;
  listing.root = images_dir;
  listing.classes = classes;
  for (const Row& r : rows) {
    if (limit >= 0 && static_cast<int64_t>(listing.entries.size()) >= limit) break;
    const fs::path p = fs::path(images_dir) / r.file;
    FolderEntry e;
    e.path = p.string();
    e.relpath = r.file;
    e.label = r.label;
    e.bytes = file_bytes(p);
    if (e.bytes < 0) {
      throw DatasetMissing(p.string() + " is listed in " + annotations_file + " but missing");
    }
    listing.entries.push_back(std::move(e));
  }
  return listing;
}

namespace {

// torchvision Resize(size) on the shorter side, then CenterCrop(size); uint8 [C,H,W] in and out.
torch::Tensor resize_center_crop(const torch::Tensor& chw, int64_t size) {
  namespace F = torch::nn::functional;
  const int64_t h = chw.size(1), w = chw.size(2);
  const int64_t nh = h <= w ? size : static_cast<int64_t>(size * h / w);
  const int64_t nw = h <= w ? static_cast<int64_t>(size * w / h) : size;
  torch::Tensor x = chw;
  if (nh != h || nw != w)
    x = F::interpolate(chw.unsqueeze(0).to(torch::kFloat), F::InterpolateFuncOptions()
                                                               .size(std::vector<int64_t>{nh, nw})
                                                               .mode(torch::kBilinear)
                                                               .align_corners(false)
                                                               .antialias(true))
            .squeeze(0)
            .round_()
            .clamp_(0, 255)
            .to(torch::kUInt8);
  // Python's round(): halves to even (std::nearbyint in the default rounding mode).
  const int64_t top = static_cast<int64_t>(std::nearbyint((nh - size) / 2.0));
  const int64_t left = static_cast<int64_t>(std::nearbyint((nw - size) / 2.0));
  return x.narrow(1, top, size).narrow(2, left, size).contiguous();
}

}  // namespace

RawImages decode_listing(const FolderListing& listing, int64_t size, bool center_crop) {
  const int64_t n = static_cast<int64_t>(listing.entries.size());
  RawImages out;
  out.class_names = listing.classes;
  out.labels = torch::empty({n}, torch::kLong);
  int64_t* labels = out.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) labels[i] = listing.entries[i].label;
  std::vector<torch::Tensor> native;  // size <= 0: keep each image's own size, checked below
  if (size > 0) {
    out.images = torch::empty({n, 3, size, size}, torch::kUInt8);
  } else {
    native.resize(static_cast<size_t>(n));
  }
  std::mutex mu;
  std::string first_error;
  bool missing = false;
  at::parallel_for(0, n, 8, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      try {
        torch::Tensor chw = decode_image(listing.entries[i].path);
        if (size <= 0) {
          native[i] = chw;
          continue;
        }
        if (center_crop) {
          chw = resize_center_crop(chw, size);
        } else if (chw.size(1) != size || chw.size(2) != size) {
          namespace F = torch::nn::functional;
          chw = F::interpolate(chw.unsqueeze(0).to(torch::kFloat),
                               F::InterpolateFuncOptions()
                                   .size(std::vector<int64_t>{size, size})
                                   .mode(torch::kBilinear)
                                   .align_corners(false))
                    .squeeze(0)
                    .round_()
                    .clamp_(0, 255)
                    .to(torch::kUInt8);
        }
        out.images[i].copy_(chw);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.empty()) {
          first_error = e.what();
          missing = dynamic_cast<const DatasetMissing*>(&e) != nullptr;
        }
      }
    }
  });
  if (!first_error.empty()) {
    if (missing) throw DatasetMissing(first_error);
    throw UserError(first_error);
  }
  if (size <= 0) {
    if (n == 0) {
      out.images = torch::empty({0, 3, 0, 0}, torch::kUInt8);
    } else {
      for (int64_t i = 1; i < n; ++i) {
        if (!native[i].sizes().equals(native[0].sizes())) {
          throw UserError(listing.entries[i].path + ": size " + std::to_string(native[i].size(2)) + "x" +
                          std::to_string(native[i].size(1)) + " differs from " + listing.entries[0].path + " (" +
                          std::to_string(native[0].size(2)) + "x" + std::to_string(native[0].size(1)) +
                          ") and no resize size was given");
        }
      }
      out.images = torch::stack(native);
    }
  }
  return out;
}

std::string listing_digest(const FolderListing& listing) {
  std::string text;
  for (const auto& c : listing.classes) text += c + "\n";
  for (const auto& e : listing.entries)
    text += e.relpath + "\t" + std::to_string(e.bytes) + "\t" + std::to_string(e.label) + "\n";
  return sha256_bytes(text);
}

}  // namespace ddb
