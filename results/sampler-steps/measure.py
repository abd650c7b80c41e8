"""The Heun sampler's share of an image preset's error: one base U-Net sampled at several step counts on the same
latents (paired), each against a reference step count.

    OMP_NUM_THREADS=1 python results/sampler-steps/measure.py --config cpu --out runs/sampler-steps-cpu

Trains (or resumes) the preset's generation-0 base and reward classifier exactly as the image loop does for seed 0
(same streams, so the base equals gen_000 of the preset's loop runs), draws n images from the 'heldout' seed block
at each step count, and writes results.json: per step count the mean reward and airplane share with their SEs and
the paired difference to the reference steps with its SE.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="cpu", help="image preset (default: cpu)")
    p.add_argument("--steps", default="8,12,18,32,64", help="step counts to measure (default: 8,12,18,32,64)")
    p.add_argument("--ref", type=int, default=128, help="reference step count (default: 128)")
    p.add_argument("--n", type=int, default=2048, help="images per step count (default: 2048)")
    p.add_argument("--out", required=True, help="working folder (base network, classifier, results.json)")
    args = p.parse_args()
    from empirical.configs import preset
    from empirical.edm import generate
    from empirical.loop import _classifier, real_images, rewards_of
    from empirical.seeds import sample_seeds
    from empirical.train import train
    cfg = preset(args.config)
    out = Path(args.out)
    x, _ = real_images(cfg)
    t0 = time.process_time()
    D = train(cfg.train, x[: cfg.n_samples], None, out / "base")
    clf, acc = _classifier(cfg, "classifier", out / "classifier", False)
    seeds = sample_seeds("heldout", cfg.seed, 0, args.n)
    target = cfg.class_names.index(cfg.target)
    steps = [int(s) for s in args.steps.split(",")] + [args.ref]
    rec: dict = {}
    for s in steps:
        r, probs = rewards_of(cfg, clf, generate(D, seeds, "cpu", s))
        rec[s] = (r, (probs.argmax(1) == target).astype(float))
    ref_r, ref_a = rec[args.ref]
    rows = []
    for s in steps:
        r, a = rec[s]
        d, da = r - ref_r, a - ref_a
        se = (lambda v: float(v.std(ddof=1) / math.sqrt(len(v))))
        rows.append({"steps": s, "mean_reward": float(r.mean()), "reward_se": se(r), "airplane_share": float(a.mean()),
                     "airplane_share_se": se(a), "sampler_error": float(d.mean()), "sampler_error_se": se(d),
                     "airplane_share_error": float(da.mean()), "airplane_share_error_se": se(da)})
    res = {"config": args.config, "ref_steps": args.ref, "n": args.n, "classifier_accuracy": acc,
           "cpu_seconds": time.process_time() - t0, "rows": rows}
    (out / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
