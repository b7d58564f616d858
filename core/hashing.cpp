// ddbench: torch-free
#include "core/hashing.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "core/errors.h"

namespace ddb {

namespace {

std::string to_hex(const unsigned char* d, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[d[i] >> 4];
    out[2 * i + 1] = digits[d[i] & 15];
  }
  return out;
}

struct Sha256 {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Sha256() {
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
      EVP_MD_CTX_free(ctx);
      throw std::runtime_error("OpenSSL EVP sha256 init failed");
    }
  }
  ~Sha256() { EVP_MD_CTX_free(ctx); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n) {
    if (EVP_DigestUpdate(ctx, data, n) != 1) throw std::runtime_error("OpenSSL EVP sha256 update failed");
  }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx, md, &len) != 1) throw std::runtime_error("OpenSSL EVP sha256 final failed");
    return to_hex(md, len);
  }
};

}  // namespace

std::string sha256_bytes(const std::string& bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hex();
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw UserError("cannot open " + path + ": " + std::strerror(errno));
  }
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize got = in.gcount();
    if (got > 0) h.update(buf.data(), static_cast<size_t>(got));
  }
  if (in.bad()) {
    throw UserError("cannot read " + path);
  }
  return h.hex();
}

std::string short_hash(const std::string& text) { return sha256_bytes(text).substr(0, 16); }

uint64_t derive_seed(const std::string& identity_hash, int index, const std::string& purpose) {
  const std::string h = sha256_bytes(identity_hash + "|" + std::to_string(index) + "|" + purpose);
  return std::stoull(h.substr(0, 15), nullptr, 16);  // 60 bits: positive as int64 too
}

}  // namespace ddb
