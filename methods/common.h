// Pieces several methods share: real-image initialisation, class-ordered labels, feature extraction.
#pragma once
#include "harness/nets/net.h"
#include "harness/teacher.h"
#include "methods/method.h"

namespace ddb {

// ipc random real images per class, class-major order (labels 0..0,1..1,...), like the reference's
// `image_syn.data[c*ipc:(c+1)*ipc] = get_images(c, ipc)`.
SyntheticSet real_init(const LoadedDataset& data, int64_t ipc);
// Gaussian-noise initialisation (the reference's torch.randn) with class-major labels.
SyntheticSet noise_init(const DatasetInfo& info, int64_t ipc);
torch::Tensor class_major_labels(int64_t num_classes, int64_t ipc);

// Embeddings of `images` under `net`, in batches, no grad.
torch::Tensor embed_all(NetImpl& net, const torch::Tensor& images, torch::Device device, int64_t batch = 256);

// Teacher-guided methods (rded, sre2l): options teacher_net (empty: the distillation net) and
// teacher_epochs appended to `options`, and the TeacherSpec they give -- the kd protocol's teacher for
// the same net and epochs, so both use the same cached file (harness/teacher.h).
std::vector<OptionSpec> with_teacher_options(std::vector<OptionSpec> options, const std::string& net_note = "");
TeacherSpec teacher_spec_of(const DistillContext& ctx);

// Throws Diverged when a loss is not finite.
void check_finite(double loss, const std::string& what, int64_t iteration);

}  // namespace ddb
