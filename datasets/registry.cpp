#include "datasets/registry.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "datasets/folder.h"
#include "datasets/generated.h"
#include "datasets/manifests.h"
#include "datasets/readers.h"

namespace fs = std::filesystem;

namespace ddb {

namespace {

// ---------------------------------------------------------------------------------------------
// Built-in datasets

const std::vector<std::string> kDigits = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
const std::vector<std::string> kFashion = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                           "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
const std::vector<std::string> kCifar10 = {"airplane", "automobile", "bird",  "cat",  "deer",
                                           "dog",      "frog",       "horse", "ship", "truck"};
// CIFAR-100 fine label names, label order (meta fine_label_names / fine_label_names.txt).
const std::vector<std::string> kCifar100 = {
    "apple",      "aquarium_fish", "baby",         "bear",       "beaver",      "bed",        "bee",
    "beetle",     "bicycle",       "bottle",       "bowl",       "boy",         "bridge",     "bus",
    "butterfly",  "camel",         "can",          "castle",     "caterpillar", "cattle",     "chair",
    "chimpanzee", "clock",         "cloud",        "cockroach",  "couch",       "crab",       "crocodile",
    "cup",        "dinosaur",      "dolphin",      "elephant",   "flatfish",    "forest",     "fox",
    "girl",       "hamster",       "house",        "kangaroo",   "keyboard",    "lamp",       "lawn_mower",
    "leopard",    "lion",          "lizard",       "lobster",    "man",         "maple_tree", "motorcycle",
    "mountain",   "mouse",         "mushroom",     "oak_tree",   "orange",      "orchid",     "otter",
    "palm_tree",  "pear",          "pickup_truck", "pine_tree",  "plain",       "plate",      "poppy",
    "porcupine",  "possum",        "rabbit",       "raccoon",    "ray",         "road",       "rocket",
    "rose",       "sea",           "seal",         "shark",      "shrew",       "skunk",      "skyscraper",
    "snail",      "snake",         "spider",       "squirrel",   "streetcar",   "sunflower",  "sweet_pepper",
    "table",      "tank",          "telephone",    "television", "tiger",       "tractor",    "train",
    "trout",      "tulip",         "turtle",       "wardrobe",   "whale",       "willow_tree", "wolf",
    "woman",      "worm"};

// Uncompressed sizes of the MNIST-format files (MNIST and Fashion-MNIST share them), for when the
// data directory holds the gunzipped files instead of the .gz ones.
const std::map<std::string, int64_t> kIdxRawSizes = {{"train-images-idx3-ubyte", 47040016},
                                                     {"train-labels-idx1-ubyte", 60008},
                                                     {"t10k-images-idx3-ubyte", 7840016},
                                                     {"t10k-labels-idx1-ubyte", 10008}};

ManifestEntry builtin(const std::string& name, const std::string& reader, ImageShape shape, std::vector<double> mean,
                      std::vector<double> std, std::vector<std::string> classes, int64_t num_classes = 0) {
  ManifestEntry e;
  e.spec.name = name;
  e.spec.reader = reader;
  e.spec.subdir = name;
  e.spec.info.name = name;
  e.spec.info.shape = shape;
  e.spec.info.mean = std::move(mean);
  e.spec.info.std = std::move(std);
  e.spec.info.num_classes = num_classes > 0 ? num_classes : static_cast<int64_t>(classes.size());
  e.spec.info.class_names = std::move(classes);
  e.extra.role = "train";
  return e;
}

std::vector<ManifestEntry> builtin_entries() {
  std::vector<ManifestEntry> out;
  {
    ManifestEntry e = builtin("fashion-mnist", "idx", {1, 28, 28}, {0.2861}, {0.3530}, kFashion);
    e.spec.files = {
        {"train-images-idx3-ubyte.gz", 26421856, "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"},
        {"train-labels-idx1-ubyte.gz", 29491, "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"},
        {"t10k-images-idx3-ubyte.gz", 4422079, "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"},
        {"t10k-labels-idx1-ubyte.gz", 5125, "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"}};
    e.spec.default_dir = "/usr/share/datasets/fashion-mnist";
    e.spec.howto =
        "install the Debian package (apt install dataset-fashion-mnist, files in /usr/share/datasets/fashion-mnist), "
        "or download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
        "t10k-labels-idx1-ubyte.gz from http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ into "
        "<root>/fashion-mnist/";
    e.extra.title = "Fashion-MNIST (Zalando, 10 clothing classes, 28x28 grey)";
    e.extra.source = "VICO/DC utils.py get_dataset('FashionMNIST')";
    out.push_back(std::move(e));
  }
  {
    ManifestEntry e = builtin("mnist", "idx", {1, 28, 28}, {0.1307}, {0.3081}, kDigits);
    // .gz sizes of the canonical files; the gunzipped files are accepted too (kIdxRawSizes).
    e.spec.files = {{"train-images-idx3-ubyte.gz", 9912422, ""},
                    {"train-labels-idx1-ubyte.gz", 28881, ""},
                    {"t10k-images-idx3-ubyte.gz", 1648877, ""},
                    {"t10k-labels-idx1-ubyte.gz", 4542, ""}};
    e.spec.howto =
        "download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
        "t10k-labels-idx1-ubyte.gz (e.g. from https://ossci-datasets.s3.amazonaws.com/mnist/) into <root>/mnist/ "
        "(gunzipped files are accepted too)";
    e.extra.title = "MNIST (handwritten digits, 28x28 grey)";
    e.extra.source = "VICO/DC utils.py get_dataset('MNIST')";
    out.push_back(std::move(e));
  }
  {
    ManifestEntry e =
        builtin("cifar10", "cifar10", {3, 32, 32}, {0.4914, 0.4822, 0.4465}, {0.2023, 0.1994, 0.2010}, kCifar10);
    for (int i = 1; i <= 5; ++i) {
      e.spec.files.push_back({"cifar-10-batches-bin/data_batch_" + std::to_string(i) + ".bin", 30730000, ""});
    }
    e.spec.files.push_back({"cifar-10-batches-bin/test_batch.bin", 30730000, ""});
    e.spec.howto =
        "download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and unpack it with "
        "mkdir -p <root>/cifar10 && tar -xzf cifar-10-binary.tar.gz -C <root>/cifar10/ "
        "(gives <root>/cifar10/cifar-10-batches-bin/data_batch_1.bin ... test_batch.bin)";
    e.extra.title = "CIFAR-10 (10 classes, 32x32 colour)";
    e.extra.source = "VICO/DC utils.py get_dataset('CIFAR10')";
    out.push_back(std::move(e));
  }
  {
    // REFERENCE-PROTOCOLS quirk 9: these are the true CIFAR-100 statistics, as VICO (DC/DSA/DM)
    // uses them; MTT's and IDM's utils.py normalise CIFAR-100 with the CIFAR-10 mean/std instead.
    ManifestEntry e =
        builtin("cifar100", "cifar100", {3, 32, 32}, {0.5071, 0.4866, 0.4409}, {0.2673, 0.2564, 0.2762}, kCifar100);
    e.spec.files = {{"cifar-100-binary/train.bin", 153700000, ""}, {"cifar-100-binary/test.bin", 30740000, ""}};
    e.spec.howto =
        "download https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz and unpack it with "
        "mkdir -p <root>/cifar100 && tar -xzf cifar-100-binary.tar.gz -C <root>/cifar100/ "
        "(gives <root>/cifar100/cifar-100-binary/train.bin and test.bin)";
    e.extra.title = "CIFAR-100 (100 fine classes, 32x32 colour)";
    e.extra.source = "VICO/DC utils.py get_dataset('CIFAR100')";
    e.extra.note = "VICO mean/std; MTT and IDM use the CIFAR-10 mean/std for CIFAR-100 (REFERENCE-PROTOCOLS quirk 9)";
    out.push_back(std::move(e));
  }
  {
    ManifestEntry e = builtin("tinyimagenet", "folder", {3, 64, 64}, {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225},
                              {}, 200);
    e.spec.files = {{"train", -1, ""}};
    e.spec.howto =
        "download http://cs231n.stanford.edu/tiny-imagenet-200.zip, then unzip tiny-imagenet-200.zip -d <root> && "
        "mv <root>/tiny-imagenet-200 <root>/tinyimagenet (train/<wnid>/images/*.JPEG, val/images/*.JPEG + "
        "val/val_annotations.txt; a val/images/<wnid>/ or val/<wnid>/ re-organised val split works too)";
    e.extra.title = "Tiny ImageNet (200 classes, 64x64 colour)";
    e.extra.layout = "train/<wnid>/images/*.JPEG, val/images/*.JPEG + val/val_annotations.txt";
    e.extra.source = "MTT utils.py get_dataset('Tiny'): ImageFolder(train), ImageFolder(val/images)";
    e.extra.check = "200 classes, 500 train images per class, 10000 val images";
    out.push_back(std::move(e));
  }
  for (const auto& [name, shape, seed] :
       {std::tuple<std::string, ImageShape, uint64_t>{"toy28", {1, 28, 28}, 2828},
        std::tuple<std::string, ImageShape, uint64_t>{"toy32", {3, 32, 32}, 3232}}) {
    std::vector<double> mean(static_cast<size_t>(shape.channels), 0.5), sd(static_cast<size_t>(shape.channels), 0.3);
    std::vector<std::string> classes;
    for (int i = 0; i < 10; ++i) classes.push_back("class" + std::to_string(i));
    ManifestEntry e = builtin(name, "generated", shape, mean, sd, classes);
    e.spec.subdir.clear();
    e.spec.howto = "generated in memory; no files needed";
    e.extra.title = "generated toy data (" + std::to_string(shape.channels) + "x" + std::to_string(shape.height) + "x" +
                    std::to_string(shape.width) + ", 10 template classes + noise) for tests and smoke runs";
    e.extra.seed = seed;
    e.extra.train_per_class = 100;
    e.extra.test_per_class = 20;
    out.push_back(std::move(e));
  }
  return out;
}

struct Registry {
  std::vector<DatasetSpec> specs;
  std::vector<DatasetExtra> extras;  // parallel to specs
};

const Registry& registry() {
  // Built once; a malformed manifest throws here and is retried (and reported) on the next call.
  static const Registry reg = [] {
    Registry r;
    std::map<std::string, std::string> where;
    auto add = [&](ManifestEntry e, const std::string& origin) {
      auto it = where.find(e.spec.name);
      if (it != where.end()) {
        throw UserError(origin + ": dataset '" + e.spec.name + "', field 'name': already defined (" + it->second + ")");
      }
      where[e.spec.name] = origin;
      r.specs.push_back(std::move(e.spec));
      r.extras.push_back(std::move(e.extra));
    };
    for (auto& e : builtin_entries()) add(std::move(e), "built in");
    for (auto& e : read_manifests(manifests_dir())) {
      const std::string origin = e.extra.manifest + ":" + std::to_string(e.extra.line);
      add(std::move(e), origin);
    }
    return r;
  }();
  return reg;
}

size_t index_of(const std::string& name) {
  const Registry& r = registry();
  for (size_t i = 0; i < r.specs.size(); ++i) {
    if (r.specs[i].name == name) return i;
  }
  std::string names;
  for (const auto& s : r.specs) names += (names.empty() ? "" : ", ") + s.name;
  throw UserError("unknown dataset '" + name + "'; valid names: " + names);
}

// ---------------------------------------------------------------------------------------------
// Locating and checking files

bool is_unsupported(const DatasetSpec& s) { return s.reader.rfind("unsupported:", 0) == 0; }

// Acceptable forms of an expected file, in order of preference.
std::vector<ExpectedFile> alternatives(const DatasetSpec& s, const ExpectedFile& f) {
  std::vector<ExpectedFile> out{f};
  if (s.reader != "idx") return out;
  const std::string gz = ".gz";
  const bool is_gz = f.relpath.size() > gz.size() && f.relpath.compare(f.relpath.size() - gz.size(), gz.size(), gz) == 0;
  ExpectedFile alt;
  if (is_gz) {
    alt.relpath = f.relpath.substr(0, f.relpath.size() - gz.size());
    auto it = kIdxRawSizes.find(fs::path(alt.relpath).filename().string());
    if (it != kIdxRawSizes.end() && f.size >= 0) alt.size = it->second;  // only where the .gz size is pinned
  } else {
    alt.relpath = f.relpath + gz;
  }
  out.push_back(alt);
  return out;
}

struct Located {
  std::string dir;
  std::vector<std::string> paths;     // resolved path of each spec.files entry
  std::vector<ExpectedFile> expects;  // the form found (relpath, size, sha256)
  std::string test_dir;               // folder reader: val/ or test/
};

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// The folder reader's test split: TinyImageNet val (annotated or re-organised), else val/, else test/.
std::string folder_test_dir(const std::string& dir) {
  for (const char* cand : {"val", "test"}) {
    std::error_code ec;
    if (fs::is_directory(fs::path(dir) / cand, ec)) return (fs::path(dir) / cand).string();
  }
  return "";
}

bool locate_in(const DatasetSpec& s, const std::string& dir, Located& out, std::string& why) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    why = "directory does not exist";
    return false;
  }
  out = Located{};
  out.dir = dir;
  std::vector<std::string> missing;
  for (const auto& f : s.files) {
    bool found = false;
    for (const auto& alt : alternatives(s, f)) {
      const fs::path p = fs::path(dir) / alt.relpath;
      if (path_exists(p)) {
        out.paths.push_back(p.string());
        out.expects.push_back(alt);
        found = true;
        break;
      }
    }
    if (!found) missing.push_back(f.relpath);
  }
  if (s.reader == "folder" && fs::is_directory(fs::path(dir) / "train", ec)) {
    out.test_dir = folder_test_dir(dir);
    if (out.test_dir.empty()) missing.push_back("val/ (or test/)");
  }  // without train/ (and not required by spec.files): one flat folder, used whole as the test split
  if (!missing.empty()) {
    why = "missing ";
    for (size_t i = 0; i < missing.size(); ++i) why += (i ? ", " : "") + missing[i];
    return false;
  }
  return true;
}

std::string join_path(const std::string& root, const std::string& sub) {
  if (sub.empty()) return root;
  return (fs::path(root) / sub).string();
}

// A directory that holds some of the dataset's files but not all: the user pointed at it (or put
// data there) and it is broken. Using another copy instead would give numbers from data the user did
// not point at, so this is an error naming what is missing.
void reject_partial(const DatasetSpec& s, const std::string& dir, const Located& loc, const std::string& why) {
  if (loc.paths.empty()) return;  // nothing of this dataset there
  throw DatasetMissing("dataset '" + s.name + "' in " + dir + " is incomplete: " + why +
                       "; no other copy is used in its place (complete it, or point --data-root / $DDBENCH_DATA "
                       "elsewhere). To get it: " + (s.howto.empty() ? "see the dataset's manifest" : s.howto));
}

Located locate(const DatasetSpec& s, const LoadOptions& opts) {
  std::vector<std::string> lines;
  for (const auto& dir : candidate_dirs(s, opts)) {
    Located loc;
    std::string why;
    if (locate_in(s, dir, loc, why)) return loc;
    reject_partial(s, dir, loc, why);
    lines.push_back("  " + dir + " (" + why + ")");
  }
  std::string msg = "dataset '" + s.name + "' not found; looked in:\n";
  for (const auto& l : lines) msg += l + "\n";
  if (lines.empty()) msg += "  (no directory: no data root and no default location)\n";
  msg += "To get it: " + (s.howto.empty() ? "see the dataset's manifest" : s.howto);
  throw DatasetMissing(msg);
}

// Checks sizes (always) and sha256 (when listed and verify); returns the canonical description of
// the files for the identity.
std::string verify_files(const Located& loc, bool verify) {
  std::string canon;
  for (size_t i = 0; i < loc.paths.size(); ++i) {
    const std::string& path = loc.paths[i];
    const ExpectedFile& ex = loc.expects[i];
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {  // a directory (folder datasets): hashed through the listing
      canon += ex.relpath + "\tdir\n";
      continue;
    }
    const int64_t size = static_cast<int64_t>(fs::file_size(path, ec));
    if (ec) throw UserError("cannot stat " + path + ": " + ec.message());
    if (ex.size >= 0 && size != ex.size) {
      throw UserError(path + ": size " + std::to_string(size) + " bytes, expected " + std::to_string(ex.size) +
                      " (incomplete download or a different version of the file?)");
    }
    std::string sha = "unverified";
    if (verify) {
      sha = sha256_file(path);
      if (!ex.sha256.empty() && sha != ex.sha256) {
        throw UserError(path + ": sha256 " + sha + ", expected " + ex.sha256 + " (corrupt or a different version)");
      }
    }
    canon += ex.relpath + "\t" + std::to_string(size) + "\t" + sha + "\n";
  }
  return canon;
}

// ---------------------------------------------------------------------------------------------
// Post-processing

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

LoadedDataset finish(const DatasetSpec& s, DatasetInfo info, RawImages train, RawImages test, const LoadOptions& opts,
                     const std::string& data_canon, bool verified) {
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
  o.num_classes = s.info.num_classes;
  o.train_per_class = x.train_per_class;
  o.test_per_class = x.test_per_class;
  o.seed = x.seed;
  RawImages train, test;
  generate_toy(o, train, test);
  const std::string canon = "generated seed=" + std::to_string(o.seed) + " per_class=" +
                            std::to_string(o.train_per_class) + "," + std::to_string(o.test_per_class) +
                            "\ntrain\t" + tensor_digest(train.images) + "\t" + tensor_digest(train.labels) +
                            "\ntest\t" + tensor_digest(test.images) + "\t" + tensor_digest(test.labels) + "\n";
  return finish(s, s.info, std::move(train), std::move(test), opts, canon, true);
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
  if (opts.test_limit >= 0 && opts.test_limit < static_cast<int64_t>(list.entries.size())) {
    list.entries.resize(static_cast<size_t>(opts.test_limit));
  }
  if (list.entries.empty()) {
    throw DatasetMissing("dataset '" + s.name + "': no .jpg/.jpeg/.png images in " + loc.dir);
  }
  DatasetInfo info = s.info;
  if (info.class_names.empty()) info.class_names = list.classes;
  info.num_classes = static_cast<int64_t>(list.classes.size());
  RawImages test = decode_listing(list, s.info.shape.height);
  if (s.info.shape.channels == 1) test.images = rgb_to_grey(test.images);
  canon += "flat-listing\t" + listing_digest(list) + "\n";
  return finish(s, std::move(info), empty_split(s.info.shape), std::move(test), opts, canon, verified);
}

LoadedDataset load_folder(const DatasetSpec& s, const DatasetExtra& x, const Located& loc, const LoadOptions& opts,
                          std::string canon, bool verified) {
  if (loc.test_dir.empty()) return load_flat_folder(s, x, loc, opts, std::move(canon), verified);
  const std::string train_dir = (fs::path(loc.dir) / "train").string();
  FolderListing train_list = list_image_folder(train_dir, x.class_dirs, opts.train_limit);
  const std::vector<std::string>& classes = train_list.classes;
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
  if (opts.test_limit >= 0 && opts.test_limit < static_cast<int64_t>(test_list.entries.size())) {
    test_list.entries.resize(static_cast<size_t>(opts.test_limit));
  }
  if (train_list.entries.empty()) {
    throw DatasetMissing("dataset '" + s.name + "': no images under " + train_dir);
  }
  DatasetInfo info = s.info;
  if (info.class_names.empty()) info.class_names = classes;  // sorted directory names (wnids)
  if (info.num_classes > 0 && info.num_classes != static_cast<int64_t>(classes.size())) {
    throw UserError("dataset '" + s.name + "': " + train_dir + " has " + std::to_string(classes.size()) +
                    " class directories, expected " + std::to_string(info.num_classes));
  }
  info.num_classes = static_cast<int64_t>(classes.size());
  const int64_t size = s.info.shape.height;
  RawImages train = decode_listing(train_list, size);
  RawImages test = decode_listing(test_list, size);
  if (s.info.shape.channels == 1) {
    train.images = rgb_to_grey(train.images);
    test.images = rgb_to_grey(test.images);
  }
  canon += "train-listing\t" + listing_digest(train_list) + "\ntest-listing\t" + fs::path(loc.test_dir).filename().string() +
           "\t" + listing_digest(test_list) + "\n";
  // The limits were applied while listing; applying them again in finish() changes nothing.
  return finish(s, std::move(info), std::move(train), std::move(test), opts, canon, verified);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

const std::vector<DatasetSpec>& dataset_specs() { return registry().specs; }

const DatasetSpec& dataset_spec(const std::string& name) { return registry().specs[index_of(name)]; }

const DatasetExtra& dataset_extra(const std::string& name) { return registry().extras[index_of(name)]; }

std::vector<std::string> candidate_dirs(const DatasetSpec& spec, const LoadOptions& opts) {
  std::vector<std::string> out;
  if (spec.reader == "generated") return out;
  std::string root = opts.data_root;
  if (root.empty()) {
    const char* env = std::getenv("DDBENCH_DATA");
    root = env && *env ? env : "./data";
  }
  out.push_back(join_path(root, spec.subdir));
  if (!spec.default_dir.empty() && std::find(out.begin(), out.end(), spec.default_dir) == out.end()) {
    out.push_back(spec.default_dir);
  }
  return out;
}

bool dataset_available(const std::string& name, const LoadOptions& opts) {
  const DatasetSpec& s = dataset_spec(name);
  if (s.reader == "generated") return s.info.num_classes > 0 && s.info.shape.channels > 0;
  if (is_unsupported(s)) return false;
  for (const auto& dir : candidate_dirs(s, opts)) {
    Located loc;
    std::string why;
    if (locate_in(s, dir, loc, why)) return true;
    if (!loc.paths.empty()) return false;  // partial: load_dataset refuses it rather than use the next copy
  }
  return false;
}

std::string dataset_missing_reason(const std::string& name, const LoadOptions& opts) {
  const DatasetSpec& s = dataset_spec(name);
  if (s.reader == "generated") return "";
  if (is_unsupported(s)) return name + " (reader " + s.reader + " not implemented yet)";
  std::string looked;
  for (const auto& dir : candidate_dirs(s, opts)) {
    Located loc;
    std::string why;
    if (locate_in(s, dir, loc, why)) return "";
    if (!loc.paths.empty()) return name + " (incomplete in " + dir + ": " + why + ")";
    looked += (looked.empty() ? "" : ", ") + dir;
  }
  return name + " (looked in " + (looked.empty() ? std::string("no directory") : looked) + ")";
}

LoadedDataset load_dataset(const std::string& name, const LoadOptions& opts) {
  const size_t i = index_of(name);
  return load_dataset(registry().specs[i], registry().extras[i], opts);
}

LoadedDataset load_dataset(const DatasetSpec& s, const LoadOptions& opts) {
  return load_dataset(s, DatasetExtra{}, opts);
}

LoadedDataset load_dataset(const DatasetSpec& s, const DatasetExtra& x, const LoadOptions& opts) {
  if (s.reader == "generated") return load_generated(s, x, opts);
  if (is_unsupported(s)) {
    throw DatasetMissing("dataset '" + s.name + "' uses reader '" + s.reader + "', which is not implemented yet" +
                         (s.howto.empty() ? "" : "; data: " + s.howto));
  }
  const Located loc = locate(s, opts);
  const std::string canon = "dir-files\n" + verify_files(loc, opts.verify_checksums);
  const bool verified = opts.verify_checksums;
  if (s.reader == "folder") {
    LoadedDataset d = load_folder(s, x, loc, opts, canon, verified);
    d.source_dir = loc.dir;
    return d;
  }

  RawImages train, test;
  if (s.reader == "idx") {
    if (loc.paths.size() != 4) {
      throw UserError("dataset '" + s.name + "': the idx reader needs 4 files (train images, train labels, test "
                      "images, test labels), the spec lists " + std::to_string(loc.paths.size()));
    }
    train = read_idx(loc.paths[0], loc.paths[1]);
    test = read_idx(loc.paths[2], loc.paths[3]);
  } else if (s.reader == "cifar10" || s.reader == "cifar100") {
    std::vector<std::string> train_paths, test_paths;
    for (const auto& p : loc.paths) {
      (fs::path(p).filename().string().rfind("test", 0) == 0 ? test_paths : train_paths).push_back(p);
    }
    if (train_paths.empty() || test_paths.empty()) {
      throw UserError("dataset '" + s.name + "': the " + s.reader +
                      " reader needs training batches and a test file (name starting with 'test')");
    }
    train = read_cifar_bin(train_paths, s.reader == "cifar100");
    test = read_cifar_bin(test_paths, s.reader == "cifar100");
  } else {
    throw UserError("dataset '" + s.name + "': unknown reader '" + s.reader + "'");
  }
  LoadedDataset d = finish(s, s.info, std::move(train), std::move(test), opts, canon, verified);
  d.source_dir = loc.dir;
  return d;
}

}  // namespace ddb
