#include "methods/matching/outlier_exposure.h"

#include <ATen/core/Generator.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "harness/augment/poe_corruptions.h"
#include "harness/normalisation.h"
#include "harness/ood_sets.h"

namespace ddb {

std::vector<OptionSpec> outlier_option_specs() {
  std::vector<OptionSpec> specs{
      {"oe", "bool", false,
       "TrustDD OE: distil unlabelled outliers S_out (|S_out| = |S_in|) matched to a real auxiliary outlier set "
       "(oe_data); the matching follows the official code: S_in and S_out matched separately (CE gradients / "
       "H(U;f) gradients), one pixel optimiser each"},
      {"poe", "bool", false,
       "TrustDD POE: as oe, with pseudo-outliers made by corrupting the training images (poe_corruptions); no "
       "auxiliary data"},
      {"lambda_oe", "float", 0.5, "weight of H(U; f(S_out)) in the network's training loss CE(S_in) + lambda_oe * H"},
      {"batch_oe", "int", 256,
       "real outliers per slot per outer step (reference --batch_oe); trajectory methods: real outliers beside each "
       "real batch of the experts' training"},
      {"oe_data", "string", "",
       "OE: the auxiliary outlier dataset (random300k in the paper; any dataset name or gaussian-noise / "
       "uniform-noise); it must not be one of the evaluation's OOD test sets"},
      {"num_oe_per_class", "int", 10000, "OE: auxiliary images per outlier slot, disjoint blocks (reference main_oe.py)"},
      {"poe_corruptions", "list", json::array(),
       "POE: corruptions, slot c uses entry c % K (jigsaw, invert, mosaic, speckle, flip, hflip, vflip); empty = "
       "jigsaw, invert, mosaic, speckle (digits: flip for invert)"}};
  for (auto& s : specs) s.neutral_default = true;
  return specs;
}

OutlierOptions outlier_options(const Options& o, const std::string& dataset) {
  OutlierOptions x;
  x.oe = o.flag("oe");
  x.poe = o.flag("poe");
  x.lambda_oe = o.real("lambda_oe");
  x.batch_oe = o.integer("batch_oe");
  x.oe_data = o.str("oe_data");
  x.num_oe_per_class = o.integer("num_oe_per_class");
  x.corruptions = o.strings("poe_corruptions");
  if (x.oe && x.poe) throw UserError("options oe and poe exclude each other (one outlier source per set)");
  if (x.oe && x.oe_data.empty()) throw UserError("option oe needs oe_data (the auxiliary outlier dataset)");
  if (!x.oe && !x.oe_data.empty()) throw UserError("option oe_data is given but oe is off");
  if (x.lambda_oe < 0) throw UserError("option lambda_oe must be >= 0");
  if (x.enabled() && x.batch_oe < 1) throw UserError("option batch_oe must be >= 1");
  if (x.oe && x.num_oe_per_class < 1) throw UserError("option num_oe_per_class must be >= 1");
  if (x.poe && x.corruptions.empty()) x.corruptions = poe_corruption_set(poe_domain_for(dataset));
  for (const auto& c : x.corruptions) {
    const auto& names = poe_corruption_names();
    if (std::find(names.begin(), names.end(), c) == names.end()) {
      std::string valid;
      for (const auto& n : names) valid += (valid.empty() ? "" : ", ") + n;
      throw UserError("poe_corruptions: unknown corruption '" + c + "'; valid: " + valid);
    }
  }
  if (!x.poe && !o.strings("poe_corruptions").empty()) throw UserError("option poe_corruptions is given but poe is off");
  return x;
}

OutlierSource::OutlierSource(const DistillContext& ctx, const OutlierOptions& o, int64_t slots)
    : data_(ctx.data), o_(o), slots_(slots), gen_(at::make_generator<at::CPUGeneratorImpl>(ctx.seed ^ 0x0e0e0e0eULL)) {
  if (o.poe) corruptions_ = o.corruptions;
  if (o.oe) {
    const OodImages aux = load_aux_outliers(o.oe_data, ctx.data, slots * o.num_oe_per_class, ctx.seed, ctx.load);
    aux_ = aux.images;
    aux_identity_ = aux.identity;
    block_ = aux_.size(0) / slots;
    if (block_ < 1)
      throw UserError("OE: auxiliary set " + o.oe_data + " has " + std::to_string(aux_.size(0)) + " images, fewer than " +
                      std::to_string(slots) + " outlier slots");
  }
}

torch::Tensor OutlierSource::sample(int64_t slot, int64_t n) {
  if (o_.oe) {
    const torch::Tensor idx = torch::randperm(block_, torch::kLong).narrow(0, 0, std::min(n, block_)) + slot * block_;
    return aux_.index_select(0, idx);
  }
  const int64_t total = data_.train.size();
  const torch::Tensor idx = torch::randperm(total, torch::kLong).narrow(0, 0, std::min(n, total));
  // The reference corrupts [0,1] images, then normalises (gen_ood_loader_cifar.py).
  const torch::Tensor pixels =
      undo_normalisation(data_.train.images.index_select(0, idx), data_.info, /*snap_to_8bit=*/false).clamp(0, 1);
  const std::string& name = corruptions_[static_cast<size_t>(slot) % corruptions_.size()];
  const PoeBatch b = apply_poe_corruption(name, pixels, data_.train.labels.index_select(0, idx), gen_);
  return apply_normalisation(b.images, data_.info).contiguous();
}

torch::Tensor OutlierSource::sample_pool(int64_t n) {
  if (o_.oe) {
    const int64_t total = block_ * slots_;
    const torch::Tensor idx = torch::randperm(total, torch::kLong).narrow(0, 0, std::min(n, total));
    return aux_.index_select(0, idx);
  }
  // Each image one corruption, drawn uniformly; the groups are corrupted together and shuffled back.
  const int64_t k = static_cast<int64_t>(corruptions_.size());
  const torch::Tensor which = torch::randint(0, k, {n}, torch::kLong);
  std::vector<torch::Tensor> parts;
  for (int64_t c = 0; c < k; ++c) {
    const int64_t m = which.eq(c).sum().item<int64_t>();
    if (m > 0) parts.push_back(sample(c, m));
  }
  const torch::Tensor all = torch::cat(parts, 0);
  return all.index_select(0, torch::randperm(all.size(0), torch::kLong));
}

json OutlierSource::identity() const {
  if (o_.oe) return {{"kind", "oe"}, {"oe_data", o_.oe_data}, {"identity", aux_identity_}, {"images", block_ * slots_}};
  return {{"kind", "poe"}, {"corruptions", corruptions_}, {"dataset", data_.identity}};
}

json OutlierSource::describe() const {
  if (o_.oe)
    return {{"kind", "oe"}, {"oe_data", o_.oe_data}, {"identity", aux_identity_}, {"per_slot", block_},
            {"lambda_oe", o_.lambda_oe}, {"matching", "separate (official code)"}};
  return {{"kind", "poe"}, {"corruptions", corruptions_}, {"lambda_oe", o_.lambda_oe},
          {"matching", "separate (official code)"},
          {"pool", "corrupted on the fly from random training images (the reference corrupts the whole training set "
                   "once; speckle noise is therefore fresh per draw here)"}};
}

torch::Tensor outlier_init(OutlierSource& source, const DatasetInfo& info, int64_t ipc, bool real) {
  if (!real) return torch::randn({info.num_classes * ipc, info.shape.channels, info.shape.height, info.shape.width});
  std::vector<torch::Tensor> parts;
  for (int64_t c = 0; c < info.num_classes; ++c) {
    torch::Tensor x = source.sample(c, ipc);
    // Digit flips drop some digits: draw again until the slot is full.
    for (int tries = 0; x.size(0) < ipc && tries < 100; ++tries) x = torch::cat({x, source.sample(c, ipc)}, 0);
    if (x.size(0) < ipc) throw UserError("outlier slot " + std::to_string(c) + ": could not draw " + std::to_string(ipc) + " outliers");
    parts.push_back(x.narrow(0, 0, ipc));
  }
  return torch::cat(parts, 0).clone();
}

}  // namespace ddb
