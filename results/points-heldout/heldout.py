"""The ``cpu`` point preset on 2-D laws it was not tuned on: one curated generation (K = 4) per law.

For each law: train ``point_preset("cpu", K=4, generations=1, seed=SEED)`` through ``run_point_loop`` with the
law's own reward callable, then compare generation 0's mean reward with the law's true mean reward (4 million
draws) and generation 1's with its recorded one-step prediction, both as z scores. Prints one JSON line per law.

    OMP_NUM_THREADS=1 .venv/bin/python results/points-heldout/heldout.py OUT_DIR SEED [LAW ...]

The preset was tuned on mixture2d and moons (seeds 0 and 1); ring12, grid25, tiny_aniso, gauss_far and
moons_big are laws of other scales, mode counts and shapes that it never saw.
"""
from __future__ import annotations

import json
import math
import sys
import time

import numpy as np

from empirical.points import point_preset, run_point_loop
from simtheory import datasets
from simtheory.families import gmm


def _gmm(w, m, c) -> dict:
    return {"weights": np.asarray(w, float), "means": np.asarray(m, float), "covs": np.asarray(c, float)}


_ANG = np.linspace(0, 2 * np.pi, 12, endpoint=False)
_ROT = np.array([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]]) * 10
LAWS = {   # name: (law, reward); None: a data set of simtheory.datasets
    "mixture2d": None, "moons": None, "moons_big": None,
    "ring12": (_gmm(np.full(12, 1 / 12), 5 * np.c_[np.cos(_ANG), np.sin(_ANG)], np.repeat(0.09 * np.eye(2)[None], 12, 0)),
               lambda x: np.cos(np.arctan2(x[:, 1], x[:, 0]) - 1.0) * 2.0),
    "grid25": (_gmm(np.full(25, 1 / 25), np.stack(np.meshgrid(np.arange(-2., 3), np.arange(-2., 3)), -1).reshape(-1, 2),
                    np.repeat(0.0025 * np.eye(2)[None], 25, 0)), lambda x: -np.linalg.norm(x - [1.0, 1.0], axis=1)),
    "tiny_aniso": (_gmm([.5, .3, .2], [[0, 0], [0.03, 0], [0, 0.03]],
                        [[[1e-5, 4e-6], [4e-6, 2e-5]], [[4e-5, 0], [0, 1e-5]], [[1e-5, 0], [0, 1e-5]]]),
                   lambda x: 3 * np.tanh(x[:, 0] / 0.01)),
    "gauss_far": (_gmm([1.0], [[100.0, -50.0]], [[[625.0, 0.0], [0.0, 0.25]]]), lambda x: (x[:, 0] - 100.0) / 25.0),
}


def law_data(name: str, n: int, seed: int):
    """(n points, reward callable, exact law as a Gaussian mixture)."""
    if name in ("mixture2d", "moons"):
        ds = datasets.make(name, n, seed)
        return ds.x, ds.reward, ds.law
    if name == "moons_big":          # two moons rotated by 0.7 rad, scaled 10x, moved to (3, 7)
        ds = datasets.make("moons", n, seed)
        law = dict(ds.law, means=ds.law["means"] @ _ROT.T + [3, 7],
                   covs=np.einsum("ab,kbc,dc->kad", _ROT, ds.law["covs"], _ROT))
        return ds.x @ _ROT.T + [3, 7], (lambda x: -np.abs(x[:, 1] - 7) / 5), law
    law, reward = LAWS[name]
    return gmm.sample(law, n, np.random.default_rng(seed)), reward, law


def true_mean(name: str, n: int = 4_000_000) -> tuple[float, float]:
    """The law's mean reward and its Monte Carlo SE (a fixed seed of its own)."""
    x, r, _ = law_data(name, n, 12345)
    v = r(x)
    return float(v.mean()), float(v.std() / math.sqrt(n))


def check(name: str, out: str, seed: int) -> dict:
    cfg = point_preset("cpu", K=4, generations=1, seed=seed)
    x, reward, law = law_data(name, cfg.n_real * 3, 1000 + seed)
    t0 = time.process_time()
    m = run_point_loop(cfg, f"{out}/{name}-seed{seed}", data=x, reward=reward, law=law, progress=False).metrics()
    cpu = time.process_time() - t0
    tm, tse = true_mean(name)
    g = m[1]
    return {"law": name, "seed": seed, "cpu_s": round(cpu, 1),
            "gen0": round(m[0]["mean_reward"], 4), "true": round(tm, 4), "se0": round(m[0]["reward_se"], 4),
            "z0": round((m[0]["mean_reward"] - tm) / math.hypot(m[0]["reward_se"], tse), 2),
            "fit1": round(g["mean_reward"] - g["predicted_mean_reward"], 4),
            "z1": round((g["mean_reward"] - g["predicted_mean_reward"])
                        / math.hypot(g["reward_se"], g["predicted_mean_reward_se"]), 2),
            "mmd2_gen0": [round(m[0]["mmd2_to_data"], 5), round(m[0]["mmd2_to_data_se"], 5)],
            "mmd2_gen1": round(g["mmd2_to_data"], 5),
            "denoiser_rmse": [round(v, 4) for v in m[0]["denoiser_rmse"]],
            "denoiser_mmse_rms": [round(v, 4) for v in m[0]["denoiser_mmse_rms"]]}


if __name__ == "__main__":
    out, seed = sys.argv[1], int(sys.argv[2])
    for name in sys.argv[3:] or list(LAWS):
        print(json.dumps(check(name, out, seed)), flush=True)
