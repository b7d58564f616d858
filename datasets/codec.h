// Byte-level codecs behind the dataset readers: gzip, JPEG, PNG. No tensors here, so the tests can
// write fixture files (gzip, PNG, JPEG) without linking zlib/libpng/libjpeg themselves.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ddb {

// A decoded image: interleaved rows, `channels` bytes per pixel (HWC).
struct DecodedImage {
  int64_t width = 0;
  int64_t height = 0;
  int64_t channels = 0;
  std::vector<uint8_t> pixels;
};

// Whole file as bytes. Throws UserError naming the file when it cannot be read.
std::string read_file_bytes(const std::string& path);
bool is_gzip(const std::string& bytes);
// Inflates gzip data (several concatenated members allowed). `what` names the source in errors.
std::string gunzip_bytes(const std::string& bytes, const std::string& what);
// Writes `bytes` gzip-compressed (zlib gzopen). Throws UserError on failure.
void write_gzip_file(const std::string& path, const std::string& bytes);

// Decodes a JPEG or PNG (detected from the magic bytes, not the name) to 8-bit RGB (3 channels):
// grayscale is replicated, palette expanded, alpha dropped, 16-bit reduced to 8-bit, CMYK converted.
// Throws UserError naming `what` on corrupt or unsupported data.
DecodedImage decode_image_bytes(const std::string& bytes, const std::string& what);

// Test/fixture helpers. `pixels` is HWC with channels 1 (gray) or 3 (RGB).
void encode_png(const std::string& path, int64_t width, int64_t height, int64_t channels,
                const std::vector<uint8_t>& pixels);
void encode_jpeg(const std::string& path, int64_t width, int64_t height, int64_t channels,
                 const std::vector<uint8_t>& pixels, int quality = 95);

}  // namespace ddb
