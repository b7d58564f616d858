// The `npy` dataset reader: NumPy .npy uint8 image arrays [N, H, W, C] (OE's 300K Random Images). The
// files carry no labels: every image gets label 0 of the spec's single class (manifests give `npy`
// entries num_classes 1), so the per-class train limit keeps the first N images.
#include "datasets/npy.h"

#include <filesystem>
#include <fstream>

#include "core/errors.h"
#include "datasets/reader_registry.h"

namespace fs = std::filesystem;

namespace ddb {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// The value text after 'key': in the header dict (a Python literal), or "" when the key is absent.
std::string dict_value(const std::string& dict, const std::string& key) {
  for (const char q : {'\'', '"'}) {
    const std::string k = std::string(1, q) + key + std::string(1, q);
    size_t p = dict.find(k);
    if (p == std::string::npos) continue;
    p = dict.find(':', p + k.size());
    if (p == std::string::npos) return "";
    ++p;
    while (p < dict.size() && dict[p] == ' ') ++p;
    if (p >= dict.size()) return "";
    if (dict[p] == '\'' || dict[p] == '"') {
      const size_t e = dict.find(dict[p], p + 1);
      return e == std::string::npos ? "" : dict.substr(p, e - p + 1);
    }
    if (dict[p] == '(') {
      const size_t e = dict.find(')', p);
      return e == std::string::npos ? "" : dict.substr(p, e - p + 1);
    }
    size_t e = p;
    while (e < dict.size() && dict[e] != ',' && dict[e] != '}') ++e;
    std::string v = dict.substr(p, e - p);
    while (!v.empty() && v.back() == ' ') v.pop_back();
    return v;
  }
  return "";
}

}  // namespace

NpyHeader read_npy_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open the .npy file");
  char pre[12] = {};
  in.read(pre, 10);
  if (in.gcount() < 10 || std::string(pre, 6) != "\x93NUMPY") {
    throw UserError(path + ": not a .npy file (no \\x93NUMPY magic at the start; truncated or corrupt)");
  }
  NpyHeader h;
  h.major = static_cast<unsigned char>(pre[6]);
  int64_t len = 0;
  int64_t prefix = 10;
  auto u8 = [](char c) { return static_cast<int64_t>(static_cast<unsigned char>(c)); };
  if (h.major == 1) {
    len = u8(pre[8]) | (u8(pre[9]) << 8);
  } else if (h.major == 2 || h.major == 3) {
    in.read(pre + 10, 2);
    if (in.gcount() < 2) throw UserError(path + ": .npy header truncated");
    len = u8(pre[8]) | (u8(pre[9]) << 8) | (u8(pre[10]) << 16) | (u8(pre[11]) << 24);
    prefix = 12;
  } else {
    throw UserError(path + ": .npy format version " + std::to_string(h.major) + " is not supported (1, 2 or 3)");
  }
  std::string dict(static_cast<size_t>(len), '\0');
  in.read(dict.data(), len);
  if (in.gcount() < len) {
    throw UserError(path + ": .npy header truncated (" + std::to_string(len) + " header bytes announced)");
  }
  h.data_offset = prefix + len;
  const auto bad = [&](const std::string& what) {
    return UserError(path + ": malformed .npy header (" + what + "): " + dict.substr(0, 200));
  };
  const std::string descr = dict_value(dict, "descr");
  if (descr.size() < 2) throw bad("no 'descr'");
  h.descr = descr.substr(1, descr.size() - 2);
  const std::string fo = dict_value(dict, "fortran_order");
  if (fo != "False" && fo != "True") throw bad("no 'fortran_order'");
  h.fortran_order = fo == "True";
  const std::string shape = dict_value(dict, "shape");
  if (shape.size() < 2 || shape.front() != '(') throw bad("no 'shape' tuple");
  std::string dims = shape.substr(1, shape.size() - 2);
  size_t p = 0;
  while (p < dims.size()) {
    while (p < dims.size() && (dims[p] == ' ' || dims[p] == ',')) ++p;
    if (p >= dims.size()) break;
    size_t e = p;
    while (e < dims.size() && dims[e] >= '0' && dims[e] <= '9') ++e;
    if (e == p) throw bad("shape entries must be non-negative integers");
    if (e - p > 15) throw bad("shape entry too large");
    h.shape.push_back(std::stoll(dims.substr(p, e - p)));
    p = e;
  }
  const std::string& d = h.descr;
  if (d.size() >= 2 && (d[0] == '|' || d[0] == '<' || d[0] == '>' || d[0] == '=')) {
    h.item_size = std::atoi(d.c_str() + 2);
  } else if (!d.empty()) {
    h.item_size = std::atoi(d.c_str() + 1);
  }
  return h;
}

RawImages read_npy_images(const std::string& path, const ImageShape& shape, int64_t limit) {
  const NpyHeader h = read_npy_header(path);
  if (h.descr != "|u1" && h.descr != "<u1" && h.descr != ">u1" && h.descr != "u1") {
    throw UserError(path + ": .npy dtype '" + h.descr + "', expected uint8 ('|u1') images");
  }
  if (h.fortran_order) throw UserError(path + ": .npy array is in Fortran order; expected C order (fortran_order False)");
  const int64_t c = shape.channels, hh = shape.height, ww = shape.width;
  const bool hwc = h.shape.size() == 4 && h.shape[1] == hh && h.shape[2] == ww && h.shape[3] == c;
  const bool grey = c == 1 && h.shape.size() == 3 && h.shape[1] == hh && h.shape[2] == ww;
  if (!hwc && !grey) {
    throw UserError(path + ": .npy shape " + shape_text(h.shape) + ", expected (N, " + std::to_string(hh) + ", " +
                    std::to_string(ww) + ", " + std::to_string(c) + ") uint8 images (HWC)");
  }
  const int64_t n_all = h.shape[0];
  const int64_t per_image = hh * ww * c;
  const int64_t expected = h.data_offset + n_all * per_image;
  std::error_code ec;
  const auto actual = static_cast<int64_t>(fs::file_size(path, ec));
  if (ec) throw UserError("cannot stat " + path + ": " + ec.message());
  if (actual != expected) {
    throw UserError(path + ": " + std::to_string(actual) + " bytes, expected " + std::to_string(expected) +
                    " (a " + std::to_string(h.data_offset) + "-byte .npy header + " + shape_text(h.shape) +
                    " uint8 = " + std::to_string(n_all * per_image) + " data bytes); " +
                    (actual < expected ? "truncated download?" : "trailing bytes: corrupt or not this array?"));
  }
  const int64_t n = limit >= 0 ? std::min(limit, n_all) : n_all;
  torch::Tensor hwc_images = torch::empty({n, hh, ww, c}, torch::kUInt8);
  std::ifstream in(path, std::ios::binary);
  in.seekg(h.data_offset);
  in.read(reinterpret_cast<char*>(hwc_images.data_ptr<uint8_t>()), n * per_image);
  if (!in || in.gcount() != n * per_image) throw UserError(path + ": read failed after " + std::to_string(in.gcount()) + " bytes");
  RawImages r;
  r.images = hwc_images.permute({0, 3, 1, 2}).contiguous();
  r.labels = torch::zeros({n}, torch::kLong);
  return r;
}

namespace {

// Files whose name starts with "test" are the test split, the others the training split (concatenated
// in the spec's order); the limits are applied while reading, so only the needed images are read.
LoadedDataset read_npy_dataset(const ReadRequest& r) {
  if (r.spec.info.num_classes != 1) {
    throw UserError("dataset '" + r.spec.name + "': the npy reader gives every image label 0, so the spec needs "
                    "exactly 1 class (has " + std::to_string(r.spec.info.num_classes) + ")");
  }
  std::vector<RawImages> train, test;
  int64_t train_left = r.opts.train_limit, test_left = r.opts.test_limit;
  for (const auto& p : r.located.paths) {
    const bool is_test = fs::path(p).filename().string().rfind("test", 0) == 0;
    int64_t& left = is_test ? test_left : train_left;
    RawImages part = read_npy_images(p, r.spec.info.shape, left);
    if (left >= 0) left -= part.images.size(0);
    (is_test ? test : train).push_back(std::move(part));
  }
  const auto join = [&](std::vector<RawImages>& parts) {
    RawImages out;
    if (parts.empty()) {
      const auto& s = r.spec.info.shape;
      out.images = torch::empty({0, s.channels, s.height, s.width}, torch::kUInt8);
      out.labels = torch::empty({0}, torch::kLong);
      return out;
    }
    std::vector<torch::Tensor> im, lb;
    for (auto& p : parts) {
      im.push_back(p.images);
      lb.push_back(p.labels);
    }
    out.images = torch::cat(im);
    out.labels = torch::cat(lb);
    return out;
  };
  return finish_dataset(r, join(train), join(test));
}

}  // namespace

DDBENCH_REGISTER_DATASET_READER(DatasetReaderInfo{
    "npy", "NumPy .npy uint8 images [N,H,W,C] (no labels: one class, label 0); files named test* are the test split",
    read_npy_dataset});

}  // namespace ddb
