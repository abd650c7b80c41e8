r"""Shumailov et al. 2024: a Gaussian refitted on M of its own samples each generation (docs/derivations/finite-samples.md
Sec. 4), the closed forms the finite-sample loops are checked against.

sigma^2_{t+1} = sigma^2_t chi^2_{M-1}/c, c = M (MLE) or M - 1 (unbiased); the mean performs a random walk
with step variance sigma^2_t / M.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import digamma


def _c(M: int, estimator: str) -> int:
    if estimator not in ("mle", "unbiased"):
        raise ValueError(f"estimator must be 'mle' or 'unbiased', got {estimator!r}")
    if M < 2:
        raise ValueError(f"M must be >= 2, got {M}")
    return M if estimator == "mle" else M - 1


def variance_mean(sigma0_sq: float, M: int, t, estimator: str = "mle"):
    r"""E[sigma^2_t] = sigma_0^2 ((M-1)/c)^t: ((M-1)/M)^t under MLE, constant when unbiased."""
    return sigma0_sq * ((M - 1) / _c(M, estimator)) ** np.asarray(t, float)


def log_variance_drift(M: int, t, estimator: str = "mle"):
    r"""E[log sigma^2_t] - log sigma_0^2 = t (psi((M-1)/2) + log 2 - log c), negative for both estimators:
    log sigma^2_t -> -inf, collapse almost surely even when E[sigma^2_t] is constant."""
    return np.asarray(t, float) * (digamma((M - 1) / 2) + math.log(2) - math.log(_c(M, estimator)))


def log_variance_sd(M: int, t):
    r"""Standard deviation of log sigma^2_t: sqrt(t psi'((M-1)/2)) (the log chi^2 variance is the trigamma)."""
    from scipy.special import polygamma
    return np.sqrt(np.asarray(t, float) * polygamma(1, (M - 1) / 2))


def mean_walk_msd(sigma0_sq: float, M: int, t: int, estimator: str = "mle") -> float:
    r"""E[(mu_t - mu_0)^2] = sum_{i<t} E[sigma_i^2] / M, per coordinate."""
    return float(np.sum(variance_mean(sigma0_sq, M, np.arange(t), estimator)) / M)


def chi2_chain(sigma0_sq: float, M: int, T: int, n_chains: int, rng: np.random.Generator,
               estimator: str = "mle") -> np.ndarray:
    """sigma^2_t of n_chains independent chains drawn from the chi-square recursion, shape (n_chains, T+1):
    an independent reference for the loop engine's Gaussian family."""
    steps = rng.chisquare(M - 1, size=(n_chains, T)) / _c(M, estimator)
    return sigma0_sq * np.concatenate([np.ones((n_chains, 1)), np.cumprod(steps, axis=1)], axis=1)
