"""Named real-data sets for loops and sweeps: points (or atom indices), their reward and family options."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import scenarios
from .geometries import MIXTURE2D
from .loops import Reward


@dataclass(frozen=True)
class Dataset:
    """Real points, the reward (a function of points, or an array over atoms) and options the loop needs."""

    x: np.ndarray
    reward: Reward           # a function of points, or an array over atoms (simtheory.loops.Reward)
    options: dict = field(default_factory=dict)


def gauss2d(n: int, rng: np.random.Generator) -> Dataset:
    """N(0, I_2); reward r(x) = x_0 (push to the right)."""
    return Dataset(rng.standard_normal((n, 2)), lambda y: y[:, 0])


def gauss1d(n: int, rng: np.random.Generator) -> Dataset:
    """N(0, 1); reward r(x) = x."""
    return Dataset(rng.standard_normal((n, 1)), lambda y: y[:, 0])


def mixture2d(n: int, rng: np.random.Generator) -> Dataset:
    """Draws from :data:`simtheory.geometries.MIXTURE2D` (the law of scenarios.mixture2d) with its reward."""
    return Dataset(MIXTURE2D.sample(n, rng), MIXTURE2D.reward,
                   {"modes": tuple(map(tuple, MIXTURE2D.means)), "components": MIXTURE2D.means.shape[0]})


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
