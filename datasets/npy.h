// NumPy .npy files of 8-bit images (the OE / TrustDD 300K Random Images, uint8 [N, H, W, C]): header
// parsing and the `npy` dataset reader (registered in datasets/npy.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/readers.h"
#include "datasets/spec.h"

namespace ddb {

// The parts of a .npy header (format versions 1.0, 2.0 and 3.0) the reader needs.
struct NpyHeader {
  int major = 0;
  std::string descr;            // e.g. "|u1"
  bool fortran_order = false;
  std::vector<int64_t> shape;
  int64_t data_offset = 0;      // bytes before the array data (magic + version + length + dict)
  int64_t item_size = 0;        // bytes per element (1 for u1)
};

// Parses the header of `path`. Throws UserError naming the file on anything that is not a well-formed
// .npy header.
NpyHeader read_npy_header(const std::string& path);

// The images of a .npy uint8 array [N, H, W, C] (or [N, H, W] when shape.channels is 1) as [n, C, H, W]
// with n = min(N, limit) (limit < 0: all), labels 0 (the files carry none). Checks that the header is
// '|u1', C order, of the expected image shape, and that the file size is exactly header + N*H*W*C bytes;
// throws UserError naming the file and the expected size otherwise (truncated or corrupt download).
RawImages read_npy_images(const std::string& path, const ImageShape& shape, int64_t limit = -1);

}  // namespace ddb
