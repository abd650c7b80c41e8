"""Gaussian refit on M samples per generation (Shumailov et al. 2024): mean and median of sigma^2_t/sigma^2_0
over chains of the loop engine, MLE and unbiased, with the closed forms; replace vs accumulate vs fresh
real data (Gaussian loop), and replace vs accumulate in linear regression (Gerstgrasser et al. 2024)."""
from __future__ import annotations

import math

import numpy as np

from simtheory import theorems
from simtheory.loops import LoopConfig, run_loop

from .common import cached_arrays, plt, run_dir, save


def gaussian_chains(M: int, T: int, n_chains: int, estimator: str, scheme: str = "replace",
                    lam: float = math.inf) -> dict:
    """sigma^2_t (1-D) of n_chains loop runs (seed = chain index) on a fixed N(0, 1) real pool."""
    x = np.random.default_rng(2024).standard_normal((M * (T + 2), 1))
    cfg = LoopConfig("gaussian", n_samples=M, generations=T, estimator=estimator, scheme=scheme, lam=lam,
                     n_eval=2, n_holdout=0)
    var = np.array([[r["cov"][0, 0] for r in run_loop(cfg, x, seed=s)] for s in range(n_chains)])
    return {"var": var}


def make(out, quick: bool = False) -> list:
    M, T = 20, (15 if quick else 50)
    n = 40 if quick else 400
    t = np.arange(T + 1)
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.5))
    for est, c in (("mle", "C0"), ("unbiased", "C3")):
        d = cached_arrays(run_dir(out, f"collapse-{est}-M{M}-T{T}-n{n}"),
                          {"kind": "gaussian_chains", "M": M, "T": T, "n": n, "estimator": est},
                          lambda: gaussian_chains(M, T, n, est))
        ratio = d["var"] / d["var"][:, :1]
        ax[0].semilogy(t, ratio.mean(0), color=c, label=f"{est}: mean")
        ax[0].semilogy(t, np.median(ratio, 0), color=c, ls="--", label=f"{est}: median")
        ax[0].semilogy(t, theorems.variance_mean(1.0, M, t, est), color=c, ls=":", lw=2, label=f"{est}: E closed form")
        ax[0].semilogy(t, np.exp(theorems.log_variance_drift(M, t, est)), color=c, ls="-.", lw=1,
                       label=f"{est}: exp E[log] closed form")
    ax[0].set(xlabel="generation", ylabel="sigma^2_t / sigma^2_0", title=f"Gaussian refit, M={M}, {n} chains")
    ax[0].legend(ncol=2, fontsize=6)
    for scheme, lam, c in (("replace", math.inf, "C0"), ("accumulate", math.inf, "C2"), ("fresh", 1.0, "C1")):
        d = cached_arrays(run_dir(out, f"collapse-{scheme}-M{M}-T{T}-n{n}"),
                          {"kind": "gaussian_chains", "M": M, "T": T, "n": n, "scheme": scheme, "lam": lam},
                          lambda: gaussian_chains(M, T, n, "mle", scheme, lam))
        v = d["var"]
        lab = {"replace": "replace (fully synthetic)", "accumulate": "accumulate", "fresh": "fresh real, lam=1"}[scheme]
        ax[1].semilogy(t, np.median(v, 0), color=c, label=lab)
        ax[1].fill_between(t, np.quantile(v, 0.1, 0), np.quantile(v, 0.9, 0), color=c, alpha=0.15)
    ax[1].set(xlabel="generation", ylabel="sigma^2_t (median, 10-90%)", title="data reuse schemes (MLE)")
    ax[1].legend()
    Tr, dr, G = 30, 5, 10
    nr = 300 if quick else 3000
    d = cached_arrays(run_dir(out, f"regression-T{Tr}-d{dr}-G{G}-n{nr}"),
                      {"kind": "regression", "T": Tr, "d": dr, "G": G, "n": nr},
                      lambda: {s: np.array([theorems.regression_loop(Tr, dr, 1.0, G, s, np.random.default_rng(i))
                                            for i in range(nr)]) for s in ("replace", "accumulate")})
    i = np.arange(1, G + 1)
    for s, c in (("replace", "C0"), ("accumulate", "C2")):
        e = d[s]
        ax[2].errorbar(i, e.mean(0), yerr=4 * e.std(0, ddof=1) / np.sqrt(nr), fmt="o", color=c, ms=3, label=f"{s} (MC, 4 SE)")
        ax[2].plot(i, theorems.expected_error(Tr, dr, 1.0, i, s), color=c, ls=":", label=f"{s} closed form")
    ax[2].set(xlabel="generation i", ylabel="test error |w_i - w*|^2", title=f"linear regression T={Tr}, d={dr}")
    ax[2].legend()
    return save(fig, out, "gaussian_collapse")
