// DataDAM (Sajedi et al., ICCV 2023): the pieces of its matching step, exposed for tests; the method
// `datadam` (datadam.cpp, where the reference facts are listed) is the loop around them.
#pragma once
#include <cstdint>
#include <vector>

#include "harness/nets/net.h"

namespace ddb {

// The Spatial Attention Module (the reference's utils.get_attention with param 1, norm 'l2'): per
// sample, the sum over channels of |f|^power, flattened and divided by its L2 norm. features
// [N, C, H, W] -> [N, H*W].
torch::Tensor spatial_attention(const torch::Tensor& features, double power);

// What DataDAM matches for a batch, as one row per sample: the spatial attention of every block's
// activation except the last block's (the reference hooks every ReLU and skips the last one), then
// the embedding (the last block's output after its pool, flattened), side by side. `segments` holds
// each part's width, attention maps first; the embedding is the last segment. One row per sample lets
// the per-class batches share a forward (map_classes) and be split back.
struct DamRows {
  torch::Tensor rows;             // [N, sum(segments)]
  std::vector<int64_t> segments;  // widths: attention maps of blocks 1..depth-1, then the embedding
};
// Whether datadam_rows() can read `net`'s blocks (the ConvNet family of make_net).
bool datadam_supports(NetImpl& net);
// Throws UserError for nets outside the ConvNet family.
DamRows datadam_rows(NetImpl& net, const torch::Tensor& x, double power);

// One class's loss from the class means of its rows: attention_weight * sum over the attention
// segments of ||mean_real - mean_syn||^2 + embedding_weight * ||mean_real - mean_syn||^2 over the
// embedding segment. real_rows may already be a mean ([1, W]).
torch::Tensor datadam_class_loss(const torch::Tensor& real_rows, const torch::Tensor& syn_rows,
                                 const std::vector<int64_t>& segments, double attention_weight,
                                 double embedding_weight);

}  // namespace ddb
