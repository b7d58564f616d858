// FYI's unequalness score (Son et al., "FYI: Flip Your Images for Dataset Distillation", ECCV 2024,
// Eq. 5): Score(S) = D_theta(S, Flip(S)), the distillation method's own distance between a set and
// its horizontally flipped copy, averaged over classes. It is 0 for a flip-invariant set (every
// image's mirror image is in the set) and grows as left and right halves carry different patterns.
//
// Distances (option `unequalness_distance`, every matching method accepts it):
//   dm:  ||mean embed(S_c) - mean embed(Flip(S_c))||^2 (DM's per-class term), no augmentation;
//   dc:  the layer-wise gradient-matching distance (`ours`, methods/matching/gradient_distance.h)
//        between the cross-entropy gradients of the network's parameters on S_c and on Flip(S_c);
//   dsa: as dc, both batches first given the same Siamese DSA transform (the dataset's default
//        strategy), as DSA's matching does;
//   "" (default): the method's own, dm for dm/idm, dc for dc, dsa for dsa.
// Each is averaged over K = 10 randomly initialised distillation networks (seeds derived from the
// job seed) and over the classes present in the set. Flip is `fyi_transform` (hflip unless a cell
// selects a variant, as in FYI Fig. 10). The score is taken on the decoded set (what evaluation
// trains on; for a multi-formation set that is the same DM score as on the stored images, since a
// class mean does not depend on piece order and bilinear upsampling commutes with the flip).
#include <random>

#include "harness/augment/dsa.h"
#include "harness/nets/net.h"
#include "harness/set_metrics.h"
#include "methods/matching/distribution_matching.h"
#include "methods/matching/fyi.h"
#include "methods/matching/gradient_distance.h"
#include "methods/matching/seam.h"

namespace ddb {
namespace {

constexpr int kNetworks = 10;

std::string resolve_distance(const json& config) {
  const json options = config.value("options", json::object());
  const std::string given = str_or(options, "unequalness_distance", "");
  const std::string method = str_or(config, "method", "");
  std::string d = given;
  if (d.empty()) {
    if (method == "dm" || method == "idm") d = "dm";
    if (method == "dc" || method == "dsa") d = method;
  }
  if (d != "dm" && d != "dc" && d != "dsa")
    throw UserError("unequalness: option unequalness_distance must be dm, dc or dsa" +
                    (given.empty() ? " (method '" + method + "' has no default distance)" : ", got '" + given + "'"));
  return d;
}

// Hard class of every image (argmax for soft labels).
torch::Tensor hard_labels(const torch::Tensor& labels) { return labels.dim() == 1 ? labels : labels.argmax(1); }

int64_t seed_for(uint64_t job_seed, int k) {
  std::seed_seq seq{static_cast<uint32_t>(job_seed), static_cast<uint32_t>(job_seed >> 32), static_cast<uint32_t>(k),
                    0x0f11u};
  std::mt19937_64 g(seq);
  return static_cast<int64_t>(g() >> 1);
}

double unequalness(const SyntheticSet& set, const LoadedDataset& data, const json& config, uint64_t seed,
                   torch::Device device) {
  const std::string distance = resolve_distance(config);
  const std::string kind = str_or(config.value("options", json::object()), "fyi_transform", "hflip");
  const std::string net_name = str_or(config, "distill_net", "ConvNet");
  const auto& info = data.info;
  const torch::Tensor images = set.images.to(device).detach();
  const torch::Tensor classes = hard_labels(set.labels).to(device);
  const Dsa dsa(Dsa::default_strategy_for(info.name));
  std::mt19937_64 dsa_seeds(seed ^ 0xd5aULL);
  double total = 0;
  int64_t terms = 0;
  for (int k = 0; k < kNetworks; ++k) {
    torch::manual_seed(seed_for(seed, k));
    Net net = make_net(net_name, info.shape, info.num_classes);
    net->to(device);
    net->train();
    const std::vector<torch::Tensor> params = net->parameters();
    for (int64_t c = 0; c < info.num_classes; ++c) {
      const torch::Tensor idx = (classes == c).nonzero().flatten();
      if (idx.numel() == 0) continue;
      torch::Tensor a = images.index_select(0, idx);
      torch::Tensor b = fyi_transform(a, kind);
      if (distance == "dm") {
        torch::NoGradGuard no_grad;
        total += mean_embedding_distance(net->embed(a), net->embed(b)).item<double>();
      } else {
        if (distance == "dsa") {
          const int64_t s = static_cast<int64_t>(dsa_seeds() % 100000);
          a = dsa(a, s);
          b = dsa(b, s);
        }
        const torch::Tensor y = torch::full({a.size(0)}, c, torch::TensorOptions().dtype(torch::kLong).device(device));
        const auto grads = [&](const torch::Tensor& x) {
          return torch::autograd::grad({torch::nn::functional::cross_entropy(net->forward(x), y)}, params);
        };
        const auto ga = grads(a), gb = grads(b);
        for (const auto& t : gradient_distance_terms(ga, gb, "ours")) total += t.item<double>();
      }
      ++terms;
    }
  }
  if (terms == 0) throw UserError("unequalness: the synthetic set is empty");
  return total / static_cast<double>(terms);
}

}  // namespace

DDBENCH_REGISTER_SET_METRIC(MetricInfo{"unequalness", false, "", "FYI: method distance between a set and its flipped copy (a set metric)"},
                           unequalness);

// Declares `unequalness_distance` on every matching method. A modifier entry that is never enabled:
// the option changes what the unequalness metric measures, not how the method distills.
DDBENCH_REGISTER_MODIFIER(ModifierInfo{
    "unequalness",
    "FYI unequalness score (metric `unequalness`): which distance it uses; distillation is unchanged",
    {{"unequalness_distance", "string", "",
      "metric unequalness: dm | dc | dsa distance between the set and its flip; empty = the method's own"}},
    [](const Options&) { return false; },
    [](const Options&) -> std::unique_ptr<MatchingModifier> { return nullptr; }});

}  // namespace ddb
