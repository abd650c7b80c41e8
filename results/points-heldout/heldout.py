"""The ``cpu`` point preset, and the capacity ladder's statement, on 2-D laws they were not tuned on.

``laws``: for each law, one curated generation (K = 4) of ``point_preset("cpu", K=4, generations=1, seed=s)`` through
``run_point_loop`` with the law's own reward callable, each law with its own seed s = SEED + its index in LAWS (no two
laws share a seed, so their errors are independent draws). Generation 0's mean reward is compared with the law's
true mean (4 million draws); each model's errors are the loop's own (fit: model minus its training set; law: model
minus the exact curated trajectory of the law; sampler: 64 against 256 Heun steps), and generation 1's one-step error
is measured minus its prediction from generation 0's candidates. One JSON line per law.

``capacity``: the ladder's statement "at this fine-tune budget, width >= W keeps |fit error| within N_SE SE"
checked on a law outside the tuning set: the ladder's loop (its base budget, sampler, N, K = 4, lam = inf,
generations) at the given widths and fine-tune budget, on the law's own points and reward, seeds of its own. One
JSON line per (width, seed, generation).

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python results/points-heldout/heldout.py laws OUT_DIR SEED [LAW ...]
    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python results/points-heldout/heldout.py capacity OUT_DIR LAW \\
        FINETUNE WIDTH[,WIDTH...] SEED[,SEED...]

The preset was tuned on mixture2d and moons (seeds 0 and 1); ring12, grid25, tiny_aniso, gauss_far and moons_big are
laws of other scales, mode counts and shapes that it never saw; the ladder ran on mixture2d only.
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


def true_mean(name: str, n: int = 4_000_000) -> tuple[float, float, float]:
    """The law's mean reward, its Monte Carlo SE and the reward's SD (a fixed seed of its own)."""
    x, r, _ = law_data(name, n, 12345)
    v = r(x)
    return float(v.mean()), float(v.std() / math.sqrt(n)), float(v.std())


def _r(v, d=4):
    return None if v is None else round(float(v), d)


def _z(e, se):
    return None if e is None or not se else round(e / se, 2)


def check(name: str, out: str, seed: int) -> dict:
    """One curated generation of the cpu preset on law ``name`` with loop seed ``seed`` (data seed 1000 + seed)."""
    cfg = point_preset("cpu", K=4, generations=1, seed=seed)
    x, reward, law = law_data(name, cfg.n_real * 3, 1000 + seed)
    t0 = time.process_time()
    m = run_point_loop(cfg, f"{out}/{name}-seed{seed}", data=x, reward=reward, law=law, progress=False).metrics()
    cpu = time.process_time() - t0
    tm, tse, sd = true_mean(name)
    g0, g1 = m
    one = g1["mean_reward"] - g1["predicted_mean_reward"]
    one_se = math.hypot(g1["reward_se"], g1["predicted_mean_reward_se"])
    out_row = {"law": name, "seed": seed, "cpu_s": round(cpu, 1), "reward_sd": _r(sd), "n_measured": g0["n_measured"],
               "gen0": _r(g0["mean_reward"]), "se0": _r(g0["reward_se"]), "true": _r(tm),
               "z0": round((g0["mean_reward"] - tm) / math.hypot(g0["reward_se"], tse), 2),
               "onestep1": _r(one), "onestep1_se": _r(one_se), "onestep1_z": _z(one, one_se)}
    for t, g in ((0, g0), (1, g1)):
        for c in ("fit", "law", "sampler"):
            e, se = g.get(f"{c}_error"), g.get(f"{c}_error_se")
            out_row.update({f"{c}{t}": _r(e), f"{c}{t}_se": _r(se), f"{c}{t}_z": _z(e, se)})
    out_row.update({"exact_sampler0": _r(g0.get("exact_sampler_error")),
                    "exact_sampler0_se": _r(g0.get("exact_sampler_error_se")),
                    "mmd2_gen0": [_r(g0["mmd2_to_data"], 5), _r(g0["mmd2_to_data_se"], 5)],
                    "mmd2_gen1": _r(g1["mmd2_to_data"], 5),
                    "denoiser_rmse": [_r(v) for v in g0["denoiser_rmse"]],
                    "denoiser_mmse_rms": [_r(v) for v in g0["denoiser_mmse_rms"]]})
    return out_row


def capacity(name: str, out: str, finetune: int, widths: list[int], seeds: list[int]) -> list[dict]:
    """The ladder's loop (``empirical.experiments.ladder.LADDERS['full']``, lam = inf) at ``widths`` and ``finetune`` on law
    ``name``: one row per (width, seed, generation) with the fit and law errors, their SEs and z."""
    from empirical.experiments.ladder import LADDERS, N_SE, Z_POWER
    lad = LADDERS["full"]
    rows = []
    for w in widths:
        for s in seeds:
            cfg = lad.loop_config(math.inf, w, finetune, s)
            x, reward, law = law_data(name, cfg.n_real, 2000 + s)
            t0 = time.process_time()
            m = run_point_loop(cfg, f"{out}/capacity-{name}-w{w}-ft{finetune}-seed{s}", data=x, reward=reward,
                               law=law, progress=False).metrics()
            cpu = time.process_time() - t0
            for g in m:
                row = {"law": name, "width": w, "finetune_images": finetune, "seed": s, "generation": g["generation"],
                       "n_measured": g["n_measured"], "mean_reward": _r(g["mean_reward"]), "cpu_s": round(cpu, 1)}
                for c in ("fit", "law", "sampler"):
                    e, se = g.get(f"{c}_error"), g.get(f"{c}_error_se")
                    row.update({f"{c}_error": _r(e, 5), f"{c}_error_se": _r(se, 5), f"{c}_z": _z(e, se)})
                row["fit_detectable"] = _r((N_SE + Z_POWER) * g["fit_error_se"], 5)
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


if __name__ == "__main__":
    usage = __doc__.split("\n\n")[-2]
    if len(sys.argv) < 2 or sys.argv[1] not in ("laws", "capacity"):
        sys.exit(usage)
    if sys.argv[1] == "laws":
        if len(sys.argv) < 4:
            sys.exit(usage)
        out, seed0 = sys.argv[2], int(sys.argv[3])
        names = sys.argv[4:] or list(LAWS)
        bad = [n for n in names if n not in LAWS]
        if bad:
            sys.exit(f"unknown laws {bad}; laws are {list(LAWS)}")
        for name in names:
            print(json.dumps(check(name, out, seed0 + list(LAWS).index(name))), flush=True)
    else:
        if len(sys.argv) != 7 or sys.argv[3] not in LAWS:
            sys.exit(usage)
        capacity(sys.argv[3], sys.argv[2], int(sys.argv[4]), [int(v) for v in sys.argv[5].split(",")],
                 [int(v) for v in sys.argv[6].split(",")])
