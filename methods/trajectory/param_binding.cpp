#include "methods/trajectory/param_binding.h"

#include <string>

namespace ddb {

namespace {

namespace nn = torch::nn;

struct Members {
  torch::Tensor* weight = nullptr;
  torch::Tensor* bias = nullptr;
  bool known = false;
};

// The modules whose forward() reads public weight/bias members (LibTorch 1.13 headers:
// nn/modules/conv.h, linear.h, normalization.h, batchnorm.h).
Members members_of(nn::Module& m) {
  if (auto* c = m.as<nn::Conv2dImpl>()) return {&c->weight, &c->bias, true};
  if (auto* l = m.as<nn::LinearImpl>()) return {&l->weight, &l->bias, true};
  if (auto* g = m.as<nn::GroupNormImpl>()) return {&g->weight, &g->bias, true};
  if (auto* b = m.as<nn::BatchNorm2dImpl>()) return {&b->weight, &b->bias, true};
  if (auto* n = m.as<nn::LayerNormImpl>()) return {&n->weight, &n->bias, true};
  return {};
}

}  // namespace

ParamBinding::ParamBinding(NetImpl& net) : net_(net) {
  // The net itself (walked without include_self, which would need it to live in a shared_ptr)
  // holds submodules only; a parameter registered directly on it has no member to rebind.
  if (!net.named_parameters(/*recurse=*/false).is_empty())
    throw UserError("trajectory matching: network '" + net.name() +
                    "' registers parameters outside a Conv2d/Linear/GroupNorm/BatchNorm2d/LayerNorm module");
  for (const auto& module : net.modules(/*include_self=*/false)) {
    const auto own = module->named_parameters(/*recurse=*/false);
    if (own.is_empty()) continue;
    const Members m = members_of(*module);
    if (!m.known)
      throw UserError("trajectory matching: cannot bind the parameters of module '" + module->name() +
                      "' (supported: Conv2d, Linear, GroupNorm, BatchNorm2d, LayerNorm)");
    for (const auto& item : own) {
      torch::Tensor* member = item.key() == "weight" ? m.weight : item.key() == "bias" ? m.bias : nullptr;
      if (!member || !member->is_same(item.value()))
        throw UserError("trajectory matching: parameter '" + item.key() + "' of module '" + module->name() +
                        "' is not the module's weight/bias member");
      Slot s{member, item.value(), numel_, item.value().sizes().vec()};
      numel_ += item.value().numel();
      slots_.push_back(std::move(s));
    }
  }
  // modules() is a pre-order walk and each module lists its own parameters before its children's,
  // which is how parameters() recurses; check it rather than rely on it.
  const auto params = net.parameters();
  bool same = params.size() == slots_.size();
  for (size_t i = 0; same && i < params.size(); ++i) same = params[i].is_same(slots_[i].original);
  if (!same) throw std::logic_error("ParamBinding: module walk does not follow net.parameters() order");
}

torch::Tensor ParamBinding::flat_parameters() const {
  std::vector<torch::Tensor> parts;
  parts.reserve(slots_.size());
  for (const auto& s : slots_) parts.push_back(s.original.detach().reshape({-1}));
  return parts.empty() ? torch::zeros({0}) : torch::cat(parts).clone();
}

void ParamBinding::bind(const torch::Tensor& flat) {
  if (flat.dim() != 1 || flat.numel() != numel_)
    throw std::invalid_argument("ParamBinding: flat parameters must be 1-D with " + std::to_string(numel_) +
                                " elements, got " + std::to_string(flat.numel()));
  for (auto& s : slots_) {
    const int64_t n = s.original.numel();
    *s.member = flat.narrow(0, s.offset, n).view(s.shape);
  }
  bound_ = true;
}

void ParamBinding::unbind() {
  if (!bound_) return;
  for (auto& s : slots_) *s.member = s.original;
  bound_ = false;
}

torch::Tensor ParamBinding::forward(const torch::Tensor& flat, const torch::Tensor& x) {
  struct Guard {
    ParamBinding& b;
    ~Guard() { b.unbind(); }
  };
  bind(flat);
  Guard guard{*this};
  return net_.forward(x);
}

}  // namespace ddb
