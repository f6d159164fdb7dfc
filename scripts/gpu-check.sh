#!/usr/bin/env bash
# Device check for a machine with an NVIDIA GPU (issue 15): every operator bit-exact on CUDA, the
# graph host (--host cuda) bit-exact, then ResNet-18 C2-C11 timed (warm median of 20) with the GPU's name. Self-contained: needs node_modules
# (npm ci), nvcc and the CUDA driver. Aim: under 5 minutes. Writes build/gpu-check.json.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
command -v nvcc >/dev/null || { echo "gpu-check: nvcc not found (install the CUDA toolkit)" >&2; exit 1; }
command -v nvidia-smi >/dev/null || { echo "gpu-check: nvidia-smi not found: no NVIDIA driver on this machine" >&2; exit 1; }
ARCH="${ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d . | sed 's/^/sm_/')}"
T="cuda -arch=$ARCH"
V="npx tsx src/cli/main.ts"
nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader
mkdir -p build
$V op conv2d --target "$T" --shape 14,14,32,32,3,1,1 --check --json > build/gpu-check-conv2d.json
$V op conv2d --target "$T" --shape 9,9,16,16,3,1,2 --groups 16 --check --json > build/gpu-check-depthwise.json
$V op conv2d --target "$T" --shape 11,9,24,24,3,1,1 --groups 4 --check --json > build/gpu-check-group.json
$V op dense --target "$T" --shape 5,37,19 --check --json > build/gpu-check-dense.json
$V op add --target "$T" --shape 7,5,19 --check --json > build/gpu-check-add.json
$V op maxpool --target "$T" --shape 7,5,19,3,1,2 --check --json > build/gpu-check-maxpool.json
grep -h '"match"' build/gpu-check-*.json
# The graph executor on the GPU: quantized graphs and LeNet-5 through --host cuda, bit-exact against
# the TypeScript host (test/gpu-graph.test.ts runs its cuda tests on the GPU where a driver is).
npx tsx test/gpu-graph.test.ts
npx tsx scripts/bench-gpu.ts --target "$T" --json > build/gpu-check.json
npx tsx scripts/bench-gpu.ts --target "$T"
