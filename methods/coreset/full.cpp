// `full`: the whole training set (the papers' upper-bound row), used with ipc 0.
//
// With TrustDD's oe / poe options (its Appendix Table 11, the whole-dataset upper bounds) the set also
// carries the real outliers T_out as S_out, for the trustdd protocol's CE(T_in) + lambda_oe * H(U; f(T_out)):
//   POE: every corruption applied to the whole training set (K x N images, in random order), as the
//        reference builds its pseudo-outlier pool (method-notes/trustdd.md section 4);
//   OE : classes x num_oe_per_class images of the auxiliary set, the pool a DSA/MTT OE run matches.
// The whole-dataset training recipe is not published (suites/trustdd/a11.yaml note): the protocol's.
#include <map>

#include "methods/common.h"
#include "methods/matching/outlier_exposure.h"

namespace ddb {
namespace {

class FullDataset : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    SyntheticSet s;
    s.images = ctx.data.train.images;
    s.labels = ctx.data.train.labels;
    const OutlierOptions o = outlier_options(ctx.options, ctx.data.info.name);
    if (!o.enabled()) return s;
    // batch_oe sizes a matching method's outlier batches; here the trustdd protocol pairs each training
    // batch with an outlier batch of the same size (eval.batch_train).
    if (o.batch_oe != 256) throw UserError("option batch_oe does not apply to method full (the evaluation's batch_train does)");
    const int64_t classes = ctx.data.info.num_classes;
    OutlierSource source(ctx, o, o.poe ? static_cast<int64_t>(o.corruptions.size()) : classes);
    if (o.poe) {
      std::vector<torch::Tensor> parts;
      for (size_t c = 0; c < o.corruptions.size(); ++c) {
        parts.push_back(source.sample(static_cast<int64_t>(c), ctx.data.train.size()));
        report(ctx.progress, "corrupting the training set", static_cast<long>(c + 1), static_cast<long>(o.corruptions.size()));
      }
      const torch::Tensor pool = torch::cat(parts, 0);
      s.outliers = pool.index_select(0, torch::randperm(pool.size(0), torch::kLong));
    } else {
      s.outliers = source.sample_pool(classes * o.num_oe_per_class);
    }
    s.meta["outliers"] = source.describe();
    s.meta["outliers"]["pool"] = o.poe ? "every corruption of the whole training set" : "the auxiliary set's images";
    s.meta["outliers"]["images"] = s.outliers.size(0);
    return s;
  }
};

// The outlier options, documented for what they mean here (nothing is distilled).
std::vector<OptionSpec> full_outlier_specs() {
  std::vector<OptionSpec> specs = outlier_option_specs();
  const std::map<std::string, std::string> doc = {
      {"oe", "TrustDD OE, whole dataset: the set also carries classes x num_oe_per_class images of the auxiliary "
             "outlier set (oe_data) as S_out, for protocol trustdd's CE + lambda_oe * H(U; f(S_out))"},
      {"poe", "TrustDD POE, whole dataset: the set also carries every corruption (poe_corruptions) of the whole "
              "training set as S_out (K x N images)"},
      {"lambda_oe", "recorded with the set; the training loss's weight is the evaluation's (eval.lambda_oe, 0.5)"},
      {"batch_oe", "not used (the evaluation pairs each batch with an outlier batch of eval.batch_train); only 256"}};
  for (auto& spec : specs)
    if (auto it = doc.find(spec.name); it != doc.end()) spec.doc = it->second;
  return specs;
}

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{"full",
                                   "the whole training set (upper bound; ipc 0); with oe / poe also the real "
                                   "outliers T_out (TrustDD's whole-dataset rows, evaluated with protocol trustdd)",
                                   full_outlier_specs(), [] { return std::make_unique<FullDataset>(); },
                                   /*matching=*/false, /*snapshots=*/false, /*stores_set=*/false,
                                   /*takes_ipc=*/false});

}  // namespace ddb
