// Writing files that readers may open at any moment (caches shared by processes, result files).
#pragma once
#include <string>

namespace ddb {

// Writes `bytes` to a temp file next to `path` (unique per process, so two processes filling the same
// cache never interleave their bytes), then renames it onto `path`: readers see either no file or a
// complete one. UserError naming the file when it cannot be written.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace ddb
