#include "harness/report/synset_grid.h"

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "datasets/codec.h"
#include "datasets/registry.h"
#include "datasets/spec.h"
#include "harness/normalisation.h"
#include "harness/synset_io.h"
#include "harness/zca.h"

namespace ddb {
namespace {

// The whitening of a dataset (fit once per process): what with_zca fits, on the ToTensor() values of the
// train split.
const ZcaTransform* zca_of(const std::string& dataset, const std::string& data_root, std::string& why) {
  static std::map<std::string, std::unique_ptr<ZcaTransform>> cache;
  static std::map<std::string, std::string> errors;
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  const std::string key = dataset + "|" + data_root;
  if (cache.count(key)) return cache[key].get();
  if (errors.count(key)) { why = errors[key]; return nullptr; }
  try {
    LoadOptions lo;
    lo.data_root = data_root;
    const LoadedDataset ds = load_dataset(dataset, lo);
    auto t = std::make_unique<ZcaTransform>(fit_zca(undo_normalisation(ds.train.images, ds.info)));
    return (cache[key] = std::move(t)).get();
  } catch (const std::exception& e) {
    why = errors[key] = e.what();
    return nullptr;
  }
}

}  // namespace

GridImage write_synset_grid(const std::string& synset_path, const std::string& dataset, bool zca,
                            const std::string& png_path, const GridOptions& opts) {
  GridImage g;
  try {
    if (synset_path.empty()) {  // a method that keeps no file (`full`: the training split itself)
      g.note = "no file kept for this set (the method's set is the training data)";
      return g;
    }
    if (!std::filesystem::exists(synset_path)) {
      g.note = "the set's file is not on this machine (" + synset_path + ")";
      return g;
    }
    torch::NoGradGuard ng;
    const SyntheticSet set = load_synset(synset_path);
    torch::Tensor x = set.images.to(torch::kCPU, torch::kFloat32);
    const DatasetInfo& info = dataset_spec(dataset).info;
    std::string notes;
    if (zca) {
      std::string why;
      if (const ZcaTransform* t = zca_of(dataset, opts.data_root, why)) {
        x = t->invert(x);  // the whitening was fit on [0, 1] pixels: its inverse gives them back
        notes = "ZCA whitening undone (inverse of the whitening fit on the train split)";
      } else {
        // Whitened values drawn as they are, stretched per image: the grid still shows structure.
        const auto flat = x.flatten(1);
        const auto lo = std::get<0>(flat.min(1)).view({-1, 1, 1, 1}), hi = std::get<0>(flat.max(1)).view({-1, 1, 1, 1});
        x = (x - lo) / (hi - lo).clamp_min(1e-8);
        notes = "ZCA not undone (the dataset, needed to fit the inverse, could not be loaded: " + why.substr(0, 200) +
                "); whitened images shown stretched per image";
      }
    } else {
      x = undo_normalisation(x, info, false);
      notes = info.mean.empty() ? "no normalisation to undo" : "de-normalised with the dataset's mean/std";
    }
    x = x.clamp(0, 1);
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    torch::Tensor labels = set.labels.dim() == 2 ? set.labels.argmax(1) : set.labels;
    labels = labels.to(torch::kCPU, torch::kLong);
    const int64_t classes = labels.numel() ? labels.max().item<int64_t>() + 1 : 0;
    const int64_t rows = std::min<int64_t>(classes, opts.max_classes);
    std::vector<std::vector<int64_t>> per_class(static_cast<size_t>(rows));
    int64_t most = 0;
    const auto la = labels.accessor<int64_t, 1>();
    for (int64_t i = 0; i < n; ++i)
      if (la[i] >= 0 && la[i] < rows && static_cast<int64_t>(per_class[la[i]].size()) < opts.max_ipc) {
        per_class[la[i]].push_back(i);
        most = std::max<int64_t>(most, static_cast<int64_t>(per_class[la[i]].size()));
      }
    if (rows == 0 || most == 0) {
      g.note = "the set holds no images";
      return g;
    }
    const int64_t ch = c == 1 ? 1 : 3, pad = opts.pad;
    g.rows = rows, g.cols = most;
    g.width = most * w + (most + 1) * pad;
    g.height = rows * h + (rows + 1) * pad;
    std::vector<uint8_t> px(static_cast<size_t>(g.width * g.height * ch), 255);
    const auto u8 = (x * 255).round().to(torch::kUInt8).contiguous();
    const auto a = u8.accessor<uint8_t, 4>();
    for (int64_t r = 0; r < rows; ++r)
      for (size_t k = 0; k < per_class[r].size(); ++k) {
        const int64_t i = per_class[r][k], ox = pad + static_cast<int64_t>(k) * (w + pad), oy = pad + r * (h + pad);
        for (int64_t yy = 0; yy < h; ++yy)
          for (int64_t xx = 0; xx < w; ++xx)
            for (int64_t cc = 0; cc < ch; ++cc)
              px[static_cast<size_t>(((oy + yy) * g.width + ox + xx) * ch + cc)] = a[i][c == 1 ? 0 : std::min(cc, c - 1)][yy][xx];
      }
    std::filesystem::create_directories(std::filesystem::path(png_path).parent_path());
    encode_png(png_path, g.width, g.height, ch, px);
    if (classes > rows) notes += "; first " + std::to_string(rows) + " of " + std::to_string(classes) + " classes";
    if (n / std::max<int64_t>(classes, 1) > most) notes += "; first " + std::to_string(most) + " images per class";
    g.note = notes;
    g.ok = true;
  } catch (const std::exception& e) {
    g.note = std::string("not drawn: ") + e.what();
    g.ok = false;
  }
  return g;
}

}  // namespace ddb
