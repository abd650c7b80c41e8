"""SIMS at the point rung (results/points-sims), per loop (the synthetic augmentation loop, lam = 0.6, and the fully
synthetic loop): top, the w sweep on the pick seed (MMD^2 to the data law at the last generation against w, +- 2 of
each run's own SE); middle, MMD^2 per generation on the report seeds for w = 0 and the picked w (mean +- 2 SE over
seeds); bottom, the paired difference picked w minus w = 0 per generation with its 95% interval from Student's t with
n - 1 degrees of freedom (below 0: SIMS closer to the data)."""
from __future__ import annotations

import json

import numpy as np

from .common import cached_arrays, plt, run_dir, save
from .fig_points_common import SIMS, digest, results_rows
from .sims_panels import paired_panel, report_panel

KEYS = ("loop", "capacity", "w", "seed", "generation", "mmd2", "mmd2_se")
CAPS = ("small", "ample")


def _table(out, phase: str) -> dict:
    rows = results_rows(SIMS / phase)
    f = SIMS / phase / "results.csv"

    def compute():
        return {k: np.array([r[k] for r in rows]) for k in KEYS}
    return cached_arrays(run_dir(out, f"points-sims-{phase}-{digest(f)}"),
                         {"kind": "points_sims_table", "phase": phase, "sha1": digest(f)}, compute)


def make(out, quick: bool = False) -> list:
    pick, rep = _table(out, "pick"), _table(out, "report")
    picked = json.loads((SIMS / "picked.json").read_text())
    loops = sorted(set(pick["loop"].tolist()))
    T = int(pick["generation"].max())
    n_rep = len(set(rep["seed"].tolist()))
    fig, axes = plt.subplots(3, len(loops), figsize=(5.2 * len(loops) + 2.6, 11.0), squeeze=False)
    gens = sorted(set(rep["generation"].tolist()))
    for j, lp in enumerate(loops):
        ax = axes[0, j]
        for c, cap in enumerate(CAPS):
            sel = (pick["loop"] == lp) & (pick["capacity"] == cap) & (pick["generation"] == T)
            ws = sorted(set(pick["w"][sel].tolist()))
            mu = [pick["mmd2"][sel & (pick["w"] == w)].mean() for w in ws]
            se = [np.sqrt(np.sum(pick["mmd2_se"][sel & (pick["w"] == w)] ** 2)) / (sel & (pick["w"] == w)).sum()
                  for w in ws]
            ax.errorbar(ws, mu, 2 * np.array(se), marker="o", capsize=3, color=f"C{c}",
                        label=f"{cap} network")
        ax.set_xlabel("guidance w")
        ax.set_ylabel(f"MMD^2 to the data at t = {T}\n(pick seed, +- 2 SE of the run)", fontsize=8)
        pw = ", ".join(f"{cap} {picked[f'{lp}/{cap}']:g}" for cap in CAPS if f"{lp}/{cap}" in picked)
        ax.set_title(f"{lp} loop: the w sweep on seed 0 (picked: {pw})", fontsize=10)
        ax = axes[1, j]
        report_panel(ax, rep, lp, CAPS, "mmd2", sims_label="SIMS (the picked w)")
        ax.set_xlabel("generation")
        ax.set_ylabel(f"MMD^2 to the data\n(report seeds: mean +- 2 SE over {n_rep})", fontsize=8)
        ax.set_title(f"{lp} loop: w = 0 (dashed) and the picked w (solid)", fontsize=10)
        ax.set_xticks(gens)
        ax = axes[2, j]
        paired_panel(ax, rep, lp, CAPS, picked, "mmd2")
        ax.set_xlabel("generation")
        ax.set_ylabel("paired difference of MMD^2\n(mean, 95% interval of t with n - 1 df)", fontsize=8)
        ax.set_title(f"{lp} loop: SIMS minus no guidance, paired by seed", fontsize=10)
        ax.set_xticks(gens)
    for ax in axes[:, -1]:              # one legend per row, beside its right panel
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"SIMS at the point rung (K = 1): w picked on seed 0, reported on {n_rep} other seeds", fontsize=11)
    fig.tight_layout()
    return save(fig, out, "points_sims")
