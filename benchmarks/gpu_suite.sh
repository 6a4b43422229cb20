#!/usr/bin/env bash
# The prepared GPU run (issue: GPU-grade kernels): GPU tests, then every CUDA benchmark, in
# well under 8 minutes on an H100/H200. Results land in ${OUT:-benchmarks/results}; copy them
# into benchmarks/results/ and commit them with the GPU model in the file names.
#   bash benchmarks/gpu_suite.sh            (on a machine with a CUDA build of torch)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-benchmarks/results}"
mkdir -p "$OUT_DIR"
PY="${PYTHON:-python}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT_DIR/gpu.txt"
# 1. correctness on the device first: CUDA cases of the layer tests (they skip on CPU machines)
"$PY" -m pytest tests/test_nn_circulant.py tests/test_nn_functional.py -m gpu -q \
    -p no:cacheprovider 2>&1 | tee "$OUT_DIR/gpu-tests.txt"
# 2. layers: headline cases and the n x batch sweep, dense in FP32 and in TF32
"$PY" -m circlearn bench layers --device cuda --out "$OUT_DIR"
"$PY" -m circlearn bench layers --device cuda --sweep --out "$OUT_DIR"
"$PY" -m circlearn bench layers --device cuda --sweep --tf32 --out "$OUT_DIR"
# 3. models: training step videos/s and parameter memory per preset at paper sizes
"$PY" -m circlearn bench models --device cuda --out "$OUT_DIR"
# 4. last (compiling takes a while): headline cases under torch.compile with CUDA graphs
"$PY" -m circlearn bench layers --device cuda --compile --out "$OUT_DIR"
echo "results in $OUT_DIR"
