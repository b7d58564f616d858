// `ddbench complexity` end to end on the generated toy28: one CSV row per class, values in [0,1], the ranks a
// permutation of 1..K ordered by complexity; a net without a conv feature map is refused before training.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ddbench_config.h"
#include "../unit/test_helpers.h"

namespace {

std::pair<int, std::string> run_ddbench(const std::string& args) {
  const std::string cmd = std::string(DDBENCH_BINARY) + " " + args + " 2>&1";
  std::string output;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), p)) output += buf.data();
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) out.push_back(cell);
  return out;
}

}  // namespace

TEST(CliComplexity, Toy28CsvHasOneRowPerClassValuesInUnitRangeAndRanksAPermutation) {
  const auto dir = ddb::testing_support::temp_dir("complexity");
  const std::string csv = (dir / "c.csv").string();
  const auto [code, output] = run_ddbench("complexity --dataset toy28 --net ConvNetW32 --epochs 1 --max-per-class 8 "
                                          "--threads 1 --out " + csv);
  ASSERT_EQ(code, 0) << output;
  EXPECT_NE(output.find("test accuracy"), std::string::npos) << output;
  EXPECT_NE(output.find("dataset mean complexity"), std::string::npos) << output;
  std::ifstream f(csv);
  std::string line;
  ASSERT_TRUE(std::getline(f, line));
  EXPECT_EQ(line, "class,name,n,complexity_mean,complexity_std,high_fraction_mean,rank,zero_maps");
  std::vector<std::vector<std::string>> rows;
  while (std::getline(f, line))
    if (!line.empty()) rows.push_back(split_csv_line(line));
  ASSERT_GE(rows.size(), 2u);
  std::vector<int> ranks;
  std::vector<std::pair<int, double>> by_rank;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    ASSERT_EQ(r.size(), 8u) << line;
    EXPECT_GE(std::stoi(r[7]), 0);
    EXPECT_LE(std::stoi(r[7]), 8);
    EXPECT_EQ(std::stoi(r[0]), static_cast<int>(i));
    EXPECT_EQ(std::stoi(r[2]), 8);
    const double mean = std::stod(r[3]), high = std::stod(r[5]);
    EXPECT_GE(mean, 0.0);
    EXPECT_LE(mean, 1.0);
    EXPECT_GE(std::stod(r[4]), 0.0);
    EXPECT_NEAR(mean + high, 1.0, 1e-5);
    ranks.push_back(std::stoi(r[6]));
    by_rank.push_back({ranks.back(), mean});
  }
  std::vector<int> sorted = ranks;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], static_cast<int>(i + 1));
  std::sort(by_rank.begin(), by_rank.end());
  for (size_t i = 1; i < by_rank.size(); ++i) EXPECT_LE(by_rank[i - 1].second, by_rank[i].second) << "rank " << i + 1;
}

TEST(CliComplexity, NetWithoutConvMapIsRefused) {
  const auto [code, output] = run_ddbench("complexity --dataset toy28 --net MLP --epochs 1 --threads 1");
  EXPECT_EQ(code, 2) << output;
  EXPECT_NE(output.find("Grad-CAM needs a conv feature map"), std::string::npos) << output;
  EXPECT_EQ(output.find("test accuracy"), std::string::npos) << output;
}
