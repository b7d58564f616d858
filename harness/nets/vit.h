// The "ViT" of GLaD / RDD utils.get_network: a vision transformer without LayerNorm (their copy of
// lucidrains' vit-pytorch has every norm commented out). Reference facts and line numbers:
// harness/nets/vit.cpp. Exposed here (not only through make_net) so tests can build small variants.
#pragma once
#include <vector>

#include "harness/nets/net.h"

namespace ddb::nets {

// Defaults: the registered "ViT" (utils.get_network: patch 16, dim 512, depth 10, heads 8, mlp 512,
// dropout 0.1, emb_dropout 0.1; ViT defaults dim_head 64, pool 'cls').
struct ViTConfig {
  int64_t patch = 16;
  int64_t dim = 512;
  int64_t depth = 10;
  int64_t heads = 8;
  int64_t dim_head = 64;
  int64_t mlp_dim = 512;
  double dropout = 0.1;      // after the attention's output projection and in the feed-forward
  double emb_dropout = 0.1;  // after adding the position embedding
  bool mean_pool = false;    // false: 'cls' (token 0); true: 'mean' over all tokens
};

// Attention: to_qkv (Linear dim -> 3 * heads * dim_head, no bias), softmax(q k^T * dim_head^-0.5) v,
// to_out = [Linear(heads * dim_head, dim), Dropout] (identity when heads == 1 and dim_head == dim).
class ViTAttentionImpl : public torch::nn::Module {
 public:
  ViTAttentionImpl(int64_t dim, int64_t heads, int64_t dim_head, double dropout);
  torch::Tensor forward(const torch::Tensor& x);  // [b, n, dim] -> [b, n, dim]

 private:
  int64_t heads_;
  int64_t dim_head_;
  torch::nn::Linear to_qkv_{nullptr};
  torch::nn::Sequential to_out_{nullptr};  // null: identity
};
TORCH_MODULE(ViTAttention);

// FeedForward: net = [Linear(dim, mlp_dim), GELU (exact), Dropout, Linear(mlp_dim, dim), Dropout].
class ViTFeedForwardImpl : public torch::nn::Module {
 public:
  ViTFeedForwardImpl(int64_t dim, int64_t mlp_dim, double dropout);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential net_{nullptr};
};
TORCH_MODULE(ViTFeedForward);

// img [N, C, H, W] -> patches [N, (H/p)(W/p), p*p*C] (channel fastest) -> Linear -> prepend cls token
// -> + position embedding -> dropout -> depth x (x + attn(x), x + ff(x)) -> token 0 (or the mean)
// -> Linear(dim, classes). H and W must be multiples of the patch size (UserError otherwise).
// Parameter names follow the reference state_dict: "pos_embedding", "cls_token",
// "to_patch_embedding.1.weight", "transformer.layers.3.0.fn.to_qkv.weight",
// "transformer.layers.3.1.fn.net.3.bias", "mlp_head.0.weight", ...
class ViT : public NetImpl {
 public:
  ViT(const ViTConfig& config, const ImageShape& shape, int64_t num_classes);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor embed(torch::Tensor x) override;  // the pooled token before mlp_head, [N, dim]
  const ViTConfig& config() const { return config_; }
  int64_t num_patches() const { return num_patches_; }

 private:
  ViTConfig config_;
  int64_t num_patches_ = 0;
  torch::nn::Sequential to_patch_embedding_{nullptr};  // [0: rearrange (no parameters), 1: Linear]
  torch::Tensor pos_embedding_;                        // [1, num_patches + 1, dim]
  torch::Tensor cls_token_;                            // [1, 1, dim]
  torch::nn::Dropout dropout_{nullptr};
  std::vector<ViTAttention> attention_;
  std::vector<ViTFeedForward> feed_forward_;
  torch::nn::Sequential mlp_head_{nullptr};  // [0: Linear(dim, classes)]
};

}  // namespace ddb::nets
