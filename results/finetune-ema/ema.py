"""What the fine-tune EMA's lag costs in fit error: one curated generation of the ``cpu`` point preset on mixture2d
(K = 4, lam = inf), the same model 0 and the same kept set fine-tuned with EMA half-lives of 0 (the raw weights),
0.1 (the loops' rule, ``empirical.train.FINETUNE_EMA``), 0.25 and 0.5 of the fine-tune budget (what the image loop
and the tiny point preset used to inherit from their base training).

Per seed the rule's run is made first (``run_point_loop`` with generations = 1); each other half-life runs in its own
folder that starts from a copy of the rule run's gen_000 (network and training state: the same model 0) and
gen_001/synthetic.npz (the same candidates and kept set), so that only the fine-tune's EMA differs: the fine-tune's
batches and noise (its stream seed) and every sampler seed are those of the rule's run too. Prints one JSON line per
(seed, half-life): model 1's fit error (its mean reward minus its training set's, with the SE the loop records), its
law error, and its mean reward minus the rule's model on the same latents (paired: evaluation draws and the final
draw, SE of the per-sample differences).

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python results/finetune-ema/ema.py OUT_DIR [SEED ...] \\
        > results/finetune-ema/results.jsonl
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from empirical.points import point_preset, run_point_loop

RULE = 0.1
FRACTIONS = (0.0, RULE, 0.25, 0.5)
SHARED = ("gen_000/network.json", "gen_000/network.pt", "gen_000/training-state.json", "gen_000/training-state.pt",
          "gen_001/synthetic.npz")


def config(seed: int, ema: float):
    return point_preset("cpu", dataset="mixture2d", K=4, generations=1, seed=seed, finetune_ema=ema)


def model_rewards(folder: Path) -> np.ndarray:
    """Model 1's per-sample rewards in seed order: its evaluation draws, then its final draw."""
    with np.load(folder / "gen_001" / "samples.npz") as a, np.load(folder / "gen_001" / "final-draw.npz") as b:
        return np.concatenate([a["rewards"], b["rewards"]])


def run(out: Path, seed: int) -> list[dict]:
    rule = out / f"seed{seed}-ema{RULE:g}"
    rows = []
    for f in (RULE,) + tuple(x for x in FRACTIONS if x != RULE):
        folder = out / f"seed{seed}-ema{f:g}"
        if f != RULE and not (folder / "metrics.jsonl").exists():
            for name in SHARED:                  # model 0 and the kept set of the rule's run; training state last
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(rule / name, folder / f"{name}.copy")
                os.replace(folder / f"{name}.copy", folder / name)
        t0 = time.process_time()
        m = run_point_loop(config(seed, f), folder, progress=False).metrics()
        cpu = time.process_time() - t0
        g = m[1]
        d = model_rewards(folder) - model_rewards(rule)
        rows.append({"seed": seed, "ema": f, "half_life_points": f * config(seed, f).finetune_samples,
                     "fit_error": g["fit_error"], "fit_error_se": g["fit_error_se"],
                     "law_error": g["law_error"], "law_error_se": g["law_error_se"],
                     "mean_reward": g["mean_reward"], "reward_se": g["reward_se"], "n_measured": g["n_measured"],
                     "vs_rule": float(d.mean()), "vs_rule_se": float(d.std(ddof=1) / math.sqrt(d.size)),
                     "model0_fit_error": m[0]["fit_error"], "model0_fit_error_se": m[0]["fit_error_se"],
                     "cpu_s": round(cpu, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: ema.py OUT_DIR [SEED ...]")
    for s in [int(a) for a in sys.argv[2:]] or [0, 1]:
        run(Path(sys.argv[1]), s)
