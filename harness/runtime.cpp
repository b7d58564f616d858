#include "harness/runtime.h"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <torch/torch.h>

#include "ddbench_config.h"

namespace ddb {

const char* build_git_commit();  // generated at build time (cmake/GitCommit.cmake)

void init_runtime(int threads) {
  // Keep freed tensor memory in the heap instead of returning it to the kernel on every free;
  // measured: ConvNet-3 fwd+bwd on 256 images 1450 ms -> 271 ms (MACHINE-NOTES.md).
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 2047 << 20);
  // LibTorch's own default here was one thread (seen: 100% CPU on a 2-core machine), so the default
  // is every core the machine reports.
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
}

std::string source_root() {
  const char* env = std::getenv("DDBENCH_ROOT");
  return env && *env ? env : DDBENCH_SOURCE_DIR;
}

std::string git_commit() { return build_git_commit(); }
std::string ddbench_version() { return DDBENCH_VERSION; }
std::string torch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

}  // namespace ddb
