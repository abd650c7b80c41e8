"""The continuous laws and rewards the named experiments share: one definition each, discretised on a grid by
[`simtheory.scenarios`][simtheory.scenarios] (exact dynamics) and sampled by [`simtheory.datasets`][simtheory.datasets]
(finite loops)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import densities
from .metrics import nearest_centre


@dataclass(frozen=True)
class MixtureGeometry:
    """Isotropic Gaussian mixture sum_k w_k N(mu_k, s^2 I) with the centre reward
    r(x) = -gamma max(min_c |x - c| - radius, 0)
    ([`simtheory.densities.centre_reward`][simtheory.densities.centre_reward])."""

    means: np.ndarray            # (k, d)
    scale: float
    weights: np.ndarray          # (k,)
    reward_centres: np.ndarray   # (c, d)
    gamma: float
    radius: float

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at points x (..., d)."""
        return densities.gaussian_mixture_pdf(x, self.means, self.scale, self.weights)

    def reward(self, x: np.ndarray) -> np.ndarray:
        """Reward at points x (..., d)."""
        return densities.centre_reward(x, self.reward_centres, gamma=self.gamma, radius=self.radius)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws (n, d): a component by weight, then mean + scale * N(0, I)."""
        comp = rng.choice(self.weights.size, size=n, p=self.weights)
        return self.means[comp] + self.scale * rng.standard_normal((n, self.means.shape[1]))

    def nearest_mode(self, x: np.ndarray) -> np.ndarray:
        """Index of the nearest mean for each point x (..., d): the mode a point belongs to."""
        return nearest_centre(x, self.means)

    def mixture(self) -> dict:
        """The law as a Gaussian mixture {weights, means, covs} (families.gmm's format)."""
        d = self.means.shape[1]
        return {"weights": self.weights.copy(), "means": self.means.copy(),
                "covs": np.repeat((self.scale**2 * np.eye(d))[None], self.weights.size, axis=0)}


@dataclass(frozen=True)
class MoonsGeometry:
    """scikit-learn's two moons with noise N(0, noise^2 I) ([`simtheory.densities.two_moons_pdf`][simtheory.densities.two_moons_pdf]) and a centre
    reward ([`simtheory.densities.centre_reward`][simtheory.densities.centre_reward])."""

    noise: float
    reward_centres: np.ndarray
    gamma: float
    radius: float
    modes: tuple = ((0.0, 1.0), (1.0, -0.5))      # the arcs' midpoints: nearest one = the moon of a point

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at points x (..., 2)."""
        return densities.two_moons_pdf(x, self.noise)

    def reward(self, x: np.ndarray) -> np.ndarray:
        """Reward at points x (..., 2)."""
        return densities.centre_reward(x, self.reward_centres, gamma=self.gamma, radius=self.radius)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws (n, 2): theta ~ U[0, pi], a moon w.p. 1/2, the arc point plus noise."""
        th = rng.uniform(0, np.pi, n)
        upper = rng.random(n) < 0.5
        pts = np.where(upper[:, None], np.stack([np.cos(th), np.sin(th)], -1),
                       np.stack([1 - np.cos(th), 0.5 - np.sin(th)], -1))
        return pts + self.noise * rng.standard_normal((n, 2))

    def mixture(self, nodes: int = 200) -> dict:
        """The law as a Gaussian mixture: N(arc point, noise^2 I) at the Gauss-Legendre nodes of the arcs
        ([`simtheory.densities.two_moons_nodes`][simtheory.densities.two_moons_nodes]; its density is
        [`pdf`][simtheory.geometries.MoonsGeometry.pdf])."""
        centres, weights = densities.two_moons_nodes(nodes)
        return {"weights": weights, "means": centres,
                "covs": np.repeat((self.noise**2 * np.eye(2))[None], weights.size, axis=0)}


_ANG = 2 * np.pi * np.arange(8) / 8
_CIRCLE = 2.5 * np.stack([np.cos(_ANG), np.sin(_ANG)], -1)

MIXTURE1D = MixtureGeometry(np.array([[-2.0], [0.0], [2.0]]), 0.5, np.array([0.5, 0.3, 0.2]),
                            np.array([[2.0]]), gamma=1.0, radius=0.25)
"""Three Gaussians on the line; the reward peaks on the right mode."""

MIXTURE2D = MixtureGeometry(_CIRCLE, 0.35, np.full(8, 1 / 8), _CIRCLE[[0, 3]], gamma=2.0, radius=0.43)
"""Eight Gaussians (std .35) on a circle of radius 2.5; reward: closeness to modes 0 and 3 (discs of radius
.43, off the grid's distances so that no grid cell sits on a disc edge)."""

MOONS = MoonsGeometry(0.1, np.array([[-1.0, 0.0], [1.0, -0.5]]), gamma=3.0, radius=0.33)
"""Two moons (noise .1); reward: closeness to the tip of the upper moon and the middle of the lower (discs of
radius .33)."""
