// The `svhn-mat` dataset reader: SVHN format 2 (cropped digits) as torchvision.datasets.SVHN reads it
// (scipy.io.loadmat; X [H, W, C, N] -> np.transpose(X, (3, 2, 0, 1)) = [N, C, H, W]; y squeezed, 10 -> 0).
// Files whose name starts with "test" are the test split, the others the training split.
#include "datasets/svhn_mat.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "core/errors.h"
#include "datasets/reader_registry.h"
#include "ddbench_config.h"

#if DDBENCH_HAVE_MATIO
#include <matio.h>
#endif

namespace fs = std::filesystem;

namespace ddb {

bool mat_files_supported() { return DDBENCH_HAVE_MATIO != 0; }

namespace {

const char* const kNoMatio =
    "this ddbench was built without libmatio, so it cannot read MATLAB .mat files (apt install libmatio-dev, "
    "then re-run cmake and rebuild; ci/install-deps.sh installs it)";

}  // namespace

#if DDBENCH_HAVE_MATIO

namespace {

struct MatCloser {
  void operator()(mat_t* m) const { Mat_Close(m); }
};
struct VarFreer {
  void operator()(matvar_t* v) const { Mat_VarFree(v); }
};
using MatFile = std::unique_ptr<mat_t, MatCloser>;
using MatVar = std::unique_ptr<matvar_t, VarFreer>;

std::string dims_text(const matvar_t* v) {
  std::string s = "[";
  for (int i = 0; i < v->rank; ++i) s += (i ? ", " : "") + std::to_string(v->dims[i]);
  return s + "]";
}

int64_t numel(const matvar_t* v) {
  int64_t n = 1;
  for (int i = 0; i < v->rank; ++i) n *= static_cast<int64_t>(v->dims[i]);
  return n;
}

MatVar read_var(mat_t* m, const char* name, const std::string& path) {
  MatVar v(Mat_VarRead(m, name));
  if (!v) {
    throw UserError(path + ": no readable variable '" + name +
                    "' (not the SVHN cropped-digits file, or truncated/corrupt: re-download it)");
  }
  if (v->isComplex || v->class_type == MAT_C_CELL || v->class_type == MAT_C_STRUCT || v->class_type == MAT_C_SPARSE ||
      v->data == nullptr) {
    throw UserError(path + ": variable '" + name + "' is not a plain numeric array");
  }
  return v;
}

// y as int64 labels, whatever numeric class the file stores it in.
torch::Tensor labels_of(const matvar_t* y, const std::string& path) {
  const int64_t n = numel(y);
  torch::ScalarType t;
  switch (y->class_type) {
    case MAT_C_DOUBLE: t = torch::kDouble; break;
    case MAT_C_SINGLE: t = torch::kFloat; break;
    case MAT_C_UINT8: t = torch::kUInt8; break;
    case MAT_C_INT8: t = torch::kChar; break;
    case MAT_C_INT16: t = torch::kShort; break;
    case MAT_C_INT32: t = torch::kInt; break;
    case MAT_C_INT64: t = torch::kLong; break;
    default: throw UserError(path + ": variable 'y' has an unsupported numeric class " + std::to_string(y->class_type));
  }
  torch::Tensor raw = torch::from_blob(y->data, {n}, t);
  if (raw.is_floating_point() && !torch::equal(raw, raw.round())) {
    throw UserError(path + ": variable 'y' holds non-integer labels");
  }
  torch::Tensor l = raw.to(torch::kLong).clone();
  l.masked_fill_(l == 10, 0);  // SVHN labels the digit 0 as 10 (torchvision: np.place(y, y == 10, 0))
  return l;
}

// matio reads a truncated compressed variable without an error (the missing bytes come back as zeros), so
// the layout of a MATLAB 5 file is checked first: a 128-byte header, then data elements of 8-byte tag
// (type, byte count) + data, padded to 8 bytes except compressed ones; the last one must end at the end of
// the file. MATLAB 7.3 files (HDF5) are left to matio/HDF5.
void check_mat5_extent(const std::string& path) {
  std::error_code ec;
  const auto size = static_cast<int64_t>(fs::file_size(path, ec));
  if (ec) throw UserError("cannot stat " + path + ": " + ec.message());
  std::ifstream in(path, std::ios::binary);
  char header[128];
  if (size < 128 || !in.read(header, 128)) {
    throw UserError(path + ": " + std::to_string(size) + " bytes, expected at least the 128-byte MATLAB file header (truncated download?)");
  }
  const uint16_t version = static_cast<uint16_t>(static_cast<uint8_t>(header[124]) | (static_cast<uint8_t>(header[125]) << 8));
  const bool little = header[126] == 'I' && header[127] == 'M';
  const bool big = header[126] == 'M' && header[127] == 'I';
  if (!little && !big) throw UserError(path + ": not a MATLAB .mat file (no endian indicator in the header)");
  if ((little ? version : static_cast<uint16_t>((version >> 8) | (version << 8))) == 0x0200) return;  // v7.3 (HDF5)
  const auto u32 = [&](const unsigned char* b) {
    return little ? (uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24)
                  : (uint32_t(b[3]) | uint32_t(b[2]) << 8 | uint32_t(b[1]) << 16 | uint32_t(b[0]) << 24);
  };
  int64_t off = 128;
  while (off < size) {
    unsigned char tag[8];
    if (size - off < 8 || !in.seekg(off) || !in.read(reinterpret_cast<char*>(tag), 8)) {
      throw UserError(path + ": " + std::to_string(size) + " bytes, ends inside a data element tag at byte " +
                      std::to_string(off) + " (truncated download?)");
    }
    const uint32_t type = u32(tag), nbytes = u32(tag + 4);
    int64_t next;
    if ((type >> 16) != 0) {
      next = off + 8;  // small data element: type and size in the first 4 bytes, data in the next 4
    } else {
      const int64_t data = type == 15 /* miCOMPRESSED */ ? nbytes : (int64_t(nbytes) + 7) / 8 * 8;
      next = off + 8 + data;
    }
    if (next > size) {
      throw UserError(path + ": " + std::to_string(size) + " bytes, expected at least " + std::to_string(next) +
                      " (the data element at byte " + std::to_string(off) + " holds " + std::to_string(nbytes) +
                      " bytes); truncated download? (re-download it)");
    }
    off = next;
  }
}

RawImages read_svhn_mat(const std::string& path, const ImageShape& shape) {
  check_mat5_extent(path);
  MatFile m(Mat_Open(path.c_str(), MAT_ACC_RDONLY));
  if (!m) {
    std::error_code ec;
    throw UserError(path + ": not a readable MATLAB .mat file (" + std::to_string(fs::file_size(path, ec)) +
                    " bytes; truncated or corrupt download?)");
  }
  MatVar x = read_var(m.get(), "X", path);
  const int64_t h = shape.height, w = shape.width, c = shape.channels;
  if (x->class_type != MAT_C_UINT8 || x->rank != 4 || static_cast<int64_t>(x->dims[0]) != h ||
      static_cast<int64_t>(x->dims[1]) != w || static_cast<int64_t>(x->dims[2]) != c) {
    throw UserError(path + ": X is " + dims_text(x.get()) + (x->class_type == MAT_C_UINT8 ? " uint8" : " not uint8") +
                    ", expected uint8 [" + std::to_string(h) + ", " + std::to_string(w) + ", " + std::to_string(c) +
                    ", N]");
  }
  const int64_t n = static_cast<int64_t>(x->dims[3]);
  MatVar y = read_var(m.get(), "y", path);
  torch::Tensor labels = labels_of(y.get(), path);
  if (labels.size(0) != n) {
    throw UserError(path + ": X has " + std::to_string(n) + " images but y has " + std::to_string(labels.size(0)) +
                    " labels");
  }
  // Column-major [H, W, C, N]: image k is the block [C][W][H] (H fastest) -> [N, C, H, W].
  RawImages r;
  r.images = torch::from_blob(x->data, {n, c, w, h}, torch::kUInt8).permute({0, 1, 3, 2}).contiguous();
  r.labels = labels;
  return r;
}

LoadedDataset read_svhn(const ReadRequest& r) {
  std::vector<RawImages> train, test;
  for (const auto& p : r.located.paths) {
    (fs::path(p).filename().string().rfind("test", 0) == 0 ? test : train).push_back(read_svhn_mat(p, r.spec.info.shape));
  }
  if (train.empty() || test.empty()) {
    throw UserError("dataset '" + r.spec.name + "': the svhn-mat reader needs a training file and a test file (name "
                    "starting with 'test'), the spec lists " + std::to_string(r.located.paths.size()) + " file(s)");
  }
  const auto join = [](std::vector<RawImages>& parts) {
    if (parts.size() == 1) return std::move(parts.front());
    std::vector<torch::Tensor> im, lb;
    for (auto& p : parts) {
      im.push_back(p.images);
      lb.push_back(p.labels);
    }
    RawImages out;
    out.images = torch::cat(im);
    out.labels = torch::cat(lb);
    return out;
  };
  return finish_dataset(r, join(train), join(test));
}

}  // namespace

void write_svhn_mat(const std::string& path, const std::vector<int64_t>& x_dims, const std::vector<uint8_t>& x,
                    const std::vector<double>& y) {
  MatFile m(Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5));
  if (!m) throw UserError(path + ": cannot create the .mat file");
  std::vector<size_t> xd(x_dims.begin(), x_dims.end());
  size_t yd[2] = {y.size(), 1};
  MatVar xv(Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, static_cast<int>(xd.size()), xd.data(),
                          const_cast<uint8_t*>(x.data()), MAT_F_DONT_COPY_DATA));
  MatVar yv(Mat_VarCreate("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, yd, const_cast<double*>(y.data()), MAT_F_DONT_COPY_DATA));
  if (!xv || !yv || Mat_VarWrite(m.get(), xv.get(), MAT_COMPRESSION_ZLIB) != 0 ||
      Mat_VarWrite(m.get(), yv.get(), MAT_COMPRESSION_ZLIB) != 0) {
    throw UserError(path + ": cannot write the .mat variables");
  }
}

#else  // no libmatio

namespace {

LoadedDataset read_svhn(const ReadRequest& r) {
  throw DatasetMissing("dataset '" + r.spec.name + "': " + kNoMatio);
}

}  // namespace

void write_svhn_mat(const std::string& path, const std::vector<int64_t>&, const std::vector<uint8_t>&,
                    const std::vector<double>&) {
  throw UserError(path + ": " + kNoMatio);
}

#endif

// Registered in both builds, so that a build without libmatio names the missing library instead of
// calling the reader unknown.
DDBENCH_REGISTER_DATASET_READER(DatasetReaderInfo{
    "svhn-mat",
    std::string("SVHN cropped digits, MATLAB .mat (X uint8 [32,32,3,N], y [N,1], 10 -> 0); files named test* are the "
                "test split") + (DDBENCH_HAVE_MATIO ? "" : " -- unavailable: built without libmatio"),
    read_svhn});

}  // namespace ddb
