"""E[r] and E[e^r] over retraining steps for K in {1, 2, 4, 8, 32, inf} (exact dynamics, mixture1d),
with the Lemma 2.2 lower bound for each step and the K = inf closed form p_0 e^{t r} (Lemma 2.1)."""
from __future__ import annotations

import math

import numpy as np

from simtheory import scenarios, theorems
from simtheory.runs.exact import ExactConfig, run_exact
from simtheory.runs import read_metrics

from .common import K_COLORS, plt, run_dir, save

KS = (1, 2, 4, 8, 32, math.inf)


def make(out, quick: bool = False) -> list:
    steps = 10 if quick else 30
    grid = 101 if quick else 401
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    sc = scenarios.get("mixture1d", grid)
    for K in KS:
        rf = run_exact(ExactConfig("mixture1d", K, math.inf, steps, grid), run_dir(out, f"exact-mixture1d-K{K}-{grid}"))
        rows = read_metrics(rf.path)
        t = [x["step"] for x in rows]
        c = K_COLORS[K]
        a1.plot(t, [x["mean_reward"] for x in rows], color=c, label=f"K={K}")
        a2.plot(t, [x["mean_exp_reward_rel"] for x in rows], color=c, label=f"K={K}")
        with np.load(rf.path / "trajectory.npz") as z:
            traj = z["p"]
        bound = [theorems.lemma22_bound(p, sc.r, K) for p in traj[:-1]]
        a2.plot(t[1:], bound, ls="none", marker="_", color=c, ms=6)
    rs = sc.r.max()
    closed = [float(np.sum(theorems.kinf_closed_form(sc.p0, sc.r, s) * np.exp(sc.r - rs))) for s in range(steps + 1)]
    a2.plot(range(steps + 1), closed, ls=":", color="m", lw=1.5, label="p0 e^{tr} closed form (Lemma 2.1)")
    a1.set(xlabel="retraining step t", ylabel="E[r]", title="expected reward (exact)")
    a2.set(xlabel="retraining step t", ylabel="E[e^{r - r*}]", title="E[e^r]; ticks: Lemma 2.2 bound")
    a1.legend()
    a2.legend(loc="lower right")
    return save(fig, out, "reward_curves")
