#include "harness/run_streams.h"

#include <mutex>

namespace ddb {

namespace {
// The CPU generator, and `device`'s when it is not the CPU.
std::vector<at::Generator> default_generators(torch::Device device) {
  std::vector<at::Generator> g{at::globalContext().defaultGenerator(torch::Device(torch::kCPU))};
  if (!device.is_cpu()) g.push_back(at::globalContext().defaultGenerator(device));
  return g;
}
}  // namespace

RunStreams::RunStreams(torch::Device device) : generators_(default_generators(device)) {}

size_t RunStreams::add(uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> state;
  for (auto& g : generators_) {
    std::lock_guard<std::mutex> lock(g.mutex());
    state.push_back(g.get_state());
  }
  states_.push_back(std::move(state));
  return states_.size() - 1;
}

RunStreams::Entered::Entered(RunStreams& s, size_t r) : streams(s), run(r) {
  for (size_t g = 0; g < s.generators_.size(); ++g) {
    std::lock_guard<std::mutex> lock(s.generators_[g].mutex());
    s.generators_[g].set_state(s.states_.at(r)[g]);
  }
}

RunStreams::Entered::~Entered() {
  for (size_t g = 0; g < streams.generators_.size(); ++g) {
    std::lock_guard<std::mutex> lock(streams.generators_[g].mutex());
    streams.states_[run][g] = streams.generators_[g].get_state();
  }
}

KeepStreams::KeepStreams(torch::Device device) : generators_(default_generators(device)) {
  for (auto& g : generators_) {
    std::lock_guard<std::mutex> lock(g.mutex());
    states_.push_back(g.get_state());
  }
}

KeepStreams::~KeepStreams() {
  for (size_t i = 0; i < generators_.size(); ++i) {
    std::lock_guard<std::mutex> lock(generators_[i].mutex());
    generators_[i].set_state(states_[i]);
  }
}

}  // namespace ddb
