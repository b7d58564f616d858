// Registry: built-in specs, lookup, checks (size, sha256), normalisation, limits, missing data,
// manifests, generated toy data, and the real Fashion-MNIST from the Debian package when present.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "datasets/codec.h"
#include "datasets/manifests.h"
#include "datasets/readers.h"
#include "datasets/registry.h"
#include "harness/runtime.h"
#include "harness/types.h"

#include "fixtures.h"

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

namespace {

// The manifests in the source tree are being edited by others; these tests use the built-ins only
// (the source-tree manifests are checked on their own below).
const bool kIsolated = [] {
  setenv("DDBENCH_MANIFESTS", "/nonexistent/ddbench-tests-no-manifests", 1);
  return true;
}();

using namespace ddb_test_fixtures;


// n images of 28x28 with label i % 10 and pixel value (i + k) & 255.
void write_idx_pair(const std::string& images, const std::string& labels, uint32_t n, bool gz) {
  std::string img, lab;
  put_be32(img, 0x803);
  put_be32(img, n);
  put_be32(img, 28);
  put_be32(img, 28);
  put_be32(lab, 0x801);
  put_be32(lab, n);
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t k = 0; k < 784; ++k) img.push_back(char((i + k) & 255));
    lab.push_back(char(i % 10));
  }
  if (gz) {
    fs::create_directories(fs::path(images).parent_path());
    ddb::write_gzip_file(images, img);
    ddb::write_gzip_file(labels, lab);
  } else {
    write_bytes(images, img);
    write_bytes(labels, lab);
  }
}

std::string cifar10_records(int n, int offset) {
  std::string s;
  for (int r = 0; r < n; ++r) {
    s.push_back(char((r + offset) % 10));
    for (int i = 0; i < 3072; ++i) s.push_back(char((i / 1024 * 60 + r) & 255));  // constant per channel
  }
  return s;
}

// A small CIFAR-10 tree under <root>/cifar10 and a spec whose checks match it.
ddb::DatasetSpec small_cifar10(const TempDir& tmp) {
  ddb::DatasetSpec s = ddb::dataset_spec("cifar10");
  for (auto& f : s.files) {
    const bool test = f.relpath.find("test_batch") != std::string::npos;
    const std::string bytes = cifar10_records(test ? 5 : 4, test ? 3 : 0);
    write_bytes(tmp / ("cifar10/" + f.relpath), bytes);
    f.size = static_cast<int64_t>(bytes.size());
    f.sha256 = ddb::sha256_bytes(bytes);
  }
  s.default_dir.clear();
  return s;
}

}  // namespace

TEST(DatasetRegistry, BuiltInSpecs) {
  std::set<std::string> names;
  for (const auto& s : ddb::dataset_specs()) names.insert(s.name);
  for (const char* n : {"fashion-mnist", "mnist", "cifar10", "cifar100", "tinyimagenet", "toy28", "toy32"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  const auto& f = ddb::dataset_spec("fashion-mnist");
  EXPECT_EQ(f.reader, "idx");
  EXPECT_EQ(f.info.class_names.front(), "T-shirt/top");
  EXPECT_EQ(f.info.class_names.back(), "Ankle boot");
  EXPECT_DOUBLE_EQ(f.info.mean[0], 0.2861);
  EXPECT_DOUBLE_EQ(f.info.std[0], 0.3530);
  EXPECT_EQ(f.default_dir, "/usr/share/datasets/fashion-mnist");
  ASSERT_EQ(f.files.size(), 4u);
  EXPECT_EQ(f.files[0].size, 26421856);
  const auto& c100 = ddb::dataset_spec("cifar100");
  EXPECT_EQ(c100.info.num_classes, 100);
  EXPECT_EQ(c100.info.class_names.size(), 100u);
  EXPECT_EQ(std::set<std::string>(c100.info.class_names.begin(), c100.info.class_names.end()).size(), 100u);
  EXPECT_EQ(c100.info.class_names[99], "worm");
  EXPECT_DOUBLE_EQ(c100.info.mean[0], 0.5071);  // VICO stats (quirk 9)
  const auto& c10 = ddb::dataset_spec("cifar10");
  EXPECT_EQ(c10.files.size(), 6u);
  EXPECT_EQ(c10.info.shape.channels, 3);
  const auto& tin = ddb::dataset_spec("tinyimagenet");
  EXPECT_EQ(tin.info.shape.height, 64);
  EXPECT_EQ(tin.info.num_classes, 200);
  EXPECT_EQ(ddb::dataset_spec("toy28").info.shape.channels, 1);
  EXPECT_EQ(ddb::dataset_spec("toy32").info.shape.width, 32);
}

TEST(DatasetRegistry, UnknownNameListsValidNames) {
  const std::string msg = error_of([] { ddb::dataset_spec("cifar11"); });
  EXPECT_THAT(msg, AllOf(HasSubstr("cifar11"), HasSubstr("cifar10"), HasSubstr("fashion-mnist"), HasSubstr("toy32")));
  EXPECT_THROW(ddb::load_dataset("no-such-dataset"), ddb::UserError);
}

TEST(DatasetRegistry, CandidateDirsOrder) {
  const auto& f = ddb::dataset_spec("fashion-mnist");
  ddb::LoadOptions o;
  o.data_root = "/some/root";
  EXPECT_EQ(ddb::candidate_dirs(f, o),
            (std::vector<std::string>{"/some/root/fashion-mnist", "/usr/share/datasets/fashion-mnist"}));
  const char* old = std::getenv("DDBENCH_DATA");
  const std::string saved = old ? old : "";
  setenv("DDBENCH_DATA", "/env/root", 1);
  EXPECT_EQ(ddb::candidate_dirs(ddb::dataset_spec("cifar10"), {}), (std::vector<std::string>{"/env/root/cifar10"}));
  unsetenv("DDBENCH_DATA");
  EXPECT_EQ(ddb::candidate_dirs(ddb::dataset_spec("cifar10"), {}), (std::vector<std::string>{"./data/cifar10"}));
  if (old) setenv("DDBENCH_DATA", saved.c_str(), 1);
  EXPECT_TRUE(ddb::candidate_dirs(ddb::dataset_spec("toy28"), {}).empty());
}

TEST(DatasetRegistry, MissingDatasetNamesEveryPathAndHowTo) {
  TempDir tmp;
  ddb::LoadOptions o;
  o.data_root = tmp / "root";
  fs::create_directories(tmp / "root/cifar10/cifar-10-batches-bin");
  write_bytes(tmp / "root/cifar10/cifar-10-batches-bin/data_batch_1.bin", "x");
  const std::string msg = error_of([&] { ddb::load_dataset("cifar10", o); });
  EXPECT_THAT(msg, AllOf(HasSubstr(tmp / "root/cifar10"), HasSubstr("data_batch_2.bin"),
                         HasSubstr("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"), HasSubstr("tar -xzf")));
  EXPECT_THROW(ddb::load_dataset("cifar10", o), ddb::DatasetMissing);
  EXPECT_FALSE(ddb::dataset_available("cifar10", o));

  ddb::DatasetSpec s = ddb::dataset_spec("mnist");
  s.default_dir = tmp / "elsewhere";
  const std::string msg2 = error_of([&] { ddb::load_dataset(s, o); });
  EXPECT_THAT(msg2, AllOf(HasSubstr(tmp / "root/mnist"), HasSubstr(tmp / "elsewhere"), HasSubstr("does not exist")));
  EXPECT_THROW(ddb::load_dataset(s, o), ddb::DatasetMissing);
}

TEST(DatasetRegistry, WrongSizeAndChecksumNameTheFile) {
  TempDir tmp;
  ddb::LoadOptions o;
  o.data_root = tmp.path.string();
  // The real spec expects 30730000-byte batches.
  small_cifar10(tmp);
  const std::string size_msg = error_of([&] { ddb::load_dataset("cifar10", o); });
  EXPECT_THAT(size_msg, AllOf(HasSubstr("data_batch_1.bin"), HasSubstr("30730000"), HasSubstr("12292")));
  EXPECT_THROW(ddb::load_dataset("cifar10", o), ddb::UserError);
  EXPECT_TRUE(ddb::dataset_available("cifar10", o));  // presence only

  ddb::DatasetSpec s = small_cifar10(tmp);
  s.files[2].sha256 = std::string(64, '0');
  const std::string sha_msg = error_of([&] { ddb::load_dataset(s, o); });
  EXPECT_THAT(sha_msg, AllOf(HasSubstr("data_batch_3.bin"), HasSubstr(std::string(64, '0')),
                             HasSubstr(ddb::sha256_file(tmp / "cifar10/cifar-10-batches-bin/data_batch_3.bin"))));
  ddb::LoadOptions nover = o;
  nover.verify_checksums = false;
  ddb::LoadedDataset d = ddb::load_dataset(s, nover);
  EXPECT_THAT(d.identity, HasSubstr("@unverified:"));
}

TEST(DatasetRegistry, LoadsCifar10NormalisedWithIdentity) {
  TempDir tmp;
  ddb::LoadOptions o;
  o.data_root = tmp.path.string();
  const ddb::DatasetSpec s = small_cifar10(tmp);
  ddb::LoadedDataset d = ddb::load_dataset(s, o);
  EXPECT_EQ(d.train.size(), 20);
  EXPECT_EQ(d.test.size(), 5);
  EXPECT_EQ(d.train.images.dtype(), torch::kFloat);
  EXPECT_EQ(d.train.images.sizes(), (std::vector<int64_t>{20, 3, 32, 32}));
  EXPECT_EQ(d.test.labels[0].item<int64_t>(), 3);
  // record r of a batch: channel c holds (60 c + r) & 255
  for (int c = 0; c < 3; ++c) {
    const float u = static_cast<float>((60 * c + 1) & 255) / 255.0f;
    const float expect = (u - static_cast<float>(s.info.mean[c])) / static_cast<float>(s.info.std[c]);
    EXPECT_FLOAT_EQ(d.train.images[1][c][7][9].item<float>(), expect);
  }
  EXPECT_THAT(d.identity, HasSubstr("cifar10@sha256:"));
  ASSERT_EQ(d.class_indices.size(), 10u);
  EXPECT_EQ(d.class_indices[0].numel(), 5);  // records 0 of each of the 5 batches... labels r % 10, r < 4
  ddb::LoadedDataset again = ddb::load_dataset(s, o);
  EXPECT_EQ(again.identity, d.identity);
  // a different normalisation is a different identity
  ddb::DatasetSpec s2 = s;
  s2.info.mean = {0.5, 0.5, 0.5};
  EXPECT_NE(ddb::load_dataset(s2, o).identity, d.identity);
}

TEST(DatasetRegistry, IdxGzipOrRawAndLimits) {
  TempDir tmp;
  ddb::DatasetSpec s = ddb::dataset_spec("mnist");
  for (auto& f : s.files) f.size = -1;  // fixture sizes
  ddb::LoadOptions o;
  o.data_root = tmp / "gz";
  write_idx_pair(tmp / "gz/mnist/train-images-idx3-ubyte.gz", tmp / "gz/mnist/train-labels-idx1-ubyte.gz", 50, true);
  write_idx_pair(tmp / "gz/mnist/t10k-images-idx3-ubyte.gz", tmp / "gz/mnist/t10k-labels-idx1-ubyte.gz", 12, true);
  ddb::LoadedDataset d = ddb::load_dataset(s, o);
  EXPECT_EQ(d.train.images.sizes(), (std::vector<int64_t>{50, 1, 28, 28}));
  EXPECT_EQ(d.test.size(), 12);
  EXPECT_FLOAT_EQ(d.train.images[3][0][0][2].item<float>(), (5.0f / 255.0f - 0.1307f) / 0.3081f);

  // gunzipped files under the same names without .gz
  ddb::LoadOptions raw;
  raw.data_root = tmp / "raw";
  write_idx_pair(tmp / "raw/mnist/train-images-idx3-ubyte", tmp / "raw/mnist/train-labels-idx1-ubyte", 50, false);
  write_idx_pair(tmp / "raw/mnist/t10k-images-idx3-ubyte", tmp / "raw/mnist/t10k-labels-idx1-ubyte", 12, false);
  raw.train_limit = 2;
  raw.test_limit = 7;
  ddb::LoadedDataset r = ddb::load_dataset(s, raw);
  EXPECT_EQ(r.train.size(), 20);  // first 2 of each of the 10 classes
  EXPECT_EQ(r.test.size(), 7);
  for (int c = 0; c < 10; ++c) EXPECT_EQ(r.class_indices[c].numel(), 2);
  EXPECT_TRUE(torch::equal(r.train.images[0], d.train.images[0]));
  EXPECT_TRUE(torch::equal(r.train.images[10], d.train.images[10]));  // image 10 = 2nd of class 0
  EXPECT_NE(r.identity, d.identity);

  // garbage in place of the test images
  write_bytes(tmp / "raw/mnist/t10k-images-idx3-ubyte", std::string(1000, 'z'));
  EXPECT_THAT(error_of([&] { ddb::load_dataset(s, raw); }), HasSubstr("t10k-images-idx3-ubyte"));
}

namespace {

std::vector<uint8_t> solid(int64_t w, int64_t h, uint8_t v) { return std::vector<uint8_t>(w * h * 3, v); }

}  // namespace

TEST(DatasetRegistry, TinyImageNetLayout) {
  TempDir tmp;
  const std::string d = tmp / "tinyimagenet";
  // 3 classes (wnids not in sorted creation order), 2 train images each, 64x64 -> resized to 8x8
  const std::vector<std::string> wnids = {"n03", "n01", "n02"};
  for (size_t i = 0; i < wnids.size(); ++i) {
    fs::create_directories(d + "/train/" + wnids[i] + "/images");
    for (int k = 0; k < 2; ++k) {
      ddb::encode_jpeg(d + "/train/" + wnids[i] + "/images/" + wnids[i] + "_" + std::to_string(k) + ".JPEG", 16, 16, 3,
                       solid(16, 16, static_cast<uint8_t>(40 * i + k)), 100);
    }
    write_bytes(d + "/train/" + wnids[i] + "/" + wnids[i] + "_boxes.txt", "ignored\n");
  }
  fs::create_directories(d + "/val/images");
  std::string ann;
  for (int k = 0; k < 4; ++k) {
    ddb::encode_png(d + "/val/images/val_" + std::to_string(k) + ".png", 16, 16, 3, solid(16, 16, 200));
    ann += "val_" + std::to_string(k) + ".png\t" + wnids[k % 3] + "\t0\t0\t10\t10\n";
  }
  write_bytes(d + "/val/val_annotations.txt", ann);
  fs::create_directories(d + "/test/images");  // TinyImageNet's unlabelled test split: not used

  ddb::DatasetSpec s = ddb::dataset_spec("tinyimagenet");
  s.info.shape = {3, 8, 8};
  s.info.num_classes = 3;
  ddb::LoadOptions o;
  o.data_root = tmp.path.string();
  ddb::LoadedDataset ds = ddb::load_dataset(s, o);
  EXPECT_EQ(ds.info.class_names, (std::vector<std::string>{"n01", "n02", "n03"}));
  EXPECT_EQ(ds.train.images.sizes(), (std::vector<int64_t>{6, 3, 8, 8}));
  EXPECT_EQ(ds.test.size(), 4);
  // val_0 -> n03 (label 2), val_1 -> n01 (0), val_2 -> n02 (1), val_3 -> n03 (2); grouped by label
  EXPECT_TRUE(torch::equal(ds.test.labels, torch::tensor({0, 1, 2, 2}, torch::kLong)));
  EXPECT_TRUE(torch::equal(ds.train.labels, torch::tensor({0, 0, 1, 1, 2, 2}, torch::kLong)));
  // solid colour survives JPEG and resizing: value 40 * index-in-wnids + k
  const float u = 40.0f / 255.0f;  // n02 is wnids[2] -> 80; n01 is wnids[1] -> 40
  EXPECT_NEAR(ds.train.images[0][0][3][3].item<float>(), (u - 0.485f) / 0.229f, 0.03f);
  EXPECT_THAT(ds.identity, HasSubstr("tinyimagenet@sha256:"));

  // re-organised val (val/images/<wnid>/) is read as a folder
  for (const auto& w : wnids) {
    fs::create_directories(d + "/val/images/" + w);
    ddb::encode_png(d + "/val/images/" + w + "/v.png", 8, 8, 3, solid(8, 8, 10));
  }
  ddb::LoadedDataset re = ddb::load_dataset(s, o);
  EXPECT_EQ(re.test.size(), 3);
  EXPECT_NE(re.identity, ds.identity);

  // limits are applied before decoding
  ddb::LoadOptions lim = o;
  lim.train_limit = 1;
  lim.test_limit = 2;
  ddb::LoadedDataset l = ddb::load_dataset(s, lim);
  EXPECT_EQ(l.train.size(), 3);
  EXPECT_EQ(l.test.size(), 2);

  fs::remove_all(d + "/val");
  fs::remove_all(d + "/test");
  EXPECT_THAT(error_of([&] { ddb::load_dataset(s, o); }), HasSubstr("val/ (or test/)"));
}

TEST(DatasetRegistry, ToyDatasetsDeterministicLearnableAndLeaveGlobalRngAlone) {
  torch::manual_seed(77);
  const torch::Tensor expect_next = torch::rand({4});
  torch::manual_seed(77);
  ddb::LoadedDataset a = ddb::load_dataset("toy28");
  const torch::Tensor next = torch::rand({4});
  EXPECT_TRUE(torch::equal(next, expect_next)) << "toy generation touched the global RNG";
  ddb::LoadedDataset b = ddb::load_dataset("toy28");
  EXPECT_TRUE(torch::equal(a.train.images, b.train.images));
  EXPECT_TRUE(torch::equal(a.test.labels, b.test.labels));
  EXPECT_EQ(a.identity, b.identity);
  EXPECT_EQ(a.train.images.sizes(), (std::vector<int64_t>{1000, 1, 28, 28}));
  EXPECT_EQ(a.test.images.sizes(), (std::vector<int64_t>{200, 1, 28, 28}));
  for (int c = 0; c < 10; ++c) EXPECT_EQ(a.class_indices[c].numel(), 100);
  EXPECT_TRUE(ddb::dataset_available("toy28"));

  for (const char* name : {"toy28", "toy32"}) {
    ddb::LoadedDataset d = ddb::load_dataset(name);
    // nearest class mean (what any small net can at least learn) is far above chance
    std::vector<torch::Tensor> means;
    for (int c = 0; c < 10; ++c) means.push_back(d.train.images.index_select(0, d.class_indices[c]).mean(0).flatten());
    torch::Tensor m = torch::stack(means);                      // [10, D]
    torch::Tensor x = d.test.images.flatten(1);                 // [N, D]
    torch::Tensor pred = torch::cdist(x, m).argmin(1);
    const double acc = pred.eq(d.test.labels).to(torch::kFloat).mean().item<double>();
    EXPECT_GT(acc, 0.5) << name;
    // normalised roughly to zero mean, unit-ish spread
    EXPECT_LT(std::abs(d.train.images.mean().item<double>()), 0.5) << name;
  }
  ddb::LoadOptions lim;
  lim.train_limit = 3;
  lim.test_limit = 5;
  ddb::LoadedDataset l = ddb::load_dataset("toy32", lim);
  EXPECT_EQ(l.train.size(), 30);
  EXPECT_EQ(l.test.size(), 5);
  EXPECT_NE(ddb::load_dataset("toy32").identity, l.identity);
}

TEST(DatasetManifests, ParsesEntries) {
  TempDir tmp;
  write_bytes(tmp / "m/a.yaml", R"(# test manifest
datasets:
  - name: mini-folder
    title: "Mini folder"
    reader: folder
    role: train
    shape: [3, 8, 8]
    mean: [0.485, 0.456, 0.406]
    std: [0.229, 0.224, 0.225]
    subdir: mini/folder
    layout: "train/<wnid>/*.JPEG, val/<wnid>/*.JPEG"
    classes:
      - {wnid: n2, name: second}
      - {wnid: n1, name: first}
    howto: "make it"
    future_field: tolerated
  - name: ood-thing
    reader: unsupported:npz
    role: ood
    shape: [3, 32, 32]
    num_classes: 10
)");
  write_bytes(tmp / "m/b.yaml", "# nothing yet\n");
  write_bytes(tmp / "m/README.md", "not yaml: [");
  const auto entries = ddb::read_manifests(tmp / "m");
  ASSERT_EQ(entries.size(), 2u);
  const auto& f = entries[0];
  EXPECT_EQ(f.spec.name, "mini-folder");
  EXPECT_EQ(f.spec.reader, "folder");
  EXPECT_EQ(f.spec.subdir, "mini/folder");
  EXPECT_EQ(f.spec.info.num_classes, 2);
  EXPECT_EQ(f.spec.info.class_names, (std::vector<std::string>{"second", "first"}));
  EXPECT_EQ(f.extra.class_dirs, (std::vector<std::string>{"n2", "n1"}));
  EXPECT_EQ(f.extra.line, 3);
  EXPECT_EQ(f.spec.info.shape.height, 8);
  EXPECT_EQ(entries[1].extra.role, "ood");
  EXPECT_EQ(entries[1].spec.info.num_classes, 10);
  EXPECT_TRUE(ddb::read_manifests(tmp / "does-not-exist").empty());

  // load the folder dataset in the manifest's class order
  const std::string d = tmp / "data/mini/folder";
  for (const char* split : {"train", "val"}) {
    for (const char* w : {"n1", "n2"}) {
      fs::create_directories(d + "/" + split + "/" + w);
      ddb::encode_png(d + "/" + split + "/" + w + "/x.png", 8, 8, 3,
                      std::vector<uint8_t>(192, static_cast<uint8_t>(w[1] == '1' ? 10 : 250)));
    }
  }
  ddb::LoadOptions o;
  o.data_root = tmp / "data";
  ddb::LoadedDataset ds = ddb::load_dataset(f.spec, f.extra, o);
  EXPECT_EQ(ds.info.class_names, (std::vector<std::string>{"second", "first"}));
  ASSERT_EQ(ds.train.size(), 2);
  EXPECT_EQ(ds.train.labels[0].item<int64_t>(), 0);
  EXPECT_GT(ds.train.images[0].mean().item<float>(), 1.0f);  // label 0 = n2 = bright
  EXPECT_EQ(ds.test.size(), 2);

  // an OOD folder without train/: one flat folder used whole as the test split, grey when the shape
  // has one channel (PIL convert("L") weights)
  write_bytes(tmp / "m/ood.yaml", R"(datasets:
  - name: flat-grey
    reader: folder
    role: ood
    shape: [1, 4, 4]
    subdir: flat
  - name: noise
    reader: generated
    role: ood
    shape: [3, 32, 32]
    subdir: ""
  - name: corrupt
    reader: generated
    role: corrupted
    classes: []
)");
  const auto ood = ddb::read_manifest_file(tmp / "m/ood.yaml");
  ASSERT_EQ(ood.size(), 3u);
  EXPECT_TRUE(ood[0].spec.files.empty());
  EXPECT_EQ(ood[2].spec.info.shape.channels, 0);  // not stated
  std::vector<uint8_t> px(4 * 4 * 3);
  for (size_t i = 0; i < px.size(); i += 3) {
    px[i] = 200;
    px[i + 1] = 100;
    px[i + 2] = 50;
  }
  fs::create_directories(tmp / "data/flat");
  ddb::encode_png(tmp / "data/flat/b.png", 4, 4, 3, px);
  ddb::encode_png(tmp / "data/flat/a.png", 4, 4, 3, px);
  ddb::LoadedDataset fg = ddb::load_dataset(ood[0].spec, ood[0].extra, o);
  EXPECT_EQ(fg.train.size(), 0);
  ASSERT_EQ(fg.test.images.sizes(), (std::vector<int64_t>{2, 1, 4, 4}));
  const int grey = (200 * 19595 + 100 * 38470 + 50 * 7471 + 0x8000) >> 16;  // 123
  EXPECT_FLOAT_EQ(fg.test.images[1][0][2][2].item<float>(), static_cast<float>(grey) / 255.0f);  // no mean/std
  EXPECT_THROW(ddb::load_dataset(ood[1].spec, ood[1].extra, o), ddb::DatasetMissing);
  EXPECT_THROW(ddb::load_dataset(ood[2].spec, ood[2].extra, o), ddb::DatasetMissing);

  // unsupported readers are listed but do not load
  const std::string msg = error_of([&] { ddb::load_dataset(entries[1].spec, entries[1].extra, o); });
  EXPECT_THAT(msg, AllOf(HasSubstr("ood-thing"), HasSubstr("unsupported:npz"), HasSubstr("not implemented")));
  EXPECT_THROW(ddb::load_dataset(entries[1].spec, entries[1].extra, o), ddb::DatasetMissing);
}

TEST(DatasetManifests, MalformedManifestsNameFileLineAndField) {
  TempDir tmp;
  auto err = [&](const std::string& text) {
    write_bytes(tmp / "bad.yaml", text);
    return error_of([&] { ddb::read_manifest_file(tmp / "bad.yaml"); });
  };
  const std::string head = "datasets:\n  - name: ok\n    reader: folder\n";
  EXPECT_THAT(err(head + "    shape: [3, 8]\n    mean: [0.5, 0.5, 0.5]\n    std: [0.5, 0.5, 0.5]\n"),
              AllOf(HasSubstr(tmp / "bad.yaml"), HasSubstr(":4"), HasSubstr("'shape'")));
  EXPECT_THAT(err(head + "    shape: [3, 8, 8]\n    mean: [0.5, 0.5]\n    std: [0.5, 0.5, 0.5]\n"),
              AllOf(HasSubstr(":5"), HasSubstr("'mean'")));
  EXPECT_THAT(err(head + "    shape: [3, 8, 8]\n    mean: [0.5, x, 0.5]\n    std: [0.5, 0.5, 0.5]\n"),
              AllOf(HasSubstr("'mean'"), HasSubstr("'x'")));
  EXPECT_THAT(err("datasets:\n  - reader: folder\n    shape: [3, 8, 8]\n"),
              AllOf(HasSubstr(":2"), HasSubstr("'name'"), HasSubstr("missing")));
  EXPECT_THAT(err("datasets:\n  - name: Bad Name\n    reader: folder\n"), HasSubstr("'name'"));
  EXPECT_THAT(err("datasets:\n  - name: x\n    reader: hdf5\n    shape: [3, 8, 8]\n"),
              AllOf(HasSubstr(":3"), HasSubstr("'reader'"), HasSubstr("hdf5")));
  EXPECT_THAT(err(head + "    role: testing\n    shape: [3, 8, 8]\n    mean: [0.5, 0.5, 0.5]\n    std: [1, 1, 1]\n"),
              AllOf(HasSubstr(":4"), HasSubstr("'role'")));
  EXPECT_THAT(err("datasets:\n  - name: x\n    reader: folder\n    shape: [3, 8, 8\n"), AllOf(HasSubstr("YAML")));
  EXPECT_THAT(err("datasets: 5\n"), HasSubstr("'datasets'"));
  EXPECT_THAT(err("other: 1\n"), HasSubstr("'datasets'"));
  const std::string entry = "  - name: twice\n    reader: unsupported:x\n    shape: [3, 8, 8]\n";
  EXPECT_THAT(err("datasets:\n" + entry + entry), AllOf(HasSubstr(":5"), HasSubstr("already defined at line 2")));
  write_bytes(tmp / "empty.yaml", "");
  EXPECT_TRUE(ddb::read_manifest_file(tmp / "empty.yaml").empty());
  // the same name in two files
  write_bytes(tmp / "two/a.yaml", "datasets:\n" + entry);
  write_bytes(tmp / "two/b.yaml", "datasets:\n" + entry);
  EXPECT_THAT(error_of([&] { ddb::read_manifests(tmp / "two"); }), AllOf(HasSubstr("b.yaml"), HasSubstr("a.yaml")));
}

TEST(DatasetManifests, SourceTreeManifestsParseAndDoNotClashWithBuiltIns) {
  // The real manifests (written by other people): every file must parse and no name may shadow a
  // built-in dataset.
  const std::string dir = ddb::source_root() + "/datasets/manifests";
  std::vector<ddb::ManifestEntry> entries;
  ASSERT_NO_THROW(entries = ddb::read_manifests(dir));
  std::set<std::string> builtins;
  for (const auto& s : ddb::dataset_specs()) builtins.insert(s.name);
  for (const auto& e : entries) {
    EXPECT_FALSE(builtins.count(e.spec.name)) << e.spec.name << " (" << e.extra.manifest << ") shadows a built-in";
    EXPECT_FALSE(e.spec.howto.empty()) << e.spec.name << " has no howto";
  }
  std::cout << "[ manifests ] " << entries.size() << " datasets in " << dir << "\n";
}

TEST(DatasetRegistry, RealFashionMnistFromDebianPackage) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (" << dir << ")";
  }
  ddb::LoadOptions o;
  o.data_root = "/nonexistent/ddbench-data-root";  // so the Debian location is the one used
  ASSERT_TRUE(ddb::dataset_available("fashion-mnist", o));
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  ddb::LoadedDataset d = ddb::load_dataset("fashion-mnist", o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  std::cout << "[ fashion-mnist ] loaded with sha256 checks in " << secs << " s wall, " << cpu
            << " s CPU; identity " << d.identity << "\n";
  EXPECT_EQ(d.train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(d.test.images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  for (int c = 0; c < 10; ++c) EXPECT_EQ(d.class_indices[c].numel(), 6000);
  EXPECT_EQ(d.test.labels.bincount().min().item<int64_t>(), 1000);
  // the reference normalisation makes the training set ~N(0, 1)
  EXPECT_NEAR(d.train.images.mean().item<double>(), 0.0, 0.01);
  EXPECT_NEAR(d.train.images.std().item<double>(), 1.0, 0.01);
  EXPECT_THAT(d.identity, HasSubstr("fashion-mnist@sha256:"));
  // first training label of Fashion-MNIST is 9 (Ankle boot), first test label 9 as well
  EXPECT_EQ(d.train.labels[0].item<int64_t>(), 9);
  EXPECT_EQ(d.test.labels[0].item<int64_t>(), 9);
}
