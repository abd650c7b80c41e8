#!/usr/bin/env bash
# SIMS at the point rung (issue 22's rerun: six report seeds), from the repository root: `bash results/points-sims/run.sh`.
# The experiment runs in runs/points-sims (rerunning resumes it; a folder made by other code is refused), one job after
# another at one thread; then its small files are copied here: picked.json, bases/results.csv, and per phase
# (pick/, report/) config.json, results.csv, jobs/ and every run's config.json, metrics.jsonl and log.jsonl.
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
PY=${PY:-.venv/bin/python}
SRC=${SRC:-runs/points-sims}
DST=results/points-sims
$PY -m empirical points-sims --out "$SRC" --workers 1 --threads 1
rm -rf "$DST/pick" "$DST/report" "$DST/bases"
cp "$SRC/picked.json" "$DST/"
mkdir -p "$DST/bases" && cp "$SRC/bases/config.json" "$SRC/bases/results.csv" "$DST/bases/"
for phase in pick report; do
  mkdir -p "$DST/$phase/jobs"
  cp "$SRC/$phase/config.json" "$SRC/$phase/results.csv" "$DST/$phase/"
  cp "$SRC/$phase"/jobs/*.csv "$DST/$phase/jobs/"
  for run in "$SRC/$phase"/runs/*/; do
    name=$(basename "$run")
    mkdir -p "$DST/$phase/runs/$name"
    cp "$run/config.json" "$run/metrics.jsonl" "$run/log.jsonl" "$DST/$phase/runs/$name/"
  done
done
