#include "methods/common.h"

#include <cmath>

#include "harness/nets/net.h"
#include "harness/train.h"

namespace ddb {

torch::Tensor class_major_labels(int64_t num_classes, int64_t ipc) {
  return torch::arange(num_classes, torch::kLong).repeat_interleave(ipc);
}

SyntheticSet real_init(const LoadedDataset& data, int64_t ipc) {
  std::vector<torch::Tensor> parts;
  for (int64_t c = 0; c < data.info.num_classes; ++c) {
    parts.push_back(data.sample_class(c, ipc));
    if (parts.back().size(0) < ipc)  // sampling is without replacement, as in the references
      throw UserError("real initialisation: class " + std::to_string(c) + " of " + data.info.name + " has only " +
                      std::to_string(parts.back().size(0)) + " training images, fewer than IPC " + std::to_string(ipc));
  }
  SyntheticSet s;
  s.images = torch::cat(parts, 0).clone();
  s.labels = class_major_labels(data.info.num_classes, ipc);
  return s;
}

SyntheticSet noise_init(const DatasetInfo& info, int64_t ipc) {
  SyntheticSet s;
  s.images = torch::randn({info.num_classes * ipc, info.shape.channels, info.shape.height, info.shape.width});
  s.labels = class_major_labels(info.num_classes, ipc);
  return s;
}

torch::Tensor embed_all(NetImpl& net, const torch::Tensor& images, torch::Device device, int64_t batch) {
  return map_batches(net, images, device, batch, [&net](const torch::Tensor& x) { return net.embed(x); });
}

void check_finite(double loss, const std::string& what, int64_t iteration) {
  if (!std::isfinite(loss))
    throw Diverged(what + " loss became " + std::to_string(loss) + " at iteration " + std::to_string(iteration));
}

std::vector<OptionSpec> with_teacher_options(std::vector<OptionSpec> options, const std::string& net_note) {
  options.push_back({"teacher_net", "string", "",
                     "the teacher's net (default: the distillation net" + (net_note.empty() ? "" : "; " + net_note) +
                         "); the kd protocol's teacher for the same net and epochs is the same cached file"});
  options.push_back({"teacher_epochs", "int", 50, "epochs the teacher trains on the real training split (harness/teacher.h)"});
  return options;
}

TeacherSpec teacher_spec_of(const DistillContext& ctx) {
  TeacherSpec ts;
  ts.net = ctx.options.str("teacher_net").empty() ? ctx.net : ctx.options.str("teacher_net");
  ts.epochs = ctx.options.integer("teacher_epochs");
  return ts;
}

}  // namespace ddb
