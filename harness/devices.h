// The one seam for device-specific code: which devices exist, what a --device string means, and what
// a result's provenance says about the hardware it ran on. Everything else handles devices only as
// torch::Device values, so the same code runs on Debian's CPU LibTorch and on a CUDA LibTorch.
#pragma once
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace ddb {

bool cuda_available();
int cuda_device_count();  // 0 without CUDA (or with a CPU-only LibTorch)

// "cpu" | "cuda" | "cuda:N" | "auto" (cuda when there is one); UserError naming what exists otherwise.
torch::Device parse_device(const std::string& spec);

// The hardware behind a device, for provenance: the CPU's model and logical cores (/proc/cpuinfo),
// and for a CUDA device its model, driver and memory (nvidia-smi, which every NVIDIA driver ships;
// "unknown" with the reason when it cannot be asked). Read once per device and process.
nlohmann::json device_provenance(torch::Device device);

}  // namespace ddb
