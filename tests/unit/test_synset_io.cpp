#include <gtest/gtest.h>

#include <cstdlib>

#include "ddbench_config.h"
#include "harness/synset_io.h"
#include "test_helpers.h"

using namespace ddb;

namespace {
bool python_has_torch() {
  const std::string py = DDBENCH_PYTHON;
  if (py.empty()) return false;
  return std::system((py + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0;
}
}  // namespace

TEST(SynsetIo, RoundTripWithLearnedLrAndSidecar) {
  const auto dir = ddb::testing_support::temp_dir("synset");
  SyntheticSet s;
  s.images = torch::randn({6, 1, 28, 28});
  s.labels = torch::arange(3).repeat_interleave(2);
  s.learned_lr = torch::tensor(0.0123f);
  s.meta = {{"method", "dm"}, {"dataset", "fashion-mnist"}};
  const std::string path = (dir / "set.pt").string();
  save_synset(s, path);
  const SyntheticSet t = load_synset(path);
  EXPECT_TRUE(torch::equal(t.images, s.images));
  EXPECT_TRUE(torch::equal(t.labels, s.labels));
  EXPECT_NEAR(t.learned_lr.item<double>(), 0.0123, 1e-7);
  EXPECT_EQ(t.meta["dataset"], "fashion-mnist");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(SynsetIo, GarbageAndMismatchedFilesAreClearErrors) {
  const auto dir = ddb::testing_support::temp_dir("synset");
  const std::string bad = ddb::testing_support::write_file(dir / "bad.pt", "not a tensor file");
  try {
    load_synset(bad);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.pt"), std::string::npos);
  }
  SyntheticSet s;
  s.images = torch::randn({4, 1, 8, 8});
  s.labels = torch::arange(3);
  const std::string path = (dir / "mismatch.pt").string();
  save_synset(s, path);
  EXPECT_THROW(load_synset(path), UserError);
}

// `ddbench evaluate FILE --index 5` on a file holding one set used to evaluate that set as if asked for it.
TEST(SynsetIo, AnIndexIntoAFileOfOneSetIsAnError) {
  const auto dir = ddb::testing_support::temp_dir("synset_index");
  SyntheticSet s;
  s.images = torch::randn({2, 1, 8, 8});
  s.labels = torch::arange(2);
  const std::string path = (dir / "one.pt").string();
  save_synset(s, path);
  EXPECT_EQ(load_synset(path, 0).size(), 2);
  try {
    load_synset(path, 5);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("holds one set"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("index 5"), std::string::npos) << e.what();
  }
}

TEST(SynsetIo, PythonTorchSaveAndLoadInterop) {
  if (!python_has_torch()) GTEST_SKIP() << "no python3 with torch (Debian python3-torch) found";
  const auto dir = ddb::testing_support::temp_dir("synset");
  const std::string py_file = (dir / "py.pt").string();
  const std::string pairs_file = (dir / "pairs.pt").string();
  const std::string script =
      std::string(DDBENCH_PYTHON) + " -c \"import torch; torch.manual_seed(0); " +
      "torch.save({'images': torch.randn(20,1,28,28), 'labels': torch.arange(10).repeat_interleave(2)}, '" + py_file +
      "'); torch.save([[torch.ones(10,1,28,28), torch.arange(10)], [torch.zeros(10,1,28,28), torch.arange(10)]], '" +
      pairs_file + "')\"";
  ASSERT_EQ(std::system(script.c_str()), 0);
  const SyntheticSet s = load_synset(py_file);
  EXPECT_EQ(s.images.size(0), 20);
  EXPECT_EQ(s.labels[19].item<int64_t>(), 9);
  const SyntheticSet second = load_synset(pairs_file, 1);
  EXPECT_EQ(second.images.sum().item<double>(), 0.0);
  // And the other way: Python reads what we write.
  const std::string ours = (dir / "ours.pt").string();
  save_synset(s, ours);
  const std::string check = std::string(DDBENCH_PYTHON) + " -c \"import torch; d = torch.load('" + ours +
                            "'); assert d['images'].shape == (20,1,28,28) and d['labels'][19] == 9\"";
  EXPECT_EQ(std::system(check.c_str()), 0);
}
