#!/usr/bin/env bash
# The held-out checks behind results/points-heldout, from the repository root: `bash results/points-heldout/run.sh`.
# Runs go to runs/heldout/ (networks and samples stay there); the JSON lines land here. laws: the cpu point preset,
# one curated generation on each of seven laws, each law its own seed (3 + its index); capacity: the capacity ladder's
# loop on ring12, a law the ladder never saw, at the budgets and widths its picks name, seeds 3 and 4.
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=.
PY=${PY:-.venv/bin/python}
H=results/points-heldout/heldout.py
O=runs/heldout
D=results/points-heldout
mkdir -p $O
$PY $H laws $O 3 > $D/laws-seed3.jsonl
$PY $H capacity $O ring12 100000 32,128 3,4 > $D/capacity-ring12-ft100k.jsonl
$PY $H capacity $O ring12 1000000 128 3,4 > $D/capacity-ring12-ft1M.jsonl
