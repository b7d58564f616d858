// Cell statuses as data (after llvm lit's ResultCode): each says whether it counts as a failure.
#pragma once
#include <string>

namespace ddb {

enum class Status {
  Pass,            // within the band
  Above,           // better than the band: reported, not a failure
  Fail,            // worse than the band
  XFail,           // expected to diverge (cell says why) and it does
  XPass,           // expected to diverge but reproduces now: a failure until the xfail is removed
  Unchecked,       // ran, but there is no value to check against (no committed reference for this tier)
  NoPaperValue,    // ran, but the paper's number could not be read
  NotRun,          // runnable, no result in the store yet
  RunFailed,       // every job of the cell failed (error recorded)
  Unimplemented,   // method / protocol / metric / net not implemented yet
  NeedsGpu,        // the tier's settings need a GPU and none is present
  DatasetMissing,  // the data is not on this machine (the reason names where we looked)
  NeedsPretrained, // needs pretrained weights (e.g. a GAN prior)
  Invalid,         // the cell's configuration is rejected (bad option, unknown dataset)
};

struct StatusInfo {
  const char* name;
  bool is_failure;   // makes `ddbench check` exit non-zero
  bool is_skip;      // not run on this machine (ctest reports SKIPPED when nothing else ran)
};

inline StatusInfo status_info(Status s) {
  switch (s) {
    case Status::Pass: return {"pass", false, false};
    case Status::Above: return {"above", false, false};
    case Status::Fail: return {"fail", true, false};
    case Status::XFail: return {"xfail", false, false};
    case Status::XPass: return {"xpass", true, false};
    case Status::Unchecked: return {"unchecked", false, false};
    case Status::NoPaperValue: return {"no-paper-value", false, false};
    case Status::NotRun: return {"not-run", false, true};
    case Status::RunFailed: return {"failed", true, false};
    case Status::Unimplemented: return {"unimplemented", false, true};
    case Status::NeedsGpu: return {"needs-gpu", false, true};
    case Status::DatasetMissing: return {"dataset-missing", false, true};
    case Status::NeedsPretrained: return {"needs-pretrained-weights", false, true};
    case Status::Invalid: return {"invalid", true, true};
  }
  return {"?", true, false};
}
inline std::string status_name(Status s) { return status_info(s).name; }

}  // namespace ddb
