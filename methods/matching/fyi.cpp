// FYI ("Flip Your Images", arXiv 2407.08113): during matching only, each synthetic batch is
// concatenated with its horizontally flipped copy (labels duplicated), so the loss sees both and the
// gradient reaches the stored images through both (cvlab-yonsei/FYI `BatchAug`). Evaluation trains on
// the stored set as usual. Table 4's variants swap the flip for another fixed transform.
#include <cmath>

#include "harness/augment/dsa.h"
#include "methods/matching/fyi.h"
#include "methods/matching/seam.h"

namespace ddb {

torch::Tensor fyi_transform(const torch::Tensor& images, const std::string& kind) {
  if (kind == "hflip") return torch::flip(images, {-1});
  if (kind == "vflip") return torch::flip(images, {-2});
  if (kind == "rotate15" || kind == "scale1.2") {
    const double a = kind == "rotate15" ? 15.0 * M_PI / 180.0 : 0.0;
    const double s = kind == "scale1.2" ? 1.2 : 1.0;
    // The same affine_grid/grid_sample convention as DSA's scale and rotate (bilinear, zeros).
    const torch::Tensor theta = torch::tensor({{{s * std::cos(a), -s * std::sin(a), 0.0},
                                                {s * std::sin(a), s * std::cos(a), 0.0}}},
                                              torch::kFloat32);
    return dsa::affine(images, theta.to(images.device()).expand({images.size(0), 2, 3}).contiguous());
  }
  throw UserError("option fyi_transform must be hflip, vflip, rotate15 or scale1.2, got '" + kind + "'");
}

namespace {

class FlipYourImages : public MatchingModifier {
 public:
  explicit FlipYourImages(std::string kind) : kind_(std::move(kind)) {
    fyi_transform(torch::zeros({1, 1, 4, 4}), kind_);  // reject an unknown kind before any work
  }
  SynBatch transform_synthetic(SynBatch b) const override {
    b.images = torch::cat({b.images, fyi_transform(b.images, kind_)}, 0);
    b.labels = torch::cat({b.labels, b.labels}, 0);
    return b;
  }
  // FYI's DC/DSA code passes batch_aug to the inner loop's utils.epoch too: every training batch of the
  // synthetic set is concatenated with its flip there as well. (It also halves batch_train; the suites
  // give that halved value, so the option is not changed here.)
  SynBatch transform_inner_batch(SynBatch b) const override { return transform_synthetic(std::move(b)); }

 private:
  std::string kind_;
};

}  // namespace

DDBENCH_REGISTER_MODIFIER(ModifierInfo{
    "fyi",
    "FYI: match each synthetic batch concatenated with its flipped copy (labels duplicated)",
    {{"fyi", "bool", false, "FYI: concatenate each synthetic batch with its flip inside the matching loss"},
     {"fyi_transform", "string", "hflip", "FYI's transform: hflip (the paper) | vflip | rotate15 | scale1.2"}},
    [](const Options& o) { return o.flag("fyi"); },
    [](const Options& o) { return std::make_unique<FlipYourImages>(o.str("fyi_transform")); }});

}  // namespace ddb
