// The device seam (harness/devices.h): --device strings and the hardware recorded in provenance.
#include <gtest/gtest.h>

#include "core/errors.h"
#include "harness/devices.h"

namespace {

TEST(Devices, ParsesTheDeviceStrings) {
  EXPECT_EQ(ddb::parse_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_EQ(ddb::parse_device("auto").is_cuda(), ddb::cuda_available());
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:0x"}) {
    try {
      ddb::parse_device(bad);
      FAIL() << bad << " accepted";
    } catch (const ddb::UserError& e) {
      EXPECT_NE(std::string(e.what()).find("--device"), std::string::npos) << e.what();
    }
  }
  // One past the last GPU (cuda:0 on a machine without any) names how many there are.
  const std::string past = "cuda:" + std::to_string(ddb::cuda_device_count());
  try {
    ddb::parse_device(past);
    FAIL() << past << " accepted";
  } catch (const ddb::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("this machine has " + std::to_string(ddb::cuda_device_count())),
              std::string::npos)
        << e.what();
  }
}

TEST(Devices, ProvenanceNamesTheCpu) {
  const auto j = ddb::device_provenance(torch::kCPU);
  ASSERT_TRUE(j.contains("cpu_model"));
  EXPECT_FALSE(j.at("cpu_model").get<std::string>().empty());
  EXPECT_GE(j.at("cpu_logical_cores").get<unsigned>(), 1u);
  EXPECT_FALSE(j.contains("gpu_model")) << "a CPU run says nothing about GPUs";
}

}  // namespace
