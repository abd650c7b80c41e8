"""The report-seed panels the SIMS rung figures share (fig_points_sims, fig_mixture_sims): a distance to the data
per generation for w = 0 and the picked w, and the paired difference of the two by seed. ``rep`` is a report phase's
columns (loop, capacity, w, seed, generation and the distance ``key``), as the figures' cached tables hold them."""
from __future__ import annotations

import numpy as np
from scipy import stats


def report_panel(ax, rep: dict, loop: str, caps, key: str, sims_label=None) -> None:
    """Per capacity and w, ``key`` per generation: the mean over the report seeds +- 2 SE (0 with one seed); w = 0
    dashed, the picked w solid. ``sims_label``: the legend's name of the picked w (default "SIMS w = <w>")."""
    for c, cap in enumerate(caps):
        for w in sorted(set(rep["w"][(rep["loop"] == loop) & (rep["capacity"] == cap)].tolist())):
            sel = (rep["loop"] == loop) & (rep["capacity"] == cap) & (rep["w"] == w)
            g = sorted(set(rep["generation"][sel].tolist()))
            v = [rep[key][sel & (rep["generation"] == t)] for t in g]
            ax.errorbar(np.array(g) + (0.06 if w else -0.06), [a.mean() for a in v],
                        [2 * a.std(ddof=1) / np.sqrt(a.size) if a.size > 1 else 0 for a in v],
                        marker="o" if w else "s", ls="-" if w else "--", capsize=3, color=f"C{c}",
                        label=f"{cap}, " + ((sims_label or f"SIMS w = {w:g}") if w else "w = 0"))


def paired_panel(ax, rep: dict, loop: str, caps, picked: dict, key: str) -> None:
    """Per capacity, ``key`` of the picked w minus w = 0 paired by seed, per generation: the mean and its 95% interval
    by Student's t with n - 1 degrees of freedom (0 with one seed)."""
    ax.axhline(0, color="0.4", lw=0.8)
    for c, cap in enumerate(caps):
        w = picked.get(f"{loop}/{cap}")
        if w is None:
            continue
        sel = (rep["loop"] == loop) & (rep["capacity"] == cap)
        g = sorted(set(rep["generation"][sel].tolist()))
        mu, half = [], []
        for t in g:
            at = sel & (rep["generation"] == t)
            a = {int(s): m for s, m in zip(rep["seed"][at & (rep["w"] == 0)], rep[key][at & (rep["w"] == 0)])}
            b = {int(s): m for s, m in zip(rep["seed"][at & (rep["w"] == w)], rep[key][at & (rep["w"] == w)])}
            d = np.array([b[s] - a[s] for s in sorted(set(a) & set(b))])
            mu.append(d.mean())
            half.append(stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size) if d.size > 1 else 0)
        ax.errorbar(np.array(g) + 0.06 * (2 * c - 1), mu, half, marker="o", capsize=3, color=f"C{c}",
                    label=f"{cap}: picked w minus w = 0")
