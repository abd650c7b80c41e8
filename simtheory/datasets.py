"""Named real-data sets for loops and sweeps: points (or atom indices), their reward, family options and, where
it is known, the data law as a Gaussian mixture (the exact denoiser and the distance to the law use it).

The laws are those of [`simtheory.geometries`][simtheory.geometries], the same the gridded scenarios
([`simtheory.scenarios`][simtheory.scenarios])
discretise, so both halves run on the same laws: gauss1d, gauss2d, mixture1d, mixture2d, moons (and atoms1d,
the atoms of the mixture1d scenario).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import scenarios, validate
from .geometries import MIXTURE1D, MIXTURE2D, MOONS
from .loops import Reward


@dataclass(frozen=True)
class Dataset:
    """Real points, the reward (a function of points, or an array over atoms), options the loop needs, and the
    law the points are drawn from as a Gaussian mixture {weights, means, covs} (None: not known)."""

    x: np.ndarray
    reward: Reward           # a function of points, or an array over atoms (simtheory.loops.Reward)
    options: dict = field(default_factory=dict)
    law: dict | None = None


def _standard_normal(d: int) -> dict:
    return {"weights": np.ones(1), "means": np.zeros((1, d)), "covs": np.eye(d)[None]}


def gauss2d(n: int, rng: np.random.Generator) -> Dataset:
    """N(0, I_2); reward r(x) = x_0 (push to the right)."""
    return Dataset(rng.standard_normal((n, 2)), lambda y: y[:, 0], law=_standard_normal(2))


def gauss1d(n: int, rng: np.random.Generator) -> Dataset:
    """N(0, 1); reward r(x) = x."""
    return Dataset(rng.standard_normal((n, 1)), lambda y: y[:, 0], law=_standard_normal(1))


def _mixture(geometry, n: int, rng: np.random.Generator) -> Dataset:
    return Dataset(geometry.sample(n, rng), geometry.reward,
                   {"modes": tuple(map(tuple, geometry.means)), "components": geometry.means.shape[0]},
                   geometry.mixture())


def mixture1d(n: int, rng: np.random.Generator) -> Dataset:
    """Draws from [`simtheory.geometries.MIXTURE1D`][simtheory.geometries.MIXTURE1D] (three Gaussians on the line; the law of
    scenarios.mixture1d) with its reward."""
    return _mixture(MIXTURE1D, n, rng)


def mixture2d(n: int, rng: np.random.Generator) -> Dataset:
    """Draws from [`simtheory.geometries.MIXTURE2D`][simtheory.geometries.MIXTURE2D] (the law of scenarios.mixture2d) with its reward."""
    return _mixture(MIXTURE2D, n, rng)


def moons(n: int, rng: np.random.Generator) -> Dataset:
    """Draws from [`simtheory.geometries.MOONS`][simtheory.geometries.MOONS] (two moons, noise .1; the law of scenarios.moons2d) with its
    reward; modes are the arcs' midpoints (the nearest one tells the moon)."""
    return Dataset(MOONS.sample(n, rng), MOONS.reward, {"modes": MOONS.modes, "components": 8}, MOONS.mixture())


def atoms1d(n: int, rng: np.random.Generator) -> Dataset:
    """Atom indices drawn from the mixture1d scenario (101 atoms) with its reward per atom (histogram)."""
    sc = scenarios.mixture1d(101)
    return Dataset(rng.choice(sc.p0.size, size=(n, 1), p=sc.p0), sc.r, {"n_atoms": sc.p0.size})


DATASETS = {"gauss1d": gauss1d, "gauss2d": gauss2d, "mixture1d": mixture1d, "mixture2d": mixture2d,
            "moons": moons, "atoms1d": atoms1d}


BYTES_PER_POINT = 64
"""Peak memory per drawn point of [`make`][simtheory.datasets.make] (two coordinates, float64, and the draws' temporaries)."""


def make(name: str, n: int, seed: int = 0) -> Dataset:
    """``n`` real points of the named data set, drawn with ``seed``. ValueError naming ``n`` when it is not an
    integer >= 1 or the points need more than half of the available memory."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}")
    n = validate.count(n, "n")
    validate.fits_memory(BYTES_PER_POINT * n, "n", n, f"{n} points of {name}")
    return DATASETS[name](n, np.random.default_rng(seed))
