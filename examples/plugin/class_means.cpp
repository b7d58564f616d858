// An out-of-tree method for ddbench, as a plugin: `class_means`, each synthetic image the mean of a
// disjoint random group of real images of its class (a baseline between random real images and the
// class centroid). Build it against an installed ddbench (see README.md next to this file) and run
//   ddbench --plugin ./libddbench_class_means.so distill --method class_means --dataset fashion-mnist --ipc 10 --out s.pt
#include "core/plugin_abi.h"
#include "methods/method.h"

DDBENCH_PLUGIN("class_means example")

namespace {

class ClassMeans : public ddb::Method {
 public:
  ddb::SyntheticSet distill(const ddb::DistillContext& ctx) override {
    const auto& data = ctx.data;
    const int64_t group = ctx.options.integer("group");
    std::vector<torch::Tensor> images;
    for (int64_t c = 0; c < data.info.num_classes; ++c) {
      // ipc * group distinct images of class c (fewer if the class is small), split into ipc groups.
      const torch::Tensor pool = data.sample_class(c, ctx.ipc * group);
      if (pool.size(0) < ctx.ipc) throw ddb::UserError("class_means: class " + std::to_string(c) + " has fewer than IPC images");
      for (const auto& chunk : pool.chunk(ctx.ipc, 0)) images.push_back(chunk.mean(0, /*keepdim=*/true));
    }
    ddb::SyntheticSet s;
    s.images = torch::cat(images, 0);
    s.labels = torch::arange(data.info.num_classes, torch::kLong).repeat_interleave(ctx.ipc);
    s.meta["group"] = group;
    return s;
  }
};

}  // namespace

DDBENCH_REGISTER_METHOD(ddb::MethodInfo{
    "class_means",
    "example plugin: each synthetic image is the mean of `group` random real images of its class",
    {{"group", "int", 8, "real images averaged into each synthetic image"}},
    [] { return std::make_unique<ClassMeans>(); }});
