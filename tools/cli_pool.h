// `ddbench run --workers N --devices LIST --jobs-per-device K`: the device pool's slots and the command
// line its workers share (harness/worker_pool.h runs them).
#pragma once
#include <string>
#include <vector>

#include "cli_common.h"
#include "harness/worker_pool.h"

namespace ddb::cli {

// One device per worker slot. `devices`: "" (cpu), "cpu", "cuda:all" or a list "cuda:0,cuda:1" (cpu may be
// listed too); every device gets `jobs_per_device` slots; `workers` > 0 caps or extends the slots by cycling
// the devices. UserError on an unknown device or a GPU this machine does not have.
std::vector<std::string> pool_slots(const std::string& devices, int workers, int jobs_per_device);

// Intra-op threads per worker: `threads` when given, else the machine's cores split over the CPU slots
// (at least 1; a GPU slot's worker keeps 1 thread per slot as well).
int pool_threads(int threads, const std::vector<std::string>& slots);

}  // namespace ddb::cli
