// TrustDD's outlier exposure inside a matching method (Ma et al., "Towards Trustworthy Dataset
// Distillation"; official code mashijie1028/TrustDD main_oe.py / main_poe.py). Beside the labelled set
// S_in the method distils S_out, unlabelled synthetic outliers: the network it trains on S uses
// CE(S_in) + lambda_oe * H(U; f(S_out)), and S_out's pixels are matched to real outliers T_out:
//   OE : T_out = a real auxiliary outlier set (300K Random Images in the paper; `oe_data`)
//   POE: T_out = corrupted in-distribution training images (jigsaw, invert, mosaic, speckle; digits
//        get flip instead of invert), outlier slot c tied to corruption c % K as in the code.
// The matching term follows the official code, not the paper's Eq. 10: InD and outliers are matched
// separately (loss_cls on S_in with CE gradients; loss_oe on S_out with the gradients of H(U; f)),
// each with its own pixel optimiser; lambda_oe enters the network's training loss only.
// Notes: ../shared/method-notes/trustdd.md sections 3-4.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "methods/method.h"

namespace ddb {

struct OutlierOptions {
  bool oe = false;
  bool poe = false;
  double lambda_oe = 0.5;
  int64_t batch_oe = 256;
  std::string oe_data;                    // OE: the auxiliary outlier dataset
  int64_t num_oe_per_class = 10000;       // OE: auxiliary images per outlier slot (disjoint blocks)
  std::vector<std::string> corruptions;   // POE: one per slot, cyclically; empty = the domain's set
  bool enabled() const { return oe || poe; }
};

// The options every method that implements outlier exposure declares (all neutral at their defaults).
std::vector<OptionSpec> outlier_option_specs();
// From resolved options; UserError for oe together with poe, oe without oe_data, an unknown corruption.
OutlierOptions outlier_options(const Options& options, const std::string& dataset);

// The real outliers T_out, slot by slot, in the in-distribution's normalised space.
class OutlierSource {
 public:
  // slots: the number of outlier slots (classes of S_in). For OE the auxiliary set is loaded here
  // (ctx.load says where; missing -> DatasetMissing naming where it looked).
  OutlierSource(const DistillContext& ctx, const OutlierOptions& options, int64_t slots);
  // n real outliers for slot c, drawn with the global torch RNG (the reference's np.random.permutation):
  //   POE: n random images of the whole training set, un-normalised, corrupted with the slot's
  //        corruption, normalised again (digit flips leave some digits out, so fewer may come back);
  //   OE : n random images of the slot's block of the auxiliary set.
  torch::Tensor sample(int64_t slot, int64_t n);
  // n real outliers of the whole pool, every slot's source mixed (TrustDD's T_out as one loader: POE's
  // corruptions of the whole training set, OE's whole auxiliary set): expert training (Eq. 10).
  torch::Tensor sample_pool(int64_t n);
  // For the set's metadata: what T_out is.
  json describe() const;
  // What T_out is, for keys (the expert cache): the source and its settings, no prose.
  json identity() const;

 private:
  const LoadedDataset& data_;
  OutlierOptions o_;
  int64_t slots_;
  std::vector<std::string> corruptions_;  // POE
  torch::Tensor aux_;                     // OE: the auxiliary images, normalised
  int64_t block_ = 0;                     // OE: images per slot
  std::string aux_identity_;
  at::Generator gen_;                     // speckle noise and flip directions
};

// S_out's initialisation: `ipc` outliers of each slot (init real) or Gaussian noise, slot-major.
torch::Tensor outlier_init(OutlierSource& source, const DatasetInfo& info, int64_t ipc, bool real);

}  // namespace ddb
