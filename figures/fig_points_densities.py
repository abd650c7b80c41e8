"""Densities per generation at the point rung: the exact curated loop on the gridded 2-D mixture (K = 4, lam = inf)
beside neural loops of an ample network (width 128, 1M points per fine-tune) and a small one (width 32, 100k), each a
2-D histogram of the generation's evaluation samples (results/points-ladder, report seed 1)."""
from __future__ import annotations

import math

import numpy as np

from empirical.experiments.ladder import job_name
from empirical.samples import samples_of

from .common import cached_arrays, plt, run_dir, save
from .fig_points_common import LADDER, digest, exact_loop, results_rows

ROWS = (("ample network\nwidth 128, fine-tune 1M", 128, 1_000_000),
        ("small network\nwidth 32, fine-tune 100k", 32, 100_000))
SEED = 1


def _samples(out, width: int, finetune: int, lam: float) -> dict:
    rows = results_rows(LADDER)
    job = {"lam": lam, "width": width, "finetune_images": finetune, "seed": SEED}
    folder = LADDER / "runs" / job_name(job)
    gens = sorted({r["generation"] for r in rows})
    files = [folder / f"gen_{t:03d}" / "samples.npz" for t in gens]
    missing = [str(f.relative_to(LADDER.parent.parent)) for f in files if not f.exists()]
    if missing:
        raise ValueError(f"the ladder's samples are missing ({missing[0]} ...): rerun "
                         "`python -m empirical points-ladder --out results/points-ladder` and keep them")

    def compute():
        return {"points": np.stack([samples_of(np.load(f)) for f in files])}
    return cached_arrays(run_dir(out, f"points-samples-{job_name(job)}"),
                         {"kind": "points_samples", **job, "sha1": [digest(f) for f in files]}, compute)


def make(out, quick: bool = False) -> list:
    lam = math.inf
    T = int(max(r["generation"] for r in results_rows(LADDER)))
    ex = exact_loop(out, lam, steps=T)
    n_rows = 1 + len(ROWS)
    fig, axes = plt.subplots(n_rows, T + 1, figsize=(2.3 * (T + 1) + 1.2, 2.3 * n_rows + 0.9), squeeze=False)
    lo, hi = -4.0, 4.0
    grid = np.linspace(lo, hi, 81)
    for t in range(T + 1):
        axes[0, t].imshow(ex["density"][t].T, origin="lower", cmap="magma", extent=(lo, hi, lo, hi))
        axes[0, t].set_title(f"generation {t}", fontsize=10)
    labels = ["exact loop\n(gridded law)"] + [label for label, _, _ in ROWS]
    for i, (_, w, ft) in enumerate(ROWS, start=1):
        pts = _samples(out, w, ft, lam)["points"]
        for t in range(T + 1):
            axes[i, t].hist2d(pts[t, :, 0], pts[t, :, 1], bins=40, range=((lo, hi), (lo, hi)), cmap="magma")
    for i, label in enumerate(labels):
        axes[i, 0].set_ylabel(label, fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
        ax.contour(grid, grid, ex["reward"].T, levels=4, colors="w", linewidths=0.4)
    fig.suptitle("2-D mixture, curated loop (K = 4, lam = inf)\nexact dynamics (top) and neural loops (1,024 "
                 f"evaluation samples per generation, seed {SEED}); white lines: reward levels", fontsize=10)
    fig.tight_layout()
    return save(fig, out, "points_densities")
