// A new on-disk format is one registered reader: load_dataset locates and checks the spec's files,
// then hands them to the reader named by the spec.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "datasets/reader_registry.h"
#include "datasets/registry.h"
#include "fixtures.h"

namespace fs = std::filesystem;
using namespace ddb_test_fixtures;

namespace {

// The test format: one byte per image (its class), 2x2 pixels of that value, train and test files.
ddb::RawImages read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ddb::RawImages r;
  const auto n = static_cast<int64_t>(b.size());
  r.labels = torch::empty({n}, torch::kLong);
  r.images = torch::empty({n, 1, 2, 2}, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    r.labels[i] = static_cast<int64_t>(b[i]);
    r.images[i].fill_(static_cast<int64_t>(b[i]));
  }
  return r;
}

DDBENCH_REGISTER_DATASET_READER(ddb::DatasetReaderInfo{
    "test-bytes", "test-only format", [](const ddb::ReadRequest& r) {
      return ddb::finish_dataset(r, read_bytes(r.located.paths[0]), read_bytes(r.located.paths[1]));
    }});

}  // namespace

TEST(DatasetReaders, ANewFormatIsOneRegisteredReader) {
  TempDir tmp;
  fs::create_directories(tmp / "bytes");
  std::ofstream(tmp / "bytes/train.bin", std::ios::binary) << std::string("\x00\x01\x00\x01", 4);
  std::ofstream(tmp / "bytes/test.bin", std::ios::binary) << std::string("\x01\x00", 2);
  ddb::DatasetSpec s;
  s.name = "bytes";
  s.reader = "test-bytes";
  s.subdir = "bytes";
  s.info = {"bytes", {1, 2, 2}, 2, {0.0}, {1.0}, {"zero", "one"}};
  s.files = {{"train.bin", 4, ""}, {"test.bin", 2, ""}};
  ddb::LoadOptions o;
  o.data_root = tmp.path.string();
  const ddb::LoadedDataset d = ddb::load_dataset(s, o);
  EXPECT_EQ(d.train.size(), 4);
  EXPECT_EQ(d.test.size(), 2);
  EXPECT_EQ(d.source_dir, (tmp.path / "bytes").string());
  EXPECT_NEAR(d.test.images[0].mean().item<double>(), 1.0 / 255.0, 1e-6);  // normalised like every reader's
  s.reader = "no-such-reader";
  EXPECT_THROW(ddb::load_dataset(s, o), ddb::DatasetMissing);
}
