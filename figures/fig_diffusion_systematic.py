"""SIMS where the fit has a systematic error (simtheory.diffusion.systematic): one generation's E[W2^2] to the
data against w (closed form, first order, simulation) where the bias dominates and where the auxiliary's noise
does; the bias and spread of the guided variance; the optimal w against n_s B with the first-order curve
x / (x + 3/2); the Gaussian augmentation loop over generations (guided law's W2^2 and the base mean's walk) in
the exact and the biased model; the 2-D mixture's augmentation loop with an exact and a biased GMM fit."""
from __future__ import annotations

import numpy as np

from simtheory.diffusion import experiments as ex
from simtheory.diffusion import systematic as sy

from .common import cached_arrays, plt, run_dir, save

M = 50
CASES = ((0.3, 1000, "C0"), (0.3, 30, "C1"), (0.0, 100, "C2"))       # (b, n_s, colour)


def make(out, quick: bool = False) -> list:
    ws = np.linspace(0, 2, 9 if quick else 17)
    chains = 2000 if quick else 20000
    fig, ax = plt.subplots(1, 5, figsize=(21, 3.8))
    for b, n_s, c in CASES:
        d = cached_arrays(run_dir(out, f"systematic-curves-b{b}-ns{n_s}-M{M}-n{ws.size}-c{chains}"),
                          {"kind": "systematic_curves", "w": ws.tolist(), "M": M, "n_s": n_s, "b": b,
                           "chains": chains, "seed": 5},
                          lambda: ex.systematic_curves(ws, M, n_s, b, chains=chains, seed=5))
        lab = f"b = {b}, n_s = {n_s}"
        ax[0].plot(d["w"], d["exact_w2sq"], color=c, label=f"{lab}: closed form")
        ax[0].plot(d["w"], d["first_order_w2sq"], color=c, ls="--", lw=0.8)
        ax[0].errorbar(d["w"], d["sim_w2sq"], 2 * d["sim_w2sq_se"], fmt="o", ms=3, color=c, lw=0.8)
        ax[0].plot([d["w_opt"]], [d["w2sq_opt"]], "*", ms=10, color=c)
        if b > 0 and n_s == 1000:
            ax[1].plot(d["w"], d["exact_var_bias"], color=c, label="bias of V_w: E[V_w] - v")
            ax[1].errorbar(d["w"], d["sim_var_bias"], 2 * d["sim_var_bias_se"], fmt="o", ms=3, color=c, lw=0.8)
            ax[1].plot(d["w"], d["exact_var_sd"], color="C3", label="SD of V_w")
            ax[1].plot(d["w"], d["exact_mean_sd"], color="C4", label="SD of m_w")
            ax[1].axvline(sy.bias_free_w(b), color="0.5", ls=":", lw=1)
    ax[0].set(xlabel="w", ylabel="E[W2^2] of the guided law to the data", yscale="log",
              title=f"one generation, M = {M}\n(dashed: first order; dots: simulated, 2 SE; *: optimum)")
    ax[0].legend(fontsize=6)
    ax[1].axhline(0, color="0.6", lw=0.6)
    ax[1].set(xlabel="w", title="b = 0.3, n_s = 1000\n(dotted: w_0, where the noise-free bias vanishes)")
    ax[1].legend(fontsize=6)
    bs = (0.1, 0.3, 1.0) if not quick else (0.1, 0.3)
    nss = (3, 10, 30, 100, 300, 1000, 3000, 10000) if not quick else (10, 100, 1000)
    g = cached_arrays(run_dir(out, f"systematic-optimum-M{M}-b{len(bs)}-n{len(nss)}"),
                      {"kind": "optimal_w_map", "M": M, "b": list(bs), "n_s": list(nss)},
                      lambda: ex.optimal_w_map(M, bs, nss))
    x = np.logspace(-2.5, 2.5, 200)
    ax[2].semilogx(x, x / (x + 1.5), color="k", lw=1, label="first order n_s B / (n_s B + 3/2)")
    for i, b in enumerate(bs):
        ax[2].semilogx(g["nsB"][i], g["w_opt"][i] / sy.bias_free_w(b), "o-", ms=4, label=f"exact, b = {b}")
    ax[2].set(xlabel="n_s B, B = (b/v)^2 / 4", ylabel="optimal w / w_0",
              title="the bias wins (w -> w_0 ~ 1 + b/v)\nor the noise wins (w -> 0)")
    ax[2].legend(fontsize=6)
    T, n = (10, 400) if quick else (30, 4000)
    gen = np.arange(1, T + 1)
    for b, c in ((0.0, "C2"), (0.3, "C0")):
        for w, ls in ((0.0, "-"), (1.0, "--")):
            d = cached_arrays(run_dir(out, f"systematic-aug-b{b}-w{w}-T{T}-n{n}"),
                              {"kind": "augmentation_chains", "w": w, "b": b, "M": 100, "n_s": 100, "lam": 0.6,
                               "T": T, "chains": n, "seed": 6},
                              lambda: ex.augmentation_chains(w, b, 100, 100, 0.6, T, n, 6))
            ax[3].plot(gen, d["w2sq"], color=c, ls=ls, label=f"b = {b}, w = {w}: guided W2^2")
            ax[3].plot(np.arange(T + 1), d["mean_sq"], color=c, ls=ls, lw=0.6, alpha=0.6)
            if b > 0:
                ax[3].axhline(sy.augmentation_fixed_point(w, 0.6, b)["guided_w2sq"], color=c, ls=ls, lw=0.5)
    ax[3].set(xlabel="generation", yscale="log", title="Gaussian augmentation loop, M = n_s = 100, lam = 0.6\n"
              "(thin: the base mean's E[m_t^2]; flat: noise-free fixed points)")
    ax[3].legend(fontsize=6)
    Tg, seeds, Mg, steps, grid = (3, 2, 150, 12, 31) if quick else (20, 6, 300, 32, 61)
    gen = np.arange(Tg + 1)
    for reg, c in ((1e-6, "C2"), (0.3, "C0")):
        for w, ls in ((0.0, "-"), (1.0, "--")):
            d = cached_arrays(run_dir(out, f"systematic-gmm-aug-reg{reg}-w{w}-T{Tg}-s{seeds}-M{Mg}-st{steps}-g{grid}"),
                              {"kind": "gmm_sims_runs", "name": "mixture", "w": w, "T": Tg, "seeds": seeds,
                               "M": Mg, "n_s": Mg, "num_steps": steps, "n_grid": grid, "lam": 0.6, "reg": reg},
                              lambda: ex.gmm_sims_runs("mixture", w, range(seeds), M=Mg, n_s=Mg, T=Tg,
                                                       num_steps=steps, n_grid=grid, lam=0.6, reg=reg))
            tv = d["tv"]
            se = tv.std(0, ddof=1) / np.sqrt(tv.shape[0])
            ax[4].plot(gen, tv.mean(0), color=c, ls=ls, label=f"reg = {reg:g}, w = {w}")
            ax[4].fill_between(gen, tv.mean(0) - 2 * se, tv.mean(0) + 2 * se, color=c, alpha=0.15)
    ax[4].set(xlabel="generation", ylabel="TV of the base fit to the data",
              title=f"2-D mixture augmentation loop, lam = 0.6\n{seeds} seeds (band 2 SE)")
    ax[4].legend(fontsize=6)
    fig.suptitle("SIMS with a systematic fit error: w = 1 removes the first-order bias; the auxiliary's noise "
                 "limits how much guidance pays", fontsize=9)
    fig.tight_layout()
    return save(fig, out, "diffusion_systematic")
