// Process-wide setup every entry point (CLI, tests, benchmarks) does before touching tensors.
#pragma once
#include <string>

namespace ddb {

// Applies the allocator fix (glibc would mmap/munmap every large tensor: 5-7x slower) and sets
// the intra-op thread count (threads <= 0: every core std::thread::hardware_concurrency reports).
void init_runtime(int threads);

std::string git_commit();
std::string ddbench_version();
std::string torch_version();
// The ddbench source tree (suites/, planned/, datasets/manifests/): $DDBENCH_ROOT, else the
// tree this binary was built from.
std::string source_root();

}  // namespace ddb
