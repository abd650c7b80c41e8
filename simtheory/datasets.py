"""Named real-data sets for loops and sweeps: points (or atom indices), their reward and family options."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import densities, scenarios


@dataclass(frozen=True)
class Dataset:
    """Real points, the reward (a function of points, or an array over atoms) and options the loop needs."""

    x: np.ndarray
    reward: object
    options: dict = field(default_factory=dict)


def gauss2d(n: int, rng: np.random.Generator) -> Dataset:
    """N(0, I_2); reward r(x) = x_0 (push to the right)."""
    return Dataset(rng.standard_normal((n, 2)), lambda y: y[:, 0])


def gauss1d(n: int, rng: np.random.Generator) -> Dataset:
    """N(0, 1); reward r(x) = x."""
    return Dataset(rng.standard_normal((n, 1)), lambda y: y[:, 0])


MIX_MEANS = 2.5 * np.stack([np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)], -1)


def mixture2d(n: int, rng: np.random.Generator) -> Dataset:
    """Eight Gaussians (std .35) on a circle of radius 2.5; reward: closeness to modes 0 and 3 (as scenarios.mixture2d)."""
    comp = rng.integers(0, 8, n)
    x = MIX_MEANS[comp] + 0.35 * rng.standard_normal((n, 2))
    centres = MIX_MEANS[[0, 3]]
    return Dataset(x, lambda y: densities.centre_reward(y, centres, gamma=2.0, radius=0.43),
                   {"modes": tuple(map(tuple, MIX_MEANS)), "components": 8})


def atoms1d(n: int, rng: np.random.Generator) -> Dataset:
    """Atom indices drawn from the mixture1d scenario (101 atoms) with its reward per atom (histogram)."""
    sc = scenarios.mixture1d(101)
    return Dataset(rng.choice(sc.p0.size, size=(n, 1), p=sc.p0), sc.r, {"n_atoms": sc.p0.size})


DATASETS = {"gauss1d": gauss1d, "gauss2d": gauss2d, "mixture2d": mixture2d, "atoms1d": atoms1d}


def make(name: str, n: int, seed: int = 0) -> Dataset:
    """``n`` real points of the named data set, drawn with ``seed``."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}")
    return DATASETS[name](n, np.random.default_rng(seed))
