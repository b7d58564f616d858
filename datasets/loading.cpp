// Loading: a located, checked dataset read by its registered reader into normalised tensors. The
// built-in readers (idx, CIFAR binary, image folders, generated toy data) register here.
#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "datasets/folder.h"
#include "datasets/generated.h"
#include "datasets/reader_registry.h"
#include "datasets/registry.h"

namespace fs = std::filesystem;

namespace ddb {

namespace {

torch::Tensor first_per_class(const torch::Tensor& labels, int64_t per_class) {
  torch::Tensor l = labels.contiguous();
  const int64_t* p = l.data_ptr<int64_t>();
  std::map<int64_t, int64_t> count;
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < l.size(0); ++i) {
    if (count[p[i]]++ < per_class) keep.push_back(i);
  }
  return torch::tensor(keep, torch::kLong);
}

void apply_limits(RawImages& train, RawImages& test, const LoadOptions& opts) {
  if (opts.train_limit >= 0) {
    torch::Tensor keep = first_per_class(train.labels, opts.train_limit);
    train.images = train.images.index_select(0, keep);
    train.labels = train.labels.index_select(0, keep);
  }
  if (opts.test_limit >= 0 && opts.test_limit < test.labels.size(0)) {
    test.images = test.images.narrow(0, 0, opts.test_limit).contiguous();
    test.labels = test.labels.narrow(0, 0, opts.test_limit).contiguous();
  }
}

torch::Tensor normalise(const torch::Tensor& u8, const DatasetInfo& info) {
  // torchvision ToTensor (x.float().div(255)) then Normalize (x.sub_(mean).div_(std)) with float32
  // mean/std: the same float ops, so the same bits.
  const int64_t c = info.shape.channels;
  torch::Tensor x = u8.to(torch::kFloat).div_(255);
  if (!info.mean.empty()) {
    x.sub_(torch::tensor(info.mean, torch::kFloat).view({1, c, 1, 1}));
    x.div_(torch::tensor(info.std, torch::kFloat).view({1, c, 1, 1}));
  }
  return x;
}

std::string fmt_list(const std::vector<double>& v) {
  std::ostringstream s;
  s.precision(17);
  for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  return s.str();
}

void check_split(const DatasetSpec& s, const RawImages& raw, const DatasetInfo& info, const std::string& split) {
  const auto& sh = info.shape;
  if (raw.images.dim() != 4 || raw.images.size(1) != sh.channels || raw.images.size(2) != sh.height ||
      raw.images.size(3) != sh.width) {
    throw UserError("dataset '" + s.name + "' " + split + " images have shape " + c10::str(raw.images.sizes()) +
                    ", expected [N, " + std::to_string(sh.channels) + ", " + std::to_string(sh.height) + ", " +
                    std::to_string(sh.width) + "]");
  }
  if (raw.labels.numel() > 0) {
    const int64_t lo = raw.labels.min().item<int64_t>(), hi = raw.labels.max().item<int64_t>();
    if (lo < 0 || hi >= info.num_classes) {
      throw UserError("dataset '" + s.name + "' " + split + " labels span " + std::to_string(lo) + ".." +
                      std::to_string(hi) + " but it has " + std::to_string(info.num_classes) + " classes");
    }
  }
}

// A class subset (manifest classes_of): keeps the images of the chosen base labels, relabelled 0..K-1 in
// the subset's order; the others are dropped.
void keep_classes(RawImages& r, const std::vector<int64_t>& classes) {
  if (r.labels.numel() == 0) return;
  const int64_t top = *std::max_element(classes.begin(), classes.end());
  torch::Tensor lut = torch::full({top + 2}, -1, torch::kLong);  // last slot: every label outside 0..top
  for (size_t k = 0; k < classes.size(); ++k) lut[classes[k]] = static_cast<int64_t>(k);
  torch::Tensor l = r.labels.to(torch::kLong);
  l = torch::where((l >= 0) & (l <= top), l, torch::full_like(l, top + 1));
  const torch::Tensor mapped = lut.index_select(0, l);
  const torch::Tensor keep = torch::nonzero(mapped >= 0).flatten();
  r.images = r.images.index_select(0, keep).contiguous();
  r.labels = mapped.index_select(0, keep).contiguous();
}

std::string join_ints(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

LoadedDataset finish(const DatasetSpec& s, DatasetInfo info, RawImages train, RawImages test, const LoadOptions& opts,
                     const std::string& data_canon, bool verified, const DatasetExtra& x) {
  if (!x.subset_classes.empty()) {
    if (x.base_num_classes > 0) {  // the base's labels, before they are dropped or renumbered
      DatasetInfo base = info;
      base.num_classes = x.base_num_classes;
      check_split(s, train, base, "train");
      check_split(s, test, base, "test");
    }
    keep_classes(train, x.subset_classes);
    keep_classes(test, x.subset_classes);
  }
  check_split(s, train, info, "train");
  check_split(s, test, info, "test");
  apply_limits(train, test, opts);
  LoadedDataset d;
  d.info = std::move(info);
  d.train.images = normalise(train.images, d.info);
  d.train.labels = train.labels.to(torch::kLong).contiguous();
  d.test.images = normalise(test.images, d.info);
  d.test.labels = test.labels.to(torch::kLong).contiguous();
  const auto& sh = d.info.shape;
  std::string canon = "ddbench dataset identity v1\nname=" + s.name + "\nreader=" + s.reader +
                      "\nshape=" + std::to_string(sh.channels) + "x" + std::to_string(sh.height) + "x" +
                      std::to_string(sh.width) + "\nclasses=" + std::to_string(d.info.num_classes) +
                      "\ntransform=to_tensor,normalize\nmean=" + fmt_list(d.info.mean) + "\nstd=" +
                      fmt_list(d.info.std) + "\ntrain_limit=" + std::to_string(opts.train_limit) +
                      "\ntest_limit=" + std::to_string(opts.test_limit) + "\nsizes=" +
                      std::to_string(d.train.size()) + "," + std::to_string(d.test.size()) + "\n" + data_canon;
  // Only for subsets, so that every other dataset keeps its identity.
  if (!x.subset_classes.empty()) canon += "classes_of=" + x.subset_of + ":" + join_ints(x.subset_classes) + "\n";
  d.identity = s.name + (verified ? "@sha256:" : "@unverified:") + sha256_bytes(canon).substr(0, 16);
  d.index_classes();
  return d;
}

std::string tensor_digest(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous();
  return sha256_bytes(std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size()));
}

LoadedDataset load_generated(const DatasetSpec& s, const DatasetExtra& x, const LoadOptions& opts) {
  if (s.info.num_classes <= 0 || s.info.shape.channels <= 0) {
    // e.g. noise OOD sets or corruptions of another dataset's test split (manifests): made by the
    // code that uses them, not by the registry.
    throw DatasetMissing("dataset '" + s.name + "' is generated by the code that uses it (" +
                         (x.layout.empty() ? std::string("no generator in load_dataset") : x.layout) +
                         "); load_dataset only generates template-class datasets (num_classes and shape given)");
  }
  ToyOptions o;
  o.shape = s.info.shape;
  // A class subset of generated data draws the base's classes (the same images), then keeps its own.
  o.num_classes = x.subset_classes.empty() ? s.info.num_classes : x.base_num_classes;
  if (o.num_classes <= 0) throw UserError("dataset '" + s.name + "': a class subset of generated data needs the base's class count");
  o.train_per_class = x.train_per_class;
  o.test_per_class = x.test_per_class;
  o.seed = x.seed;
  RawImages train, test;
  generate_toy(o, train, test);
  const std::string canon = "generated seed=" + std::to_string(o.seed) + " per_class=" +
                            std::to_string(o.train_per_class) + "," + std::to_string(o.test_per_class) +
                            "\ntrain\t" + tensor_digest(train.images) + "\t" + tensor_digest(train.labels) +
                            "\ntest\t" + tensor_digest(test.images) + "\t" + tensor_digest(test.labels) + "\n";
  return finish(s, s.info, std::move(train), std::move(test), opts, canon, true, x);
}

// A class subset of a folder dataset: only the chosen classes' images are decoded (labels stay the
// base's; finish() relabels them).
void keep_listed_classes(FolderListing& list, const DatasetExtra& x) {
  if (x.subset_classes.empty()) return;
  const auto& keep = x.subset_classes;
  list.entries.erase(std::remove_if(list.entries.begin(), list.entries.end(),
                                    [&](const FolderEntry& e) {
                                      return std::find(keep.begin(), keep.end(), e.label) == keep.end();
                                    }),
                     list.entries.end());
}

RawImages empty_split(const ImageShape& shape) {
  RawImages r;
  r.images = torch::empty({0, shape.channels, shape.height, shape.width}, torch::kUInt8);
  r.labels = torch::empty({0}, torch::kLong);
  return r;
}

// A folder without train/: every image is a test image (OOD sets); labels = sub-folder index.
LoadedDataset load_flat_folder(const DatasetSpec& s, const DatasetExtra& x, const Located& loc,
                               const LoadOptions& opts, std::string canon, bool verified) {
  FolderListing list = list_any_folder(loc.dir, x.class_dirs);
  keep_listed_classes(list, x);
  if (opts.test_limit >= 0 && opts.test_limit < static_cast<int64_t>(list.entries.size())) {
    list.entries.resize(static_cast<size_t>(opts.test_limit));
  }
  if (list.entries.empty()) {
    throw DatasetMissing("dataset '" + s.name + "': no .jpg/.jpeg/.png images in " + loc.dir);
  }
  DatasetInfo info = s.info;
  if (info.class_names.empty()) info.class_names = list.classes;
  if (x.subset_classes.empty()) info.num_classes = static_cast<int64_t>(list.classes.size());
  RawImages test = decode_listing(list, s.info.shape.height, x.resize == "center_crop");
  if (s.info.shape.channels == 1) test.images = rgb_to_grey(test.images);
  canon += "flat-listing\t" + listing_digest(list) + "\n";
  if (x.resize != "square") canon += "resize\t" + x.resize + "\n";
  return finish(s, std::move(info), empty_split(s.info.shape), std::move(test), opts, canon, verified, x);
}

LoadedDataset load_folder(const DatasetSpec& s, const DatasetExtra& x, const Located& loc, const LoadOptions& opts,
                          std::string canon, bool verified) {
  if (loc.test_dir.empty()) return load_flat_folder(s, x, loc, opts, std::move(canon), verified);
  const std::string train_dir = (fs::path(loc.dir) / "train").string();
  FolderListing train_list = list_image_folder(train_dir, x.class_dirs, opts.train_limit);
  const std::vector<std::string> classes = train_list.classes;
  keep_listed_classes(train_list, x);
  FolderListing test_list;
  const fs::path test_dir(loc.test_dir);
  const fs::path annotations = test_dir / "val_annotations.txt";
  const fs::path images = test_dir / "images";
  std::error_code ec;
  if (fs::is_directory(images, ec) && fs::is_directory(images / classes.front(), ec)) {
    test_list = list_image_folder(images.string(), classes);  // val/images/<wnid>/ (re-organised)
  } else if (fs::is_regular_file(annotations, ec) && fs::is_directory(images, ec)) {
    test_list = list_annotated_folder(images.string(), annotations.string(), classes);  // TinyImageNet val
  } else {
    test_list = list_image_folder(test_dir.string(), classes);
  }
  keep_listed_classes(test_list, x);
  if (opts.test_limit >= 0 && opts.test_limit < static_cast<int64_t>(test_list.entries.size())) {
    test_list.entries.resize(static_cast<size_t>(opts.test_limit));
  }
  if (train_list.entries.empty()) {
    throw DatasetMissing("dataset '" + s.name + "': no images under " + train_dir);
  }
  DatasetInfo info = s.info;
  if (info.class_names.empty()) info.class_names = classes;  // sorted directory names (wnids)
  if (x.subset_classes.empty()) {  // a subset's class count is its own; its labels are checked in finish()
    if (info.num_classes > 0 && info.num_classes != static_cast<int64_t>(classes.size())) {
      throw UserError("dataset '" + s.name + "': " + train_dir + " has " + std::to_string(classes.size()) +
                      " class directories, expected " + std::to_string(info.num_classes));
    }
    info.num_classes = static_cast<int64_t>(classes.size());
  }
  const int64_t size = s.info.shape.height;
  RawImages train = decode_listing(train_list, size, x.resize == "center_crop");
  RawImages test = decode_listing(test_list, size, x.resize == "center_crop");
  if (x.resize != "square") canon += "resize\t" + x.resize + "\n";
  if (s.info.shape.channels == 1) {
    train.images = rgb_to_grey(train.images);
    test.images = rgb_to_grey(test.images);
  }
  canon += "train-listing\t" + listing_digest(train_list) + "\ntest-listing\t" + fs::path(loc.test_dir).filename().string() +
           "\t" + listing_digest(test_list) + "\n";
  // The limits were applied while listing; applying them again in finish() changes nothing.
  return finish(s, std::move(info), std::move(train), std::move(test), opts, canon, verified, x);
}

}  // namespace

Registry<DatasetReaderInfo>& dataset_reader_registry() {
  static Registry<DatasetReaderInfo> registry("dataset readers");
  return registry;
}

LoadedDataset finish_dataset(const ReadRequest& r, RawImages train, RawImages test) {
  return finish(r.spec, r.spec.info, std::move(train), std::move(test), r.opts, r.canon, r.verified, r.extra);
}

DDBENCH_REGISTER_DATASET_READER(DatasetReaderInfo{
    "idx", "MNIST-format idx3 images + idx1 labels (gzip or raw): train images, train labels, test images, test labels",
    [](const ReadRequest& r) {
      const auto& paths = r.located.paths;
      if (paths.size() != 4) {
        throw UserError("dataset '" + r.spec.name + "': the idx reader needs 4 files (train images, train labels, test "
                        "images, test labels), the spec lists " + std::to_string(paths.size()));
      }
      return finish_dataset(r, read_idx(paths[0], paths[1]), read_idx(paths[2], paths[3]));
    }});

namespace {
// CIFAR binary batches: files whose name starts with "test" are the test split.
LoadedDataset read_cifar(const ReadRequest& r, bool cifar100) {
  std::vector<std::string> train_paths, test_paths;
  for (const auto& p : r.located.paths)
    (fs::path(p).filename().string().rfind("test", 0) == 0 ? test_paths : train_paths).push_back(p);
  if (train_paths.empty() || test_paths.empty()) {
    throw UserError("dataset '" + r.spec.name + "': the " + r.spec.reader +
                    " reader needs training batches and a test file (name starting with 'test')");
  }
  return finish_dataset(r, read_cifar_bin(train_paths, cifar100), read_cifar_bin(test_paths, cifar100));
}
}  // namespace
DDBENCH_REGISTER_DATASET_READER(DatasetReaderInfo{"cifar10", "CIFAR-10 binary batches (1 label byte)",
                                                  [](const ReadRequest& r) { return read_cifar(r, false); }});
DDBENCH_REGISTER_DATASET_READER(DatasetReaderInfo{"cifar100", "CIFAR-100 binary batches (coarse + fine label; fine used)",
                                                  [](const ReadRequest& r) { return read_cifar(r, true); }});
DDBENCH_REGISTER_DATASET_READER(DatasetReaderInfo{
    "folder", "root/<class>/*.{jpg,png} with train/ and val/ (or test/); without train/, one flat test folder",
    [](const ReadRequest& r) { return load_folder(r.spec, r.extra, r.located, r.opts, r.canon, r.verified); }});
DDBENCH_REGISTER_DATASET_READER(DatasetReaderInfo{
    "generated", "template-class toy data generated from the spec's seed (toy28, toy32): no files",
    [](const ReadRequest& r) { return load_generated(r.spec, r.extra, r.opts); }, /*needs_files=*/false});

LoadedDataset load_dataset(const std::string& name, const LoadOptions& opts) {
  return load_dataset(dataset_spec(name), dataset_extra(name), opts);
}

LoadedDataset load_dataset(const DatasetSpec& s, const LoadOptions& opts) {
  return load_dataset(s, DatasetExtra{}, opts);
}

LoadedDataset load_dataset(const DatasetSpec& s, const DatasetExtra& x, const LoadOptions& opts) {
  const DatasetReaderInfo* reader = dataset_reader_registry().find(s.reader);
  if (!reader) {
    throw DatasetMissing("dataset '" + s.name + "' uses reader '" + s.reader + "', which is not implemented yet" +
                         " (readers: " + dataset_reader_registry().names_joined() + ")" +
                         (s.howto.empty() ? "" : "; data: " + s.howto));
  }
  if (!reader->needs_files) return reader->load(ReadRequest{s, x, Located{}, opts, "", true});
  const Located loc = locate(s, opts);
  ReadRequest request{s, x, loc, opts, "dir-files\n" + verify_files(loc, opts.verify_checksums), opts.verify_checksums};
  LoadedDataset d = reader->load(request);
  d.source_dir = loc.dir;
  return d;
}

}  // namespace ddb
