// Each evaluation run's own random stream on the process's default generators, for code that
// interleaves several runs (harness/train_stacked.h). Sequentially, run r seeds the default
// generators with its seed and every draw it makes (net initialisation, each epoch's shuffle, each
// batch's augmentation) comes from that stream in that order. Interleaved, `with(r, fn)` puts run r's
// saved generator state in, runs fn and saves the advanced state: every run draws exactly the numbers
// it would draw alone, so its data order, augmentation and initial weights are the sequential path's.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace ddb {

class RunStreams {
 public:
  // The CPU generator, and `device`'s when it is not the CPU (augmentation draws on the device).
  explicit RunStreams(torch::Device device);
  // A new stream, as torch::manual_seed(seed) leaves the default generators; returns its index.
  size_t add(uint64_t seed);
  size_t size() const { return states_.size(); }

  template <class F>
  decltype(auto) with(size_t r, F&& fn) {
    const Entered entered(*this, r);
    return std::forward<F>(fn)();
  }

 private:
  struct Entered {  // puts stream r in on construction, saves it on destruction (also on a throw)
    Entered(RunStreams& s, size_t r);
    ~Entered();
    RunStreams& streams;
    size_t run;
  };
  std::vector<at::Generator> generators_;
  std::vector<std::vector<torch::Tensor>> states_;  // [stream][generator]
};

// Keeps the caller's random stream across work that seeds the default generators itself (training a
// cached teacher inside a run: the run must draw the same numbers whether the teacher was on disk or
// not). Saves the CPU generator's state, and `device`'s, on construction; puts them back on destruction.
class KeepStreams {
 public:
  explicit KeepStreams(torch::Device device);
  ~KeepStreams();
  KeepStreams(const KeepStreams&) = delete;
  KeepStreams& operator=(const KeepStreams&) = delete;

 private:
  std::vector<at::Generator> generators_;
  std::vector<torch::Tensor> states_;
};

}  // namespace ddb
