r"""Exact EDM denoiser of a Gaussian mixture p = sum_k pi_k N(mu_k, S_k) in any dimension.

Noised at sigma, p_sigma = sum_k pi_k N(mu_k, C_k) with C_k = S_k + sigma^2 I, and Tweedie's formula gives

    D(x; sigma) = E[x_0 | x] = sum_k gamma_k(x) [mu_k + S_k C_k^{-1} (x - mu_k)],
    gamma_k(x) = pi_k N(x; mu_k, C_k) / p_sigma(x)        (log-sum-exp: stable for far-apart components),
    score(x; sigma) = grad log p_sigma(x) = -sum_k gamma_k(x) C_k^{-1} (x - mu_k)   (= (D - x) / sigma^2).

C_k^{-1}(x - mu_k) comes from the Cholesky factor of C_k (two triangular solves), never an explicit inverse.
The score is summed directly from these solves: Tweedie's (D - x) / sigma^2 subtracts two numbers that agree
to O(sigma^2) and loses about log10(|x| / (sigma^2 |score|)) digits (4 at sigma = 1e-6, 6 at 1e-7).
Component covariances S_k need only be positive semi-definite when sigma > 0: C_k is then positive definite
(a component concentrated on a line or a point is a regular law once noised).
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np
from scipy import linalg
from scipy.special import logsumexp

from .. import validate
from ..families import gaussian
from ..kernels import launch_threads


def check_sigma(sigma, name: str = "sigma") -> float:
    """sigma as a float; ValueError unless it is one finite number > 0."""
    a = np.asarray(sigma, dtype=np.float64)
    if a.size != 1:
        raise ValueError(f"{name} must be a scalar, got shape {a.shape}")
    s = float(a.reshape(-1)[0])
    if not math.isfinite(s) or s <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {s!r}")
    return s


def check_gmm(weights, means, covs, *, psd: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights (k,), means (k, d), covs (k, d, d)) as float64 after checking them; ValueError names the fault
    (weights not a probability vector, shapes that disagree, a covariance not symmetric positive definite, or
    with ``psd=True`` -- for noised laws, sigma > 0 -- not positive semi-definite)."""
    w = validate.probability(weights, "weights")
    if w.ndim != 1:
        raise ValueError(f"weights must have shape (k,), got {w.shape}")
    m = validate.finite_array(means, "means")
    if m.ndim != 2 or m.shape[0] != w.size:
        raise ValueError(f"means must have shape (k={w.size}, d), got {m.shape}")
    c = validate.finite_array(covs, "covs")
    if c.shape != (w.size, m.shape[1], m.shape[1]):
        raise ValueError(f"covs must have shape {(w.size, m.shape[1], m.shape[1])}, got {c.shape}")
    for j in range(w.size):
        gaussian.check_cov(c[j], f"covs[{j}]", psd=psd)
    return w, m, c


def _check_x(x, d: int) -> np.ndarray:
    a = validate.finite_array(x, "x")
    if a.ndim != 2 or a.shape[1] != d:
        raise ValueError(f"x must have shape (n, d={d}), got {a.shape}")
    return a


def _noised_factors(weights, covs, sigma):
    """Cholesky factors of C_k = S_k + sigma^2 I and log(pi_k) - log det(L_k) - d/2 log(2 pi)."""
    k, d, _ = covs.shape
    C = covs + sigma**2 * np.eye(d)[None]
    try:
        L = np.linalg.cholesky(C)
    except np.linalg.LinAlgError:
        bad = next(j for j in range(k) if not _is_pd(C[j]))
        raise ValueError(f"covs[{bad}] + sigma^2 I is not positive definite at sigma = {sigma!r}: a singular "
                         "covariance needs sigma^2 above its rounding (sigma = 0 has no density)") from None
    with np.errstate(divide="ignore"):
        lw = np.log(weights)
    log_norm = lw - np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1) - 0.5 * d * math.log(2 * math.pi)
    return np.ascontiguousarray(L), log_norm


def _is_pd(c: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        return False
    return True


def _posterior_reference(x, s, w, m, c) -> tuple[np.ndarray, np.ndarray]:
    """(gamma (n, k), z (k, n, d)) with z_k = C_k^{-1} (x - mu_k), one component at a time (scipy solves)."""
    d = m.shape[1]
    logp = np.empty((x.shape[0], w.size))
    z = np.empty((w.size,) + x.shape)
    for j in range(w.size):
        try:
            cf = linalg.cho_factor(c[j] + s**2 * np.eye(d), lower=True)
        except linalg.LinAlgError:
            raise ValueError(f"covs[{j}] + sigma^2 I is not positive definite at sigma = {s!r}") from None
        r = x - m[j]
        y = linalg.solve_triangular(cf[0], r.T, lower=True)
        z[j] = linalg.cho_solve(cf, r.T).T
        logdet = 2 * np.log(np.diag(cf[0])).sum()
        logp[:, j] = math.log(w[j]) if w[j] > 0 else -np.inf
        logp[:, j] += -0.5 * np.sum(y**2, axis=0) - 0.5 * logdet - 0.5 * d * math.log(2 * math.pi)
    return np.exp(logp - logsumexp(logp, axis=1, keepdims=True)), z


def gmm_denoiser_reference(x, sigma, weights, means, covs) -> np.ndarray:
    """numpy/scipy reference of the exact denoiser (one component at a time, scipy Cholesky solves)."""
    s = check_sigma(sigma)
    w, m, c = check_gmm(weights, means, covs, psd=True)
    x = _check_x(x, m.shape[1])
    gamma, z = _posterior_reference(x, s, w, m, c)
    post = m[:, None, :] + np.einsum("kab,knb->kna", c, z)      # mu_k + S_k C_k^{-1} (x - mu_k)
    return np.einsum("nk,knd->nd", gamma, post)


def gmm_score_reference(x, sigma, weights, means, covs) -> np.ndarray:
    """numpy/scipy reference of the direct score -sum_k gamma_k C_k^{-1} (x - mu_k)."""
    s = check_sigma(sigma)
    w, m, c = check_gmm(weights, means, covs, psd=True)
    x = _check_x(x, m.shape[1])
    gamma, z = _posterior_reference(x, s, w, m, c)
    return -np.einsum("nk,knd->nd", gamma, z)


@nb.njit(parallel=True, cache=True)
def _denoise_kernel(x, means, covs, L, log_norm, score):
    """Per point: forward solve L y = x - mu_k, back solve L^T z = y, log-sum-exp of the log-densities, then
    D = sum_k gamma_k (mu_k + S_k z_k), or with ``score`` -sum_k gamma_k z_k. Points are independent, so
    threads never change a result."""
    n, d = x.shape
    k = means.shape[0]
    out = np.empty((n, d))
    for i in nb.prange(n):
        lp = np.empty(k)
        z = np.empty((k, d))
        y = np.empty(d)
        for j in range(k):
            q = 0.0
            for a in range(d):
                s = x[i, a] - means[j, a]
                for b in range(a):
                    s -= L[j, a, b] * y[b]
                y[a] = s / L[j, a, a]
                q += y[a] * y[a]
            lp[j] = log_norm[j] - 0.5 * q
            for a in range(d - 1, -1, -1):
                s = y[a]
                for b in range(a + 1, d):
                    s -= L[j, b, a] * z[j, b]
                z[j, a] = s / L[j, a, a]
        mx = -np.inf
        for j in range(k):
            mx = max(mx, lp[j])
        tot = 0.0
        for j in range(k):
            lp[j] = math.exp(lp[j] - mx)
            tot += lp[j]
        for a in range(d):
            out[i, a] = 0.0
        for j in range(k):
            g = lp[j] / tot
            if g == 0.0:
                continue
            for a in range(d):
                if score:
                    out[i, a] -= g * z[j, a]
                    continue
                s = means[j, a]
                for b in range(d):
                    s += covs[j, a, b] * z[j, b]
                out[i, a] += g * s
    return out


def gmm_denoiser(x, sigma, weights, means, covs, *, fast: bool = True) -> np.ndarray:
    r"""Exact EDM denoiser D(x; sigma) = E[x_0 | x_0 + sigma n = x] of the mixture (Tweedie's formula, module
    docstring). x (n, d), sigma scalar > 0, weights (k,), means (k, d), covs (k, d, d) positive semi-definite
    -> (n, d).

    ``fast`` runs the Numba kernel; ``fast=False`` the numpy/scipy reference (same values to rounding)."""
    if not fast:
        return gmm_denoiser_reference(x, sigma, weights, means, covs)
    s = check_sigma(sigma)
    w, m, c = check_gmm(weights, means, covs, psd=True)
    return denoise_checked(_check_x(x, m.shape[1]), s, w, m, c)


def _run_kernel(x, sigma, weights, means, covs, score: bool) -> np.ndarray:
    L, log_norm = _noised_factors(weights, covs, float(sigma))
    launch_threads()                      # keeps torch's OpenMP thread count (see kernels.launch_threads)
    return _denoise_kernel(np.ascontiguousarray(x, dtype=np.float64), np.ascontiguousarray(means),
                           np.ascontiguousarray(covs), L, log_norm, score)


def denoise_checked(x: np.ndarray, sigma: float, weights: np.ndarray, means: np.ndarray,
                    covs: np.ndarray) -> np.ndarray:
    """The Numba path of [`gmm_denoiser`][simtheory.diffusion.denoiser.gmm_denoiser] for arguments already checked (samplers call it 2N - 1 times)."""
    return _run_kernel(x, sigma, weights, means, covs, False)


def gmm_score(x, sigma, weights, means, covs, *, fast: bool = True) -> np.ndarray:
    r"""grad_x log p_sigma(x) = -sum_k gamma_k(x) C_k^{-1} (x - mu_k), C_k = S_k + sigma^2 I, summed directly
    from the Cholesky solves (module docstring): no cancellation as sigma -> 0, unlike (D - x) / sigma^2.
    Same arguments as [`gmm_denoiser`][simtheory.diffusion.denoiser.gmm_denoiser]; ``fast=False`` runs the numpy/scipy
    reference."""
    if not fast:
        return gmm_score_reference(x, sigma, weights, means, covs)
    s = check_sigma(sigma)
    w, m, c = check_gmm(weights, means, covs, psd=True)
    return _run_kernel(_check_x(x, m.shape[1]), s, w, m, c, True)


def noised_logpdf(x, sigma, weights, means, covs) -> np.ndarray:
    """log p_sigma(x) = log sum_k pi_k N(x; mu_k, S_k + sigma^2 I) per row (sigma = 0 allowed: the data law,
    which then needs positive definite covariances; for sigma > 0 positive semi-definite ones suffice)."""
    s = float(sigma)
    if not math.isfinite(s) or s < 0:
        raise ValueError(f"sigma must be finite and >= 0, got {s!r}")
    w, m, c = check_gmm(weights, means, covs, psd=s > 0)
    x = _check_x(x, m.shape[1])
    L, log_norm = _noised_factors(w, c, s)
    q = np.stack([np.sum(linalg.solve_triangular(L[j], (x - m[j]).T, lower=True) ** 2, axis=0)
                  for j in range(w.size)], axis=1)
    return logsumexp(log_norm[None] - 0.5 * q, axis=1)
