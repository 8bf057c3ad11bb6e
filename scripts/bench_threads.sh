#!/bin/sh
# Thread-configuration study behind hfcpp::configure_threads(): decode (110M Llama, fp32 and
# bf16) and a BERT-base forward (batch 1 and 8, seq 128) under each combination of torch
# intra-op threads, OpenBLAS threads and OMP_WAIT_POLICY. libgomp reads OMP_WAIT_POLICY when it is
# loaded, so every configuration runs in a fresh process. Prints one markdown row per run.
#
#   scripts/bench_threads.sh [BUILD_DIR] [RUNS]
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build-dec}
RUNS=${2:-3}
cmake --build "$BUILD_DIR" --target bench_decode >&2
BIN="$BUILD_DIR/bench/bench_decode"
unset OMP_NUM_THREADS || true
echo "| OMP_WAIT_POLICY | torch | OpenBLAS | decode fp32 tok/s | decode bf16 tok/s | prefill fp32 s | BERT b1 s | BERT b8 s |"
echo "|---|---|---|---|---|---|---|---|"
for policy in default passive; do
  for torch in 1 2; do
    for blas in 1 2; do
      if [ "$policy" = passive ]; then export OMP_WAIT_POLICY=passive; else unset OMP_WAIT_POLICY || true; fi
      decode=$("$BIN" --workload decode --runs "$RUNS" --new 64 --skip-naive --torch-threads "$torch" --blas-threads "$blas" | grep '^JSON')
      bert=$("$BIN" --workload bert --runs "$RUNS" --torch-threads "$torch" --blas-threads "$blas" | grep '^JSON')
      fp32=$(echo "$decode" | grep '"float32"' | sed 's/.*"decode_tok_s":\([0-9.]*\).*/\1/')
      bf16=$(echo "$decode" | grep '"bfloat16"' | sed 's/.*"decode_tok_s":\([0-9.]*\).*/\1/')
      prefill=$(echo "$decode" | grep '"float32"' | sed 's/.*"prefill_s":\([0-9.]*\).*/\1/')
      b1=$(echo "$bert" | sed 's/.*"b1_s":\([0-9.]*\).*/\1/')
      b8=$(echo "$bert" | sed 's/.*"b8_s":\([0-9.]*\).*/\1/')
      printf '| %s | %s | %s | %.1f | %.1f | %.3f | %.3f | %.3f |\n' "$policy" "$torch" "$blas" "$fp32" "$bf16" "$prefill" "$b1" "$b8"
    done
  done
done
