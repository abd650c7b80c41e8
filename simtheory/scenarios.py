"""Named scenarios for the exact dynamics: an initial model p0, the data law p_data and the reward r."""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from . import densities as dn
from .geometries import MIXTURE1D, MIXTURE2D, MOONS


@dataclass(frozen=True)
class Scenario:
    """p0 (= p_data: the loop starts from a model fitted to the data), rewards r, grid points or None."""

    p0: np.ndarray
    r: np.ndarray
    points: np.ndarray | None

    @property
    def p_data(self) -> np.ndarray:
        return self.p0


def four_atoms(grid_size: int = 0) -> Scenario:
    """The 4-atom example of docs/derivations/curated-step.md: p = (.4, .3, .2, .1), r = (0, .5, 1, 1)."""
    return Scenario(np.array([0.4, 0.3, 0.2, 0.1]), np.array([0.0, 0.5, 1.0, 1.0]), None)


def mixture1d(grid_size: int = 401) -> Scenario:
    """[`simtheory.geometries.MIXTURE1D`][simtheory.geometries.MIXTURE1D] on [-4, 4]: three Gaussians, reward peaks on the right mode."""
    x = dn.grid(-4, 4, grid_size, dim=1).points
    return Scenario(dn.to_probabilities(MIXTURE1D.pdf(x)), MIXTURE1D.reward(x), x)


def mixture2d(grid_size: int = 81) -> Scenario:
    """[`simtheory.geometries.MIXTURE2D`][simtheory.geometries.MIXTURE2D] on [-4, 4]^2: eight Gaussians on a circle of radius 2.5,
    reward: closeness to two of them."""
    x = dn.grid(-4, 4, grid_size).points
    return Scenario(dn.to_probabilities(MIXTURE2D.pdf(x)), MIXTURE2D.reward(x), x)


def moons2d(grid_size: int = 81) -> Scenario:
    """[`simtheory.geometries.MOONS`][simtheory.geometries.MOONS] on [-1.5, 2.5]^2: two moons (noise .1); reward: closeness to the tip
    of the upper moon and the middle of the lower."""
    x = dn.grid(-1.5, 2.5, grid_size).points
    return Scenario(dn.to_probabilities(MOONS.pdf(x)), MOONS.reward(x), x)


def rings2d(grid_size: int = 81) -> Scenario:
    """A ring of radius 2; reward: closeness to the point (2, 0)."""
    g = dn.grid(-3, 3, grid_size)
    x = g.points
    p = dn.to_probabilities(dn.ring_pdf(x, 2.0, 0.2))
    return Scenario(p, dn.centre_reward(x, [[2.0, 0.0]], gamma=2.0, radius=0.53), x)


SCENARIOS: dict[str, Callable[[int], Scenario]] = {
    "four_atoms": four_atoms, "mixture1d": mixture1d, "mixture2d": mixture2d,
    "moons2d": moons2d, "rings2d": rings2d,
}


DIMENSIONS = {"four_atoms": 0, "mixture1d": 1, "mixture2d": 2, "moons2d": 2, "rings2d": 2}
"""Grid dimension of each scenario (0: a fixed set of atoms, whatever the grid size)."""

BYTES_PER_ATOM = 512
"""Peak working memory, per atom, of building a scenario and running exact steps on it (densities, rewards, the
curated step's arrays); tests/project/test_robustness.py holds every scenario to it."""


def atoms(name: str, grid_size: int) -> int:
    """The number of atoms of scenario ``name`` at ``grid_size`` nodes per axis, without building it."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose from {sorted(SCENARIOS)}")
    return 4 if DIMENSIONS[name] == 0 else int(grid_size) ** DIMENSIONS[name]


def get(name: str, grid_size: int) -> Scenario:
    """The scenario called ``name`` at ``grid_size`` nodes per axis."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose from {sorted(SCENARIOS)}")
    return SCENARIOS[name](grid_size)
