#include "core/files.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/errors.h"

namespace ddb {

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw UserError("cannot write " + tmp);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw UserError("write failed: " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace ddb
