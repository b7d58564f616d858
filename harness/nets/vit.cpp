// ViT: the vision transformer that GLaD (GeorgeCazenavette/glad @fe62863, networks/vit.py last changed in
// d221e9c) and RDD (Mming11/RobustDatasetDistillation @409626361, networks/vit.py byte-identical to
// GLaD's, unchanged at 2709295) build for the name "ViT" in utils.get_network. Their file is a copy of
// lucidrains/vit-pytorch vit.py (its l.1 says so) with every LayerNorm commented out. Our own code; the
// facts it follows (line numbers of networks/vit.py, the same in both repositories):
//
// * Construction: GLaD utils.py get_network l.207, ViT branch l.219-231; RDD utils.py l.325, branch
//   l.337-348: ViT(image_size = im_size, patch_size = 16, num_classes, dim = 512, depth = 10, heads = 8,
//   mlp_dim = 512, dropout = 0.1, emb_dropout = 0.1). Left at ViT's defaults (l.83): pool 'cls',
//   channels 3 (get_network does not pass `channel`), dim_head 64.
// * Image size: im_size = (res, res) for the ImageNet subsets (GLaD utils.py l.142-143, RDD utils.py
//   l.260-261) with --res default 128 (GLaD shared_args.py l.34, RDD shared_args.py l.51): 128 / 16 = 8,
//   64 patches. l.88 asserts both sides divisible by the patch size; here that is a UserError.
// * Patch embedding (l.94-97): Rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)') -- patches row-major,
//   each flattened with the channel fastest -- then Linear(C * 16 * 16, dim). No LayerNorm.
// * pos_embedding = Parameter(torch.randn(1, num_patches + 1, dim)) (l.99), cls_token =
//   Parameter(torch.randn(1, 1, dim)) (l.100), Dropout(emb_dropout) (l.101).
// * forward (l.113-132): patch embedding; cls token prepended (l.117-118); x += pos_embedding[:, :n + 1]
//   (l.119); dropout (l.120); transformer (l.122); x[:, 0] for 'cls' (l.124); to_latent = Identity
//   (l.106, l.126); feat_fc = x (l.128); mlp_head (l.130) = Sequential(Linear(dim, classes)), its
//   LayerNorm commented out (l.108-111). embed() returns that feat_fc.
// * Transformer (l.67-80): depth x [PreNorm(Attention), PreNorm(FeedForward)], x = attn(x) + x,
//   x = ff(x) + x. PreNorm (l.16-23) keeps `fn` only: its LayerNorm is commented out, so no norm at all.
//   (The ViTCIFAR of networks/vit_cifar.py keeps the LayerNorms; it is not this net.)
// * Attention (l.38-65): inner = dim_head * heads = 512; to_qkv = Linear(dim, 3 * inner, bias=False);
//   q, k, v = chunk(3) each 'b n (h d) -> b h n d'; softmax(q k^T * dim_head^-0.5) v (no dropout on the
//   attention weights); 'b h n d -> b n (h d)'; to_out = Sequential(Linear(inner, dim), Dropout(dropout))
//   unless heads == 1 and dim_head == dim (then Identity).
// * FeedForward (l.25-36): Sequential(Linear(dim, mlp_dim), GELU() (exact erf form), Dropout,
//   Linear(mlp_dim, dim), Dropout).
// * Initialisation: none of its own, so PyTorch's defaults: every Linear kaiming_uniform_(a = sqrt(5))
//   with bias U(+-1/sqrt(fan_in)); pos_embedding and cls_token N(0, 1). The modules are created here in
//   the reference's order (patch Linear, pos_embedding, cls_token, per layer to_qkv, to_out, ff Linears,
//   head), so under one seed the initial weights equal the reference's (tests/nets/test_vit.cpp).
//
// One generalisation: patch_dim = C * 16 * 16 for the given ImageShape (the reference hard-codes 3
// channels through the default and would fail on 1-channel data); the two agree on RGB.
// Parameter count, 3x128x128, 10 classes: 16,176,650 (tests/nets/test_vit.cpp works it out).
#include "harness/nets/vit.h"

#include <cmath>
#include <string>

namespace ddb::nets {

namespace nn = torch::nn;

namespace {

// The reference's PreNorm without its norm: a holder whose only child is `fn` (state_dict key level).
class FnHolder : public nn::Module {
 public:
  explicit FnHolder(std::shared_ptr<nn::Module> fn) { register_module("fn", std::move(fn)); }
};

// 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)': patches row-major, each flattened with the channel fastest.
torch::Tensor to_patches(const torch::Tensor& x, int64_t p) {
  if (x.dim() != 4 || x.size(2) % p != 0 || x.size(3) % p != 0)
    throw UserError("ViT: input is not [N, C, H, W] with H and W divisible by the patch size " + std::to_string(p));
  const int64_t b = x.size(0), c = x.size(1), gh = x.size(2) / p, gw = x.size(3) / p;
  return x.reshape({b, c, gh, p, gw, p}).permute({0, 2, 4, 3, 5, 1}).reshape({b, gh * gw, p * p * c});
}

}  // namespace

ViTAttentionImpl::ViTAttentionImpl(int64_t dim, int64_t heads, int64_t dim_head, double dropout)
    : heads_(heads), dim_head_(dim_head) {
  const int64_t inner = heads * dim_head;
  to_qkv_ = register_module("to_qkv", nn::Linear(nn::LinearOptions(dim, inner * 3).bias(false)));
  if (!(heads == 1 && dim_head == dim)) {
    to_out_ = nn::Sequential(nn::Linear(inner, dim), nn::Dropout(dropout));
    register_module("to_out", to_out_);
  }
}

torch::Tensor ViTAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0);
  const int64_t n = x.size(1);
  auto qkv = to_qkv_->forward(x).chunk(3, -1);
  // 'b n (h d) -> b h n d'
  auto split = [&](const torch::Tensor& t) { return t.reshape({b, n, heads_, dim_head_}).transpose(1, 2); };
  const auto q = split(qkv[0]);
  const auto k = split(qkv[1]);
  const auto v = split(qkv[2]);
  const double scale = std::pow(static_cast<double>(dim_head_), -0.5);
  const auto attn = torch::softmax(torch::matmul(q, k.transpose(-1, -2)) * scale, -1);
  auto out = torch::matmul(attn, v).transpose(1, 2).reshape({b, n, heads_ * dim_head_});  // 'b h n d -> b n (h d)'
  return to_out_ ? to_out_->forward(out) : out;
}

ViTFeedForwardImpl::ViTFeedForwardImpl(int64_t dim, int64_t mlp_dim, double dropout) {
  // The Linears are created one statement each: the order of constructor arguments' evaluation is
  // unspecified (GCC: right to left), and the reference draws the first Linear's weights first.
  nn::Linear fc1(dim, mlp_dim);
  nn::Linear fc2(mlp_dim, dim);
  net_ = register_module("net", nn::Sequential(fc1, nn::GELU(), nn::Dropout(dropout), fc2, nn::Dropout(dropout)));
}

torch::Tensor ViTFeedForwardImpl::forward(const torch::Tensor& x) { return net_->forward(x); }

ViT::ViT(const ViTConfig& config, const ImageShape& shape, int64_t num_classes) : config_(config) {
  const int64_t p = config.patch;
  if (p < 1 || config.dim < 1 || config.depth < 0 || config.heads < 1 || config.dim_head < 1 || config.mlp_dim < 1)
    throw UserError("ViT: invalid configuration");
  if (shape.height % p != 0 || shape.width % p != 0) {
    throw UserError("ViT needs image sides divisible by its patch size " + std::to_string(p) + "; the data are " +
                    std::to_string(shape.channels) + "x" + std::to_string(shape.height) + "x" +
                    std::to_string(shape.width));
  }
  num_patches_ = (shape.height / p) * (shape.width / p);
  const int64_t patch_dim = shape.channels * p * p;

  // Creation order = the reference's (same random stream): patch Linear, pos_embedding, cls_token,
  // transformer, head.
  nn::Linear patch_linear(patch_dim, config.dim);
  to_patch_embedding_ =
      nn::Sequential(nn::Functional([p](const torch::Tensor& x) { return to_patches(x, p); }), patch_linear);
  register_module("to_patch_embedding", to_patch_embedding_);
  pos_embedding_ = register_parameter("pos_embedding", torch::randn({1, num_patches_ + 1, config.dim}));
  cls_token_ = register_parameter("cls_token", torch::randn({1, 1, config.dim}));
  dropout_ = register_module("dropout", nn::Dropout(config.emb_dropout));

  auto transformer = std::make_shared<nn::Module>();
  nn::ModuleList layers;
  for (int64_t i = 0; i < config.depth; ++i) {
    attention_.push_back(ViTAttention(config.dim, config.heads, config.dim_head, config.dropout));
    feed_forward_.push_back(ViTFeedForward(config.dim, config.mlp_dim, config.dropout));
    nn::ModuleList pair;
    pair->push_back(std::make_shared<FnHolder>(attention_.back().ptr()));
    pair->push_back(std::make_shared<FnHolder>(feed_forward_.back().ptr()));
    layers->push_back(pair);
  }
  transformer->register_module("layers", layers);
  register_module("transformer", transformer);

  mlp_head_ = register_module("mlp_head", nn::Sequential(nn::Linear(config.dim, num_classes)));
}

torch::Tensor ViT::embed(torch::Tensor x) {
  auto tokens = to_patch_embedding_->forward(x);  // [b, n, dim]
  const int64_t b = tokens.size(0);
  const int64_t n = tokens.size(1);
  if (n + 1 > pos_embedding_.size(1)) {
    throw UserError("ViT: " + std::to_string(n) + " patches, built for at most " +
                    std::to_string(pos_embedding_.size(1) - 1));
  }
  tokens = torch::cat({cls_token_.expand({b, 1, config_.dim}), tokens}, 1);
  tokens = tokens + pos_embedding_.narrow(1, 0, n + 1);  // pos_embedding[:, :(n + 1)]
  tokens = dropout_->forward(tokens);
  for (size_t i = 0; i < attention_.size(); ++i) {
    tokens = attention_[i]->forward(tokens) + tokens;
    tokens = feed_forward_[i]->forward(tokens) + tokens;
  }
  return config_.mean_pool ? tokens.mean(1) : tokens.select(1, 0);
}

torch::Tensor ViT::forward(torch::Tensor x) { return mlp_head_->forward(embed(x)); }

}  // namespace ddb::nets
