// ddbench: SVHN's MATLAB .mat files (train_32x32.mat / test_32x32.mat: X uint8 [32, 32, 3, N], y [N, 1]
// with label 10 for the digit 0), read through libmatio by the `svhn-mat` dataset reader
// (datasets/svhn_mat.cpp). Torch-free: the tests write fixture files without linking matio themselves.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ddb {

// Whether this build reads .mat files (libmatio found when cmake ran). Without it the svhn-mat reader
// throws DatasetMissing saying so.
bool mat_files_supported();

// Test fixture: writes a MATLAB v5 file (zlib-compressed variables, like the SVHN release) holding X, uint8
// with dimensions x_dims and the bytes `x` in MATLAB's column-major order, and y, double [N, 1].
// Throws UserError when the file cannot be written or the build has no libmatio.
void write_svhn_mat(const std::string& path, const std::vector<int64_t>& x_dims, const std::vector<uint8_t>& x,
                    const std::vector<double>& y);

}  // namespace ddb
