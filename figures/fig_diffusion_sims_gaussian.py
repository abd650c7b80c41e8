"""SIMS on the Gaussian refit loop against the plain refit loop over generations: mean and median of
sigma^2_t / sigma^2_0 over chains with the closed forms, at w = 0, the w that keeps E[sigma^2] constant, the w
that keeps E[log sigma^2] constant; sigma_max = 80 against the limit; real-data schemes; and the mean's random
walk E[(m_t - m_0)^2], which guidance feeds with the auxiliary's mean error."""
from __future__ import annotations

import math

import numpy as np

from simtheory.diffusion import experiments as ex
from simtheory.diffusion import sims

from .common import cached_arrays, plt, run_dir, save


def make(out, quick: bool = False) -> list:
    M = n_s = 50
    T, n = (20, 200) if quick else (100, 4000)
    t = np.arange(T + 1)
    w_mean, w_log = sims.critical_w(M, n_s, "mean"), sims.critical_w(M, n_s, "log")
    fig, ax = plt.subplots(1, 4, figsize=(18.5, 3.6))
    for w, c, lab in ((0.0, "C0", "w = 0 (plain refit)"), (w_mean, "C2", f"w* mean = {w_mean:.3f}"),
                      (w_log, "C3", f"w* log = {w_log:.3f}"), (1.5, "C4", "w = 1.5")):
        for sm, ls in ((math.inf, "-"), (80.0, "--")):
            d = cached_arrays(run_dir(out, f"diffusion-sims-gauss-w{w:.4f}-sm{sm}-M{M}-ns{n_s}-T{T}-n{n}"),
                              {"kind": "gaussian_sims_chains", "w": w, "M": M, "n_s": n_s, "T": T, "n": n,
                               "sigma_max": sm, "seed": 11},
                              lambda: ex.gaussian_sims_chains(w, M, n_s, T, n, 11, sm))
            r = d["ratio"]
            if sm == math.inf:
                walk = (d["mean"] - d["mean"][:, :1]) ** 2
                se = walk.std(0, ddof=1) / np.sqrt(walk.shape[0])
                ax[3].plot(t, walk.mean(0), color=c, label=lab)
                ax[3].fill_between(t, walk.mean(0) - 2 * se, walk.mean(0) + 2 * se, color=c, alpha=0.15)
                ax[0].semilogy(t, r.mean(0), color=c, label=f"{lab}: mean")
                ax[0].semilogy(t, sims.variance_factor_mean(w, M, n_s) ** t, color=c, ls=":", lw=2)
                ax[1].semilogy(t, np.median(r, 0), color=c, label=f"{lab}: median")
                ax[1].semilogy(t, np.exp(t * sims.log_variance_drift(w, M, n_s)), color=c, ls=":", lw=2)
            else:
                ax[1].semilogy(t, np.median(r, 0), color=c, ls=ls, lw=0.8)
    ax[0].set(xlabel="generation", ylabel="E[sigma^2_t / sigma^2_0]",
              title=f"mean, {n} chains, M = n_s = {M} (dotted: exact)")
    ax[0].legend(fontsize=6)
    ax[1].set(xlabel="generation", ylabel="median sigma^2_t / sigma^2_0",
              title="median (dotted: exp(t E log); thin: sigma_max = 80)")
    ax[1].legend(fontsize=6)
    for scheme, lam, c in (("replace", math.inf, "C0"), ("accumulate", math.inf, "C2"), ("fresh", 1.0, "C1"),
                           ("replace", 1.0, "C3")):
        for w, ls in ((0.0, "-"), (w_log, "--")):
            d = cached_arrays(run_dir(out, f"diffusion-sims-scheme-{scheme}-lam{lam}-w{w:.4f}-T{T}-n{n}"),
                              {"kind": "gaussian_sims_chains", "w": w, "M": M, "n_s": n_s, "T": T, "n": n,
                               "scheme": scheme, "lam": lam, "seed": 12},
                              lambda: ex.gaussian_sims_chains(w, M, n_s, T, n, 12, math.inf, scheme, lam))
            ax[2].semilogy(t, np.median(d["ratio"], 0), color=c, ls=ls,
                           label=f"{scheme}, lam={lam}, w={w:.2f}")
    ax[2].set(xlabel="generation", ylabel="median sigma^2_t / sigma^2_0", title="real-data schemes: w = 0 vs w* log")
    ax[2].legend(fontsize=6)
    ax[3].set(xlabel="generation", ylabel="E[(m_t - m_0)^2] (data variance 1)", yscale="log",
              title="the mean's random walk, fully synthetic (band 2 SE)")
    ax[3].legend(fontsize=6)
    fig.tight_layout()
    return save(fig, out, "diffusion_sims_gaussian")
