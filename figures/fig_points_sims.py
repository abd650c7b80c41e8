"""SIMS at the point rung (results/points-sims): the w sweep on the pick seeds (MMD^2 to the data law at the last
generation against w, per loop and network) and, on the report seeds, MMD^2 per generation for w = 0 and the
picked w (mean +- 2 SE over seeds), in the synthetic augmentation loop (lam = 0.6) and the fully synthetic loop."""
from __future__ import annotations

import json

import numpy as np

from .common import cached_arrays, plt, run_dir, save
from .fig_points_common import SIMS, digest, results_rows

KEYS = ("loop", "capacity", "w", "seed", "generation", "mmd2", "mmd2_se")


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
    caps = ("small", "ample")
    T = int(pick["generation"].max())
    fig, axes = plt.subplots(2, len(loops), figsize=(4.8 * len(loops), 6.2), squeeze=False)
    for j, lp in enumerate(loops):
        ax = axes[0, j]
        for c, cap in enumerate(caps):
            ws = sorted(set(pick["w"][(pick["loop"] == lp) & (pick["capacity"] == cap)].tolist()))
            m = [pick["mmd2"][(pick["loop"] == lp) & (pick["capacity"] == cap) & (pick["w"] == w)
                              & (pick["generation"] == T)] for w in ws]
            ax.errorbar(ws, [v.mean() for v in m], [2 * v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else 0
                                                    for v in m], marker="o", capsize=2, color=f"C{c}",
                        label=f"{cap} (picked w = {picked.get(f'{lp}/{cap}')})")
        ax.set_xlabel("w")
        ax.set_ylabel(f"MMD^2 to the data at t = {T} (pick seeds, +- 2 SE)")
        ax.set_title(f"{lp} loop: the w sweep", fontsize=8)
        ax.legend(fontsize=7)
        ax = axes[1, j]
        for c, cap in enumerate(caps):
            for w in sorted(set(rep["w"][(rep["loop"] == lp) & (rep["capacity"] == cap)].tolist())):
                sel = (rep["loop"] == lp) & (rep["capacity"] == cap) & (rep["w"] == w)
                g = sorted(set(rep["generation"][sel].tolist()))
                mu = [rep["mmd2"][sel & (rep["generation"] == t)].mean() for t in g]
                se = [np.sqrt(np.sum(rep["mmd2_se"][sel & (rep["generation"] == t)] ** 2)) / (sel & (rep["generation"] == t)).sum()
                      for t in g]
                ax.errorbar(g, mu, 2 * np.array(se), marker="o" if w else "s", ls="-" if w else "--", capsize=2,
                            color=f"C{c}", label=f"{cap}, w = {w:g}")
        ax.set_xlabel("generation")
        ax.set_ylabel("MMD^2 to the data (report seeds)")
        ax.legend(fontsize=7)
    fig.suptitle("SIMS at the point rung (K = 1): w picked on seed 0, reported on seeds 1-3", fontsize=9)
    fig.tight_layout()
    return save(fig, out, "points_sims")
