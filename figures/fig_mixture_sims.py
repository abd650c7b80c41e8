"""SIMS at the mixture rung (results/mixture-sims), per loop (the synthetic augmentation loop, lam = 0.6, and the fully
synthetic loop), K = 1 so that the exact trajectory is the law itself: top, the w sweep on the pick seed (the
Frechet distance of the last generation's samples to the law's exact mean and covariance against w); middle, that
distance per generation on the report seeds for w = 0 and the picked w (mean +- 2 SE over seeds), the grey band the
noise floor of n_eval exact draws of the law (mean +- 2 SD); bottom, the paired difference picked w minus w = 0 per
generation with its 95% interval from Student's t with n - 1 degrees of freedom (below 0: SIMS closer to the law)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .common import cached_arrays, plt, run_dir, save
from .fig_points_common import digest
from .sims_panels import paired_panel, report_panel

SIMS = Path(__file__).resolve().parents[1] / "results" / "mixture-sims"
KEYS = ("loop", "capacity", "w", "seed", "generation", "fd_law", "fd_law_floor", "fd_law_floor_sd")


def _table(out, phase: str) -> dict:
    from empirical.experiments.ladder_results import read_results
    f = SIMS / phase / "results.csv"
    if not f.exists():
        raise ValueError(f"no results/mixture-sims/{phase}/results.csv: make it with `python -m empirical mixture-sims "
                         "--out results/mixture-sims`")
    rows = read_results(f)

    def compute():
        return {k: np.array([r[k] for r in rows]) for k in KEYS}
    return cached_arrays(run_dir(out, f"mixture-sims-{phase}-{digest(f)}"),
                         {"kind": "mixture_sims_table", "phase": phase, "sha1": digest(f)}, compute)


def make(out, quick: bool = False) -> list:
    pick, rep = _table(out, "pick"), _table(out, "report")
    picked = json.loads((SIMS / "picked.json").read_text())
    loops = sorted(set(pick["loop"].tolist()))
    caps = sorted(set(pick["capacity"].tolist()), key=lambda c: (c != "small", c))
    T = int(pick["generation"].max())
    n_rep = len(set(rep["seed"].tolist()))
    gens = sorted(set(rep["generation"].tolist()))
    fig, axes = plt.subplots(3, len(loops), figsize=(5.2 * len(loops) + 2.6, 11.0), squeeze=False)
    for j, lp in enumerate(loops):
        ax = axes[0, j]
        for c, cap in enumerate(caps):
            sel = (pick["loop"] == lp) & (pick["capacity"] == cap) & (pick["generation"] == T)
            ws = sorted(set(pick["w"][sel].tolist()))
            ax.plot(ws, [pick["fd_law"][sel & (pick["w"] == w)].mean() for w in ws], marker="o", color=f"C{c}",
                    label=f"{cap} network")
        fl = pick["fd_law_floor"][pick["generation"] == T].mean()
        ax.axhline(fl, color="0.5", ls=":", lw=1, label="noise floor (exact draws)")
        ax.set_xlabel("guidance w")
        ax.set_ylabel(f"Frechet distance to the law at t = {T}\n(pick seed)", fontsize=8)
        pw = ", ".join(f"{cap} {picked[f'{lp}/{cap}']:g}" for cap in caps if f"{lp}/{cap}" in picked)
        ax.set_title(f"{lp} loop: w sweep, pick seed\n(picked: {pw})", fontsize=9.5)
        ax = axes[1, j]
        fl, fsd = rep["fd_law_floor"].mean(), rep["fd_law_floor_sd"].mean()
        ax.axhspan(fl - 2 * fsd, fl + 2 * fsd, color="0.88", lw=0, label="noise floor +- 2 SD")
        report_panel(ax, rep, lp, caps, "fd_law")
        ax.set_xlabel("generation")
        ax.set_ylabel(f"Frechet distance to the law\n(report seeds: mean +- 2 SE over {n_rep})", fontsize=8)
        ax.set_title(f"{lp} loop: w = 0 (dashed) and the picked w (solid)", fontsize=10)
        ax.set_xticks(gens)
        ax = axes[2, j]
        paired_panel(ax, rep, lp, caps, picked, "fd_law")
        ax.set_xlabel("generation")
        ax.set_ylabel("paired difference of the distance\n(mean, 95% interval of t with n - 1 df)", fontsize=8)
        ax.set_title(f"{lp} loop: SIMS minus no guidance, paired by seed", fontsize=10)
        ax.set_xticks(gens)
    for ax in axes[:, -1]:
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"SIMS at the mixture rung (U-Net on the exact 8 x 8 CIFAR-10 law, K = 1): w picked on the pick seed, "
                 f"reported on {n_rep} other seeds", fontsize=11)
    fig.tight_layout()
    return save(fig, out, "mixture_sims")
