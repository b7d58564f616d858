// ddbench: torch-free
// The dataset catalog: the built-in datasets (MNIST, Fashion-MNIST, CIFAR-10/100, the toy sets) and
// every manifest entry (datasets/manifests/*.yaml), looked up by name.
#include <map>

#include "core/errors.h"
#include "datasets/manifests.h"
#include "datasets/spec.h"

namespace ddb {

namespace {


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

std::string dims(const ImageShape& s) {
  return std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" + std::to_string(s.width);
}

// A `classes_of` entry: the base's files, reader and where to look (so availability, locating and
// checksums are the base's), its shape and statistics unless the entry gives them, and the names of
// the chosen classes in the subset's order. The loader keeps only those classes (loading.cpp).
void resolve_subset(DatasetSpec& s, DatasetExtra& x, const DatasetSpec& base, const DatasetExtra& bx,
                    const std::string& origin) {
  auto fail = [&](const std::string& what) {
    throw UserError(origin + ": dataset '" + s.name + "', field 'classes_of': " + what);
  };
  if (!bx.subset_of.empty()) fail("'" + base.name + "' is itself a class subset (of '" + bx.subset_of + "'); name the full dataset");
  if (base.info.num_classes <= 0) fail("'" + base.name + "' has no fixed classes to choose from");
  for (int64_t k : x.subset_classes) {
    if (k >= base.info.num_classes) {
      fail("class " + std::to_string(k) + " is out of range: '" + base.name + "' has classes 0.." +
           std::to_string(base.info.num_classes - 1));
    }
  }
  const ImageShape& given = s.info.shape;
  if (given.channels != 0 &&
      (given.channels != base.info.shape.channels || given.height != base.info.shape.height || given.width != base.info.shape.width)) {
    fail("shape " + dims(given) + " differs from '" + base.name + "' (" + dims(base.info.shape) + "); leave it out");
  }
  s.reader = base.reader;
  s.files = base.files;
  s.default_dir = base.default_dir;
  s.subdir = base.subdir;
  if (s.howto.empty()) s.howto = "the files of '" + base.name + "': " + base.howto;
  s.info.shape = base.info.shape;
  if (s.info.mean.empty()) {
    s.info.mean = base.info.mean;
    s.info.std = base.info.std;
  } else if (static_cast<int64_t>(s.info.mean.size()) != base.info.shape.channels ||
             static_cast<int64_t>(s.info.std.size()) != base.info.shape.channels) {
    fail("its own mean/std need one value per channel of '" + base.name + "' (" +
         std::to_string(base.info.shape.channels) + ")");
  }
  s.info.class_names.clear();
  for (int64_t k : x.subset_classes) {
    s.info.class_names.push_back(static_cast<size_t>(k) < base.info.class_names.size()
                                     ? base.info.class_names[static_cast<size_t>(k)]
                                     : std::to_string(k));
  }
  s.info.num_classes = static_cast<int64_t>(x.subset_classes.size());
  x.base_num_classes = base.info.num_classes;
  x.class_dirs = bx.class_dirs;  // the folder reader labels by the base's class directories
  x.seed = bx.seed;              // a subset of generated data draws the base's images
  x.train_per_class = bx.train_per_class;
  x.test_per_class = bx.test_per_class;
  if (x.layout.empty()) x.layout = bx.layout;
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
    for (size_t i = 0; i < r.specs.size(); ++i) {
      DatasetExtra& x = r.extras[i];
      if (x.subset_of.empty()) continue;
      const std::string origin = x.manifest + ":" + std::to_string(x.line);
      size_t b = 0;
      while (b < r.specs.size() && r.specs[b].name != x.subset_of) ++b;
      if (b == r.specs.size()) {
        throw UserError(origin + ": dataset '" + r.specs[i].name + "', field 'classes_of': unknown dataset '" +
                        x.subset_of + "'");
      }
      resolve_subset(r.specs[i], x, r.specs[b], r.extras[b], origin);
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

}  // namespace

const std::vector<DatasetSpec>& dataset_specs() { return registry().specs; }

const DatasetSpec& dataset_spec(const std::string& name) { return registry().specs[index_of(name)]; }

const DatasetExtra& dataset_extra(const std::string& name) { return registry().extras[index_of(name)]; }

}  // namespace ddb
