#!/bin/sh
# On a machine with an NVIDIA GPU: the checks of the vLLM path that CI cannot make (CI runs the
# same sequence against stand-ins for vllm and nvidia-smi). Run from the checkout, with the venv:
#   sh examples/gpu_check.sh [OUT]          # OUT: where the runs go (default /tmp/slmbench-gpu-check)
# It prints what nvidia-smi and detect_gpu see, the plan for the reference models on this card,
# runs the stand-in sequence here, and, when a real `vllm` is installed, evaluates Qwen3-4B with
# it on a few samples (start-up time and scores are printed; the log is kept under OUT).
set -eu
OUT=${1:-/tmp/slmbench-gpu-check}
PY=${PYTHON:-python}
mkdir -p "$OUT"
echo "== nvidia-smi"
nvidia-smi --query-gpu=index,name,memory.total,memory.used --format=csv,noheader,nounits
echo "== detect_gpu"
$PY -c "from slmbench.serving.vllm import detect_gpu; d, n = detect_gpu(); print(d.name, round(d.memory / 2**30, 1), 'GiB', d.bandwidth_gbs, 'GB/s', n, 'GPU(s)')"
echo "== the plan eval would start on this card"
for m in qwen3-4b llama3-8b mistral-7b phi3-mini; do
  slmbench serve "$m" --backend vllm --dry-run 2>&1 | tail -2
done
echo "== the stand-in sequence (tests/test_vllm_eval.py)"
$PY -m pytest tests/test_vllm_eval.py tests/test_vllm_examples.py -q -p no:cacheprovider
if command -v vllm >/dev/null 2>&1 || [ -n "${SLMBENCH_VLLM:-}" ]; then
  echo "== a real vLLM: Qwen3-4B, 5 samples each of instruction, structured, longcontext"
  time slmbench eval --vllm qwen3-4b --task instruction --task structured --task longcontext --limit 5 \
    --out "$OUT" 2>&1 | tail -25
  echo "== again: every answer stored, vLLM not started"
  time slmbench eval --vllm qwen3-4b --task instruction --task structured --task longcontext --limit 5 \
    --out "$OUT" 2>&1 | grep -E "not started|results:" || true
else
  echo "== no vllm here (pip install vllm, or SLMBENCH_VLLM=PATH): the real run is skipped"
fi
