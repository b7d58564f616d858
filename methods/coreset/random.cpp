// `random`: ipc real training images per class, drawn with the run's seed.
#include "methods/common.h"

namespace ddb {
namespace {

class RandomSelection : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override { return real_init(ctx.data, ctx.ipc); }
};

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{"random", "random real images per class (coreset baseline)", {},
                                   [] { return std::make_unique<RandomSelection>(); }});

}  // namespace ddb
