#include "harness/devices.h"
#include "cli_pool.h"

#include <algorithm>
#include <sstream>
#include <thread>

namespace ddb::cli {

std::vector<std::string> pool_slots(const std::string& devices, int workers, int jobs_per_device) {
  if (jobs_per_device < 1) throw UserError("--jobs-per-device must be >= 1");
  if (workers < 0) throw UserError("--workers must be >= 1");
  std::vector<std::string> devs;
  std::stringstream ss(devices.empty() ? std::string("cpu") : devices);
  for (std::string d; std::getline(ss, d, ',');) {
    if (d.empty()) continue;
    if (d == "cpu") {
      devs.push_back(d);
    } else if (d == "cuda:all") {
      const int n = cuda_device_count();
      if (n == 0) throw UserError("--devices cuda:all: this machine (or this LibTorch build) has no CUDA device");
      for (int i = 0; i < n; ++i) devs.push_back("cuda:" + std::to_string(i));
    } else if (d.rfind("cuda:", 0) == 0) {
      resolve_device(d);  // checks that the GPU exists
      devs.push_back(d);
    } else {
      throw UserError("--devices: unknown device '" + d + "' (cpu, cuda:N, cuda:all, or a comma-separated list)");
    }
  }
  if (devs.empty()) throw UserError("--devices names no device");
  std::vector<std::string> slots;
  for (const auto& d : devs)
    for (int k = 0; k < jobs_per_device; ++k) slots.push_back(d);
  if (workers > 0) {  // cap, or cycle the devices up to the requested worker count
    std::vector<std::string> sized;
    for (int i = 0; i < workers; ++i) sized.push_back(slots[static_cast<size_t>(i) % slots.size()]);
    slots = sized;
  }
  return slots;
}

int pool_threads(int threads, const std::vector<std::string>& slots) {
  if (threads > 0) return threads;
  const int cpu_slots = static_cast<int>(std::count(slots.begin(), slots.end(), std::string("cpu")));
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max(1, cpu_slots > 0 ? cores / cpu_slots : 1);
}

}  // namespace ddb::cli
