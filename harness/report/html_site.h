// The static HTML leaderboard site (`ddbench report SUITES --format html --out DIR`): self-contained
// pages (no CDN, no external file but its own, works from file://):
//   index.html        one leaderboard per (dataset, IPC): methods ranked by reproduced accuracy, the paper's
//                     value, verdict, n, kind (in-tree / submitted / quoted-only), a provenance link and
//                     the set's image grid; SVG plots (accuracy vs IPC, reproduced vs paper, pass/fail per
//                     paper table); tables sortable by a small inline script (click a header, or
//                     index.html?sort=KEY[:desc]).
//   suite-N-ID.html   every cell of one suite (a paper's table) with its status and reason.
//   rows.html         one anchor per row: commit, protocol, seeds, store keys.
//   grids/HASH.png    the distilled set as an image grid (harness/report/synset_grid.h).
//   plots/*.svg       the plots as files.
// Every string from a suite, the store or a submission goes through html_escape (reporter.h).
#pragma once
#include <string>
#include <vector>

#include "harness/report/reporter.h"
#include "harness/store.h"

namespace ddb {

struct SiteOptions {
  bool grids = true;      // draw the image grids (needs the sets' files)
  int grid_max_classes = 10;
  int grid_max_ipc = 10;
  std::string data_root;  // for ZCA inverses
};

struct SiteSummary {
  int leaderboards = 0, rows = 0, grids = 0;
  std::vector<std::string> files;  // written, relative to the site folder
};

SiteSummary write_html_site(const ReportInput& in, const Store& store, const std::string& dir, const SiteOptions& opts = {});

}  // namespace ddb
