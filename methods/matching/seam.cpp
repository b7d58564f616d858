#include "methods/matching/seam.h"

#include <algorithm>

namespace ddb {

ModifierRegistry& ModifierRegistry::instance() {
  static ModifierRegistry registry;
  return registry;
}

bool ModifierRegistry::add(ModifierInfo info) { return register_named(modifiers_, std::move(info)); }

std::vector<ModifierInfo> ModifierRegistry::all() const {
  std::vector<ModifierInfo> out;
  for (const auto& [name, m] : modifiers_.items()) out.push_back(m);
  return out;
}

std::vector<OptionSpec> ModifierRegistry::option_specs() const {
  std::vector<OptionSpec> out;
  for (const auto& [name, m] : modifiers_.items())
    for (OptionSpec spec : m.options) {
      spec.neutral_default = true;  // a modifier at its defaults is off (tests/unit/test_seam.cpp checks)
      out.push_back(std::move(spec));
    }
  return out;
}

std::vector<OptionSpec> ModifierRegistry::option_specs_for(const std::string& method) const {
  std::vector<OptionSpec> out;
  for (const auto& [name, m] : modifiers_.items()) {
    if (!m.hosts.empty() && std::find(m.hosts.begin(), m.hosts.end(), method) == m.hosts.end()) continue;
    for (OptionSpec spec : m.options) {
      spec.neutral_default = true;
      out.push_back(std::move(spec));
    }
  }
  return out;
}

MatchingSeam::MatchingSeam(const Options& options) {
  for (const auto& info : ModifierRegistry::instance().all()) {
    // A modifier with hosts is not in other methods' schemas: their options do not name it.
    if (!info.options.empty() && !options.values().contains(info.options.front().name)) continue;
    if (!info.enabled(options)) continue;
    modifiers_.push_back(info.make(options));
    names_.push_back(info.name);
  }
}

SynBatch MatchingSeam::transform_synthetic(SynBatch batch) const {
  for (const auto& m : modifiers_) batch = m->transform_synthetic(std::move(batch));
  return batch;
}

SynBatch MatchingSeam::transform_inner_batch(SynBatch batch) const {
  for (const auto& m : modifiers_) batch = m->transform_inner_batch(std::move(batch));
  return batch;
}

torch::Tensor MatchingSeam::reduce(const torch::Tensor& per_term) const {
  for (const auto& m : modifiers_) {
    torch::Tensor r = m->reduce(per_term);
    if (r.defined()) return r;
  }
  return per_term.sum();
}

void MatchingSeam::on_pixel_gradient(const torch::Tensor& images) const {
  if (modifiers_.empty()) return;
  torch::Tensor g = images.grad();
  if (!g.defined()) return;
  torch::NoGradGuard no_grad;
  for (const auto& m : modifiers_) m->on_pixel_gradient(g);
  if (!g.is_same(images.grad())) images.mutable_grad() = g;
}

int64_t MatchingSeam::network_batch(int64_t host_default) const {
  for (const auto& m : modifiers_)
    if (m->network_batch() > 0) return m->network_batch();
  return host_default;
}

torch::Tensor MatchingSeam::network_loss(const NetworkBatch& batch) const {
  for (const auto& m : modifiers_) {
    torch::Tensor r = m->network_loss(batch);
    if (r.defined()) return r;
  }
  return batch.per_sample.mean();
}

bool MatchingSeam::needs_centres() const {
  for (const auto& m : modifiers_)
    if (m->needs_centres()) return true;
  return false;
}

json MatchingSeam::describe() const {
  json out = json::object();
  for (size_t i = 0; i < modifiers_.size(); ++i) {
    json d = modifiers_[i]->describe();
    if (!d.is_null()) out[names_[i]] = std::move(d);
  }
  return out;
}

double MatchingSeam::pixel_step(const std::vector<torch::Tensor>& terms, const torch::Tensor& images,
                                torch::optim::Optimizer& optimizer) const {
  const torch::Tensor loss = reduce(stack_terms(terms));
  optimizer.zero_grad();
  torch::autograd::backward({loss}, /*grad_tensors=*/{}, /*retain_graph=*/c10::nullopt, /*create_graph=*/false, {images});
  on_pixel_gradient(images);
  optimizer.step();
  return loss.item<double>();
}

torch::Tensor stack_terms(const std::vector<torch::Tensor>& terms) {
  if (terms.empty()) return torch::zeros({0});
  std::vector<torch::Tensor> flat;
  flat.reserve(terms.size());
  for (const auto& t : terms) flat.push_back(t.reshape({1}));
  return torch::cat(flat);
}

}  // namespace ddb
