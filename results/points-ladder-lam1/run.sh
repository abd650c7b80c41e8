#!/usr/bin/env bash
# The lam = 1 half of the capacity ladder (results/points-ladder holds the lam = inf half), from the repository root:
# `bash results/points-ladder-lam1/run.sh`. The ladder "full" (widths 32/64/128 x fine-tunes 100k/300k/1M x seeds
# 0 (pick), 1, 2 (report), 3 generations) at lam = 1 alone, one job after another at one thread; the sweep runs in
# runs/points-ladder-lam1 (rerunning resumes it) and the small files are copied here as run.sh of points-ladder does.
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
rm -rf "$DST/jobs" "$DST/runs"
mkdir -p "$DST/jobs"
cp "$SRC/config.json" "$SRC/results.csv" "$DST/"
cp "$SRC"/jobs/*.csv "$DST/jobs/"
for run in "$SRC"/runs/*-seed1; do
  name=$(basename "$run")
  mkdir -p "$DST/runs/$name"
  cp "$run/config.json" "$run/metrics.jsonl" "$run/log.jsonl" "$DST/runs/$name/"
done
$PY -c "from empirical.experiments.ladder_results import read_results, summary; print(summary(read_results('$DST/results.csv')))" > "$DST/summary.md"
