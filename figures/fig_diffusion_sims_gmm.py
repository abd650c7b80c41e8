"""A 2-D mixture and two moons under SIMS loops with the exact GMM diffusion model: rows = w, columns =
generations (the fitted base density), then TV to the data law and mode proportions over generations."""
from __future__ import annotations

import numpy as np

from simtheory.diffusion import experiments as ex

from .common import cached_arrays, plt, run_dir, save

WS = (0.0, 0.5, 1.0, 2.0)


def runs(out, name: str, quick: bool) -> dict:
    T, seeds, M, steps, grid = (3, 2, 100, 8, 31) if quick else (30, 6, 400, 64, 91)
    res = {}
    for w in WS:
        res[w] = cached_arrays(run_dir(out, f"diffusion-sims-{name}-w{w}-T{T}-s{seeds}-M{M}-st{steps}-g{grid}"),
                               {"kind": "gmm_sims_runs", "name": name, "w": w, "T": T, "seeds": seeds, "M": M,
                                "n_s": M, "num_steps": steps, "n_grid": grid},
                               lambda: ex.gmm_sims_runs(name, w, range(seeds), M=M, n_s=M, T=T, num_steps=steps,
                                                        n_grid=grid))
    return res


def make_one(out, name: str, quick: bool) -> list:
    res = runs(out, name, quick)
    T = res[WS[0]]["tv"].shape[1] - 1
    show = np.unique(np.linspace(0, T, 5).astype(int))
    fig, axes = plt.subplots(len(WS), len(show) + 2, figsize=(1.8 * (len(show) + 2) + 2, 1.8 * len(WS)))
    for i, w in enumerate(WS):
        d = res[w]
        vmax = 1.5 * d["density"][0].max()       # collapsed components are spikes: keep the t = 0 scale
        for j, t in enumerate(show):
            a = axes[i, j]
            a.imshow(d["density"][t].T, origin="lower", cmap="magma", vmin=0, vmax=vmax)
            a.set_xticks([])
            a.set_yticks([])
            a.set_title(f"w={w}, t={t}", fontsize=7)
        tv = d["tv"]
        a = axes[i, -2]
        gen = np.arange(T + 1)
        a.plot(gen, tv.mean(0), color="k")
        a.fill_between(gen, tv.mean(0) - 2 * tv.std(0, ddof=1) / np.sqrt(tv.shape[0]),
                       tv.mean(0) + 2 * tv.std(0, ddof=1) / np.sqrt(tv.shape[0]), color="k", alpha=0.2)
        a.set(ylim=(0, 1), title=f"TV to data, {tv.shape[0]} seeds", xlabel="generation")
        a = axes[i, -1]
        p = d["props"][:, 1:]
        for k in range(p.shape[2]):
            a.plot(gen[1:], p[:, :, k].mean(0), color=f"C{k}")
        a.set(ylim=(0, 1), title="mode shares", xlabel="generation")
    fig.suptitle(f"{name}: SIMS loops (replace, lam = inf, M = n_s), exact GMM denoiser, Heun; density colour "
                 "clipped at 1.5x the t = 0 maximum; TV band 2 SE", fontsize=9)
    fig.tight_layout()
    return save(fig, out, f"diffusion_sims_{name}")


def make(out, quick: bool = False) -> list:
    return make_one(out, "mixture", quick) + make_one(out, "moons", quick)
