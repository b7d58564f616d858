#include <benchmark/benchmark.h>

#include "harness/runtime.h"

int main(int argc, char** argv) {
  ddb::init_runtime(/*threads=*/2);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
