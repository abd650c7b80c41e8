"""Gaussian kernel density model: the fitted points with an isotropic bandwidth (Scott's rule by default)."""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp


def fit(x: np.ndarray, rng=None, warm=None, *, bandwidth: float | None = None) -> dict:
    """Store the points and the bandwidth h (Scott: std * n^(-1/(d+4)), std averaged over dimensions)."""
    n, d = x.shape
    if n < 2:
        raise ValueError(f"a KDE needs at least 2 points, got {n}")
    h = float(np.mean(x.std(axis=0, ddof=1)) * n ** (-1.0 / (d + 4))) if bandwidth is None else float(bandwidth)
    if not h > 0:
        raise ValueError(f"bandwidth must be positive, got {h}")
    return {"points": x.copy(), "bandwidth": np.array(h)}


def sample(params: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """Pick stored points uniformly, add N(0, h^2 I)."""
    pts = params["points"]
    i = rng.integers(0, pts.shape[0], n)
    return pts[i] + float(params["bandwidth"]) * rng.standard_normal((n, pts.shape[1]))


def logpdf(params: dict, x: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """log of the mixture of N(point, h^2 I) at each row of x."""
    pts, h = params["points"], float(params["bandwidth"])
    d = pts.shape[1]
    out = np.empty(x.shape[0])
    for s in range(0, x.shape[0], chunk):
        sq = np.sum((x[s:s + chunk, None, :] - pts[None]) ** 2, axis=-1)
        out[s:s + chunk] = logsumexp(-0.5 * sq / h**2, axis=1)
    return out - np.log(pts.shape[0]) - 0.5 * d * np.log(2 * np.pi * h**2)
