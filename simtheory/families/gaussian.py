r"""Gaussian family in any dimension: MLE (divide by n) or unbiased (n - 1) covariance.

Refit on M samples per generation gives sigma^2_{t+1} = sigma^2_t chi^2_{M-1} / c, c = M or M - 1
(Shumailov et al. 2024), the closed forms of [`simtheory.theorems.shumailov`][simtheory.theorems.shumailov].
"""
from __future__ import annotations

import numpy as np
from scipy import linalg

DDOF = {"mle": 0, "unbiased": 1}
"""Estimator name -> ddof: a fit to n points divides the sum of squared deviations by n - ddof."""
ESTIMATORS = tuple(DDOF)


PSD_TOL = 1e-12     # relative: an eigenvalue above -PSD_TOL * max|cov| is a rounding zero, not a negative one


def check_cov(cov: np.ndarray, name: str = "cov", *, psd: bool = False) -> np.ndarray:
    """Return cov if it is a symmetric positive definite (d, d) matrix, else raise ValueError naming it.

    ``psd=True`` also accepts a singular (positive semi-definite) matrix: eigenvalues down to
    -PSD_TOL * max|cov| (rounding) are taken as zeros. Use it where the matrix is only ever used after adding
    sigma^2 I with sigma > 0 (a noised law, which is regular whenever cov is PSD)."""
    c = np.asarray(cov, float)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or not np.all(np.isfinite(c)):
        raise ValueError(f"{name} must be a finite square matrix, got shape {c.shape}")
    scale = max(1.0, float(np.abs(c).max())) if c.size else 1.0
    if not np.allclose(c, c.T, atol=1e-12 * scale):
        raise ValueError(f"{name} is not symmetric")
    if psd:
        low = float(np.linalg.eigvalsh(0.5 * (c + c.T)).min()) if c.size else 0.0
        if low < -PSD_TOL * scale:
            raise ValueError(f"{name} is not positive semi-definite (smallest eigenvalue {low:.3g})")
        return c
    try:
        np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} is not positive definite") from None
    return c


def fit(x: np.ndarray, rng=None, warm=None, *, estimator: str = "mle") -> dict:
    """Mean and covariance of x (n, d); ``estimator`` 'mle' divides by n, 'unbiased' by n - 1."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"a Gaussian fit needs at least 2 points, got {n}")
    # the mean as one BLAS matrix-vector product: numpy's axis-0 sum of an (n, d) array with small d runs a
    # length-d inner loop per row, an order of magnitude slower (docs/benchmarks.md); rounding differs by O(n eps)
    mean = np.ones(n) @ x / n
    xc = x - mean
    cov = xc.T @ xc / (n if estimator == "mle" else n - 1)
    return {"mean": mean, "cov": cov}


def sample(params: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws from N(mean, cov) through the Cholesky factor (deterministic given rng)."""
    L = np.linalg.cholesky(params["cov"])
    return params["mean"] + rng.standard_normal((n, L.shape[0])) @ L.T


def logpdf(params: dict, x: np.ndarray) -> np.ndarray:
    """log N(x; mean, cov) per row."""
    L = np.linalg.cholesky(params["cov"])
    z = linalg.solve_triangular(L, (x - params["mean"]).T, lower=True)
    d = L.shape[0]
    return -0.5 * np.sum(z**2, axis=0) - np.log(np.diag(L)).sum() - 0.5 * d * np.log(2 * np.pi)


def w2(mean1, cov1, mean2, cov2) -> float:
    r"""2-Wasserstein distance between Gaussians:
    W_2^2 = |m1 - m2|^2 + tr(S1 + S2 - 2 (S2^{1/2} S1 S2^{1/2})^{1/2})."""
    mean1, mean2 = np.atleast_1d(np.asarray(mean1, float)), np.atleast_1d(np.asarray(mean2, float))
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, float)), np.atleast_2d(np.asarray(cov2, float))
    s2h = linalg.sqrtm(cov2)
    cross = linalg.sqrtm(s2h @ cov1 @ s2h)
    val = float(np.sum((mean1 - mean2) ** 2) + np.trace(cov1 + cov2 - 2 * np.real(cross)))
    return float(np.sqrt(max(val, 0.0)))
