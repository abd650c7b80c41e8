"""Histogram model on a fixed set of atoms (grid nodes): the finite-sample twin of the exact dynamics.

Points are atom indices (integers in [0, n_atoms)); fit = empirical frequencies, sample = draws from them,
so as N grows a loop on this family tends to [`simtheory.retrain`][simtheory.dynamics.retrain] on the same atoms.
"""
from __future__ import annotations

import numba as nb
import numpy as np


def fit(x: np.ndarray, rng=None, warm=None, *, n_atoms: int) -> dict:
    """Empirical frequencies of the atom indices in x (n,) or (n, 1)."""
    idx = np.asarray(x).reshape(-1).astype(np.int64)
    if idx.size == 0 or idx.min() < 0 or idx.max() >= n_atoms:
        raise ValueError(f"histogram data must be atom indices in [0, {n_atoms})")
    return {"probs": np.bincount(idx, minlength=n_atoms) / idx.size}


@nb.njit(cache=True)
def inverse_cdf_numba(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Atom index of each uniform u by binary search in cdf (first index with cdf > u)."""
    out = np.empty(u.size, dtype=np.int64)
    last = cdf.size - 1
    for i in range(u.size):     # bounds: 0 <= lo <= mid < hi <= last throughout; out has u.size entries
        lo, hi = 0, last
        while lo < hi:
            mid = (lo + hi) // 2
            if cdf[mid] > u[i]:
                hi = mid
            else:
                lo = mid + 1
        out[i] = lo
    return out


def inverse_cdf_reference(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """numpy reference of [`inverse_cdf_numba`][simtheory.families.histogram.inverse_cdf_numba]."""
    return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.size - 1)


def sample(params: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """n atom indices drawn from the fitted frequencies (uniforms from rng, search in Numba), shape (n, 1)."""
    cdf = np.cumsum(params["probs"])
    cdf /= cdf[-1]
    return inverse_cdf_numba(cdf, rng.random(n)).reshape(-1, 1)


def logpdf(params: dict, x: np.ndarray) -> np.ndarray:
    """log frequency of each atom (-inf where the histogram has none)."""
    with np.errstate(divide="ignore"):
        return np.log(params["probs"][np.asarray(x).reshape(-1).astype(np.int64)])
