// `ddbench bench` end to end on generated data: every figure row is printed with a positive time, the
// JSON file holds the same figures, and --compare-unfused adds the unfused time and the speed-up.
#include <gtest/gtest.h>

#include <fstream>

#include "core/json.h"
#include "../unit/test_helpers.h"
#include "../support/command.h"

namespace {

TEST(Bench, PrintsEveryFigureAndWritesThemAsJson) {
  const auto dir = ddb::testing_support::temp_dir("bench");
  const std::string json_path = (dir / "bench.json").string();
  const auto r = ddb::testing_support::ddbench("bench --dataset toy28 --ipc 1 --epochs 1 --dm-iterations 1 --peak-steps 1 "
                                               "--threads 1 --compare-unfused --json " + json_path);
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* row : {"| test pass |", "| evaluation run | IPC 1, 2 epochs", "| DM iteration |"})
    EXPECT_NE(r.output.find(row), std::string::npos) << row << "\n" << r.output;
  std::ifstream in(json_path);
  ASSERT_TRUE(in) << json_path;
  const ddb::json j = ddb::json::parse(in);
  EXPECT_GT(j.at("conv_peak_gflops").get<double>(), 0);
  ASSERT_EQ(j.at("figures").size(), 3u);
  for (const auto& f : j.at("figures")) {
    EXPECT_GT(f.at("seconds").get<double>(), 0) << f.dump();
    EXPECT_GT(f.at("seconds_unfused").get<double>(), 0) << f.dump();
  }
}

}  // namespace
