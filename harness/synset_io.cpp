#include "harness/synset_io.h"

#include "core/files.h"
#include "core/hashing.h"

#include <torch/serialize.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

namespace ddb {

namespace {

SyntheticSet check_set(SyntheticSet s, const std::string& path) {
  if (!s.images.defined() || !s.labels.defined())
    throw UserError(path + ": no images/labels tensors found");
  if (s.images.dim() != 4)
    throw UserError(path + ": images must be [N,C,H,W], got " + std::to_string(s.images.dim()) + " dimensions");
  if (s.labels.size(0) != s.images.size(0))
    throw UserError(path + ": " + std::to_string(s.images.size(0)) + " images but " +
                    std::to_string(s.labels.size(0)) + " labels");
  s.images = s.images.detach().to(torch::kFloat32).contiguous();
  s.labels = s.labels.detach();
  if (s.labels.dim() == 1) {
    if (s.labels.is_floating_point()) throw UserError(path + ": 1-D labels must be integers");
    s.labels = s.labels.to(torch::kLong);
  } else if (s.labels.dim() == 2) {
    s.labels = s.labels.to(torch::kFloat32);
  } else {
    throw UserError(path + ": labels must be [N] (hard) or [N,K] (soft)");
  }
  if (s.learned_lr.defined()) s.learned_lr = s.learned_lr.detach().to(torch::kFloat32).reshape({});
  if (s.outliers.defined()) {
    if (s.outliers.dim() != 4 || s.outliers.sizes().slice(1) != s.images.sizes().slice(1))
      throw UserError(path + ": outliers must be [M,C,H,W] with the images' C,H,W");
    s.outliers = s.outliers.detach().to(torch::kFloat32).contiguous();
  }
  return s;
}

std::optional<torch::Tensor> dict_tensor(const c10::impl::GenericDict& d, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    for (const auto& entry : d) {
      if (entry.key().isString() && entry.key().toStringRef() == k && entry.value().isTensor())
        return entry.value().toTensor();
    }
  }
  return std::nullopt;
}

bool pair_of_tensors(const std::vector<c10::IValue>& items) {
  return items.size() >= 2 && items[0].isTensor() && items[1].isTensor();
}

std::vector<c10::IValue> as_items(const c10::IValue& v) {
  if (v.isTuple()) {
    const auto& e = v.toTupleRef().elements();
    return std::vector<c10::IValue>(e.begin(), e.end());
  }
  if (v.isList()) return v.toListRef().vec();
  return {};
}

}  // namespace

void save_synset(const SyntheticSet& set, const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path().empty()
                                          ? std::filesystem::path(".")
                                          : std::filesystem::path(path).parent_path());
  c10::Dict<std::string, torch::Tensor> dict;
  dict.insert("images", set.images.detach().cpu().contiguous());
  dict.insert("labels", set.labels.detach().cpu().contiguous());
  if (set.learned_lr.defined()) dict.insert("lr", set.learned_lr.detach().cpu().reshape({}));
  if (set.outliers.defined()) dict.insert("outliers", set.outliers.detach().cpu().contiguous());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
  const std::string sidecar = set.meta.dump(2) + "\n";
  write_file_atomic(path + ".json", sidecar);
}

SyntheticSet load_synset(const std::string& path, int index, SynsetFileFacts* facts) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open synthetic set file");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue v;
  try {
    v = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    throw UserError(path + ": not a tensor file torch::pickle_load can read (save it with torch.save, zip format): " +
                    std::string(e.what()).substr(0, 300));
  }
  SyntheticSet s;
  const auto only_one_set = [&] {  // an index other than 0 names a set the file does not hold
    if (index != 0)
      throw UserError(path + ": holds one set, not a list of (images, labels) pairs; index " + std::to_string(index) +
                      " names none");
  };
  if (v.isGenericDict()) {
    only_one_set();
    const auto d = v.toGenericDict();
    if (auto x = dict_tensor(d, {"images", "image_syn", "x", "data"})) s.images = *x;
    if (auto y = dict_tensor(d, {"labels", "label_syn", "y", "targets"})) s.labels = *y;
    if (auto lr = dict_tensor(d, {"lr", "syn_lr", "learned_lr"})) s.learned_lr = *lr;
    if (auto out = dict_tensor(d, {"outliers", "image_syn_oe"})) s.outliers = *out;
    if (!s.images.defined() || !s.labels.defined())
      throw UserError(path + ": a dict must hold 'images' and 'labels' tensors");
  } else {
    auto items = as_items(v);
    if (pair_of_tensors(items)) {
      only_one_set();
      s.images = items[0].toTensor();
      s.labels = items[1].toTensor();
    } else if (!items.empty() && pair_of_tensors(as_items(items[0]))) {
      if (facts) facts->sets_in_file = static_cast<int>(items.size());
      if (index < 0 || index >= static_cast<int>(items.size()))
        throw UserError(path + ": holds " + std::to_string(items.size()) + " sets; index " + std::to_string(index) +
                        " is out of range");
      auto pair = as_items(items[index]);
      if (!pair_of_tensors(pair)) throw UserError(path + ": entry " + std::to_string(index) + " is not (images, labels)");
      s.images = pair[0].toTensor();
      s.labels = pair[1].toTensor();
    } else {
      throw UserError(path + ": expected a dict {'images','labels'}, a pair (images, labels) or a list of pairs");
    }
  }
  if (facts) {
    facts->images_dtype = s.images.defined() ? std::string(c10::toString(s.images.scalar_type())) : "";
    facts->labels_dtype = s.labels.defined() ? std::string(c10::toString(s.labels.scalar_type())) : "";
  }
  s = check_set(std::move(s), path);
  const std::string sidecar = path + ".json";
  if (std::filesystem::exists(sidecar)) {
    std::ifstream js(sidecar);
    s.meta = json::parse(js, nullptr, false);
    if (s.meta.is_discarded()) s.meta = json::object();
  }
  return s;
}

std::string synset_content_hash(const SyntheticSet& set) {
  std::string bytes;
  for (const torch::Tensor* t : {&set.images, &set.labels, &set.learned_lr}) {
    if (!t->defined()) {
      bytes += "undefined;";
      continue;
    }
    const torch::Tensor c = t->detach().to(torch::kCPU).contiguous();
    bytes += std::string(c.dtype().name()) + "[";
    for (const auto d : c.sizes()) bytes += std::to_string(d) + ",";
    bytes += "]";
    bytes.append(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.numel() * c.element_size()));
  }
  if (set.outliers.defined()) {  // only then, so that the hashes of sets without outliers stay
    const torch::Tensor c = set.outliers.detach().to(torch::kCPU).contiguous();
    bytes += "outliers[";
    for (const auto d : c.sizes()) bytes += std::to_string(d) + ",";
    bytes += "]";
    bytes.append(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.numel() * c.element_size()));
  }
  return sha256_bytes(bytes);
}

}  // namespace ddb
