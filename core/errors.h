// The errors the harness turns into statuses or one-line messages rather than crashes (torch-free).
#pragma once
#include <stdexcept>

namespace ddb {

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
