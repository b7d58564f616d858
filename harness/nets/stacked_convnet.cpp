#include "harness/nets/stacked_convnet.h"

#include "harness/nets/fused_block.h"
#include "harness/nets/modules.h"

namespace ddb {

namespace nn = torch::nn;
using nets::ConvNet;

namespace {

ConvNet* as_convnet(const Net& net) { return dynamic_cast<ConvNet*>(net.get()); }

// The modules of block d of a ConvNet's `features` (the layout ConvNet's constructor builds).
struct BlockModules {
  nn::Conv2dImpl* conv = nullptr;
  nn::AnyModule norm, act, pool;
};

BlockModules block_modules(ConvNet& net, int64_t d) {
  const nets::ConvNetConfig& c = net.config();
  const size_t per_block = 2 + (c.norm != nets::Norm::None ? 1 : 0) + (c.pool != nets::Pool::None ? 1 : 0);
  size_t i = static_cast<size_t>(d) * per_block;
  auto& seq = *net.features();
  auto at = [&seq](size_t k) -> const nn::AnyModule& { return *(seq.begin() + static_cast<std::ptrdiff_t>(k)); };
  BlockModules b;
  b.conv = seq.ptr(i++)->as<nn::Conv2d>();
  if (c.norm != nets::Norm::None) b.norm = at(i++);
  b.act = at(i++);
  if (c.pool != nets::Pool::None) b.pool = at(i++);
  return b;
}

torch::Tensor cat_detached(const std::vector<torch::Tensor>& parts) {
  std::vector<torch::Tensor> d;
  for (const auto& p : parts) d.push_back(p.detach());
  return torch::cat(d, 0).contiguous();
}

}  // namespace

std::string stacking_unsupported(const std::vector<Net>& nets) {
  if (nets.empty()) return "no nets to stack";
  const ConvNet* first = as_convnet(nets[0]);
  if (!first) return "the net is not a ConvNet (only ConvNets stack)";
  const nets::ConvNetConfig& c = first->config();
  if (c.norm == nets::Norm::LayerNorm) return "LayerNorm's element-wise affine is not per channel";
  for (const auto& n : nets) {
    const ConvNet* cn = as_convnet(n);
    if (!cn) return "the nets are not all ConvNets";
    const nets::ConvNetConfig& o = cn->config();
    if (o.width != c.width || o.depth != c.depth || o.act != c.act || o.norm != c.norm || o.pool != c.pool ||
        cn->feature_dim() != first->feature_dim())
      return "the ConvNets differ in their configuration";
  }
  return "";
}

StackedConvNetImpl::StackedConvNetImpl(const std::vector<Net>& nets) {
  if (const std::string why = stacking_unsupported(nets); !why.empty())
    throw UserError("cannot stack these nets: " + why);
  runs_ = static_cast<int64_t>(nets.size());
  std::vector<ConvNet*> cn;
  for (const auto& n : nets) cn.push_back(as_convnet(n));
  const nets::ConvNetConfig& c = cn[0]->config();
  width_ = c.width;
  for (int64_t d = 0; d < c.depth; ++d) {
    Block b;
    std::vector<torch::Tensor> w, bias, nw, nb, rm, rv;
    for (ConvNet* net : cn) {
      const BlockModules m = block_modules(*net, d);
      w.push_back(m.conv->weight);
      bias.push_back(m.conv->bias);
      if (auto* gn = m.norm.is_empty() ? nullptr : m.norm.ptr()->as<nn::GroupNorm>()) {
        b.norm = Block::Norm::Group;
        b.groups = gn->options.num_groups() * runs_;
        b.eps = gn->options.eps();
        nw.push_back(gn->weight);
        nb.push_back(gn->bias);
      } else if (auto* bn = m.norm.is_empty() ? nullptr : m.norm.ptr()->as<nn::BatchNorm2d>()) {
        b.norm = Block::Norm::Batch;
        b.eps = bn->options.eps();
        b.momentum = bn->options.momentum().value_or(0.1);
        nw.push_back(bn->weight);
        nb.push_back(bn->bias);
        rm.push_back(bn->running_mean);
        rv.push_back(bn->running_var);
        batches_tracked_ = bn->num_batches_tracked.item<int64_t>();
      }
    }
    const BlockModules m0 = block_modules(*cn[0], d);
    b.padding = (*c10::get<torch::ExpandingArray<2>>(m0.conv->options.padding()))[0];
    const std::string prefix = "block" + std::to_string(d) + "_";  // no dots in a parameter name
    b.conv_weight = register_parameter(prefix + "conv_weight", cat_detached(w));
    b.conv_bias = register_parameter(prefix + "conv_bias", cat_detached(bias));
    if (b.norm != Block::Norm::None) {
      b.norm_weight = register_parameter(prefix + "norm_weight", cat_detached(nw));
      b.norm_bias = register_parameter(prefix + "norm_bias", cat_detached(nb));
    }
    if (b.norm == Block::Norm::Batch) {
      b.running_mean = register_buffer(prefix + "running_mean", cat_detached(rm).clone());
      b.running_var = register_buffer(prefix + "running_var", cat_detached(rv).clone());
    }
    // The same condition as ConvNet::embed, so both paths run the same kernels.
    b.fused_tail = c.norm == nets::Norm::InstanceNorm && c.act == nets::Act::ReLU && c.pool == nets::Pool::Avg;
    b.act = m0.act.clone();
    b.has_pool = !m0.pool.is_empty();
    if (b.has_pool) b.pool = m0.pool.clone();
    blocks_.push_back(std::move(b));
  }
  std::vector<torch::Tensor> cw, cb;
  for (ConvNet* net : cn) {
    cw.push_back(net->classifier()->weight.detach().unsqueeze(0));
    cb.push_back(net->classifier()->bias.detach().unsqueeze(0));
  }
  classifier_weight_ = register_parameter("classifier_weight", torch::cat(cw, 0).contiguous());
  classifier_bias_ = register_parameter("classifier_bias", torch::cat(cb, 0).contiguous());
}

torch::Tensor StackedConvNetImpl::forward(const torch::Tensor& x_in) {
  TORCH_CHECK(x_in.dim() == 5 && x_in.size(0) == runs_, "StackedConvNet: input [R=", runs_, ", b, C, H, W] expected, got ",
              x_in.sizes());
  const int64_t b = x_in.size(1);
  // [R, b, C, H, W] -> [b, R*C, H, W]: run r's channels are group r of every grouped convolution.
  torch::Tensor x = x_in.transpose(0, 1).reshape({b, runs_ * x_in.size(2), x_in.size(3), x_in.size(4)});
  if (is_training() && !blocks_.empty() && blocks_[0].norm == Block::Norm::Batch) ++batches_tracked_;  // every BN's count
  for (auto& blk : blocks_) {
    x = torch::conv2d(x, blk.conv_weight, blk.conv_bias, /*stride=*/1, blk.padding, /*dilation=*/1, runs_);
    if (blk.fused_tail) {
      x = nets::instance_norm_relu_avgpool(x, blk.norm_weight, blk.norm_bias, blk.eps);
      continue;
    }
    if (blk.norm == Block::Norm::Group) {
      x = torch::group_norm(x, blk.groups, blk.norm_weight, blk.norm_bias, blk.eps);
    } else if (blk.norm == Block::Norm::Batch) {
      x = torch::batch_norm(x, blk.norm_weight, blk.norm_bias, blk.running_mean, blk.running_var, is_training(),
                            blk.momentum, blk.eps, at::globalContext().userEnabledCuDNN());
    }
    x = blk.act.forward(x);
    if (blk.has_pool) x = blk.pool.forward(x);
  }
  // [b, R*W, h, w] -> [R, b, W*h*w]: each run's features in its own net's flatten order.
  const torch::Tensor feats = x.reshape({b, runs_, -1}).transpose(0, 1);
  return torch::baddbmm(classifier_bias_.unsqueeze(1), feats, classifier_weight_.transpose(1, 2));
}

void StackedConvNetImpl::unstack_into(const std::vector<Net>& nets) const {
  TORCH_CHECK(static_cast<int64_t>(nets.size()) == runs_, "StackedConvNet: ", runs_, " nets expected");
  torch::NoGradGuard no_grad;
  for (int64_t r = 0; r < runs_; ++r) {
    ConvNet& net = *as_convnet(nets[static_cast<size_t>(r)]);
    for (size_t d = 0; d < blocks_.size(); ++d) {
      const Block& blk = blocks_[d];
      const BlockModules m = block_modules(net, static_cast<int64_t>(d));
      const int64_t at = r * width_;
      m.conv->weight.copy_(blk.conv_weight.narrow(0, at, width_));
      m.conv->bias.copy_(blk.conv_bias.narrow(0, at, width_));
      if (auto* gn = m.norm.is_empty() ? nullptr : m.norm.ptr()->as<nn::GroupNorm>()) {
        gn->weight.copy_(blk.norm_weight.narrow(0, at, width_));
        gn->bias.copy_(blk.norm_bias.narrow(0, at, width_));
      } else if (auto* bn = m.norm.is_empty() ? nullptr : m.norm.ptr()->as<nn::BatchNorm2d>()) {
        bn->weight.copy_(blk.norm_weight.narrow(0, at, width_));
        bn->bias.copy_(blk.norm_bias.narrow(0, at, width_));
        bn->running_mean.copy_(blk.running_mean.narrow(0, at, width_));
        bn->running_var.copy_(blk.running_var.narrow(0, at, width_));
        bn->num_batches_tracked.fill_(batches_tracked_);
      }
    }
    net.classifier()->weight.copy_(classifier_weight_[r]);
    net.classifier()->bias.copy_(classifier_bias_[r]);
  }
}

}  // namespace ddb
