"""Monte Carlo K-way selection: draw K, keep one by softmax of the reward (Luce first choice).

The independent, sampling-based counterpart of [`simtheory.curated`][simtheory.curation.curated]; the finite-sample
loops and the empirical half use the same rule (Gumbel-max: argmax_k r_k + G_k is softmax-distributed).
"""
from __future__ import annotations

import math

import numpy as np

from . import kernels, validate


def select_softmax(rewards, rng: np.random.Generator, *, fast: bool = True) -> np.ndarray:
    """Index kept in each row of ``rewards`` (m, K): P(k) = e^{r_k} / sum_j e^{r_j} (Eq. 6's selection).

    Gumbel noise is drawn by ``rng`` and handed to the kernel, so the result does not depend on threads.
    """
    r = validate.finite_array(rewards, "rewards")
    if r.ndim != 2 or r.shape[1] < 1:
        raise ValueError(f"rewards must have shape (m, K) with K >= 1, got {r.shape}")
    g = rng.gumbel(size=r.shape)
    if fast:
        kernels.launch_threads()          # keeps torch's OpenMP thread count (see kernels.launch_threads)
    return kernels.select_numba(r, g) if fast else kernels.select_reference(r, g)


def sample_curated(p, r, K, n: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of ``n`` curated draws from a discrete p: K candidates from p, one kept by softmax(r)."""
    pa = validate.probability(p, "p").ravel()
    ra = validate.rewards(r, np.shape(p), "r").ravel()
    k = validate.group_size(K, "K")
    if k == math.inf:
        raise ValueError("K = inf cannot be sampled; use simtheory.curated(p, r, math.inf)")
    n = validate.count(n, "n")
    cand = rng.choice(pa.size, size=(n, int(k)), p=pa)
    keep = select_softmax(ra[cand], rng)
    return cand[np.arange(n), keep]


def curated_frequencies(p, r, K, n: int, rng: np.random.Generator) -> np.ndarray:
    """Empirical law of ``n`` curated draws, shaped like p (an unbiased estimate of curated(p, r, K))."""
    idx = sample_curated(p, r, K, n, rng)
    return (np.bincount(idx, minlength=np.size(p)) / n).reshape(np.shape(p))
