#!/usr/bin/env bash
# The capacity ladder behind results/points-ladder, from the repository root: `bash results/points-ladder/run.sh`.
# The sweep runs in runs/points-ladder (networks and candidate arrays stay there; rerunning resumes it); the small
# files are then copied here: config.json, results.csv, summary.md, jobs/, the report seed 1 runs' config, metrics
# and log, and the evaluation samples of the two runs that figures/fig_points_densities.py draws.
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
PY=${PY:-.venv/bin/python}
SRC=${SRC:-runs/points-ladder}
DST=results/points-ladder

# a finished sweep is only copied (a folder made by other code is refused by the command, rightly)
[ -e "$SRC/results.csv" ] || $PY -m empirical points-ladder --ladder inf --out "$SRC" --workers 2 --threads 1 > /dev/null

bash results/points-ladder/copy.sh "$SRC" "$DST"
for name in laminf-w128-ft1M-seed1 laminf-w32-ft100k-seed1; do
  for g in "$SRC/runs/$name"/gen_*; do
    mkdir -p "$DST/runs/$name/$(basename "$g")"
    cp "$g/samples.npz" "$DST/runs/$name/$(basename "$g")/"
  done
done
