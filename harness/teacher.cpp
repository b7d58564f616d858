#include "harness/teacher.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/files.h"
#include "core/hashing.h"
#include "harness/augment/dsa.h"
#include "harness/run_streams.h"
#include "harness/runtime.h"
#include "harness/train.h"

namespace ddb {

namespace fs = std::filesystem;

namespace {

constexpr int kFormat = 1;

// An exclusive flock on `path` for the object's lifetime (released by the kernel if the process dies).
class FileLock {
 public:
  explicit FileLock(const std::string& path) : fd_(::open(path.c_str(), O_CREAT | O_RDWR, 0644)) {
    if (fd_ < 0) throw UserError("cannot open lock file " + path);
    ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

// Parameters then buffers, by their module path ("features.0.weight", "features.1.running_mean").
std::vector<std::pair<std::string, torch::Tensor>> named_state(NetImpl& net) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : net.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : net.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

void save_state(NetImpl& net, const std::string& path) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, t] : named_state(net)) dict.insert(name, t.detach().cpu().contiguous());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

void load_state(NetImpl& net, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": teacher weights missing");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    const auto dict = torch::pickle_load(bytes).toGenericDict();
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : named_state(net)) {
      const auto it = dict.find(name);
      if (it == dict.end()) throw UserError("no tensor '" + name + "'");
      const torch::Tensor v = it->value().toTensor();
      if (v.sizes() != t.sizes()) throw UserError("'" + name + "' has another shape");
      t.copy_(v);
    }
  } catch (const std::exception& e) {
    throw UserError(path + ": not the teacher of this configuration (delete it to retrain): " +
                    std::string(e.what()).substr(0, 200));
  }
}

void train_teacher(NetImpl& net, const LoadedDataset& data, const TeacherSpec& spec, torch::Device device,
                   const ProgressFn& progress) {
  TrainSchedule s;
  s.epochs = spec.epochs;
  s.extra_epoch = false;
  s.lr = spec.lr;
  s.momentum = spec.momentum;
  s.weight_decay = spec.weight_decay;
  s.batch = spec.batch;
  if (spec.augment == "dsa") {
    const Dsa dsa(Dsa::default_strategy_for(data.info.name));
    s.augment = [dsa](const torch::Tensor& x) { return dsa(x, -1); };
  }
  train_classifier(net, data.train.images.to(device), data.train.labels.to(device), s, progress, "teacher");
}

}  // namespace

json TeacherSpec::to_json() const {
  return {{"net", net},     {"epochs", epochs}, {"lr", lr},          {"momentum", momentum},
          {"weight_decay", weight_decay}, {"batch", batch}, {"augment", augment}};
}

json Teacher::provenance() const { return {{"key", key}, {"spec", spec.to_json()}, {"test_accuracy", test_accuracy}}; }

Teacher load_or_train_teacher(const std::string& cache_dir, const LoadedDataset& data, const TeacherSpec& spec,
                              torch::Device device, const ProgressFn& progress) {
  if (spec.augment != "dsa" && spec.augment != "none")
    throw UserError("teacher augment '" + spec.augment + "' is not supported (dsa, none)");
  if (spec.epochs < 1) throw UserError("teacher epochs must be >= 1");
  const KeepStreams keep(device);  // the caller's stream is not ours to advance (make_net draws too)
  Teacher t;
  t.spec = spec;
  const json key_json = {{"format", kFormat}, {"dataset", data.identity}, {"spec", spec.to_json()}};
  t.key = sha256_bytes(key_json.dump()).substr(0, 16);
  const fs::path dir = fs::path(cache_dir) / "teachers" / t.key;
  t.path = (dir / "teacher.pt").string();
  const std::string meta_path = (dir / "meta.json").string();
  t.net = make_net(spec.net, data.info.shape, data.info.num_classes);
  {
    fs::create_directories(dir);
    const FileLock lock((dir / "lock").string());
    if (!fs::exists(t.path)) {
      torch::manual_seed(derive_seed(t.key, 0, "teacher"));
      t.net = make_net(spec.net, data.info.shape, data.info.num_classes);
      t.net->to(device);
      const auto t0 = std::chrono::steady_clock::now();
      train_teacher(*t.net, data, spec, device, progress);
      const double acc = test_accuracy(*t.net, data.test, device);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      save_state(*t.net, t.path);
      const json meta = {{"key", t.key},         {"dataset_identity", data.identity}, {"spec", spec.to_json()},
                         {"test_accuracy", acc}, {"seconds", seconds},                {"device", device.str()},
                         {"threads", torch::get_num_threads()},                      {"ddbench", ddbench_version()}};
      write_file_atomic(meta_path, meta.dump(2) + "\n");
    }
  }
  load_state(*t.net, t.path);
  t.net->to(device);
  std::ifstream meta_in(meta_path);
  const json meta = json::parse(meta_in, nullptr, /*allow_exceptions=*/false);
  if (meta.is_object() && meta.contains("test_accuracy") && meta["test_accuracy"].is_number()) {
    t.test_accuracy = meta["test_accuracy"].get<double>();
  } else {  // meta.json lost: measure again (the weights are what counts)
    t.test_accuracy = test_accuracy(*t.net, data.test, device);
  }
  t.net->eval();  // after test_accuracy, which leaves the net in train mode
  for (auto& p : t.net->parameters()) p.set_requires_grad(false);
  return t;
}

}  // namespace ddb
