#!/usr/bin/env bash
# Every run behind results/cpu-sims, from the repository root: `bash results/cpu-sims/run.sh` (about an hour at one
# thread on one core). Runs go to runs/sims-cpu/ (networks and sample arrays stay there); the small files are then
# copied here. Each command resumes when rerun. CIFAR-10: $CIFAR10_SOURCE or ../shared/data.
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
PY=${PY:-.venv/bin/python}
R=runs/sims-cpu
E="$PY -m empirical"

# the base: generation 0 of the augmentation loop (lam = 1, K = 1), and the loop itself (no SIMS)
$E loop --config cpu --K 1 --lam 1 --threads 1 --out $R/loop-aug

reuse_base() {   # a loop's generation 0, reward classifier and judge into another loop folder (it resumes from there)
  mkdir -p "$2/gen_000" "$2/classifier" "$2/judge"
  cp "$1"/gen_000/{network,training-state}.* "$2/gen_000/"
  cp "$1"/classifier/classifier.* "$2/classifier/"
  cp "$1"/judge/classifier.* "$2/judge/"
}

# hyperparameters on seed set 0 only: lr x auxiliary EMA (half-life / B; 0: raw weights) x w
$E sims-explore --config cpu --base $R/loop-aug/gen_000 --lr 1e-3,2e-4 --aux-ema 0,0.1,1 --w 0,0.5,1,1.5,2,3 \
  --threads 1 --out $R/explore
# the w sweep (picked on set 0, reported on sets 1 and 2, FID on 1,000 images per report set) and distribution shifting
$E sims-sweep --config cpu --base $R/loop-aug/gen_000 --threads 1 --out $R/sweep
$E sims --config cpu --base $R/loop-aug/gen_000 --shift airplane=0.3 --shift-w 1 --threads 1 --out $R/shift

# SIMS loop (w, B, lr, EMA from the exploration's pick), and the curated pair (one generation)
for L in loop-aug-sims loop-curated loop-curated-sims; do [ -e $R/$L/gen_000/network.pt ] || reuse_base $R/loop-aug $R/$L; done
$E loop --config cpu --K 1 --lam 1 --sims-w 1 --sims-images 10000 --sims-lr 1e-3 --sims-ema 0.1 --threads 1 \
  --out $R/loop-aug-sims
$E loop --config cpu --generations 1 --threads 1 --out $R/loop-curated
$E loop --config cpu --generations 1 --sims-w 1 --sims-images 10000 --sims-lr 1e-3 --sims-ema 0.1 --threads 1 \
  --out $R/loop-curated-sims

# seed replicates of the augmentation pair (C12.7's tolerance): seeds 1 and 2, each SIMS loop on its seed's base
for S in 1 2; do
  $E loop --config cpu --K 1 --lam 1 --seed $S --threads 1 --out $R/loop-aug-seed$S
  [ -e $R/loop-aug-sims-seed$S/gen_000/network.pt ] || reuse_base $R/loop-aug-seed$S $R/loop-aug-sims-seed$S
  $E loop --config cpu --K 1 --lam 1 --seed $S --sims-w 1 --sims-images 10000 --sims-lr 1e-3 --sims-ema 0.1 \
    --threads 1 --out $R/loop-aug-sims-seed$S
done

# the small files of each run into results/cpu-sims
D=results/cpu-sims
for f in explore sweep shift; do
  mkdir -p $D/$f
  cp $R/$f/config.json $R/$f/metrics.jsonl $D/$f/
  for x in table.md sweep.png shift.md shift.json; do [ -e $R/$f/$x ] && cp $R/$f/$x $D/$f/ || true; done
done
for L in loop-aug loop-aug-sims loop-curated loop-curated-sims loop-aug-seed1 loop-aug-sims-seed1 loop-aug-seed2 \
         loop-aug-sims-seed2; do
  mkdir -p $D/$L
  cp $R/$L/config.json $R/$L/log.jsonl $R/$L/metrics.jsonl $D/$L/
  cp $R/$L/gen_000/samples.png $D/$L/samples_gen0.png
  last=$(ls -d $R/$L/gen_* | tail -1)
  cp "$last/samples.png" $D/$L/samples_last.png
done
