"""What the point-rung figures share: the committed results they read (results/points-ladder, results/points-sims)
and the exact loop beside them."""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np

from simtheory import scenarios
from simtheory.geometries import MIXTURE2D
from simtheory.metrics import default_bandwidth, mmd2
from simtheory.runs.exact import ExactConfig, run_exact

from .common import cached_arrays, run_dir

RESULTS = Path(__file__).resolve().parents[1] / "results"
LADDER, SIMS = RESULTS / "points-ladder", RESULTS / "points-sims"
LADDER_LAM1 = RESULTS / "points-ladder-lam1"      # the ladder's lam = 1 half, run apart from the lam = inf one
COMMANDS = {LADDER: "python -m empirical points-ladder --out results/points-ladder",
            SIMS: "bash results/points-sims/run.sh"}


def results_rows(folder: Path, name: str = "results.csv") -> list[dict]:
    """The rows of a committed sweep's table; a missing one is a ValueError with the command that makes it."""
    from empirical.experiments.ladder_results import read_results
    f = folder / name
    if not f.exists():
        raise ValueError(f"no {f.relative_to(RESULTS.parent)}: make it with `{COMMANDS.get(folder.parent, COMMANDS.get(folder))}`")
    return read_results(f)


def ladder_rows() -> list[dict]:
    """The capacity ladder's rows: results/points-ladder's, with results/points-ladder-lam1's in place of its lam = 1
    rows where that folder exists; a missing ladder is a ValueError with the command that makes it."""
    from empirical.experiments.ladder_results import read_ladder
    rows = read_ladder(LADDER, LADDER_LAM1)
    if rows is None:
        raise ValueError(f"no {LADDER / 'results.csv'}: make it with `{COMMANDS[RESULTS / 'points-ladder']}`")
    return rows


def digest(*paths: Path) -> str:
    """A short hash of the files' bytes (missing files count as empty), the key of the figures' caches."""
    h = hashlib.sha1()
    for p in paths:
        h.update(Path(p).read_bytes() if Path(p).exists() else b"")
    return h.hexdigest()[:12]


def exact_loop(out: Path, lam: float, steps: int = 5, grid: int = 81) -> dict:
    """The exact (infinite-sample, infinite-capacity) curated loop on the gridded 2-D mixture, K = 4: E[r] and the
    squared MMD to the continuous law per step (the neural loops' estimator, here exact on the grid's atoms)."""
    rf = run_exact(ExactConfig("mixture2d", 4, lam, steps, grid), run_dir(out, f"points-exact-lam{lam}-{grid}"))
    with np.load(rf.path / "trajectory.npz") as z:
        traj = z["p"]
    sc = scenarios.mixture2d(grid)
    law = MIXTURE2D.mixture()

    def compute():
        pts = sc.points.reshape(-1, 2)
        return {"mean_reward": traj.reshape(len(traj), -1) @ sc.r.ravel(),
                "mmd2": [mmd2(pts, law, default_bandwidth(law), weights=p.ravel())[0] for p in traj]}
    arrays = cached_arrays(run_dir(out, f"points-exact-mmd-lam{lam}-{grid}"),
                           {"kind": "points_exact", "lam": lam, "steps": steps, "grid": grid}, compute)
    return {**arrays, "density": traj, "reward": sc.r, "points": sc.points}


def pooled(v: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """Mean over rows and its SE from the rows' SEs (rows taken as independent)."""
    return float(v.mean()), float(np.sqrt(np.sum(se**2)) / v.size)


def lam_name(lam: float) -> str:
    return "inf" if lam == math.inf else f"{lam:g}"
