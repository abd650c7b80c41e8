r"""Closed forms of finite-sample retraining that the loops are checked against (curation-theory.md Sec. 3-4).

Gaussian refit on M samples each generation (Shumailov et al. 2024): sigma^2_{t+1} = sigma^2_t chi^2_{M-1}/c,
c = M (MLE) or M - 1 (unbiased); the mean performs a random walk with step variance sigma^2_t / M.
Bertrand et al. 2024: the Gaussian family retrained on data mixed at ratio lam, with infinite samples.
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


def gaussian_mixed_map(mu: float, var: float, mu_data: float, var_data: float, lam: float) -> tuple[float, float]:
    r"""One exact retraining step of a 1-D Gaussian on p_data + lam p_theta (Bertrand et al. 2024, infinite
    samples): theta_{t+1} = argmax E_{p_data}[log p_theta] + lam E_{p_theta_t}[log p_theta], i.e. the moment
    match mu' = (mu_d + lam mu) / (1 + lam), var' = (var_d + mu_d^2 + lam (var + mu^2)) / (1 + lam) - mu'^2."""
    mu1 = (mu_data + lam * mu) / (1 + lam)
    var1 = (var_data + mu_data**2 + lam * (var + mu**2)) / (1 + lam) - mu1**2
    return mu1, var1


def gaussian_contraction_factor(lam: float) -> float:
    r"""lam / (1 + lam): the mean error contracts by exactly this factor each step, and the variance error
    obeys e_v' = lam/(1+lam) e_v + lam/(1+lam)^2 e_mu^2, so it is the rate of the linearised map at the fixed
    point (the local contraction that Bertrand et al.'s theorem bounds)."""
    return lam / (1 + lam)
