"""Exact population dynamics of a named scenario, run into a run folder (``python -m simtheory exact``)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import metrics as mt
from . import scenarios, validate
from .dynamics import step
from .runs import RunFolder
from .theorems import limit_distribution


@dataclass(frozen=True)
class ExactConfig:
    """Options of an exact run; validated on construction."""

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

    def to_dict(self) -> dict:
        return {"kind": "exact", **asdict(self)}


def step_metrics(t: int, p: np.ndarray, r: np.ndarray, p_star: np.ndarray, p_data: np.ndarray) -> dict:
    """The per-step metrics of an exact run (E[r], E[e^{r-r*}], KLs, entropy, top-set mass)."""
    rs = mt.top_reward(p_data, r)
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


def run_exact(config: ExactConfig, out, progress: bool = False) -> RunFolder:
    """Run (or resume) ``config`` into the folder ``out``; returns the folder."""
    rf = RunFolder.open(out, config.to_dict())
    sc = scenarios.get(config.scenario, config.grid_size)
    p_star = limit_distribution(sc.p0, sc.r)
    pd = sc.p_data if config.lam != math.inf else None
    saved = rf.load_arrays("trajectory")
    traj = list(saved["p"]) if saved is not None else [sc.p0]
    if saved is None:
        rf.save_arrays("trajectory", p=np.asarray(traj), r=sc.r, p_star=p_star, p_data=sc.p_data)
    done = len(traj) - 1
    for t in range(rf.keep_metrics(done + 1), done + 1):   # metrics lost in a kill after the array write
        rf.append(step_metrics(t, traj[t], sc.r, p_star, sc.p_data))
    rng = range(done, config.steps)
    if progress:
        from tqdm import tqdm
        rng = tqdm(rng, desc=f"exact {config.scenario} K={config.K} lam={config.lam}", initial=done,
                   total=config.steps)
    for t in rng:
        traj.append(step(traj[-1], sc.r, config.K, config.lam, pd))
        rf.save_arrays("trajectory", p=np.asarray(traj), r=sc.r, p_star=p_star, p_data=sc.p_data)
        rf.append(step_metrics(t + 1, traj[-1], sc.r, p_star, sc.p_data))
    from .plots import plot_exact_run
    plot_exact_run(Path(rf.path))
    return rf
