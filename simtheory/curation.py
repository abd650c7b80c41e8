r"""The exact curation step of Ferbach et al. 2024 on discrete or gridded densities.

Curation draws K samples from p and keeps one with probability softmax(r) among them (Luce first choice;
K = 2 is Bradley-Terry). The kept sample has law (Eq. 6)

$$
\hat p(x) = p(x) H_K(x),\qquad
H_K(x) = \mathbb E_{x_2..x_K\sim p}\Big[\frac{K e^{r(x)}}{e^{r(x)} + \sum_{j\ge2} e^{r(x_j)}}\Big],
$$

and K = inf is the exponential tilt p e^r / E_p[e^r] (Lemma 2.1). Finite K is computed without Monte Carlo
by the Gumbel-grid quadrature of [`simtheory.kernels`][simtheory.kernels].
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from . import kernels, validate

H = kernels.H_CHAIN  # grid step ln2/3 = 0.231: trapezoid error ~1e-15 (tests/simtheory/test_curation.py)
Y_HI = 45.0       # grid runs to max r + log K + Y_HI: neglected tail K e^{-45} < 3e-14 at K = 1e6
MAX_GRID_BYTES = 2 * 2**30   # kernel buffers allowed for one curated step
MAX_NODES = MAX_GRID_BYTES // kernels.BYTES_PER_NODE   # ~2 million nodes: a reward spread up to ~4.7e5
NORM_TOL = 1e-9   # the quadrature's mass defect allowed before it is an error rather than rounding


@dataclass(frozen=True)
class GumbelGrid:
    """Uniform grid z_q = z0 + q h, q < n, covering every atom's integrand."""

    z0: float
    h: float
    n: int

    @property
    def z(self) -> np.ndarray:
        return self.z0 + self.h * np.arange(self.n)


def gumbel_grid(r: np.ndarray, K: int, h: float = H) -> GumbelGrid:
    """The grid for rewards ``r`` and group size ``K`` (from min r + Y_LO to max r + log K + Y_HI).

    Pass rewards shifted so that max r = 0 (as [`curated_finite`][simtheory.curation.curated_finite] does): grid
    positions are then computed
    from numbers of the size of the reward spread, not of the rewards. The node count is limited so that
    the kernels' buffers (kernels.BYTES_PER_NODE each) stay within MAX_GRID_BYTES.
    """
    spread = float(r.max() - r.min())
    z0 = float(r.min()) + kernels.Y_LO
    span = spread + math.log(K) + Y_HI - kernels.Y_LO
    n = int(math.ceil(span / h)) + 1 if math.isfinite(span) else math.inf
    if n > MAX_NODES:
        raise ValueError(f"r spans {spread:.3g}: the exact step would need {n:.3g} grid nodes, "
                         f"{n * kernels.BYTES_PER_NODE / 2**30:.3g} GiB of memory (limit {MAX_NODES} nodes, "
                         f"{MAX_GRID_BYTES / 2**30:.0f} GiB); a reward spread up to "
                         f"~{(MAX_NODES - 1) * h - Y_HI - math.log(K) + kernels.Y_LO:.3g} fits")
    return GumbelGrid(z0, h, int(n))


def tilt(p: np.ndarray, r: np.ndarray, t: float = 1.0) -> np.ndarray:
    r"""p e^{t r} / E_p[e^{t r}]: the K = inf step (t = 1, Lemma 2.1) and its t-fold iterate.

    Computed in log space, log p + t (r - max r) shifted by its maximum, so that rewards of any scale and
    masses of any size give every representable result (a mass times e^{t r} never underflows on its own).
    """
    support = p > 0
    if not np.any(support):
        raise ValueError("p has no mass")
    lw = np.log(p[support]) + t * (r[support] - r[support].max())
    w = np.exp(lw - lw.max())
    out = np.zeros_like(p, dtype=np.float64)
    out[support] = w / w.sum()
    return out


def curated_finite(p: np.ndarray, r: np.ndarray, K: int, *, fast: bool = True) -> np.ndarray:
    """p * H_K for flat, validated p and r and integer K >= 2 (no checks; see [`curated`][simtheory.curation.curated]).

    ``fast=False`` runs the dense numpy reference instead of the Numba kernels (same grid, same answer).
    """
    live = p > 0
    pl = p[live]
    rl = r[live] - r[live].max()    # only differences matter: grid coordinates stay of the spread's size
    g = gumbel_grid(rl, K)
    if fast:
        kernels.launch_threads()          # keeps torch's OpenMP thread count (see kernels.launch_threads)
        log_f = kernels.log_cdf_numba(pl, rl, g.z0, g.n)
    else:
        log_f = kernels.log_cdf_reference(pl, rl, g.z)
    phi = np.exp((K - 1) * log_f)
    if fast:
        integral = kernels.atom_integrals_numba(rl, phi, g.z0)
    else:
        integral = kernels.atom_integrals_reference(rl, phi, g.z, g.h)
    out = np.zeros_like(p)
    out[live] = K * pl * integral
    s = out.sum()
    if abs(s - 1.0) > NORM_TOL:
        raise FloatingPointError(f"curated mass is {s!r}: the quadrature lost more than {NORM_TOL:g}")
    return out / s


def curate(p: np.ndarray, r: np.ndarray, K) -> np.ndarray:
    """The one K dispatch of Eq. 6 for validated p, r (any shape) and K: 1 is the identity, inf the tilt
    (Lemma 2.1), a finite K the Gumbel-grid quadrature. [`curated`][simtheory.curation.curated] and the dynamics both
    call it."""
    if K == 1:
        return p
    if K == math.inf:
        return tilt(p, r)
    return curated_finite(p.ravel(), r.ravel(), K).reshape(p.shape)


def curated(p, r, K) -> np.ndarray:
    r"""Exact curated distribution p H_K (Eq. 6 of Ferbach et al. 2024) on a discrete or gridded density.

    Parameters
    ----------
    p : array_like, any shape
        Probabilities (non-negative, summing to 1 within 1e-9). A 2-D grid is taken as it is.
    r : array_like, same shape as p
        Finite rewards, any scale (only differences matter).
    K : int >= 1 or math.inf
        Number of samples drawn per kept one. K = 1 is the identity, K = inf the tilt p e^r / E_p[e^r].

    Returns
    -------
    numpy.ndarray, same shape as p
        the law of the kept sample. No Monte Carlo: a trapezoid rule in the
        Gumbel variable, accurate to ~1e-14 against enumeration of the K - 1 other draws.
    """
    pa = validate.probability(p, "p")
    ra = validate.rewards(r, pa.shape, "r")
    out = curate(pa, ra, validate.group_size(K, "K"))
    return out.copy() if out is pa else out


def curated_bruteforce(p, r, K: int) -> np.ndarray:
    """Eq. 6 by enumerating all n^K ordered K-tuples of draws: the independent reference for tiny n and K."""
    pa = validate.probability(p, "p").ravel()
    ra = validate.rewards(r, np.shape(p), "r").ravel()
    k = validate.group_size(K, "K")
    if k == math.inf or pa.size ** k > 10**7:
        raise ValueError(f"enumeration needs n^K <= 1e7, got n={pa.size}, K={K}")
    out = np.zeros(pa.size)
    for tup in itertools.product(range(pa.size), repeat=int(k)):
        idx = list(tup)
        pr = np.prod(pa[idx])
        if pr == 0:
            continue
        w = np.exp(ra[idx] - ra[idx].max())
        np.add.at(out, idx, pr * w / w.sum())
    return out.reshape(np.shape(p))
