r"""Linear regression retrained on its own labels: replace versus accumulate (Gerstgrasser et al. 2024).

Fixed design X in R^{T x d} (rows N(0, I)), noise sigma^2. Generation 1 fits OLS to y = X w* + e; generation
i + 1 relabels X with the previous fit, y = X w_i + e (fresh noise), and fits on those labels alone
(replace) or on every label set so far (accumulate). Test error E|w_i - w*|^2 (x ~ N(0, I)):
replace sigma^2 d/(T-d-1) i, accumulate sigma^2 d/(T-d-1) sum_{j<=i} 1/j^2 <= pi^2/6 times the first fit's.
"""
from __future__ import annotations

import numpy as np


def expected_error(T: int, d: int, sigma: float, i, scheme: str):
    """The closed form above for generation(s) i >= 1."""
    base = sigma**2 * d / (T - d - 1)
    i = np.asarray(i)
    if scheme == "replace":
        return base * i
    if scheme == "accumulate":
        return base * np.array([np.sum(1.0 / np.arange(1, j + 1) ** 2) for j in np.atleast_1d(i)]).reshape(i.shape)
    raise ValueError(f"scheme must be 'replace' or 'accumulate', got {scheme!r}")


def regression_loop(T: int, d: int, sigma: float, generations: int, scheme: str,
                    rng: np.random.Generator) -> np.ndarray:
    """Test errors |w_i - w*|^2 for i = 1..generations of one chain (a fresh design X per chain)."""
    if scheme not in ("replace", "accumulate"):
        raise ValueError(f"scheme must be 'replace' or 'accumulate', got {scheme!r}")
    if T <= d + 1:
        raise ValueError(f"T must exceed d + 1, got T={T}, d={d}")
    X = rng.standard_normal((T, d))
    w_star = rng.standard_normal(d)
    pinv = np.linalg.pinv(X)
    w = w_star
    fits = []
    errs = []
    for _ in range(generations):
        y = X @ w + sigma * rng.standard_normal(T)
        fits.append(pinv @ y)
        # OLS on the stacked copies of X equals the average of the per-copy fits
        w = fits[-1] if scheme == "replace" else np.mean(fits, axis=0)
        errs.append(float(np.sum((w - w_star) ** 2)))
    return np.array(errs)
