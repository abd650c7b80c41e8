#!/usr/bin/env bash
# The lam = 1 half of the capacity ladder (results/points-ladder holds the lam = inf half), from the repository root:
# `bash results/points-ladder-lam1/run.sh`. The ladder "full" (widths 32/64/128 x fine-tunes 100k/300k/1M x seeds
# 0 (pick), 1, 2 (report), 3 generations) at lam = 1 alone, one job after another at one thread; the sweep runs in
# runs/points-ladder-lam1 (rerunning resumes it) and the small files are copied here by results/points-ladder/copy.sh.
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
PY=${PY:-.venv/bin/python}
SRC=${SRC:-runs/points-ladder-lam1}
DST=results/points-ladder-lam1
[ -e "$SRC/results.csv" ] || $PY -c "
import sys
from dataclasses import replace
from empirical.experiments.ladder import LADDERS, run_ladder
run_ladder(replace(LADDERS['full'], lams=(1.0,)), sys.argv[1], serial=True, progress=False)" "$SRC"
bash results/points-ladder/copy.sh "$SRC" "$DST"
