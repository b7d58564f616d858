// Hashing and seeding (torch-free): SHA-256 of bytes and files, the short hashes that name
// configurations, and seeds derived from them (never the clock), so every number can be replayed.
#pragma once
#include <cstdint>
#include <string>

namespace ddb {

std::string sha256_bytes(const std::string& bytes);  // 64 lowercase hex digits
// Throws UserError when the file cannot be read.
std::string sha256_file(const std::string& path);
// The first 16 hex digits of sha256(text).
std::string short_hash(const std::string& text);
// Replayable seeds: derived from an identity hash, an index and a purpose (60 bits, positive as int64).
uint64_t derive_seed(const std::string& identity_hash, int index, const std::string& purpose = "distill");

}  // namespace ddb
