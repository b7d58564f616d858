// ddbench: torch-free
#include "datasets/codec.h"

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/errors.h"

namespace ddb {

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw UserError("cannot open " + path + ": " + std::strerror(errno));
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) {
    throw UserError("cannot read " + path);
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0, std::ios::beg);
  if (size > 0 && !in.read(&bytes[0], size)) {
    throw UserError("cannot read " + path + " (read failed after " + std::to_string(in.gcount()) + " bytes)");
  }
  return bytes;
}

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x1f && static_cast<uint8_t>(bytes[1]) == 0x8b;
}

std::string gunzip_bytes(const std::string& bytes, const std::string& what) {
  std::string out;
  // ISIZE (last 4 bytes, little-endian) is the uncompressed size mod 2^32 of the last member:
  // a good first guess for single-member files.
  if (bytes.size() >= 18) {
    const auto* t = reinterpret_cast<const uint8_t*>(bytes.data() + bytes.size() - 4);
    const uint32_t isize = uint32_t(t[0]) | (uint32_t(t[1]) << 8) | (uint32_t(t[2]) << 16) | (uint32_t(t[3]) << 24);
    out.reserve(isize);
  }
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, 15 + 16) != Z_OK) {
    throw UserError(what + ": zlib inflateInit2 failed");
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  std::vector<char> chunk(1 << 20);
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
    zs.avail_out = static_cast<uInt>(chunk.size());
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk.data(), chunk.size() - zs.avail_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) {
        break;
      }
      // Another gzip member follows (concatenated gzip files are valid gzip).
      if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
        inflateReset(&zs);
        continue;
      }
      break;  // trailing garbage after the last member: ignored, as gzip(1) does with a warning
    }
    if (rc != Z_OK) {
      const std::string msg = zs.msg ? zs.msg : ("zlib error " + std::to_string(rc));
      inflateEnd(&zs);
      throw UserError(what + ": corrupt gzip data (" + msg + ")");
    }
    if (zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      throw UserError(what + ": truncated gzip data (ended after " + std::to_string(out.size()) +
                      " uncompressed bytes)");
    }
  }
  inflateEnd(&zs);
  return out;
}

void write_gzip_file(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (!f) {
    throw UserError("cannot create " + path);
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const unsigned n = static_cast<unsigned>(std::min<size_t>(bytes.size() - done, 1u << 30));
    if (gzwrite(f, bytes.data() + done, n) != static_cast<int>(n)) {
      gzclose(f);
      throw UserError("cannot write " + path);
    }
    done += n;
  }
  if (gzclose(f) != Z_OK) {
    throw UserError("cannot write " + path);
  }
}

// ---------------------------------------------------------------------------------------------
// JPEG

namespace {

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void jpeg_quiet(j_common_ptr, int) {}  // warnings (e.g. "premature end of data") are not fatal

// Returns false (and fills `message`) on a libjpeg error. Only trivially destructible locals live
// between setjmp and the libjpeg calls.
// `row` is owned by the caller so that a longjmp out of libjpeg skips no destructor.
bool decode_jpeg_impl(const std::string& bytes, DecodedImage& img, char* message, std::vector<unsigned char>& row) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_quiet;
  err.message[0] = '\0';
  if (setjmp(err.jump)) {
    std::strncpy(message, err.message, JMSG_LENGTH_MAX);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  const J_COLOR_SPACE in_space = cinfo.jpeg_color_space;
  const bool cmyk = in_space == JCS_CMYK || in_space == JCS_YCCK;
  const bool gray = in_space == JCS_GRAYSCALE;
  cinfo.out_color_space = cmyk ? JCS_CMYK : gray ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const int64_t w = cinfo.output_width, h = cinfo.output_height, comps = cinfo.output_components;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.assign(static_cast<size_t>(w * h * 3), 0);
  row.assign(static_cast<size_t>(w * comps), 0);
  while (cinfo.output_scanline < cinfo.output_height) {
    const int64_t y = cinfo.output_scanline;
    JSAMPROW rows[1] = {row.data()};
    jpeg_read_scanlines(&cinfo, rows, 1);
    uint8_t* dst = img.pixels.data() + y * w * 3;
    if (comps == 3) {
      std::memcpy(dst, row.data(), static_cast<size_t>(w * 3));
    } else if (comps == 1) {
      for (int64_t x = 0; x < w; ++x) {
        dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
      }
    } else if (comps == 4) {
      // Adobe CMYK JPEGs store inverted values; PIL's CMYK->RGB is then R = C*K/255.
      for (int64_t x = 0; x < w; ++x) {
        const int k = row[4 * x + 3];
        for (int c = 0; c < 3; ++c) {
          dst[3 * x + c] = static_cast<uint8_t>((row[4 * x + c] * k + 127) / 255);
        }
      }
    }
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// ---------------------------------------------------------------------------------------------
// PNG

struct PngSource {
  const std::string* bytes;
  size_t pos;
};

void png_read_mem(png_structp png, png_bytep out, png_size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (src->pos + n > src->bytes->size()) {
    png_error(png, "unexpected end of data");
  }
  std::memcpy(out, src->bytes->data() + src->pos, n);
  src->pos += n;
}

struct PngErrorSink {
  char message[256];
};

void png_on_error(png_structp png, png_const_charp msg) {
  auto* sink = static_cast<PngErrorSink*>(png_get_error_ptr(png));
  std::snprintf(sink->message, sizeof(sink->message), "%s", msg);
  png_longjmp(png, 1);
}
void png_on_warning(png_structp, png_const_charp) {}

bool decode_png_impl(const std::string& bytes, DecodedImage& img, char* message, std::vector<png_bytep>& rows) {
  PngErrorSink sink;
  sink.message[0] = '\0';
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &sink, png_on_error, png_on_warning);
  if (!png) {
    std::snprintf(message, 256, "png_create_read_struct failed");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(message, 256, "png_create_info_struct failed");
    return false;
  }
  PngSource src{&bytes, 0};
  if (setjmp(png_jmpbuf(png))) {
    std::snprintf(message, 256, "%s", sink.message);
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, &src, png_read_mem);
  png_read_info(png, info);
  const png_byte color = png_get_color_type(png, info);
  const png_byte depth = png_get_bit_depth(png, info);
  // Same reduction as PIL's convert("RGB"): expand palette/low-bit gray, strip 16 -> 8 bits,
  // gray -> RGB, drop alpha (no compositing).
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (depth == 16) png_set_strip_16(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int64_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  if (rowbytes != static_cast<size_t>(w * 3)) {
    std::snprintf(message, 256, "unexpected PNG row size %zu for width %lld", rowbytes, static_cast<long long>(w));
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.assign(static_cast<size_t>(w * h * 3), 0);
  rows.resize(static_cast<size_t>(h));
  for (int64_t y = 0; y < h; ++y) rows[y] = img.pixels.data() + y * w * 3;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

}  // namespace

DecodedImage decode_image_bytes(const std::string& bytes, const std::string& what) {
  DecodedImage img;
  char message[JMSG_LENGTH_MAX > 256 ? JMSG_LENGTH_MAX : 256] = {0};
  const auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
    std::vector<unsigned char> row;
    if (!decode_jpeg_impl(bytes, img, message, row)) {
      throw UserError(what + ": cannot decode JPEG (" + message + ")");
    }
  } else if (bytes.size() >= 8 && png_sig_cmp(b, 0, 8) == 0) {
    std::vector<png_bytep> rows;
    if (!decode_png_impl(bytes, img, message, rows)) {
      throw UserError(what + ": cannot decode PNG (" + message + ")");
    }
  } else {
    throw UserError(what + ": not a JPEG or PNG file (" + std::to_string(bytes.size()) + " bytes)");
  }
  if (img.width <= 0 || img.height <= 0) {
    throw UserError(what + ": empty image");
  }
  return img;
}

// ---------------------------------------------------------------------------------------------
// Encoders (fixtures)

namespace {
void check_encode_args(const std::string& path, int64_t width, int64_t height, int64_t channels,
                       const std::vector<uint8_t>& pixels) {
  if (width <= 0 || height <= 0 || (channels != 1 && channels != 3) ||
      pixels.size() != static_cast<size_t>(width * height * channels)) {
    throw UserError(path + ": bad image for encoding (" + std::to_string(width) + "x" + std::to_string(height) +
                    "x" + std::to_string(channels) + ", " + std::to_string(pixels.size()) + " bytes)");
  }
}
}  // namespace

void encode_png(const std::string& path, int64_t width, int64_t height, int64_t channels,
                const std::vector<uint8_t>& pixels) {
  check_encode_args(path, width, height, channels, pixels);
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  if (!png_image_write_to_file(&image, path.c_str(), 0, pixels.data(), 0, nullptr)) {
    const std::string msg = image.message;
    png_image_free(&image);
    throw UserError("cannot write PNG " + path + ": " + msg);
  }
}

void encode_jpeg(const std::string& path, int64_t width, int64_t height, int64_t channels,
                 const std::vector<uint8_t>& pixels, int quality) {
  check_encode_args(path, width, height, channels, pixels);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    throw UserError("cannot create " + path);
  }
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);  // fixtures only: libjpeg's default handler exits on error
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = static_cast<int>(channels);
  cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row[1] = {const_cast<JSAMPLE*>(pixels.data() + static_cast<size_t>(cinfo.next_scanline) * width * channels)};
    jpeg_write_scanlines(&cinfo, row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  if (std::fclose(f) != 0) {
    throw UserError("cannot write " + path);
  }
}

}  // namespace ddb
