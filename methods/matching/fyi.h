// FYI's fixed transform of a synthetic batch (also used by the unequalness score).
#pragma once
#include <string>

#include "harness/types.h"

namespace ddb {

// hflip | vflip | rotate15 | scale1.2; differentiable. Unknown kind -> UserError.
torch::Tensor fyi_transform(const torch::Tensor& images, const std::string& kind);

}  // namespace ddb
