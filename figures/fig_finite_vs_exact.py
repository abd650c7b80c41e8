"""Finite-sample loop (histogram on 101 atoms, K = 4, fully synthetic) against the exact dynamics of the
same atoms: total variation at each generation against N, with the N^(-1/2) slope."""
from __future__ import annotations

import math

import numpy as np

from simtheory import retrain, scenarios
from simtheory.runs.loop import config_from_dataset, run_loop_folder
from simtheory.runs import read_metrics

from .common import plt, run_dir, save


def make(out, quick: bool = False) -> list:
    sc = scenarios.mixture1d(101)
    G = 4
    exact = retrain(sc.p0, sc.r, 4, G)
    Ns = (300, 3000) if quick else (300, 1000, 3000, 10000, 30000)
    seeds = range(2 if quick else 5)
    tv = np.zeros((len(Ns), len(seeds), G + 1))
    for i, N in enumerate(Ns):
        cfg = config_from_dataset("atoms1d", family="histogram", n_samples=N, K=4, lam=math.inf, generations=G,
                                  n_eval=2, n_holdout=0)
        for j, s in enumerate(seeds):
            rf = run_loop_folder(cfg, "atoms1d", N, run_dir(out, f"finite-vs-exact-N{N}-s{s}"), seed=s, data_seed=100 + s)
            for rec in read_metrics(rf.path):
                tv[i, j, rec["generation"]] = 0.5 * np.abs(np.array(rec["probs"]) - exact[rec["generation"]]).sum()
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    for g in range(0, G + 1, 2):
        ax.loglog(Ns, tv[:, :, g].mean(1), "o-", ms=3, label=f"generation {g}")
    ref = tv[0, :, G].mean() * (np.array(Ns) / Ns[0]) ** -0.5
    ax.loglog(Ns, ref, "k:", label="N^(-1/2)")
    ax.set(xlabel="N (real = synthetic points per generation)", ylabel="TV(loop, exact)",
           title="finite-sample loop -> exact dynamics")
    ax.legend()
    return save(fig, out, "finite_vs_exact")
