#!/usr/bin/env bash
# `make demo`: the two embedded models side by side, on this machine, with the time of each stage.
#   SmolLM2-135M-Instruct (an instruct model) vs Gemma 3 270M (a base model), both served by
#   llama.cpp's llama-server: every built-in offline suite, a load test, long-input strategies,
#   and one report whose table marks which differences are significant under paired tests.
# Sizes: SIZES below (the README's "The demo" explains them).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
OUT=${SLMBENCH_DEMO_OUT:-slmbench-runs}
# Samples per suite and answer caps, chosen so that both models finish in a few minutes on 2
# cores: Gemma, a base model, runs every answer to its cap, so its cost is samples x cap.
SIZES=(--limit 8 --limit instruction=12 --limit reasoning=6 --limit structured=2 --limit understanding=1
       --limit multilingual=2 --limit coding=3 --limit longcontext=6
       --max-tokens 128 --max-tokens arithmetic=48 --max-tokens multilingual=48 --max-tokens coding=160
       --max-tokens longcontext=32)
MODELS=(smollm2-135m gemma-3-270m)

times=()
stage() {
    local name=$1 start=$SECONDS
    shift
    echo "== $name"
    "$@"
    times+=("$(printf '%-28s %4d s' "$name" $((SECONDS - start)))")
}

stage "set-up" make -s setup
stage "eval (both models)" "$BIN/slmbench" eval -m "${MODELS[0]}" -m "${MODELS[1]}" "${SIZES[@]}" --lengths 1k,2k \
    --out "$OUT"
runs=("$(readlink -f "$OUT/latest")")
for model in "${MODELS[@]}"; do
    stage "perf ($model)" "$BIN/slmbench" perf -m "$model" --concurrency 1,2 --requests 4 --output-len 32 \
        --out "$OUT/perf"
    runs+=("$(readlink -f "$OUT/perf/latest")")
    stage "longdoc compare ($model)" "$BIN/slmbench" longdoc compare -m "$model" --lengths 1k --limit 1 \
        --out "$OUT/longdoc"
    runs+=("$(readlink -f "$OUT/longdoc/latest")")
done
stage "report" "$BIN/slmbench" report "${runs[@]}" --out "$OUT/report"

echo
echo "time per stage:"
printf '  %s\n' "${times[@]}"
echo "  total                        $SECONDS s"
sed -n '/^## Comparison/,/^## /p' "$OUT/report/report.md" | sed '$d'
echo "report: $OUT/report/report.html"
