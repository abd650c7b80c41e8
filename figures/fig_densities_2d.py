"""2-D mixture and two moons under curated retraining (K = 4): rows = lam in {inf, 0.25, 1, 4}, columns =
steps, then the predicted limit p* (Theorem 2.1) or the lam fixed point; white lines: reward level sets."""
from __future__ import annotations

import math

import numpy as np

from simtheory import scenarios, theorems
from simtheory.runs.exact import ExactConfig, run_exact

from .common import plt, run_dir, save

LAMS = (math.inf, 0.25, 1.0, 4.0)


def _panel(ax, p, r, title):
    ax.imshow(p.T, origin="lower", cmap="magma")
    ax.contour(r.T, levels=5, colors="w", linewidths=0.4)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=7)


def make_one(out, name: str, quick: bool) -> list:
    grid = 31 if quick else 71
    steps = 6 if quick else 20
    show = np.unique(np.linspace(0, steps, 5).astype(int))
    sc = scenarios.get(name, grid)
    fig, axes = plt.subplots(len(LAMS), len(show) + 1, figsize=(1.7 * (len(show) + 1), 1.75 * len(LAMS)))
    for i, lam in enumerate(LAMS):
        rf = run_exact(ExactConfig(name, 4, lam, steps, grid), run_dir(out, f"exact-{name}-lam{lam}-{grid}"))
        with np.load(rf.path / "trajectory.npz") as z:
            traj = z["p"]
        for j, t in enumerate(show):
            _panel(axes[i, j], traj[t], sc.r, f"lam={lam}, t={t}")
        if lam == math.inf:
            _panel(axes[i, -1], theorems.limit_distribution(sc.p0, sc.r), sc.r, "p* (Thm 2.1)")
        else:
            fp = theorems.mixed_fixed_point(sc.p_data, sc.r, 4, lam)["q"]
            _panel(axes[i, -1], fp, sc.r, "fixed point")
    fig.suptitle(f"{name}: curated retraining, K=4 (t=0 is p0 = p_data)", fontsize=9)
    return save(fig, out, f"densities_{name}")


def make(out, quick: bool = False) -> list:
    return make_one(out, "mixture2d", quick) + make_one(out, "moons2d", quick)
