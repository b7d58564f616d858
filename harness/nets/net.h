// The network interface every architecture implements, and the factory by name.
#pragma once
#include "harness/types.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ddb {

class NetImpl : public torch::nn::Module {
 public:
  // Logits [N, num_classes].
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // Flattened features before the classifier (DM matches their class means).
  virtual torch::Tensor embed(torch::Tensor x) = 0;
  // True when the net has BatchNorm layers (DC freezes their statistics; DM uses the joint batch).
  virtual bool has_batchnorm() const { return false; }
  // Grad-CAM's inputs from one forward: the activations of the last conv block [N,C,h,w] (ConvNet: the
  // last block after its activation, before its pool; ResNet: the last stage, before the pool) and the
  // logits [N,K] computed from them. Nets without such a map throw UserError (harness/gradcam.h).
  virtual std::pair<torch::Tensor, torch::Tensor> feature_map_and_logits(torch::Tensor x);
};
using Net = std::shared_ptr<NetImpl>;

// Builds a freshly initialised network by registry name ("ConvNet", "ConvNetD4", "ConvNetBN",
// "ConvNetW64", "ResNet18", "ResNet18BN", "ResNet18_AP", "VGG11", "AlexNet", "MLP", ...).
// Unknown names throw UserError listing the valid ones.
Net make_net(const std::string& name, const ImageShape& shape, int64_t num_classes);

// Every name make_net accepts, with a one-line description each.
struct NetDescription {
  std::string name;
  std::string description;
};
std::vector<NetDescription> list_nets();

// UserError listing the registered networks unless `name` is one: for a name recorded before any net is
// built (a distillation's net, which a method that builds none would otherwise accept silently).
void require_net(const std::string& name);

}  // namespace ddb
