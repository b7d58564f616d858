// One fused CPU kernel for the block tail of the default ConvNet: avg_pool2d(relu(group_norm(x, C
// groups, weight, bias, eps)), 2, 2) — the reference's instancenorm -> relu -> avgpooling.
//
// Why: at the literature's small batches about half of a ConvNet training step is these three
// memory-bound ops, each reading and writing the full conv output (forward and backward). The fused
// kernel reads a [h, w] plane once into cache and does all three there, in both directions.
//
// The first derivative is the fused kernel. A second derivative (gradient matching's create_graph,
// the trajectory student's unrolled steps) is taken through the unfused composition, recomputed in
// the backward pass, so every method keeps exact higher-order gradients. Other devices, dtypes and
// layouts use the unfused composition too.
#pragma once
#include <torch/torch.h>

namespace ddb::nets {

// avg_pool2d(relu(group_norm(x, x.size(1), weight, bias, eps)), 2, 2) for x [N, C, H, W]; fused where
// fused_blocks_enabled() and x is a float CPU tensor, else the composition of LibTorch's ops.
torch::Tensor instance_norm_relu_avgpool(const torch::Tensor& x, const torch::Tensor& weight,
                                         const torch::Tensor& bias, double eps);

// The same through LibTorch's own ops (the reference; also the fallback).
torch::Tensor instance_norm_relu_avgpool_unfused(const torch::Tensor& x, const torch::Tensor& weight,
                                                 const torch::Tensor& bias, double eps);

// On by default; DDBENCH_FUSED=0 in the environment turns it off for the whole process (to compare
// figures or results with the unfused path). set_fused_blocks overrides both (benchmarks, tests).
bool fused_blocks_enabled();
void set_fused_blocks(bool enabled);

// While one lives, this thread uses the unfused composition. Gradient matching holds one around each
// step: it compares a first-order gradient (real batch) with one it differentiates again (synthetic),
// and both must come from the same kernels, or their rounding differs by the kernel, not the data.
class UnfusedScope {
 public:
  UnfusedScope();
  ~UnfusedScope();
  UnfusedScope(const UnfusedScope&) = delete;
  UnfusedScope& operator=(const UnfusedScope&) = delete;

 private:
  bool previous_;
};

}  // namespace ddb::nets
