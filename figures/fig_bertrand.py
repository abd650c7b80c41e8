"""Bertrand et al. 2024 contraction: distance to theta* per generation for a 1-D Gaussian retrained on real
data mixed at ratio lam, started away from theta*: the exact map, the finite-sample loop (large N), the
exact local rate lam/(1+lam) and the stated bound lam/(1-lam) (eps = 0: the data are in the family)."""
from __future__ import annotations

import numpy as np

from simtheory import theorems
from simtheory.loops import LoopConfig, run_loop

from .common import cached_arrays, plt, run_dir, save

LAMS = (0.1, 0.3, 0.45)
START = {"mean": [1.0], "cov": [[2.0]]}


def make(out, quick: bool = False) -> list:
    G = 8
    N = 5000 if quick else 40000
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for lam, c in zip(LAMS, ("C0", "C1", "C2")):
        def compute():
            x = np.random.default_rng(7).standard_normal((N + 10, 1))
            cfg = LoopConfig("gaussian", n_samples=N, lam=lam, generations=G, n_eval=2, n_holdout=0)
            recs = run_loop(cfg, x, seed=1, start=START)
            mu = np.array([r["mean"][0] for r in recs])
            var = np.array([r["cov"][0, 0] for r in recs])
            return {"loop_dist": np.hypot(mu - 0.0, var - 1.0)}

        d = cached_arrays(run_dir(out, f"bertrand-lam{lam}-N{N}"), {"kind": "bertrand", "lam": lam, "N": N, "G": G}, compute)
        mu, var = START["mean"][0], START["cov"][0][0]
        exact = [np.hypot(mu, var - 1.0)]
        for _ in range(G):
            mu, var = theorems.gaussian_mixed_map(mu, var, 0.0, 1.0, lam)
            exact.append(np.hypot(mu, var - 1.0))
        t = np.arange(G + 1)
        ax.semilogy(t, exact, color=c, label=f"lam={lam}: exact map")
        ax.semilogy(t, d["loop_dist"], "o", color=c, ms=3, label=f"lam={lam}: loop, N={N}")
        ax.semilogy(t, exact[0] * theorems.bertrand_rate(lam, 1.0, 1.0, 0.0) ** t, color=c, ls="--", lw=0.8)
        ax.semilogy(t, exact[0] * theorems.gaussian_contraction_factor(lam) ** t, color=c, ls=":", lw=0.8)
    ax.plot([], [], "k--", lw=0.8, label="stated rate lam/(1-lam)")
    ax.plot([], [], "k:", lw=0.8, label="local rate lam/(1+lam)")
    ax.set(xlabel="generation", ylabel="|theta_t - theta*|", title="contraction with real data")
    ax.legend(fontsize=6)
    return save(fig, out, "bertrand_contraction")
