// Readers and codecs on tiny generated files: idx (raw, gzip), CIFAR-10/100 binaries, image folders
// (PNG, JPEG), sha256.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "datasets/codec.h"
#include "datasets/folder.h"
#include "datasets/readers.h"
#include "harness/types.h"

#include "fixtures.h"

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

namespace {

using namespace ddb_test_fixtures;


std::string idx_images(uint32_t n, uint32_t rows, uint32_t cols, uint32_t magic = 0x803) {
  std::string s;
  put_be32(s, magic);
  put_be32(s, n);
  put_be32(s, rows);
  put_be32(s, cols);
  for (uint32_t i = 0; i < n * rows * cols; ++i) s.push_back(char((i * 7 + 3) & 255));
  return s;
}

std::string idx_labels(const std::vector<uint8_t>& labels) {
  std::string s;
  put_be32(s, 0x801);
  put_be32(s, static_cast<uint32_t>(labels.size()));
  for (uint8_t l : labels) s.push_back(char(l));
  return s;
}

std::string cifar_records(const std::vector<int>& labels, bool cifar100) {
  std::string s;
  for (size_t r = 0; r < labels.size(); ++r) {
    if (cifar100) s.push_back(char(labels[r] / 5));  // coarse
    s.push_back(char(labels[r]));
    for (int i = 0; i < 3072; ++i) s.push_back(char((i + 11 * r) & 255));
  }
  return s;
}

}  // namespace

TEST(DatasetCodec, GzipRoundTripAndRawPassThrough) {
  TempDir tmp;
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(char(i * 31 % 251));
  ddb::write_gzip_file(tmp / "a.gz", data);
  EXPECT_TRUE(ddb::is_gzip(ddb::read_file_bytes(tmp / "a.gz")));
  EXPECT_EQ(ddb::read_maybe_gzip(tmp / "a.gz"), data);
  write_bytes(tmp / "raw", data);
  EXPECT_EQ(ddb::read_maybe_gzip(tmp / "raw"), data);
  EXPECT_THAT(error_of([&] { ddb::read_maybe_gzip(tmp / "nope"); }), HasSubstr(tmp / "nope"));
}

TEST(DatasetCodec, CorruptAndTruncatedGzipNameTheFile) {
  TempDir tmp;
  std::string data(50000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = char(i * 13 % 256);
  ddb::write_gzip_file(tmp / "ok.gz", data);
  std::string gz = ddb::read_file_bytes(tmp / "ok.gz");
  write_bytes(tmp / "trunc.gz", gz.substr(0, gz.size() / 2));
  EXPECT_THROW(ddb::read_maybe_gzip(tmp / "trunc.gz"), ddb::UserError);
  EXPECT_THAT(error_of([&] { ddb::read_maybe_gzip(tmp / "trunc.gz"); }), HasSubstr("trunc.gz"));
  std::string garbage = "\x1f\x8b\x08\x00garbage garbage garbage garbage";
  write_bytes(tmp / "garbage.gz", garbage);
  EXPECT_THAT(error_of([&] { ddb::read_maybe_gzip(tmp / "garbage.gz"); }), HasSubstr("garbage.gz"));
}

TEST(DatasetReaders, IdxRawAndGzip) {
  TempDir tmp;
  const std::vector<uint8_t> labels = {3, 1, 4, 1, 5};
  write_bytes(tmp / "img", idx_images(5, 3, 4));
  write_bytes(tmp / "lab", idx_labels(labels));
  ddb::write_gzip_file(tmp / "img.gz", idx_images(5, 3, 4));
  ddb::write_gzip_file(tmp / "lab.gz", idx_labels(labels));
  for (const auto& [ip, lp] : {std::pair{tmp / "img", tmp / "lab"}, std::pair{tmp / "img.gz", tmp / "lab.gz"}}) {
    ddb::RawImages r = ddb::read_idx(ip, lp);
    ASSERT_EQ(r.images.sizes(), (std::vector<int64_t>{5, 1, 3, 4}));
    EXPECT_EQ(r.images.dtype(), torch::kUInt8);
    EXPECT_EQ(r.labels.dtype(), torch::kLong);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(r.labels[i].item<int64_t>(), labels[i]);
    // pixel k of the file (row-major) = (k*7+3) & 255
    const int64_t n = 2, y = 1, x = 3, k = n * 12 + y * 4 + x;
    EXPECT_EQ(r.images[n][0][y][x].item<uint8_t>(), (k * 7 + 3) & 255);
  }
}

TEST(DatasetReaders, IdxRejectsBadFilesNamingThem) {
  TempDir tmp;
  write_bytes(tmp / "lab", idx_labels({1, 2, 3}));
  // wrong magic
  write_bytes(tmp / "magic", idx_images(3, 2, 2, 0x801));
  EXPECT_THAT(error_of([&] { ddb::read_idx(tmp / "magic", tmp / "lab"); }),
              ::testing::AllOf(HasSubstr(tmp / "magic"), HasSubstr("magic")));
  // truncated data
  std::string img = idx_images(3, 2, 2);
  write_bytes(tmp / "short", img.substr(0, img.size() - 1));
  EXPECT_THAT(error_of([&] { ddb::read_idx(tmp / "short", tmp / "lab"); }),
              ::testing::AllOf(HasSubstr(tmp / "short"), HasSubstr("truncated")));
  // shorter than the header
  write_bytes(tmp / "tiny", "\x00\x00\x08");
  EXPECT_THAT(error_of([&] { ddb::read_idx(tmp / "tiny", tmp / "lab"); }), HasSubstr(tmp / "tiny"));
  // garbage
  write_bytes(tmp / "garbage", std::string(100, 'g'));
  EXPECT_THROW(ddb::read_idx(tmp / "garbage", tmp / "lab"), ddb::UserError);
  // counts differ
  write_bytes(tmp / "img4", idx_images(4, 2, 2));
  EXPECT_THAT(error_of([&] { ddb::read_idx(tmp / "img4", tmp / "lab"); }),
              ::testing::AllOf(HasSubstr(tmp / "img4"), HasSubstr(tmp / "lab")));
  // truncated labels
  write_bytes(tmp / "img3", idx_images(3, 2, 2));
  std::string lab = idx_labels({1, 2, 3});
  write_bytes(tmp / "labshort", lab.substr(0, lab.size() - 1));
  EXPECT_THAT(error_of([&] { ddb::read_idx(tmp / "img3", tmp / "labshort"); }), HasSubstr(tmp / "labshort"));
  // a label file in place of the images
  write_bytes(tmp / "lab20", idx_labels(std::vector<uint8_t>(20, 1)));
  EXPECT_THAT(error_of([&] { ddb::read_idx(tmp / "lab20", tmp / "lab"); }),
              AllOf(HasSubstr(tmp / "lab20"), HasSubstr("0x00000801"), HasSubstr("0x00000803")));
}

TEST(DatasetReaders, Cifar10AndCifar100) {
  TempDir tmp;
  write_bytes(tmp / "b1.bin", cifar_records({0, 9, 3}, false));
  write_bytes(tmp / "b2.bin", cifar_records({7}, false));
  ddb::RawImages r = ddb::read_cifar_bin({tmp / "b1.bin", tmp / "b2.bin"}, false);
  ASSERT_EQ(r.images.sizes(), (std::vector<int64_t>{4, 3, 32, 32}));
  EXPECT_EQ(r.labels.sizes(), (std::vector<int64_t>{4}));
  EXPECT_EQ(r.labels[1].item<int64_t>(), 9);
  EXPECT_EQ(r.labels[3].item<int64_t>(), 7);
  // record bytes are CHW: byte i -> channel i/1024, y (i%1024)/32, x i%32; value (i + 11 r) & 255
  const int i = 1024 + 5 * 32 + 6;
  EXPECT_EQ(r.images[2][1][5][6].item<uint8_t>(), (i + 22) & 255);
  EXPECT_EQ(r.images[3][0][0][0].item<uint8_t>(), 0);  // first record of the second file

  write_bytes(tmp / "c100.bin", cifar_records({99, 42, 0}, true));
  ddb::RawImages c = ddb::read_cifar_bin({tmp / "c100.bin"}, true);
  ASSERT_EQ(c.images.size(0), 3);
  EXPECT_EQ(c.labels[0].item<int64_t>(), 99);  // fine label, not coarse (19)
  EXPECT_EQ(c.labels[1].item<int64_t>(), 42);
  EXPECT_EQ(c.images[1][2][31][31].item<uint8_t>(), (3071 + 11) & 255);
}

TEST(DatasetReaders, CifarRejectsWrongSizesAndLabels) {
  TempDir tmp;
  write_bytes(tmp / "odd.bin", cifar_records({1, 2}, false) + "x");
  EXPECT_THAT(error_of([&] { ddb::read_cifar_bin({tmp / "odd.bin"}, false); }),
              ::testing::AllOf(HasSubstr(tmp / "odd.bin"), HasSubstr("3073")));
  // a CIFAR-10 file read as CIFAR-100 (3073 * 3074 bytes is a multiple of both; use 2 records)
  write_bytes(tmp / "c10.bin", cifar_records({1, 2}, false));
  EXPECT_THAT(error_of([&] { ddb::read_cifar_bin({tmp / "c10.bin"}, true); }), HasSubstr("3074"));
  std::string bad = cifar_records({1}, false);
  bad[0] = char(10);
  write_bytes(tmp / "label.bin", bad);
  EXPECT_THAT(error_of([&] { ddb::read_cifar_bin({tmp / "label.bin"}, false); }),
              ::testing::AllOf(HasSubstr(tmp / "label.bin"), HasSubstr("label 10")));
  write_bytes(tmp / "empty.bin", "");
  EXPECT_THROW(ddb::read_cifar_bin({tmp / "empty.bin"}, false), ddb::UserError);
}

TEST(DatasetReaders, Sha256) {
  EXPECT_EQ(ddb::sha256_bytes(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ddb::sha256_bytes("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  TempDir tmp;
  std::string big(3 << 20, 'a');
  for (size_t i = 0; i < big.size(); ++i) big[i] = char(i % 253);
  write_bytes(tmp / "f", big);
  EXPECT_EQ(ddb::sha256_file(tmp / "f"), ddb::sha256_bytes(big));
  EXPECT_THROW(ddb::sha256_file(tmp / "missing"), ddb::UserError);
}

namespace {

std::vector<uint8_t> gradient(int64_t w, int64_t h, int64_t c, int seed) {
  std::vector<uint8_t> px(static_cast<size_t>(w * h * c));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k) px[(y * w + x) * c + k] = static_cast<uint8_t>((seed * 20 + x * 6 + y * 4 + k * 20) % 256);
  return px;
}

}  // namespace

TEST(DatasetReaders, DecodePngAndJpeg) {
  TempDir tmp;
  const auto rgb = gradient(8, 6, 3, 1);
  ddb::encode_png(tmp / "rgb.png", 8, 6, 3, rgb);
  torch::Tensor t = ddb::decode_image(tmp / "rgb.png");
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 6, 8}));
  for (int64_t y = 0; y < 6; ++y)
    for (int64_t x = 0; x < 8; ++x)
      for (int64_t k = 0; k < 3; ++k) ASSERT_EQ(t[k][y][x].item<uint8_t>(), rgb[(y * 8 + x) * 3 + k]);

  const auto gray = gradient(5, 7, 1, 2);
  ddb::encode_png(tmp / "gray.png", 5, 7, 1, gray);
  torch::Tensor g = ddb::decode_image(tmp / "gray.png");
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{3, 7, 5}));
  EXPECT_EQ(g[0][3][2].item<uint8_t>(), gray[3 * 5 + 2]);
  EXPECT_TRUE(torch::equal(g[0], g[1]) && torch::equal(g[1], g[2]));

  const auto rgb16 = gradient(16, 16, 3, 3);
  ddb::encode_jpeg(tmp / "rgb.jpg", 16, 16, 3, rgb16, 100);
  torch::Tensor j = ddb::decode_image(tmp / "rgb.jpg");
  ASSERT_EQ(j.sizes(), (std::vector<int64_t>{3, 16, 16}));
  torch::Tensor ref = torch::from_blob(const_cast<uint8_t*>(rgb16.data()), {16, 16, 3}, torch::kUInt8).permute({2, 0, 1});
  EXPECT_LT((j.to(torch::kFloat) - ref.to(torch::kFloat)).abs().mean().item<float>(), 2.0f);

  ddb::encode_jpeg(tmp / "gray.jpg", 5, 7, 1, gray, 100);
  torch::Tensor gj = ddb::decode_image(tmp / "gray.jpg");
  ASSERT_EQ(gj.sizes(), (std::vector<int64_t>{3, 7, 5}));
  EXPECT_TRUE(torch::equal(gj[0], gj[2]));

  write_bytes(tmp / "bad.jpg", "\xFF\xD8\xFF garbage");
  EXPECT_THAT(error_of([&] { ddb::decode_image(tmp / "bad.jpg"); }), HasSubstr(tmp / "bad.jpg"));
  std::string png = ddb::read_file_bytes(tmp / "rgb.png");
  write_bytes(tmp / "trunc.png", png.substr(0, png.size() / 2));
  EXPECT_THAT(error_of([&] { ddb::decode_image(tmp / "trunc.png"); }), HasSubstr(tmp / "trunc.png"));
  write_bytes(tmp / "text.png", "not an image at all");
  EXPECT_THAT(error_of([&] { ddb::decode_image(tmp / "text.png"); }), HasSubstr("not a JPEG or PNG"));
}

TEST(DatasetReaders, ImageFolderSortedResizedAndLimited) {
  TempDir tmp;
  const std::string root = tmp / "root";
  fs::create_directories(root + "/zebra/sub");
  fs::create_directories(root + "/ant");
  ddb::encode_png(root + "/zebra/b.png", 8, 8, 3, gradient(8, 8, 3, 1));
  ddb::encode_png(root + "/zebra/a.PNG", 8, 8, 1, gradient(8, 8, 1, 2));     // gray, upper-case extension
  ddb::encode_jpeg(root + "/zebra/sub/c.JPEG", 16, 12, 3, gradient(16, 12, 3, 3));  // resized, nested
  ddb::encode_jpeg(root + "/ant/x.jpeg", 8, 8, 3, gradient(8, 8, 3, 4));
  write_bytes(root + "/ant/notes.txt", "ignored");

  ddb::RawImages r = ddb::read_image_folder(root, 8);
  EXPECT_EQ(r.class_names, (std::vector<std::string>{"ant", "zebra"}));
  ASSERT_EQ(r.images.sizes(), (std::vector<int64_t>{4, 3, 8, 8}));
  EXPECT_TRUE(torch::equal(r.labels, torch::tensor({0, 1, 1, 1}, torch::kLong)));
  // zebra: a.PNG, b.png (files of the class dir), then sub/c.JPEG
  torch::Tensor a = ddb::decode_image(root + "/zebra/a.PNG");
  EXPECT_TRUE(torch::equal(r.images[1], a));
  EXPECT_TRUE(torch::equal(r.images[2], ddb::decode_image(root + "/zebra/b.png")));
  namespace F = torch::nn::functional;
  torch::Tensor c = ddb::decode_image(root + "/zebra/sub/c.JPEG");
  torch::Tensor c8 = F::interpolate(c.unsqueeze(0).to(torch::kFloat), F::InterpolateFuncOptions()
                                                                         .size(std::vector<int64_t>{8, 8})
                                                                         .mode(torch::kBilinear)
                                                                         .align_corners(false))
                         .squeeze(0)
                         .round()
                         .clamp(0, 255)
                         .to(torch::kUInt8);
  EXPECT_TRUE(torch::equal(r.images[3], c8));

  // explicit class order, per-class limit
  ddb::RawImages o = ddb::read_image_folder(root, 4, {"zebra", "ant"}, 1);
  EXPECT_EQ(o.class_names, (std::vector<std::string>{"zebra", "ant"}));
  ASSERT_EQ(o.images.sizes(), (std::vector<int64_t>{2, 3, 4, 4}));
  EXPECT_EQ(o.labels[0].item<int64_t>(), 0);
  EXPECT_EQ(o.labels[1].item<int64_t>(), 1);

  EXPECT_THROW(ddb::read_image_folder(root, 8, {"ant", "missing_class"}), ddb::DatasetMissing);
  EXPECT_THROW(ddb::read_image_folder(tmp / "nowhere", 8), ddb::DatasetMissing);

  // a corrupt image is reported with its path
  write_bytes(root + "/ant/y.jpg", "\xFF\xD8\xFF\xE0 broken");
  EXPECT_THAT(error_of([&] { ddb::read_image_folder(root, 8); }), HasSubstr("y.jpg"));
}

TEST(DatasetReaders, AnnotatedFolder) {
  TempDir tmp;
  const std::string images = tmp / "val/images";
  fs::create_directories(images);
  ddb::encode_png(images + "/val_0.JPEG.png", 4, 4, 3, gradient(4, 4, 3, 0));
  ddb::encode_png(images + "/val_1.png", 4, 4, 3, gradient(4, 4, 3, 1));
  ddb::encode_png(images + "/val_2.png", 4, 4, 3, gradient(4, 4, 3, 2));
  write_bytes(tmp / "val/val_annotations.txt",
              "val_0.JPEG.png\tn2\t0\t0\t3\t3\nval_1.png\tn1\t0\t0\t3\t3\r\nval_2.png\tn2\t1\t1\t2\t2\n");
  ddb::FolderListing l = ddb::list_annotated_folder(images, tmp / "val/val_annotations.txt", {"n1", "n2"});
  ASSERT_EQ(l.entries.size(), 3u);
  EXPECT_EQ(l.entries[0].relpath, "val_1.png");  // grouped by class, then by name
  EXPECT_EQ(l.entries[0].label, 0);
  EXPECT_EQ(l.entries[1].label, 1);
  ddb::RawImages r = ddb::decode_listing(l, 4);
  EXPECT_EQ(r.images.sizes(), (std::vector<int64_t>{3, 3, 4, 4}));
  EXPECT_THROW(ddb::list_annotated_folder(images, tmp / "val/val_annotations.txt", {"n1"}), ddb::UserError);
  write_bytes(tmp / "bad.txt", "val_1.png\nval_9.png n1\n");
  EXPECT_THAT(error_of([&] { ddb::list_annotated_folder(images, tmp / "bad.txt", {"n1"}); }), HasSubstr("bad.txt:1"));
}

// TrustDD loads Textures and Places365 with torchvision Resize(32) + CenterCrop(32): the shorter side to
// the size, then the centred window, Python's round() (halves to even) placing it.
TEST(DatasetReaders, CenterCropKeepsTheCentredWindowAsTorchvision) {
  TempDir tmp;
  const std::string root = tmp / "root";
  fs::create_directories(root + "/a");
  // 6 high: no resize at size 6, only the crop. Widths 10 (offset 2), 11 (round(2.5) = 2, not 3), 9
  // (round(1.5) = 2).
  ddb::encode_png(root + "/a/w10.png", 10, 6, 3, gradient(10, 6, 3, 1));
  ddb::encode_png(root + "/a/w11.png", 11, 6, 3, gradient(11, 6, 3, 2));
  ddb::encode_png(root + "/a/w9.png", 9, 6, 3, gradient(9, 6, 3, 3));
  const ddb::FolderListing list = ddb::list_image_folder(root);
  ASSERT_EQ(list.entries.size(), 3u);
  const ddb::RawImages r = ddb::decode_listing(list, 6, /*center_crop=*/true);
  ASSERT_EQ(r.images.sizes(), (std::vector<int64_t>{3, 3, 6, 6}));
  for (size_t i = 0; i < 3; ++i) {
    const torch::Tensor full = ddb::decode_image(list.entries[i].path);
    EXPECT_TRUE(torch::equal(r.images[static_cast<int64_t>(i)], full.narrow(2, 2, 6))) << list.entries[i].path;
  }
  // A taller image is scaled on its shorter side (12x24 -> 6x12, antialiased) and cropped vertically.
  ddb::encode_png(root + "/a/tall.png", 12, 24, 3, gradient(12, 24, 3, 4));
  const ddb::RawImages t = ddb::decode_listing(ddb::list_image_folder(root), 6, true);
  ASSERT_EQ(t.images.sizes(), (std::vector<int64_t>{4, 3, 6, 6}));
  // The square path stretches instead: a different image.
  const ddb::RawImages sq = ddb::decode_listing(ddb::list_image_folder(root), 6, false);
  EXPECT_FALSE(torch::equal(sq.images[0], t.images[0]));
}
