"""Exact population dynamics of a named scenario, run into a run folder (``python -m simtheory exact``).

The trajectory is appended one step at a time to trajectory.f64 (O(one density) per step); when the run is
complete it is gathered into trajectory.npz (p, r, p_star, p_data) and plot.png.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import metrics as mt
from .. import scenarios, validate
from ..dynamics import step
from ..theorems import limit_distribution
from .folder import RunFolder, code_version, fold_steps


METRICS_LINE_BYTES = 512      # an upper bound on one metrics.jsonl line of an exact run


@dataclass(frozen=True)
class ExactConfig:
    """Options of an exact run; validated on construction, sizes included: the scenario's atoms (grid_size) and
    the trajectory (steps) must fit in half of the memory available (simtheory.validate.fits_memory)."""

    scenario: str = "mixture2d"
    K: float = 4
    lam: float = math.inf
    steps: int = 30
    grid_size: int = 81
    seed: int = 0          # the exact dynamics draw nothing; kept so every run folder records a seed

    def __post_init__(self):
        if self.scenario not in scenarios.SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}; choose from {sorted(scenarios.SCENARIOS)}")
        object.__setattr__(self, "K", validate.group_size(self.K, "K"))
        object.__setattr__(self, "lam", validate.ratio(self.lam, "lam"))
        object.__setattr__(self, "steps", validate.count(self.steps, "steps", minimum=0))
        object.__setattr__(self, "grid_size", validate.count(self.grid_size, "grid_size", minimum=2))
        object.__setattr__(self, "seed", validate.count(self.seed, "seed", minimum=0))
        n = scenarios.atoms(self.scenario, self.grid_size)
        validate.fits_memory(n * scenarios.BYTES_PER_ATOM, "grid_size", self.grid_size,
                             f"the {self.scenario} scenario on {n} atoms")
        validate.fits_memory(n * scenarios.BYTES_PER_ATOM + self.trajectory_bytes(), "steps", self.steps,
                             f"the trajectory of {self.steps} steps on {n} atoms (held in memory, then gathered)")

    def trajectory_bytes(self) -> int:
        """Bytes of the trajectory p_0..p_steps, float64: held in memory during the run, and on disk in
        trajectory.f64 until it is gathered into trajectory.npz (an in-memory copy)."""
        return 2 * 8 * (self.steps + 1) * scenarios.atoms(self.scenario, self.grid_size)

    def to_dict(self) -> dict:
        return {"kind": "exact", **asdict(self)}


def step_metrics(t: int, p: np.ndarray, r: np.ndarray, p_star: np.ndarray, p_data: np.ndarray) -> dict:
    """The per-step metrics of an exact run (E[r], E[e^{r-r*}], KLs, entropy, top-set mass)."""
    rs = mt.top_reward(p_data, r) + 0.0          # + 0.0: a top reward of -0.0 is recorded as 0.0
    return {
        "step": t,
        "mean_reward": mt.expected_reward(p, r),
        "mean_exp_reward_rel": mt.expected_exp_reward(p, r, rs),
        "r_star": rs,
        "kl_to_limit": mt.kl(p_star, p),
        "kl_to_data": mt.kl(p, p_data),
        "entropy": mt.entropy(p),
        "top_mass": mt.top_mass(p, r, rs),
    }


def read_trajectory(folder) -> np.ndarray:
    """p_0..p_T of a complete exact run (trajectory.npz)."""
    with np.load(Path(folder) / "trajectory.npz") as z:
        return z["p"]


def run_exact(config: ExactConfig, out, progress: bool = False) -> RunFolder:
    """Run (or resume) ``config`` into the folder ``out``; returns the folder (released: it reads). Resuming
    continues from the last complete step bit for bit (the records are the float64 bytes of each p_t). The
    folder is held for the run (FolderInUse when another process writes it)."""
    # the records, the gathered arrays and one metrics line per step must fit the disk before anything is written
    validate.fits_disk(config.trajectory_bytes() + METRICS_LINE_BYTES * (config.steps + 1), out, "steps",
                       config.steps, "the run's files")
    with RunFolder.open(out, config.to_dict(), code_version("simtheory")) as rf:    # held until the run ends
        sc = scenarios.get(config.scenario, config.grid_size)
        p_star = limit_distribution(sc.p0, sc.r)
        pd = sc.p_data if config.lam != math.inf else None
        final = rf.path / "trajectory.npz"
        if final.exists():
            traj = list(read_trajectory(rf.path))
        else:
            traj = list(rf.records("trajectory", sc.p0.shape))
            if not traj:
                rf.append_record("trajectory", sc.p0)
                traj = [sc.p0]

        def advance(t: int) -> None:
            traj.append(step(traj[t], sc.r, config.K, config.lam, pd))
            rf.append_record("trajectory", traj[-1])

        fold_steps(rf, len(traj) - 1, config.steps, advance,
                   lambda t: step_metrics(t, traj[t], sc.r, p_star, sc.p_data), desc=f"exact {config.scenario} K={config.K} lam={config.lam}" if progress else None)
        if not final.exists():
            rf.save_arrays("trajectory", p=np.asarray(traj), r=sc.r, p_star=p_star, p_data=sc.p_data)
        if (rf.path / "trajectory.f64").exists():
            os.remove(rf.path / "trajectory.f64")     # gathered into trajectory.npz
        from ..plots import plot_exact_run
        plot_exact_run(Path(rf.path))
    return rf
