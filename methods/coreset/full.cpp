// `full`: the whole training set (the papers' upper-bound row), used with ipc 0.
#include "methods/common.h"

namespace ddb {
namespace {

class FullDataset : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    SyntheticSet s;
    s.images = ctx.data.train.images;
    s.labels = ctx.data.train.labels;
    return s;
  }
};

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{"full", "the whole training set (upper bound; use ipc 0)", {},
                                   [] { return std::make_unique<FullDataset>(); }});

}  // namespace ddb
