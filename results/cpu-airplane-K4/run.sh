#!/usr/bin/env bash
# The three CPU image loops behind results/cpu-airplane-K4, cpu-airplane-K4-lam1 and cpu-confidence-K4, from the
# repository root: `bash results/cpu-airplane-K4/run.sh`. The three share seed 0, hence the same base model, reward
# classifier and judge: the first loop trains them and the other two start from copies (bit for bit what they would
# train). Runs go to runs/cpu-loops/ (networks and image arrays stay there); the small files are then copied into
# results/ and `empirical compare` writes each folder's compare/. CIFAR-10: $CIFAR10_SOURCE or the data search.
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
PY=${PY:-.venv/bin/python}
R=runs/cpu-loops
E="$PY -m empirical"

reuse_base() {   # a loop's generation 0, reward classifier and judge into another loop folder (it resumes from there)
  mkdir -p "$2/gen_000" "$2/classifier" "$2/judge"
  cp "$1"/gen_000/{network,training-state}.* "$2/gen_000/"
  cp "$1"/classifier/classifier.* "$2/classifier/"
  cp "$1"/judge/classifier.* "$2/judge/"
}

$E loop --config cpu --threads 1 --out $R/airplane
[ -e $R/airplane-lam1/gen_000/network.pt ] || reuse_base $R/airplane $R/airplane-lam1
$E loop --config cpu --lam 1 --threads 1 --out $R/airplane-lam1
[ -e $R/confidence/gen_000/network.pt ] || reuse_base $R/airplane $R/confidence
$E loop --config cpu --reward confidence --threads 1 --out $R/confidence

for pair in airplane:cpu-airplane-K4 airplane-lam1:cpu-airplane-K4-lam1 confidence:cpu-confidence-K4; do
  src=$R/${pair%%:*}; dst=results/${pair##*:}
  mkdir -p $dst
  cp $src/config.json $src/log.jsonl $src/metrics.jsonl $dst/
  cp $src/gen_000/samples.png $dst/samples_gen0.png
  cp $src/gen_003/samples.png $dst/samples_gen3.png
  for t in 1 2 3; do      # every candidate's reward and label, the kept indices (the images stay in runs/)
    mkdir -p $dst/gen_00$t
    $PY -c "import numpy as np, sys; z = np.load(sys.argv[1]); np.savez(sys.argv[2], **{k: z[k] for k in z.files if k not in ('images', 'samples')})" \
      $src/gen_00$t/synthetic.npz $dst/gen_00$t/synthetic.npz
  done
  cp $src/gen_003/final-draw.npz $dst/gen_003/
  $E compare $dst
done
