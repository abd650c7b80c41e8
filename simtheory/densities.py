"""Densities and rewards on 1-D and 2-D grids: Gaussian mixtures, two moons, rings, centre rewards.

A gridded density becomes a probability array by weighting each node with its cell (``to_probabilities``):
the discretisation of the continuous law, not a correction of an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from . import validate


@dataclass(frozen=True)
class Grid:
    """A regular grid: ``axes[i]`` holds the node coordinates along dimension i."""

    axes: tuple[np.ndarray, ...]

    @property
    def points(self) -> np.ndarray:
        """Node coordinates, shape (*shape, d)."""
        return np.stack(np.meshgrid(*self.axes, indexing="ij"), axis=-1)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(a.size for a in self.axes)

    @property
    def cell(self) -> float:
        return float(np.prod([a[1] - a[0] for a in self.axes]))


def grid(lo: float, hi: float, n: int, dim: int = 2) -> Grid:
    """``n`` nodes per axis on [lo, hi]^dim."""
    n = validate.count(n, "n", minimum=2)
    if not hi > lo:
        raise ValueError(f"hi must exceed lo, got lo={lo}, hi={hi}")
    ax = np.linspace(lo, hi, n)
    return Grid(tuple(ax for _ in range(dim)))


_PDF_BUDGET = 2**20     # entries of one (points x centres x d) block of the mixture densities (8 MB)


def _by_rows(x, centres: int, block: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``block`` (rows (b, d) -> values (b,)) over the points x (..., d) in row blocks, so that a mixture of many
    centres on a large grid needs memory O(block x centres), not O(points x centres); each point's value is
    computed exactly as in one call."""
    x = np.asarray(x, float)
    flat = x.reshape(-1, x.shape[-1])
    out = np.empty(flat.shape[0])
    rows = max(1, _PDF_BUDGET // (centres * flat.shape[1]))
    for a in range(0, flat.shape[0], rows):
        out[a:a + rows] = block(flat[a:a + rows])
    return out.reshape(x.shape[:-1])


def gaussian_mixture_pdf(x: np.ndarray, means, scales, weights=None) -> np.ndarray:
    r"""sum_k w_k N(x; mu_k, s_k^2 I) at points x (..., d); means (k, d), scales (k,) isotropic std."""
    mu = np.atleast_2d(np.asarray(means, float))
    s = np.broadcast_to(np.asarray(scales, float), (mu.shape[0],))
    if np.any(s <= 0):
        raise ValueError("scales must be positive")
    w = np.full(mu.shape[0], 1.0 / mu.shape[0]) if weights is None else validate.probability(weights, "weights")
    d = mu.shape[1]

    def block(xb: np.ndarray) -> np.ndarray:
        sq = np.sum((xb[:, None, :] - mu) ** 2, axis=-1)
        return np.sum(w * np.exp(-0.5 * sq / s**2) / (2 * np.pi * s**2) ** (d / 2), axis=-1)
    return _by_rows(x, mu.shape[0], block)


def two_moons_nodes(nodes: int = 200) -> tuple[np.ndarray, np.ndarray]:
    r"""Arc points and weights (2 nodes, 2), (2 nodes,) of scikit-learn's two moons law: theta ~ U[0, pi] on the
    arcs (cos t, sin t) and (1 - cos t, 1/2 - sin t), each w.p. 1/2, the average over theta by Gauss-Legendre
    with ``nodes`` nodes per arc. With the noise N(0, noise^2 I) added, the law is (to quadrature accuracy) the
    Gaussian mixture sum_i weights_i N(centres_i, noise^2 I)."""
    th, wt = np.polynomial.legendre.leggauss(validate.count(nodes, "nodes", minimum=2))
    th = 0.5 * np.pi * (th + 1)
    wt = 0.5 * wt          # averages over theta in [0, pi]
    upper = np.stack([np.cos(th), np.sin(th)], -1)
    lower = np.stack([1 - np.cos(th), 0.5 - np.sin(th)], -1)
    return np.concatenate([upper, lower]), np.concatenate([wt, wt]) / 2


def two_moons_pdf(x: np.ndarray, noise: float = 0.1, nodes: int = 200) -> np.ndarray:
    r"""Density of scikit-learn's two moons ([`two_moons_nodes`][simtheory.densities.two_moons_nodes]) plus N(0, noise^2 I)."""
    centres, weights = two_moons_nodes(nodes)

    def block(xb: np.ndarray) -> np.ndarray:
        sq = np.sum((xb[:, None, :] - centres) ** 2, axis=-1)
        return np.sum(weights * np.exp(-0.5 * sq / noise**2), axis=-1) / (2 * np.pi * noise**2)
    return _by_rows(x, centres.shape[0], block)


def ring_pdf(x: np.ndarray, radius: float = 2.0, width: float = 0.2) -> np.ndarray:
    """Unnormalised ring density exp(-(|x| - radius)^2 / (2 width^2))."""
    return np.exp(-0.5 * (np.linalg.norm(x, axis=-1) - radius) ** 2 / width**2)


def to_probabilities(density: np.ndarray) -> np.ndarray:
    """Probability of each grid node: density times cell, over the grid's total (the discretised law)."""
    d = validate.finite_array(density, "density")
    if np.any(d < 0) or d.sum() <= 0:
        raise ValueError("density must be non-negative with positive total")
    return d / d.sum()


def centre_reward(x: np.ndarray, centres, gamma: float = 1.0, radius: float = 0.0) -> np.ndarray:
    r"""r(x) = -gamma max(min_c |x - c| - radius, 0): grows with closeness to the chosen centres, with the
    discs of ``radius`` around them as the top level set (the 2-D experiments' reward; exact form there is
    unverified)."""
    c = np.atleast_2d(np.asarray(centres, float))
    dist = np.min(np.linalg.norm(x[..., None, :] - c, axis=-1), axis=-1)
    return -gamma * np.maximum(dist - radius, 0.0)


def reward_from_callable(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """A user reward evaluated on the grid points x (..., d); must return finite values of shape x.shape[:-1]."""
    r = np.asarray(fn(x), float)
    return validate.rewards(r, x.shape[:-1], "reward(x)")
