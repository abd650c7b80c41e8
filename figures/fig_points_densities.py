"""Densities per generation at the point rung: the exact curated loop on the gridded 2-D mixture (K = 4, lam = inf)
beside neural loops of an ample network (width 128, long budget) and a small one (width 32, short budget), each
a 2-D histogram of the generation's evaluation samples (results/points-ladder, report seed 1)."""
from __future__ import annotations

import math

import numpy as np

from empirical.ladder import job_name

from .common import cached_arrays, plt, run_dir, save
from .fig_points_common import LADDER, digest, exact_loop, results_rows

ROWS = (("ample: width 128, long budget", 128, "long"), ("small: width 32, short budget", 32, "short"))
SEED = 1


def _samples(out, width: int, budget: str, lam: float) -> dict:
    rows = results_rows(LADDER)
    job = {"lam": lam, "width": width, "budget": budget, "seed": SEED}
    folder = LADDER / "runs" / job_name(job)
    gens = sorted({r["generation"] for r in rows})
    files = [folder / f"gen_{t:03d}" / "samples.npz" for t in gens]
    missing = [str(f.relative_to(LADDER.parent.parent)) for f in files if not f.exists()]
    if missing:
        raise ValueError(f"the ladder's samples are missing ({missing[0]} ...): rerun "
                         "`python -m empirical points-ladder --out results/points-ladder`")

    def compute():
        return {"points": np.stack([np.load(f)["points"] for f in files])}
    return cached_arrays(run_dir(out, f"points-samples-{job_name(job)}"),
                         {"kind": "points_samples", **job, "sha1": [digest(f) for f in files]}, compute)


def make(out, quick: bool = False) -> list:
    lam = math.inf
    T = int(max(r["generation"] for r in results_rows(LADDER)))
    ex = exact_loop(out, lam, steps=T)
    fig, axes = plt.subplots(1 + len(ROWS), T + 1, figsize=(1.6 * (T + 1), 1.7 * (1 + len(ROWS))))
    lo, hi = -4.0, 4.0
    for t in range(T + 1):
        ax = axes[0, t]
        ax.imshow(ex["density"][t].T, origin="lower", cmap="magma", extent=(lo, hi, lo, hi))
        ax.set_title(f"t={t}: E[r] {ex['mean_reward'][t]:.2f}", fontsize=7)
    axes[0, 0].set_ylabel("exact", fontsize=8)
    for i, (label, w, b) in enumerate(ROWS, start=1):
        pts = _samples(out, w, b, lam)["points"]
        for t in range(T + 1):
            ax = axes[i, t]
            ax.hist2d(pts[t, :, 0], pts[t, :, 1], bins=40, range=((lo, hi), (lo, hi)), cmap="magma")
        axes[i, 0].set_ylabel(label, fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.contour(np.linspace(lo, hi, 81), np.linspace(lo, hi, 81), ex["reward"].T, levels=4, colors="w",
                   linewidths=0.3)
    fig.suptitle("2-D mixture, curated loop K = 4, lam = inf: exact dynamics (top) and neural loops (1,024 samples "
                 f"per generation, seed {SEED}); white: reward levels", fontsize=8)
    fig.tight_layout()
    return save(fig, out, "points_densities")
