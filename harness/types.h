// Core value types that flow between the stages: datasets in, synthetic sets out.
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ddb {

using json = nlohmann::json;

// j[key] as a string, or `fallback` when the key is missing or null (suites write `distill_net: null`
// for methods that distill nothing).
inline std::string str_or(const json& j, const std::string& key, const std::string& fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return (it == j.end() || it->is_null() || !it->is_string()) ? fallback : it->get<std::string>();
}

// What a network needs to know about its input (ConvNet pads differently for 28x28 one-channel data).
struct ImageShape {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
};

// Static facts about a dataset: shape, classes and the reference normalisation.
struct DatasetInfo {
  std::string name;
  ImageShape shape;
  int64_t num_classes = 0;
  std::vector<double> mean;  // per channel, the reference implementation's values
  std::vector<double> std;
  std::vector<std::string> class_names;
};

// One split, already normalised: images float32 [N,C,H,W], labels int64 [N].
struct TensorSplit {
  torch::Tensor images;
  torch::Tensor labels;
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

struct LoadedDataset {
  DatasetInfo info;
  TensorSplit train;
  TensorSplit test;
  // Identity of the data as loaded (file hashes + transform); part of every result's provenance.
  std::string identity;
  // Indices of the training images of class c (filled by index_classes()).
  std::vector<torch::Tensor> class_indices;

  void index_classes();
  // n random training images of class c (drawn with the global torch RNG, without replacement
  // when n <= class size).
  torch::Tensor sample_class(int64_t c, int64_t n) const;
};

// The output of a distillation method. Images live in normalised space like the real data.
struct SyntheticSet {
  torch::Tensor images;           // [M,C,H,W] float32
  torch::Tensor labels;           // [M] int64 (hard) or [M,K] float (soft)
  torch::Tensor learned_lr;       // undefined unless the method learns an evaluation lr (MTT)
  json meta = json::object();     // method, options, seed, dataset, ipc, hashes
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

// Errors the harness turns into statuses rather than crashes.
struct DatasetMissing : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct UserError : std::runtime_error {  // bad input: suite, option, file
  using std::runtime_error::runtime_error;
};
struct Diverged : std::runtime_error {  // NaN/inf loss during a run
  using std::runtime_error::runtime_error;
};

}  // namespace ddb
