#!/usr/bin/env bash
# Copy a finished point-ladder sweep's small files from SRC (under runs/) into DST (under results/): config.json,
# results.csv, jobs/, the report seed 1 runs' config, metrics and log, and summary.md (the table the command prints).
# Used by results/points-ladder/run.sh and results/points-ladder-lam1/run.sh: `bash results/points-ladder/copy.sh SRC DST`.
set -euo pipefail
PY=${PY:-.venv/bin/python}
SRC=$1
DST=$2
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
