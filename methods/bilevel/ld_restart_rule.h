// LD's model-restart rule (label_distillation_or2.py train(): ma_list, lowest_ma_sum, num_steps_list),
// apart from the method so that tests can drive it step by step.
#pragma once
#include <algorithm>
#include <cstdint>
#include <deque>
#include <vector>

namespace ddb {

// The reference's model restarts: the moving sum of the stepped model's training error (percent) over a
// window of `window` steps; once it has gone `window` steps without a new minimum the model restarts and
// the step count at that minimum is recorded. Validation runs train for the mean of the last three such
// counts (before the first restart: the steps so far).
class LdRestartRule {
 public:
  explicit LdRestartRule(int64_t window) : window_(window) {}

  // Adds one step's error; true when the model is to restart now.
  bool add(double error) {
    ++steps_;
    if (static_cast<int64_t>(errors_.size()) < window_) {
      errors_.push_back(error);
      sum_ += error;
      if (steps_ == window_) lowest_ = sum_, since_lowest_ = 0;
      return false;
    }
    sum_ += error - errors_.front();
    errors_.pop_front();
    errors_.push_back(error);
    if (sum_ < lowest_) {
      lowest_ = sum_;
      since_lowest_ = 0;
      return false;
    }
    if (since_lowest_ < window_) {
      ++since_lowest_;
      return false;
    }
    restarts_.push_back(steps_ - since_lowest_ - 1);
    errors_.clear();
    sum_ = 0;
    lowest_ = kNoMinimum;
    steps_ = since_lowest_ = 0;
    return true;
  }

  int64_t steps_for_validation() const {
    if (restarts_.empty()) return steps_;
    const size_t k = std::min<size_t>(3, restarts_.size());
    int64_t sum = 0;
    for (size_t i = restarts_.size() - k; i < restarts_.size(); ++i) sum += restarts_[i];
    return sum / static_cast<int64_t>(k);  // int(np.mean(...)) of non-negative counts
  }
  size_t restarts() const { return restarts_.size(); }
  // The step count at the minimum before each restart, in order.
  const std::vector<int64_t>& recorded_steps() const { return restarts_; }

 private:
  static constexpr double kNoMinimum = 999999999;  // the reference's lowest_ma_sum before a full window
  int64_t window_;
  std::deque<double> errors_;
  double sum_ = 0, lowest_ = kNoMinimum;
  int64_t steps_ = 0, since_lowest_ = 0;
  std::vector<int64_t> restarts_;
};

}  // namespace ddb
