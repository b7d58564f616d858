// An image grid of a distilled set as a PNG (libpng): the HTML site's picture of each set. Images are
// taken back to pixels with the dataset's mean/std (harness/normalisation.h); a set distilled on
// ZCA-whitened data (its method's `zca` option) is un-whitened with the inverse of the whitening fit on the
// dataset's train split (harness/zca.h) when the dataset is on this machine, otherwise drawn as stored and
// the note says so.
#pragma once
#include <cstdint>
#include <string>

namespace ddb {

struct GridOptions {
  int max_classes = 10;   // rows (classes 0..max_classes-1)
  int max_ipc = 10;       // columns (the first max_ipc images of each class)
  int pad = 2;            // pixels between images
  std::string data_root;  // where the dataset is looked for (ZCA inverse only)
};

struct GridImage {
  bool ok = false;
  int64_t width = 0, height = 0, rows = 0, cols = 0;
  std::string note;  // what was done ("ZCA undone", "ZCA not undone: ...", "first 10 of 100 classes"), or why not drawn
};

// Reads the set at `synset_path` (load_synset) and writes the grid to `png_path`. Never throws for a bad or
// missing file: ok = false and the note says why.
GridImage write_synset_grid(const std::string& synset_path, const std::string& dataset, bool zca,
                            const std::string& png_path, const GridOptions& opts = {});

}  // namespace ddb
