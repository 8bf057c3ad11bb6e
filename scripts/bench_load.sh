#!/bin/sh
# Builds bench_load and runs it: hfcpp loading a ~2 GB checkpoint (single safetensors, 500 MB
# shards, .bin when available) against `cat`, in fresh processes, medians of N runs, as a
# markdown table. The checkpoint is generated once under $DIR and reused.
#
#   scripts/bench_load.sh [BUILD_DIR] [-- bench_load options: --dir DIR --runs N --layers L]
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build-cli}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
[ -f "$BUILD_DIR/build.ninja" ] || [ -f "$BUILD_DIR/Makefile" ] || cmake -S . -B "$BUILD_DIR" -G Ninja
cmake --build "$BUILD_DIR" --target bench_load
# The thread configuration is part of the result: say what it is, change nothing.
echo "OMP_NUM_THREADS=${OMP_NUM_THREADS:-(unset)} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset)}" >&2
exec "$BUILD_DIR/bench/bench_load" "$@"
