#!/usr/bin/env bash
# The GPU checks of issues 15 and 16 as one script, for a machine lent by the `device` tool (an NVIDIA GPU,
# PyTorch 2.x with CUDA, CMake, ninja, no network). Prepare here with `bash ci/gpu-deps.sh`, then run
#   run(command="bash ci/gpu-check.sh", carry=[".deps/gpu"], timeout_s=600)
# It builds ddbench against the machine's CUDA LibTorch (-DDDBENCH_CUDA=ON) and the carried Debian
# libraries, runs the CUDA tests, `ddbench bench --device cuda` (with stacked vs sequential evaluation runs)
# and the device pool on every GPU, and writes every log and figure to $OUT (or ./gpu-check-out).
# Steps after a failed one still run where they can; the last lines summarise each step's exit status.
set -uo pipefail
root_dir=$(pwd)
out=${OUT:-$root_dir/gpu-check-out}
deps=$root_dir/.deps/gpu
build=$root_dir/build-gpu
jobs=$(nproc)
mkdir -p "$out"
summary=()
step() {  # step NAME TIMEOUT_S COMMAND...: runs it with its own log, records the status and seconds
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  echo "== $name: $*"
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$out/$name.log"
  summary+=("$name rc=$rc $((SECONDS - t0))s")
  return $rc
}

step machine 60 bash -c 'nvidia-smi; nproc; free -g; python3 -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), torch.cuda.device_count())"'
[ -d "$deps/root" ] || tar -xJf "$deps/root.tar.xz" -C "$deps"
prefix=$deps/root/usr
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
multiarch=$prefix/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$multiarch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export DDBENCH_DATA=$deps/data

step configure 180 cmake -S "$root_dir" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDDBENCH_CUDA=ON \
  -DDDBENCH_BUILD_BENCHMARKS=OFF -DCMAKE_PREFIX_PATH="$torch_prefix;$prefix" -DCMAKE_LIBRARY_PATH="$prefix/lib" \
  -DCMAKE_INCLUDE_PATH="$prefix/include" -DCLI11_INCLUDE_DIR="$prefix/include" -Dyaml-cpp_DIR="$multiarch/cmake/yaml-cpp" \
  -Dfmt_DIR="$multiarch/cmake/fmt" -DGTest_DIR="$multiarch/cmake/GTest" \
  -Dnlohmann_json_DIR="$prefix/share/cmake/nlohmann_json"
step build 420 ninja -C "$build" -j "$jobs" ddbench ddbench_tests_unit ddbench_tests_augment ddbench_tests_nets

if [ -x "$build/ddbench" ]; then
  ddb=$build/ddbench
  step cuda-tests 120 bash -c "'$build/tests/ddbench_tests_augment' --gtest_filter='*Cuda*' && \
    '$build/tests/ddbench_tests_unit' --gtest_filter='TrainStacked.*:Devices.*' && \
    '$build/tests/ddbench_tests_nets' --gtest_filter='*Stacked*'"
  # Issue 16's GPU figures: seconds per evaluation run (IPC 1, 10), stacked vs sequential, DM iteration, test pass.
  step bench-cuda 300 "$ddb" bench --device cuda --ipc 1 --ipc 10 --stack-runs 5 --dm-iterations 3 --json "$out/bench-cuda.json"
  # Issue 15: the device pool on every GPU, two jobs per device; the GPU model and driver in provenance.
  step pool-cuda 300 "$ddb" run "$root_dir/suites/quickstart.yaml" --tier cpu --devices cuda:all --jobs-per-device 2 \
    --results "$out/pool" --report-dir "$out/pool-report"
  step provenance 30 python3 -c "
import json, sqlite3
db = sqlite3.connect('$out/pool/results.sqlite')
for (p,) in db.execute('select provenance_json from evaluations limit 2'):
    p = json.loads(p)
    print(json.dumps({k: p.get(k) for k in ('device', 'hardware', 'eval_runs', 'threads', 'torch_version')}))"
fi
echo "== summary"
printf '%s\n' "${summary[@]}" | tee "$out/summary.txt"
