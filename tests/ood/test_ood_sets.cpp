// OOD test sets and auxiliary outliers (harness/ood_sets.h), class subsets (manifest classes_of) and the
// .npy reader (datasets/npy.h): tiny generated data and files written here; Fashion-MNIST only when the
// Debian package (or another copy) is present.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "../datasets/fixtures.h"
#include "core/errors.h"
#include "datasets/codec.h"
#include "datasets/folder.h"
#include "datasets/manifests.h"
#include "datasets/npy.h"
#include "datasets/svhn_mat.h"
#include "datasets/registry.h"
#include "ddbench_config.h"  // DDBENCH_PYTHON
#include "harness/ood_sets.h"

namespace ddb {
namespace {

namespace F = torch::nn::functional;
using ddb_test_fixtures::error_of;
using ddb_test_fixtures::TempDir;
using ddb_test_fixtures::write_bytes;

LoadedDataset ind_of_shape(int64_t c, int64_t h, int64_t w) {
  LoadedDataset d;
  d.info.name = "shape-only";
  d.info.shape = {c, h, w};
  d.info.num_classes = 1;
  return d;
}

const LoadedDataset& toy(const std::string& name) {
  static const LoadedDataset t28 = load_dataset("toy28");
  static const LoadedDataset t32 = load_dataset("toy32");
  return name == "toy28" ? t28 : t32;
}

// What the conversion must give, written out: the 8-bit pixels of `from` (normalised with 0.5/0.3, the
// toy sets' statistics), PIL "L" or channel repetition, /255, bilinear resize, the InD's normalisation.
torch::Tensor expected_conversion(const torch::Tensor& normalised, const DatasetInfo& to) {
  torch::Tensor u8 = (normalised * 0.3 + 0.5).mul(255).round().clamp(0, 255).to(torch::kUInt8);
  if (u8.size(1) == 3 && to.shape.channels == 1) u8 = rgb_to_grey(u8);
  torch::Tensor f = u8.to(torch::kFloat) / 255;
  if (f.size(1) == 1 && to.shape.channels == 3) f = f.repeat({1, 3, 1, 1});
  if (f.size(2) != to.shape.height) {
    f = F::interpolate(f, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{to.shape.height, to.shape.width})
                              .mode(torch::kBilinear)
                              .align_corners(false));
  }
  return (f - to.mean[0]) / to.std[0];
}

TEST(OodSets, GaussianNoiseIsTheOeCodesClippedNormalInTheIndShape) {
  const LoadedDataset ind = ind_of_shape(3, 32, 32);
  torch::manual_seed(5);
  const torch::Tensor before = torch::rand({4});
  torch::manual_seed(5);
  const OodImages g = load_ood_test_set("gaussian-noise", ind, 2000, 11, {});
  EXPECT_TRUE(torch::equal(torch::rand({4}), before)) << "the global RNG must not be used";
  ASSERT_EQ(g.images.sizes(), (std::vector<int64_t>{2000, 3, 32, 32}));
  EXPECT_EQ(g.images.scalar_type(), torch::kFloat);
  EXPECT_GE(g.images.min().item<float>(), -1.f);
  EXPECT_LE(g.images.max().item<float>(), 1.f);
  EXPECT_NEAR(g.images.mean().item<double>(), 0.0, 0.01);
  EXPECT_NEAR(g.images.std().item<double>(), 0.4797, 0.005);  // sd 0.5 clipped at 2 sd
  EXPECT_GT((g.images.abs() == 1).sum().item<int64_t>(), 0);  // the clip is reached (4.6 % of values)
  EXPECT_TRUE(torch::equal(load_ood_test_set("gaussian-noise", ind, 2000, 11, {}).images, g.images));
  EXPECT_FALSE(torch::equal(load_ood_test_set("gaussian-noise", ind, 2000, 12, {}).images, g.images));
  EXPECT_NE(g.identity.find("seed=11"), std::string::npos) << g.identity;
  // The aux loader draws the same noise (its own seed decides).
  EXPECT_TRUE(torch::equal(load_aux_outliers("gaussian-noise", ind, 2000, 11, {}).images, g.images));
  std::printf("gaussian-noise: n=%lld mean=%.4f std=%.4f\n", static_cast<long long>(g.images.size(0)),
              g.images.mean().item<double>(), g.images.std().item<double>());
}

TEST(OodSets, UniformNoiseIsUMinusOneToOneInTheIndShape) {
  const LoadedDataset ind = ind_of_shape(1, 28, 28);
  const OodImages u = load_ood_test_set("uniform-noise", ind, 3000, 3, {});
  ASSERT_EQ(u.images.sizes(), (std::vector<int64_t>{3000, 1, 28, 28}));
  EXPECT_GE(u.images.min().item<float>(), -1.f);
  EXPECT_LE(u.images.max().item<float>(), 1.f);
  EXPECT_NEAR(u.images.mean().item<double>(), 0.0, 0.01);
  EXPECT_NEAR(u.images.std().item<double>(), 0.5774, 0.005);
  EXPECT_TRUE(torch::equal(load_ood_test_set("uniform-noise", ind, 3000, 3, {}).images, u.images));
  EXPECT_FALSE(torch::equal(load_ood_test_set("uniform-noise", ind, 3000, 4, {}).images, u.images));
  EXPECT_EQ(load_ood_test_set("uniform-noise", ind, 0, 3, {}).images.size(0), 0);
  EXPECT_THROW(load_ood_test_set("uniform-noise", ind, -1, 3, {}), UserError);
}

TEST(OodSets, RgbSetsBecomeGreyAndResizedForAGreyInd) {
  const LoadedDataset& ind = toy("toy28");    // 1x28x28
  const LoadedDataset& ood = toy("toy32");    // 3x32x32, role train: its test split is the OOD set
  const OodImages all = load_ood_test_set("toy32", ind, -1, 0, {});
  ASSERT_EQ(all.images.sizes(), (std::vector<int64_t>{ood.test.size(), 1, 28, 28}));
  EXPECT_TRUE(torch::allclose(all.images, expected_conversion(ood.test.images, ind.info), 1e-5, 1e-5));
  EXPECT_NE(all.identity.find(ood.identity), std::string::npos) << all.identity;
  EXPECT_NE(all.identity.find("grey"), std::string::npos) << all.identity;

  // At most n: a seeded sample of distinct images of the set.
  const OodImages some = load_ood_test_set("toy32", ind, 50, 7, {});
  ASSERT_EQ(some.images.size(0), 50);
  const torch::Tensor d = torch::cdist(some.images.flatten(1), all.images.flatten(1), 2.0, /*donot_use_mm_for_euclid_dist*/ 2);  // [50, N]
  const torch::Tensor nearest = std::get<1>(d.min(1));
  EXPECT_LT(std::get<0>(d.min(1)).max().item<float>(), 1e-3);
  EXPECT_EQ(std::get<0>(at::_unique(nearest)).size(0), 50);
  EXPECT_TRUE(torch::equal(load_ood_test_set("toy32", ind, 50, 7, {}).images, some.images));
  EXPECT_FALSE(torch::equal(load_ood_test_set("toy32", ind, 50, 8, {}).images, some.images));
  std::printf("toy32 -> 1x28x28: all %lld, sample %lld\n", static_cast<long long>(all.images.size(0)),
              static_cast<long long>(some.images.size(0)));
}

TEST(OodSets, GreySetsBecomeRgbAndResizedForAnRgbInd) {
  const LoadedDataset& ind = toy("toy32");
  const LoadedDataset& ood = toy("toy28");
  const OodImages all = load_ood_test_set("toy28", ind, 1000, 0, {});  // more than the set: all of it, in order
  ASSERT_EQ(all.images.sizes(), (std::vector<int64_t>{ood.test.size(), 3, 32, 32}));
  EXPECT_TRUE(torch::allclose(all.images, expected_conversion(ood.test.images, ind.info), 1e-5, 1e-5));
  EXPECT_TRUE(torch::equal(all.images.select(1, 0), all.images.select(1, 2)));
}

TEST(OodSets, AuxOutliersComeFromTheTrainSplit) {
  const LoadedDataset& ind = toy("toy28");
  const LoadedDataset& src = toy("toy32");
  const OodImages all = load_aux_outliers("toy32", ind, -1, 0, {});
  ASSERT_EQ(all.images.sizes(), (std::vector<int64_t>{src.train.size(), 1, 28, 28}));
  EXPECT_TRUE(torch::allclose(all.images, expected_conversion(src.train.images, ind.info), 1e-5, 1e-5));
  const OodImages some = load_aux_outliers("toy32", ind, 100, 1, {});
  EXPECT_EQ(some.images.size(0), 100);
  EXPECT_NE(some.identity.find("train[100 of 1000"), std::string::npos) << some.identity;
}

TEST(OodSets, MissingDataNamesWhereItLookedAndHowToGetIt) {
  TempDir tmp;
  LoadOptions o;
  o.data_root = tmp.path.string();
  const std::string msg = error_of([&] { load_ood_test_set("textures", toy("toy32"), 10, 0, o); });
  EXPECT_NE(msg.find("looked in"), std::string::npos) << msg;
  EXPECT_NE(msg.find("dtd"), std::string::npos) << msg;
  EXPECT_THROW(load_ood_test_set("textures", toy("toy32"), 10, 0, o), DatasetMissing);
  EXPECT_THROW(load_ood_test_set("no-such-set", toy("toy32"), 10, 0, o), UserError);
}

// ---- class subsets -------------------------------------------------------------------------------

TEST(ClassSubsets, FashionMnistSplitsAreRegisteredWithTheBaseFiles) {
  const DatasetSpec& base = dataset_spec("fashion-mnist");
  const DatasetSpec& in = dataset_spec("fashion-mnist-0to5");
  const DatasetSpec& out = dataset_spec("fashion-mnist-6to9");
  EXPECT_EQ(in.reader, base.reader);
  EXPECT_EQ(in.default_dir, base.default_dir);
  EXPECT_EQ(in.subdir, base.subdir);
  ASSERT_EQ(in.files.size(), base.files.size());
  EXPECT_EQ(in.files[0].sha256, base.files[0].sha256);
  EXPECT_EQ(in.info.mean, base.info.mean);
  EXPECT_EQ(in.info.std, base.info.std);
  EXPECT_EQ(in.info.num_classes, 6);
  EXPECT_EQ(in.info.class_names,
            (std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal"}));
  EXPECT_EQ(out.info.class_names, (std::vector<std::string>{"Shirt", "Sneaker", "Bag", "Ankle boot"}));
  EXPECT_EQ(dataset_extra("fashion-mnist-6to9").subset_of, "fashion-mnist");
  EXPECT_EQ(dataset_available("fashion-mnist-0to5"), dataset_available("fashion-mnist"));
}

TEST(ClassSubsets, KeepTheChosenClassesRelabelledInOrder) {
  // The mechanism on generated data: classes 7, 2, 5 of toy28 as labels 0, 1, 2.
  DatasetSpec s = dataset_spec("toy28");
  DatasetExtra x = dataset_extra("toy28");
  s.name = "toy28-sub";
  s.info.num_classes = 3;
  s.info.class_names = {"class7", "class2", "class5"};
  x.subset_of = "toy28";
  x.subset_classes = {7, 2, 5};
  x.base_num_classes = 10;
  const LoadedDataset& base = toy("toy28");
  const LoadedDataset sub = load_dataset(s, x, {});
  ASSERT_EQ(sub.train.size(), 300);
  EXPECT_EQ(sub.test.size(), 60);
  EXPECT_EQ(sub.train.labels.min().item<int64_t>(), 0);
  EXPECT_EQ(sub.train.labels.max().item<int64_t>(), 2);
  for (int64_t k = 0; k < 3; ++k) {
    const torch::Tensor mine = sub.train.images.index_select(0, torch::nonzero(sub.train.labels == k).flatten());
    const torch::Tensor theirs =
        base.train.images.index_select(0, torch::nonzero(base.train.labels == x.subset_classes[k]).flatten());
    EXPECT_TRUE(torch::equal(mine, theirs)) << "class " << k;
  }
  EXPECT_NE(sub.identity.substr(sub.identity.find('@')), base.identity.substr(base.identity.find('@')));
  LoadOptions o;
  o.train_limit = 4;
  o.test_limit = 5;
  const LoadedDataset lim = load_dataset(s, x, o);
  EXPECT_EQ(lim.train.size(), 12);  // 4 per kept class
  EXPECT_EQ(lim.test.size(), 5);    // the first 5 of the subset's test split
}

TEST(ClassSubsets, ManifestSyntax) {
  TempDir tmp;
  write_bytes(tmp / "ok.yaml",
              "datasets:\n  - name: fm-a\n    classes_of: {dataset: fashion-mnist, classes: [3, 1]}\n    role: train\n");
  const auto entries = read_manifest_file(tmp / "ok.yaml");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].extra.subset_of, "fashion-mnist");
  EXPECT_EQ(entries[0].extra.subset_classes, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(entries[0].spec.info.num_classes, 2);
  write_bytes(tmp / "bad.yaml",
              "datasets:\n  - name: fm-b\n    reader: idx\n    classes_of: {dataset: fashion-mnist, classes: [1]}\n");
  EXPECT_NE(error_of([&] { read_manifest_file(tmp / "bad.yaml"); }).find("not allowed with classes_of"),
            std::string::npos);
  write_bytes(tmp / "dup.yaml", "datasets:\n  - name: fm-c\n    classes_of: {dataset: fashion-mnist, classes: [1, 1]}\n");
  EXPECT_NE(error_of([&] { read_manifest_file(tmp / "dup.yaml"); }).find("listed twice"), std::string::npos);
}

TEST(ClassSubsets, FashionMnistSixToNineIsTheNearOodTestSet) {
  LoadOptions o;
  o.verify_checksums = false;  // the sizes are still checked; the hashes cost a second
  if (!dataset_available("fashion-mnist", o)) GTEST_SKIP() << dataset_missing_reason("fashion-mnist", o);
  const LoadedDataset out = load_dataset("fashion-mnist-6to9", o);
  EXPECT_EQ(out.train.size(), 24000);
  ASSERT_EQ(out.test.size(), 4000);
  EXPECT_EQ(torch::bincount(out.test.labels).sizes(), (std::vector<int64_t>{4}));
  EXPECT_TRUE(torch::equal(torch::bincount(out.test.labels), torch::full({4}, 1000, torch::kLong)));
  LoadOptions oi = o;
  oi.train_limit = 10;
  const LoadedDataset in = load_dataset("fashion-mnist-0to5", oi);
  EXPECT_EQ(in.train.size(), 60);
  EXPECT_EQ(in.test.size(), 6000);
  EXPECT_EQ(in.test.labels.max().item<int64_t>(), 5);
  EXPECT_NE(in.identity, out.identity);
  const OodImages near = load_ood_test_set("fashion-mnist-6to9", in, -1, 0, o);
  ASSERT_EQ(near.images.sizes(), (std::vector<int64_t>{4000, 1, 28, 28}));
  // Same shape and statistics: the OOD images are the subset's own normalised test images, bit for bit.
  EXPECT_TRUE(torch::equal(near.images, out.test.images));
  std::printf("fashion-mnist-6to9: train %lld, test %lld; fashion-mnist-0to5 test %lld; OOD set %lld\n",
              static_cast<long long>(out.train.size()), static_cast<long long>(out.test.size()),
              static_cast<long long>(in.test.size()), static_cast<long long>(near.images.size(0)));
}

// ---- .npy reader ---------------------------------------------------------------------------------

// A .npy file (format 1.0 or 2.0) holding `data` with the given descr and shape.
std::string npy_bytes(const std::string& descr, const std::string& shape, const std::string& data, int major = 1) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string out = std::string("\x93NUMPY", 6) + char(major) + char(0);
  const size_t len = dict.size();
  out += char(len & 255);
  out += char((len >> 8) & 255);
  if (major != 1) out += std::string(2, '\0');
  return out + dict + data;
}

std::string ramp(int64_t n) {
  std::string d(static_cast<size_t>(n), '\0');
  for (int64_t i = 0; i < n; ++i) d[static_cast<size_t>(i)] = static_cast<char>((i * 7) % 256);
  return d;
}

DatasetSpec npy_spec() {
  DatasetSpec s;
  s.name = "tiny-npy";
  s.reader = "npy";
  s.subdir = "npy";
  s.info = {"tiny-npy", {3, 4, 4}, 1, {}, {}, {"unlabelled"}};
  s.files = {{"images.npy", -1, ""}};
  return s;
}

TEST(NpyReader, ReadsUint8HwcImagesAsChwWithoutLabels) {
  TempDir tmp;
  const std::string data = ramp(5 * 4 * 4 * 3);
  LoadOptions o;
  o.data_root = tmp.path.string();
  for (int major : {1, 2}) {
    write_bytes(tmp / "npy/images.npy", npy_bytes("|u1", "(5, 4, 4, 3)", data, major));
    const NpyHeader h = read_npy_header(tmp / "npy/images.npy");
    EXPECT_EQ(h.major, major);
    EXPECT_EQ(h.shape, (std::vector<int64_t>{5, 4, 4, 3}));
    EXPECT_EQ(h.data_offset % 64, 0);
    const LoadedDataset d = load_dataset(npy_spec(), o);
    ASSERT_EQ(d.train.images.sizes(), (std::vector<int64_t>{5, 3, 4, 4}));
    EXPECT_EQ(d.test.size(), 0);
    EXPECT_TRUE(torch::equal(d.train.labels, torch::zeros({5}, torch::kLong)));
    // [i, c, y, x] = byte (i*48 + y*12 + x*3 + c) of the HWC data, in [0, 1] (no mean/std given).
    for (int64_t i : {0, 4})
      for (int64_t c : {0, 2})
        for (int64_t y : {1, 3}) {
          const int64_t x = 2, off = i * 48 + y * 12 + x * 3 + c;
          EXPECT_FLOAT_EQ(d.train.images[i][c][y][x].item<float>(),
                          static_cast<float>(static_cast<uint8_t>(data[static_cast<size_t>(off)])) / 255.f);
        }
  }
  o.train_limit = 2;  // one class: the first 2 images
  EXPECT_EQ(load_dataset(npy_spec(), o).train.size(), 2);
  EXPECT_EQ(read_npy_images(tmp / "npy/images.npy", {3, 4, 4}, 3).images.size(0), 3);
}

TEST(NpyReader, TruncatedOrForeignFilesAreClearErrors) {
  TempDir tmp;
  LoadOptions o;
  o.data_root = tmp.path.string();
  const std::string path = tmp / "npy/images.npy";
  const std::string good = npy_bytes("|u1", "(5, 4, 4, 3)", ramp(240));
  write_bytes(path, good.substr(0, good.size() - 10));
  const std::string msg = error_of([&] { load_dataset(npy_spec(), o); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected " + std::to_string(good.size())), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_THROW(load_dataset(npy_spec(), o), UserError);
  write_bytes(path, npy_bytes("<f4", "(5, 4, 4, 3)", std::string(960, '\0')));
  EXPECT_NE(error_of([&] { load_dataset(npy_spec(), o); }).find("uint8"), std::string::npos);
  write_bytes(path, npy_bytes("|u1", "(5, 3, 4, 4)", ramp(240)));
  EXPECT_NE(error_of([&] { load_dataset(npy_spec(), o); }).find("expected (N, 4, 4, 3)"), std::string::npos);
  write_bytes(path, "not a numpy file at all");
  EXPECT_NE(error_of([&] { load_dataset(npy_spec(), o); }).find("not a .npy file"), std::string::npos);
  write_bytes(path, good.substr(0, 30));
  EXPECT_THROW(load_dataset(npy_spec(), o), UserError);
}

TEST(NpyReader, Random300kIsAnAuxiliaryOutlierSource) {
  const DatasetSpec& s = dataset_spec("random300k");
  EXPECT_EQ(s.reader, "npy");
  EXPECT_EQ(dataset_extra("random300k").role, "auxiliary");
  TempDir tmp;
  write_bytes(tmp / "300K_random_images/300K_random_images.npy", npy_bytes("|u1", "(20, 32, 32, 3)", ramp(20 * 3072)));
  LoadOptions o;
  o.data_root = tmp.path.string();
  EXPECT_TRUE(dataset_available("random300k", o));
  const OodImages aux = load_aux_outliers("random300k", toy("toy28"), 6, 9, o);
  EXPECT_EQ(aux.images.sizes(), (std::vector<int64_t>{6, 1, 28, 28}));
  const OodImages all = load_ood_test_set("random300k", toy("toy32"), -1, 9, o);  // no test split: all images
  EXPECT_EQ(all.images.sizes(), (std::vector<int64_t>{20, 3, 32, 32}));
  std::printf("random300k (tiny copy): aux %lld of 20, as test set %lld\n", static_cast<long long>(aux.images.size(0)),
              static_cast<long long>(all.images.size(0)));
}

// ---- SVHN .mat reader ----------------------------------------------------------------------------

TEST(SvhnMatReader, ReadsXAndYLikeTorchvision) {
  const DatasetSpec& svhn = dataset_spec("svhn");
  EXPECT_EQ(svhn.reader, "svhn-mat");
  ASSERT_EQ(svhn.files.size(), 2u);
  TempDir tmp;
  LoadOptions o;
  o.data_root = tmp.path.string();
  if (!mat_files_supported()) {
    write_bytes(tmp / "svhn/train_32x32.mat", "x");
    write_bytes(tmp / "svhn/test_32x32.mat", "x");
    const std::string msg = error_of([&] { load_dataset("svhn", o); });
    EXPECT_NE(msg.find("libmatio"), std::string::npos) << msg;
    GTEST_SKIP() << "built without libmatio: " << msg;
  }
  // X [32, 32, 3, N] column-major: byte (h + 32 w + 1024 c + 3072 k) is pixel (h, w) of channel c, image k.
  const auto pixels = [](int64_t n, int64_t salt) {
    std::vector<uint8_t> x(static_cast<size_t>(3072 * n));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>((i * 13 + static_cast<size_t>(salt)) % 251);
    return x;
  };
  const std::vector<uint8_t> xtr = pixels(4, 0), xte = pixels(3, 7);
  std::filesystem::create_directories(tmp.path / "svhn");
  write_svhn_mat(tmp / "svhn/train_32x32.mat", {32, 32, 3, 4}, xtr, {10, 1, 9, 10});
  write_svhn_mat(tmp / "svhn/test_32x32.mat", {32, 32, 3, 3}, xte, {3, 10, 5});
  const LoadedDataset d = load_dataset("svhn", o);
  ASSERT_EQ(d.train.images.sizes(), (std::vector<int64_t>{4, 3, 32, 32}));
  ASSERT_EQ(d.test.size(), 3);
  EXPECT_TRUE(torch::equal(d.train.labels, torch::tensor({0, 1, 9, 0}, torch::kLong)));  // 10 -> 0
  EXPECT_TRUE(torch::equal(d.test.labels, torch::tensor({3, 0, 5}, torch::kLong)));
  // torchvision: np.transpose(X, (3, 2, 0, 1)) -> [k, c, h, w] = X[h, w, c, k]; then the VICO mean/std.
  const torch::Tensor u8 = (d.test.images * torch::tensor(d.info.std, torch::kFloat).view({1, 3, 1, 1}) +
                            torch::tensor(d.info.mean, torch::kFloat).view({1, 3, 1, 1}))
                               .mul(255)
                               .round()
                               .to(torch::kLong);
  for (int64_t k : {0, 2})
    for (int64_t c : {0, 2})
      for (int64_t h : {0, 5})
        for (int64_t w : {1, 31})
          EXPECT_EQ(u8[k][c][h][w].item<int64_t>(), xte[static_cast<size_t>(h + 32 * w + 1024 * c + 3072 * k)])
              << k << c << h << w;
  // A truncated file is an error naming it and the size expected (matio alone would read the cut-off
  // part of a compressed X as zeros), wherever it is cut.
  const std::string bytes = read_file_bytes(tmp / "svhn/test_32x32.mat");
  for (size_t keep : {size_t(100), size_t(200), bytes.size() / 2, bytes.size() - 3}) {
    write_bytes(tmp / "svhn/test_32x32.mat", bytes.substr(0, keep));
    const std::string msg = error_of([&] { load_dataset("svhn", o); });
    EXPECT_NE(msg.find(tmp / "svhn/test_32x32.mat"), std::string::npos) << keep << ": " << msg;
    EXPECT_NE(msg.find("expected"), std::string::npos) << keep << ": " << msg;
    EXPECT_THROW(load_dataset("svhn", o), UserError);
  }
  std::printf("svhn (tiny .mat): train %lld, test %lld\n", static_cast<long long>(d.train.size()),
              static_cast<long long>(d.test.size()));
}

TEST(SvhnMatReader, ReadsWhatScipyWritesAsTorchvisionDoes) {
  if (!mat_files_supported()) GTEST_SKIP() << "built without libmatio";
  const std::string py = DDBENCH_PYTHON;
  if (py.empty() || std::system((py + " -c 'import scipy.io' >/dev/null 2>&1").c_str()) != 0) {
    GTEST_SKIP() << "no python3 with scipy";
  }
  TempDir tmp;
  // The SVHN files' variables: X uint8 (32, 32, 3, N), y (N, 1) with 10 for the digit 0; compressed v5.
  // expected.bin: torchvision's np.transpose(X, (3, 2, 0, 1)) bytes, then the labels with 10 -> 0.
  const std::string script = py + " -c \"import numpy as np, scipy.io as sio; r = np.random.RandomState(0); " +
                             "X = r.randint(0, 256, (32, 32, 3, 5)).astype(np.uint8); y = np.array([[10], [1], [2], [10], [9]], np.uint8); " +
                             "[sio.savemat('" + tmp.path.string() + "/svhn/' + f, {'X': X, 'y': y}, do_compression=True) for f in ('train_32x32.mat', 'test_32x32.mat')]; " +
                             "t = np.ascontiguousarray(np.transpose(X, (3, 2, 0, 1))); l = y.astype(np.int64).squeeze(); l[l == 10] = 0; " +
                             "open('" + tmp.path.string() + "/expected.bin', 'wb').write(t.tobytes() + l.astype(np.uint8).tobytes())\"";
  std::filesystem::create_directories(tmp.path / "svhn");
  ASSERT_EQ(std::system(script.c_str()), 0) << script;
  LoadOptions o;
  o.data_root = tmp.path.string();
  const LoadedDataset d = load_dataset("svhn", o);
  const std::string want = read_file_bytes(tmp / "expected.bin");
  ASSERT_EQ(want.size(), 5u * 3072 + 5);
  const torch::Tensor u8 = (d.train.images * torch::tensor(d.info.std, torch::kFloat).view({1, 3, 1, 1}) +
                            torch::tensor(d.info.mean, torch::kFloat).view({1, 3, 1, 1}))
                               .mul(255)
                               .round()
                               .to(torch::kUInt8)
                               .contiguous();
  EXPECT_EQ(std::memcmp(u8.data_ptr<uint8_t>(), want.data(), 5 * 3072), 0);
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(d.train.labels[i].item<int64_t>(), static_cast<uint8_t>(want[5 * 3072 + static_cast<size_t>(i)]));
  }
}

}  // namespace
}  // namespace ddb
