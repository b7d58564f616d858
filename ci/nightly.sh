#!/usr/bin/env bash
# The nightly regression report (issue 15): build, run the suites selected by ctest label through the device
# pool, compare the night's store with the previous night's (or with the committed references when there is
# none) and write reports/nightly/<date>.md (+ .json + <date>-plots/*.svg) and a line per cell in
# reports/nightly/trend.csv.
#
#   ci/nightly.sh [--labels REGEX] [--results-dir DIR] [--report-dir DIR] [--build-dir DIR | --preset NAME]
#                 [--no-build] [--tier cpu|paper] [--workers N] [--jobs-per-device K] [--date YYYY-MM-DD]
#                 [--alpha A]
#
# Machine: with a GPU (nvidia-smi) and a CUDA LibTorch the build uses the `cuda` preset and the paper tier;
# otherwise the `default` preset and the cpu tier. Suites: those ctest registers with a label matching
# --labels (default `smoke`) AND the tier's label (`cpu` / `paper`); their suite files are read from ctest's
# test commands, so a suite's `ctest:` line decides (cmake/DdbenchSuites.cmake). Workers: GPUs x
# --jobs-per-device on a GPU machine, else cores / 2 (at least 1).
# Stores: <results-dir>/<date>/ (results-dir: --results-dir, else $DDBENCH_NIGHTLY_DIR, else results/nightly);
# a rerun on the same date resumes. Baseline: the newest earlier <date>/ store, else `references` (cpu tier
# only; the paper tier's first night has nothing to compare with and says so).
# Exit: 0 nothing regressed; 1 a cell regressed; 2 a usage, build or report error; 3 no regression but jobs
# failed (the report lists those cells as failed).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
labels=smoke
results_dir=${DDBENCH_NIGHTLY_DIR:-$repo/results/nightly}
report_dir=$repo/reports/nightly
build_dir=""
preset=""
no_build=0
tier=""
workers=""
jobs_per_device=1
night=$(date -u +%F)
alpha=0.01

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "nightly: $*" >&2; exit 2; }
need_value() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --labels) need_value "$@"; labels=$2; shift 2 ;;
    --results-dir) need_value "$@"; results_dir=$2; shift 2 ;;
    --report-dir) need_value "$@"; report_dir=$2; shift 2 ;;
    --build-dir) need_value "$@"; build_dir=$2; shift 2 ;;
    --preset) need_value "$@"; preset=$2; shift 2 ;;
    --no-build) no_build=1; shift ;;
    --tier) need_value "$@"; tier=$2; shift 2 ;;
    --workers) need_value "$@"; workers=$2; shift 2 ;;
    --jobs-per-device) need_value "$@"; jobs_per_device=$2; shift 2 ;;
    --date) need_value "$@"; night=$2; shift 2 ;;
    --alpha) need_value "$@"; alpha=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (--help)" ;;
  esac
done
[[ $night =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || die "--date '$night': expected YYYY-MM-DD"
[[ -z $workers || $workers =~ ^[1-9][0-9]*$ ]] || die "--workers '$workers': expected a positive integer"
[[ $jobs_per_device =~ ^[1-9][0-9]*$ ]] || die "--jobs-per-device '$jobs_per_device': expected a positive integer"
[[ -z $tier || $tier == cpu || $tier == paper ]] || die "--tier '$tier': expected cpu or paper"

# --- The machine --------------------------------------------------------------------------------------------
gpus=0
if command -v nvidia-smi >/dev/null 2>&1; then
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
fi
# A CUDA LibTorch: libtorch_cuda.so next to the Torch CMake package or in the linker's cache.
cuda_libtorch=0
prefix_path=${CMAKE_PREFIX_PATH:-}
for prefix in ${Torch_DIR:+"$Torch_DIR/../../.."} ${prefix_path//:/ } /usr/local/libtorch /opt/libtorch; do
  if [[ -e $prefix/lib/libtorch_cuda.so ]]; then cuda_libtorch=1; break; fi
done
if [[ $cuda_libtorch == 0 ]] && command -v ldconfig >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q libtorch_cuda.so; then
  cuda_libtorch=1
fi
gpu_machine=0
[[ $gpus -gt 0 && $cuda_libtorch == 1 ]] && gpu_machine=1
[[ -n $preset ]] || { [[ $gpu_machine == 1 ]] && preset=cuda || preset=default; }
[[ -n $tier ]] || { [[ $gpu_machine == 1 ]] && tier=paper || tier=cpu; }
cores=$(nproc 2>/dev/null || echo 2)
if [[ -z $workers ]]; then
  if [[ $tier == paper && $gpus -gt 0 ]]; then workers=$((gpus * jobs_per_device)); else workers=$((cores / 2)); fi
  [[ $workers -ge 1 ]] || workers=1
fi
devices=cpu
[[ $preset == cuda && $gpus -gt 0 ]] && devices=cuda:all
echo "nightly $night: $gpus GPU(s), CUDA LibTorch $([[ $cuda_libtorch == 1 ]] && echo yes || echo no), $cores cores" \
     "-> preset $preset, tier $tier, $workers worker(s) on $devices"

# --- Build --------------------------------------------------------------------------------------------------
if [[ -z $build_dir ]]; then
  case $preset in
    default) build_dir=$repo/build ;;
    cuda) build_dir=$repo/build-cuda ;;
    debug) build_dir=$repo/build-debug ;;
    *) die "--preset '$preset': unknown (default | cuda | debug), or give --build-dir" ;;
  esac
  configure=(cmake --preset "$preset")
else
  configure=(cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  [[ $preset == cuda ]] && configure+=(-DDDBENCH_CUDA=ON)
fi
if [[ $no_build == 0 ]]; then
  (cd "$repo" && "${configure[@]}" >/dev/null) || die "configure failed: ${configure[*]}"
  cmake --build "$build_dir" -j "$cores" --target ddbench || die "build failed"
fi
ddbench=$build_dir/ddbench
[[ -x $ddbench ]] || die "no $ddbench (build it, or drop --no-build)"

# --- Suites by label ----------------------------------------------------------------------------------------
suites=()
while IFS= read -r suite; do
  [[ -n $suite ]] && suites+=("$suite")
done < <(ctest --test-dir "$build_dir" -N -V -L "$labels" -L "^${tier}\$" 2>/dev/null |
           sed -n 's/.*Test command: .*"ctest-suite" "\([^"]*\)".*/\1/p' | sort -u)
if [[ ${#suites[@]} -eq 0 ]]; then
  die "no suite registered with a label matching '$labels' at the $tier tier (ctest --test-dir $build_dir -N -L '$labels' lists what there is)"
fi
echo "suites (${#suites[@]}): ${suites[*]#"$repo"/}"

# --- Run ----------------------------------------------------------------------------------------------------
mkdir -p "$results_dir" "$report_dir"
results_dir=$(cd "$results_dir" && pwd)
exec 9>"$results_dir/.lock"
flock -n 9 || die "another nightly holds $results_dir/.lock"
store=$results_dir/$night
previous=""
for d in "$results_dir"/????-??-??; do  # names sort by date
  [[ -f $d/results.sqlite && $(basename "$d") < $night ]] && previous=$d
done
start=$SECONDS
run_rc=0
(cd "$repo" && "$ddbench" run "${suites[@]}" --tier "$tier" --results "$store" --workers "$workers" \
   --devices "$devices" --jobs-per-device "$jobs_per_device" --no-report -q) || run_rc=$?
echo "run: exit $run_rc after $((SECONDS - start)) s, store $store"
[[ $run_rc -le 1 ]] || die "ddbench run failed (exit $run_rc)"

# --- Regress ------------------------------------------------------------------------------------------------
if [[ -n $previous ]]; then
  baseline=$previous
elif [[ $tier == cpu ]]; then
  baseline=references
else
  {
    echo "# ddbench nightly $night"
    echo
    echo "First night at the $tier tier: no earlier store in \`$results_dir\` and no committed references at this"
    echo "tier, so nothing to compare with. Tomorrow's report compares with \`$store\`."
  } > "$report_dir/$night.md"
  echo "no baseline: wrote $report_dir/$night.md"
  exit $(( run_rc == 0 ? 0 : 3 ))
fi
echo "baseline: $baseline"
regress_rc=0
(cd "$repo" && "$ddbench" regress "${suites[@]}" --tier "$tier" --baseline "$baseline" --candidate "$store" \
   --alpha "$alpha" --out-dir "$report_dir" --name "$night" --trend "$report_dir/trend.csv" --trend-date "$night") || regress_rc=$?
case $regress_rc in
  0) if [[ $run_rc -ne 0 ]]; then echo "nightly $night: no regression, but jobs failed (see the report)"; exit 3; fi
     echo "nightly $night: no regression"; exit 0 ;;
  1) echo "nightly $night: REGRESSION (see $report_dir/$night.md)"; exit 1 ;;
  *) die "ddbench regress failed (exit $regress_rc)" ;;
esac
