// make_net / list_nets: the registry of architecture names (utils.py get_network's names), held in the
// one registry template (core/registry.h) like methods, protocols, metrics and dataset readers.
#include <functional>
#include <string>

#include "core/registry.h"
#include "harness/nets/kip_convnet.h"
#include "harness/nets/modules.h"
#include "harness/nets/vit.h"

namespace ddb {

namespace {

using nets::Act;
using nets::ConvNetConfig;
using nets::Norm;
using nets::Pool;
using nets::ResNetConfig;

using Builder = std::function<Net(const ImageShape&, int64_t)>;

struct Entry {
  std::string name;
  std::string description;
  Builder build;
};

Builder convnet(ConvNetConfig config) {
  return [config](const ImageShape& shape, int64_t classes) -> Net {
    return std::make_shared<nets::ConvNet>(config, shape, classes);
  };
}

ConvNetConfig with_depth(int64_t d) {
  ConvNetConfig c;
  c.depth = d;
  return c;
}
ConvNetConfig with_width(int64_t w) {
  ConvNetConfig c;
  c.width = w;
  return c;
}
ConvNetConfig with_act(Act a, Norm n = Norm::InstanceNorm) {
  ConvNetConfig c;
  c.act = a;
  c.norm = n;
  return c;
}
ConvNetConfig with_norm(Norm n) {
  ConvNetConfig c;
  c.norm = n;
  return c;
}
ConvNetConfig with_pool(Pool p) {
  ConvNetConfig c;
  c.pool = p;
  return c;
}

Builder resnet(bool batchnorm, bool ap) {
  return [batchnorm, ap](const ImageShape& shape, int64_t classes) -> Net {
    ResNetConfig config;
    config.batchnorm = batchnorm;
    config.avgpool_downsample = ap;
    return std::make_shared<nets::ResNet>(config, shape, classes);
  };
}

Builder resnet_ap(bool cifar) {
  return [cifar](const ImageShape& shape, int64_t classes) -> Net {
    nets::ResNetAPConfig config;
    config.cifar = cifar;
    return std::make_shared<nets::ResNetAP>(config, shape, classes);
  };
}

std::vector<Entry> build_registry() {
  const std::string base = "ConvNet (width 128, depth 3, ReLU, instancenorm=GroupNorm(C,C), avg pool)";
  std::vector<Entry> r;
  r.push_back({"ConvNet", base + ", the default backbone", convnet(ConvNetConfig{})});
  for (int64_t d = 1; d <= 6; ++d) {
    r.push_back({"ConvNetD" + std::to_string(d),
                 "ConvNet with depth " + std::to_string(d) +
                     " (each block halves the map; D4 for 64 px, D5 for 128 px, D6 for 256 px)",
                 convnet(with_depth(d))});
  }
  // RDED's conv3/conv4/conv5/conv6 (LINs-lab/RDED synthesize/utils.py load_model: net_norm "batch",
  // width 128, avg pooling): the teachers and students of the kd protocol.
  for (int64_t d = 1; d <= 6; ++d) {
    ConvNetConfig c = with_depth(d);
    c.norm = Norm::BatchNorm;
    r.push_back({"ConvNetD" + std::to_string(d) + "BN", "ConvNet with depth " + std::to_string(d) + " and BatchNorm2d",
                 convnet(c)});
  }
  for (int64_t w : {32, 64, 128, 256}) {
    r.push_back(
        {"ConvNetW" + std::to_string(w), "ConvNet with width " + std::to_string(w), convnet(with_width(w))});
  }
  r.push_back({"ConvNetAS", "ConvNet with sigmoid activation", convnet(with_act(Act::Sigmoid))});
  r.push_back({"ConvNetAR", "ConvNet with ReLU activation (same as ConvNet)", convnet(with_act(Act::ReLU))});
  r.push_back({"ConvNetAL", "ConvNet with LeakyReLU(0.01) activation", convnet(with_act(Act::LeakyReLU))});
  r.push_back(
      {"ConvNetASwish", "ConvNet with Swish (x*sigmoid(x)) activation", convnet(with_act(Act::Swish))});
  r.push_back({"ConvNetASwishBN", "ConvNet with Swish activation and BatchNorm2d",
               convnet(with_act(Act::Swish, Norm::BatchNorm))});
  r.push_back({"ConvNetNN", "ConvNet without normalisation", convnet(with_norm(Norm::None))});
  r.push_back({"ConvNetBN", "ConvNet with BatchNorm2d", convnet(with_norm(Norm::BatchNorm))});
  r.push_back({"ConvNetLN", "ConvNet with LayerNorm([C,H,W])", convnet(with_norm(Norm::LayerNorm))});
  r.push_back({"ConvNetIN", "ConvNet with 'instancenorm' = GroupNorm(C,C) (same as ConvNet)",
               convnet(with_norm(Norm::InstanceNorm))});
  r.push_back({"ConvNetGN", "ConvNet with GroupNorm(4,C)", convnet(with_norm(Norm::GroupNorm))});
  r.push_back({"ConvNetNP", "ConvNet without pooling (features C*H*W of the full map)",
               convnet(with_pool(Pool::None))});
  r.push_back({"ConvNetMP", "ConvNet with MaxPool2d(2,2)", convnet(with_pool(Pool::Max))});
  r.push_back({"ConvNetAP", "ConvNet with AvgPool2d(2,2) (same as ConvNet)", convnet(with_pool(Pool::Avg))});

  const auto kip = [](int64_t width, bool prepend) -> Builder {
    return [width, prepend](const ImageShape& s, int64_t k) -> Net {
      return std::make_shared<nets::KipConvNet>(width, 3, prepend, s, k);
    };
  };
  r.push_back({"KipConvNet",
               "KIP's finite ConvNet (kip/nn_training.ipynb): conv3x3-ReLU, then 3 x [conv3x3-ReLU-AvgPool2], width 1024, "
               "no norm, stax init (W_std sqrt 2, b_std 0.1)",
               kip(1024, true)});
  r.push_back({"KipConvNet3", "KipConvNet without the prepended conv (KIP's 'ConvNet3')", kip(1024, false)});
  r.push_back({"KipConvNetW128", "KipConvNet with width 128 (CPU-sized)", kip(128, true)});
  r.push_back({"MLP", "MLP: Linear(C*H*W,128)-ReLU-Linear(128,128)-ReLU-Linear(128,classes)",
               [](const ImageShape& s, int64_t k) -> Net { return std::make_shared<nets::MLP>(s, k); }});
  r.push_back({"LeNet", "LeNet: conv5(6)-pool-conv5(16)-pool-FC120-FC84-FC (pad 2 for 1-channel input)",
               [](const ImageShape& s, int64_t k) -> Net { return std::make_shared<nets::LeNet>(s, k); }});
  r.push_back(
      {"AlexNet", "AlexNet (CIFAR variant: conv 128-192-256-192-192, one Linear; pad 4 for 1-channel input)",
       [](const ImageShape& s, int64_t k) -> Net { return std::make_shared<nets::AlexNet>(false, s, k); }});
  r.push_back(
      {"AlexNetBN", "AlexNet with BatchNorm2d after every conv",
       [](const ImageShape& s, int64_t k) -> Net { return std::make_shared<nets::AlexNet>(true, s, k); }});
  r.push_back({"AlexCifarNet",
               "DD/LD's CIFAR AlexNet: conv5(64)-pool-LRN-conv5(64)-LRN-pool-FC384-FC192-FC (Wang et al. 2018)",
               [](const ImageShape& s, int64_t k) -> Net { return std::make_shared<nets::AlexCifarNet>(s, k); }});
  r.push_back({"VGG11", "VGG11 with instancenorm=GroupNorm(C,C), one Linear(512); pad 3 for 1-channel input",
               [](const ImageShape& s, int64_t k) -> Net {
                 return std::make_shared<nets::VGG>(nets::VGG::cfg_vgg11(), false, s, k);
               }});
  r.push_back({"VGG11BN", "VGG11 with BatchNorm2d", [](const ImageShape& s, int64_t k) -> Net {
                 return std::make_shared<nets::VGG>(nets::VGG::cfg_vgg11(), true, s, k);
               }});
  r.push_back(
      {"ResNet18", "ResNet18 (CIFAR stem, instancenorm=GroupNorm(C,C), avg_pool 4)", resnet(false, false)});
  r.push_back({"ResNet18BN", "ResNet18 with BatchNorm2d", resnet(true, false)});
  r.push_back({"ResNet18_AP", "ResNet18 with stride-1 convs + AvgPool2d(2,2) downsampling, GroupNorm(C,C)",
               resnet(false, true)});
  r.push_back({"ResNet18BN_AP", "ResNet18_AP with BatchNorm2d", resnet(true, true)});
  r.push_back({"ResNet10_AP",
               "IDC's ResNetAP-10 (ImageNet branch): 1 block per stage, 64/128/256/512, GroupNorm(C,C), "
               "AvgPool downsampling; stem conv3x3 (<= 64 px), conv3x3 + AvgPool 2 (<= 128 px), conv7x7 + AvgPool 4",
               resnet_ap(false)});
  r.push_back({"ResNet10_AP_CIFAR",
               "IDC's ResNetAP-10 CIFAR branch: conv3x3 stem, 1 block per stage, 32/64/128/256, GroupNorm(C,C)",
               resnet_ap(true)});
  r.push_back({"ViT",
               "GLaD/RDD utils.get_network ViT: patch 16, dim 512, depth 10, heads 8 x 64, mlp 512, dropout 0.1, "
               "cls token, no LayerNorm (sides must be multiples of 16)",
               [](const ImageShape& s, int64_t k) -> Net {
                 return std::make_shared<nets::ViT>(nets::ViTConfig{}, s, k);
               }});
  return r;
}

// The architectures are generated (depths, widths, norms), so they enter the registry in one call on
// first use rather than through one static registration each.
const Registry<Entry>& registry() {
  static const Registry<Entry> nets = [] {
    Registry<Entry> r("networks");
    for (Entry& e : build_registry()) register_named(r, std::move(e));
    return r;
  }();
  return nets;
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> NetImpl::feature_map_and_logits(torch::Tensor) {
  throw UserError("Grad-CAM needs a conv feature map; not available for net " + name());
}

void require_net(const std::string& name) { registry().get(name); }

Net make_net(const std::string& name, const ImageShape& shape, int64_t num_classes) {
  const Entry& e = registry().get(name);  // unknown -> UserError listing the registered networks
  if (shape.channels < 1 || shape.height < 1 || shape.width < 1) {
    throw UserError("network " + name + ": invalid input shape " + std::to_string(shape.channels) + "x" +
                    std::to_string(shape.height) + "x" + std::to_string(shape.width));
  }
  if (num_classes < 1) throw UserError("network " + name + ": num_classes must be >= 1");
  try {
    return e.build(shape, num_classes);
  } catch (const UserError& err) {
    throw UserError("network " + name + ": " + err.what());
  }
}

std::vector<NetDescription> list_nets() {
  std::vector<NetDescription> out;
  out.reserve(registry().items().size());
  for (const auto& [name, e] : registry().items()) out.push_back({e.name, e.description});
  return out;
}

}  // namespace ddb
