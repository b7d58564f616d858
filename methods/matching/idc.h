// IDC's distillation loop (idc.cpp), shared with the variants that change only which real images it
// uses (DREAM: methods/matching/dream.cpp picks k-means representatives instead of random draws).
#pragma once
#include <vector>

#include "harness/nets/net.h"
#include "methods/method.h"

namespace ddb {

// Chooses the real images IDC matches (and, optionally, those that initialise the set). One object per
// distillation: it may keep state between calls (DREAM re-clusters every `interval` inner steps).
class IdcRealSampler {
 public:
  virtual ~IdcRealSampler() = default;
  // True: init_images() picks the initial set's real images, with the network that then serves the
  // first outer iteration (DREAM builds that network before initialising, condense.py l.517, 601).
  virtual bool selects_init() const { return false; }
  // `n` real images of class c, normalised, in the order IDC's init places them (random / mix cells).
  virtual torch::Tensor init_images(int64_t /*c*/, int64_t /*n*/, NetImpl& /*net*/) { return {}; }
  // The real batch (normalised, any device) matched against class c's synthetic images at inner step
  // `step` (0-based within the outer iteration), under the current network `net`.
  virtual torch::Tensor real_batch(int64_t c, int64_t step, NetImpl& net) = 0;
  // What the set's metadata records about the sampler (meta.real_sampler).
  virtual json describe() const { return json(); }
};

// IDC's option schema (the `idc` method's), for variants that register under another name.
std::vector<OptionSpec> idc_option_specs();
// IDC's distillation; `sampler` null = IDC itself (random real batches and init draws, bit for bit).
SyntheticSet idc_distill(const DistillContext& ctx, IdcRealSampler* sampler);
// IDC's multi-formation decode of a stored set (decode_zoom per image, labels repeated per crop).
SyntheticSet idc_decode(const SyntheticSet& stored, const Options& options);

}  // namespace ddb
