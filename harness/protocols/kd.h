// The schedule pieces of the `kd` protocol (harness/protocols/kd.cpp), exposed for tests.
#pragma once
#include <cstdint>
#include <string>

namespace ddb {

// RDED's re_batch_size (LINs-lab/RDED argument.py): IPC 1: 10, 10: 50, 50: 100; x2 for 100 or 1,000
// classes; Tiny-ImageNet 100; never above ipc x classes. 0: RDED has no rule for this IPC.
int64_t rded_batch_size(int64_t ipc, int64_t classes, const std::string& dataset);

// RDED's LambdaLR factor for 0-based epoch e of E: 0.5 (1 + cos(pi e / E / 2)) (0 past E).
double rded_lr_factor(int64_t epoch, int64_t epochs);

}  // namespace ddb
