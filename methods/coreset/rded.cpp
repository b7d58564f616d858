// `rded`: Realistic and Diverse Dataset Distillation (Sun et al., CVPR 2024), the "Eval. w/ KD" baseline
// of EDF's Table 1 and Appendix Table 10. No optimisation: per class, random crops of real images are
// scored by a teacher, the most confidently classified are kept, and factor x factor of them are stitched
// into each synthetic image. Its sets are meant for the `kd` protocol (the teacher relabels them during
// evaluation); the stored labels are the classes. Facts read from LINs-lab/RDED @31f9117 (our code):
//   synthesize/main.py init_images: per class, `mipc` training images (validation/utils.py ImageFolder
//     with shuffle=True: a random draw of the class's files); every image cut into `num_crop` crops by
//     synthesize/utils.py MultiRandomCrop: RandomResizedCrop(input_size // factor, ratio (1, 1), scale
//     torchvision's (0.08, 1)) -- square crops of a side factor times smaller than the image.
//   utils.py selector: each crop zero-padded (centred; in normalised space) to the full size and scored
//     by the teacher, score = -log softmax(teacher(crop))[class]; per image the lowest-scoring crop; of
//     those, the n = ipc x factor^2 lowest in ascending order.
//   utils.py mix_images: synthetic image i (of ipc) has, at grid cell k = row x factor + col, crop
//     k x ipc + i, resized (nearest) to the cell (cells of side out // factor, the first out % factor rows
//     and columns one pixel larger).
//   scripts/imagenet-nette_10ipc_conv5_to_conv5_cr5.sh (ImageNette/ImageWoof with conv5, the EDF
//     cells): factor 2, num_crop 5, mipc 300 -- our defaults.
//   The reference writes the images as JPEG files (uint8, lossy) and reads them back; we keep the float
//   images (no quantisation, no compression).
// The teacher: harness/teacher.h, the one the kd protocol uses for the same net and epochs (so they
// share the cached file): teacher_net (default: the distillation net) and teacher_epochs.
#include "harness/augment/imagenet_transform.h"
#include "harness/teacher.h"
#include "methods/common.h"

namespace ddb {
namespace {

// Zero-pads [N, C, h, w] crops to [N, C, H, W], centred as utils.py pad (the extra pixel after).
torch::Tensor pad_centred(const torch::Tensor& crops, int64_t h, int64_t w) {
  const int64_t dv = h - crops.size(2), dh = w - crops.size(3);
  return torch::constant_pad_nd(crops, {dh / 2, dh - dh / 2, dv / 2, dv - dv / 2}, 0.0);
}

// mix_images: ipc images of out_h x out_w from factor^2 x ipc crops in score order.
torch::Tensor stitch(const torch::Tensor& crops, int64_t ipc, int64_t factor, int64_t out_h, int64_t out_w) {
  namespace F = torch::nn::functional;
  torch::Tensor out = torch::zeros({ipc, crops.size(1), out_h, out_w}, crops.options());
  int64_t k = 0, top = 0;
  for (int64_t row = 0; row < factor; ++row) {
    const int64_t ch = out_h / factor + (row < out_h % factor ? 1 : 0);
    int64_t left = 0;
    for (int64_t col = 0; col < factor; ++col, ++k) {
      const int64_t cw = out_w / factor + (col < out_w % factor ? 1 : 0);
      torch::Tensor part = crops.narrow(0, k * ipc, ipc);
      if (part.size(2) != ch || part.size(3) != cw)
        part = F::interpolate(part, F::InterpolateFuncOptions().size(std::vector<int64_t>{ch, cw}).mode(torch::kNearest));
      out.narrow(2, top, ch).narrow(3, left, cw).copy_(part);
      left += cw;
    }
    top += ch;
  }
  return out;
}

class Rded : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    const int64_t factor = ctx.options.integer("factor"), num_crop = ctx.options.integer("num_crop"),
                  mipc = ctx.options.integer("mipc");
    if (factor < 1 || num_crop < 1 || mipc < 1) throw UserError("rded: factor, num_crop and mipc must be >= 1");
    const LoadedDataset& data = ctx.data;
    const int64_t h = data.info.shape.height, w = data.info.shape.width, classes = data.info.num_classes;
    const int64_t keep = ctx.ipc * factor * factor;
    if (mipc < keep)
      throw UserError("rded: mipc " + std::to_string(mipc) + " real images per class give fewer crops than ipc x factor^2 = " +
                      std::to_string(keep));
    const TeacherSpec ts = teacher_spec_of(ctx);
    const Teacher teacher = load_or_train_teacher(ctx.cache_dir, data, ts, ctx.device, ctx.progress);

    ImagenetTransformParams crop;  // MultiRandomCrop: RandomResizedCrop(size // factor, ratio (1, 1))
    crop.scale_min = 0.08;
    crop.scale_max = 1.0;
    crop.ratio_min = crop.ratio_max = 1.0;
    const int64_t side_h = h / factor, side_w = w / factor;
    std::vector<torch::Tensor> images;
    for (int64_t c = 0; c < classes; ++c) {
      const torch::Tensor real = data.sample_class(c, mipc);  // all of them when the class has fewer
      const int64_t take = real.size(0);
      if (take < keep)
        throw UserError("rded: class " + std::to_string(c) + " has " + std::to_string(take) +
                        " training images, fewer than ipc x factor^2 = " + std::to_string(keep));
      // crops[m][i]: crop m of image i (MultiRandomCrop per image, crop by crop).
      std::vector<torch::Tensor> per_image;
      for (int64_t i = 0; i < take; ++i) {
        std::vector<torch::Tensor> cs;
        for (int64_t m = 0; m < num_crop; ++m) {
          const ImagenetDraw b = imagenet_aug::crop_box(h, w, crop, c10::nullopt);
          cs.push_back(imagenet_aug::resized_crop(real[i], b.top, b.left, b.height, b.width, side_h, side_w));
        }
        per_image.push_back(torch::stack(cs));
      }
      const torch::Tensor crops = torch::stack(per_image, 1);  // [num_crop, take, C, side_h, side_w]
      torch::Tensor score = torch::empty({num_crop, take});
      {
        torch::NoGradGuard no_grad;
        const torch::Tensor target = torch::full({take}, c, torch::kLong).to(ctx.device);
        for (int64_t m = 0; m < num_crop; ++m) {
          const torch::Tensor logits = teacher.net->forward(pad_centred(crops[m], h, w).to(ctx.device));
          score[m] = -torch::log_softmax(logits, 1).gather(1, target.unsqueeze(1)).squeeze(1).cpu();
        }
      }
      const torch::Tensor best_crop = std::get<1>(score.min(0));                     // [take]
      const torch::Tensor best_score = score.gather(0, best_crop.unsqueeze(0)).squeeze(0);
      const torch::Tensor order = best_score.argsort().narrow(0, 0, keep);
      std::vector<torch::Tensor> kept;
      for (int64_t j = 0; j < keep; ++j) {
        const int64_t i = order[j].item<int64_t>();
        kept.push_back(crops[best_crop[i].item<int64_t>()][i]);
      }
      images.push_back(stitch(torch::stack(kept), ctx.ipc, factor, h, w));
      report(ctx.progress, "rded class", c + 1, classes);
    }
    SyntheticSet s;
    s.images = torch::cat(images).contiguous();
    s.labels = class_major_labels(classes, ctx.ipc);
    s.meta["teacher"] = teacher.provenance();
    return s;
  }
};

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "rded",
    "RDED (Sun et al. 2024): per class, random square crops of mipc real images scored by a cached teacher, the "
    "ipc x factor^2 most confident stitched factor x factor into each image; for the kd protocol",
    with_teacher_options({
        {"factor", "int", 2, "crops per side of a synthetic image (RDED --factor)"},
        {"num_crop", "int", 5, "random crops per real image; the teacher keeps the best (RDED --num-crop)"},
        {"mipc", "int", 300, "real images drawn per class (RDED --mipc)"},
    }),
    [] { return std::make_unique<Rded>(); }});

}  // namespace ddb
