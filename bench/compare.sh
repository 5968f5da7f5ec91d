#!/usr/bin/env bash
# Strata against PyTorch in one sitting: `strata bench` and bench/pytorch_bench.py,
# alternating workload by workload (which side goes first alternates too, so drift in
# the machine's speed falls on both), at 2 threads and at 1, then a table of ratios.
#
# Usage: bench/compare.sh [--setup] [WORKLOADS]   (from anywhere; WORKLOADS like W1,W5)
#   --setup  make the PyTorch venv first (python3 -m venv + pip install torch numpy,
#            about 5 GB) at $STRATA_TORCH_VENV (default /work/venv-torch), outside the repo.
#   STRATA_THREADS="2 1"   thread counts to run (default both)
#   ROUNDS=3               rounds of the whole sitting (default 3); the table pairs each
#                          round's two figures, taken back to back, and gives the median
#                          of the rounds' ratios: these machines' speed drifts by half
#                          within minutes, so one round can land a figure in a slow spell
#   CARGO_TARGET_DIR       where the release `strata` binary is built (default target/)
# The JSON lines of the sitting go to $COMPARE_OUT (default /tmp/strata-compare-<time>.jsonl).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="${STRATA_TORCH_VENV:-/work/venv-torch}"
workloads="W1,W1-b16,W2,W3,W4,W5,W6"
setup=0
for arg in "$@"; do
    case "$arg" in
        --setup) setup=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) workloads="$arg" ;;
    esac
done

if [[ $setup == 1 && ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install torch numpy
fi
if [[ ! -x "$venv/bin/python" ]]; then
    echo "no PyTorch venv at $venv: run with --setup (or set STRATA_TORCH_VENV)" >&2
    exit 2
fi

(cd "$repo" && cargo build --release -q -p strata-cli)
strata="${CARGO_TARGET_DIR:-$repo/target}/release/strata"
out="${COMPARE_OUT:-/tmp/strata-compare-$(date +%Y%m%d-%H%M%S).jsonl}"
: > "$out"

cd "$repo"
echo "# $(date -Is)  $(lscpu | grep 'Model name' | sed 's/  */ /g')" | tee -a "$out"
echo "# PyTorch $("$venv/bin/python" -c 'import torch; print(torch.__version__)'), strata $(git rev-parse --short HEAD)" | tee -a "$out"
n=0
for round in $(seq 1 "${ROUNDS:-3}"); do
    for threads in ${STRATA_THREADS:-2 1}; do
        for w in ${workloads//,/ }; do
            echo "# round=$round threads=$threads workload=$w $(uptime | sed 's/.*load/load/')" | tee -a "$out"
            run_strata() { "$strata" bench --workload "$w" --threads "$threads" --json; }
            run_torch() { "$venv/bin/python" bench/pytorch_bench.py data/mnist --only "$w" --threads "$threads" --json; }
            if (( n++ % 2 == 0 )); then first=run_strata second=run_torch; else first=run_torch second=run_strata; fi
            for side in $first $second; do
                $side | sed "s/^{/{\"round\": $round, \"threads\": $threads, /" | tee -a "$out"
            done
        done
    done
done
echo "# $(uptime)" | tee -a "$out"
echo
python3 bench/compare_table.py "$out"
echo "(lines: $out)"
