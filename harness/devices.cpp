#include "harness/devices.h"

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "core/errors.h"

namespace ddb {

namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return trim(line.substr(colon + 1));
    }
  return "unknown (no model name in /proc/cpuinfo)";
}

// One line of `nvidia-smi --query-gpu=... -i N`, or empty when the tool is absent or fails.
std::string nvidia_smi_query(int index) {
  const std::string cmd = "nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader -i " +
                          std::to_string(index) + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return "";
  std::array<char, 512> buf{};
  std::string out;
  while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  return trim(out);
}

nlohmann::json describe(torch::Device device) {
  nlohmann::json j = {{"cpu_model", cpu_model()}, {"cpu_logical_cores", std::thread::hardware_concurrency()}};
  if (!device.is_cuda()) return j;
  const int index = device.has_index() ? device.index() : 0;
  const std::string line = nvidia_smi_query(index);
  // "NVIDIA H200, 570.86.15, 143771 MiB"
  std::vector<std::string> fields;
  size_t start = 0;
  for (size_t comma; (comma = line.find(',', start)) != std::string::npos; start = comma + 1)
    fields.push_back(trim(line.substr(start, comma - start)));
  if (!line.empty()) fields.push_back(trim(line.substr(start)));
  if (fields.size() == 3) {
    j["gpu_model"] = fields[0];
    j["gpu_driver"] = fields[1];
    j["gpu_memory"] = fields[2];
  } else {
    j["gpu_model"] = "unknown (nvidia-smi did not answer for GPU " + std::to_string(index) + ")";
  }
  return j;
}

}  // namespace

bool cuda_available() { return torch::cuda::is_available(); }

int cuda_device_count() { return cuda_available() ? static_cast<int>(torch::cuda::device_count()) : 0; }

torch::Device parse_device(const std::string& d) {
  if (d == "cpu") return torch::kCPU;
  if (d == "cuda") {
    if (!cuda_available()) throw UserError("--device cuda: no CUDA device (this LibTorch build or machine has none)");
    return torch::kCUDA;
  }
  if (d == "auto") return cuda_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (d.rfind("cuda:", 0) == 0) {  // one GPU of several (the device pool's workers)
    int index = -1;
    try {
      size_t used = 0;
      index = std::stoi(d.substr(5), &used);
      if (used != d.size() - 5) index = -1;
    } catch (const std::exception&) {
    }
    if (index < 0) throw UserError("--device " + d + ": expected cuda:N with N a GPU index");
    const int n = cuda_device_count();
    if (index >= n)
      throw UserError("--device " + d + ": this machine has " + std::to_string(n) + " CUDA device" + (n == 1 ? "" : "s"));
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw UserError("--device must be cpu, cuda, cuda:N or auto");
}

nlohmann::json device_provenance(torch::Device device) {
  static std::mutex mu;
  static std::map<std::string, nlohmann::json> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(device.str());
  if (it == cache.end()) it = cache.emplace(device.str(), describe(device)).first;
  return it->second;
}

}  // namespace ddb
