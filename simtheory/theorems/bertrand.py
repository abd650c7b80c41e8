r"""Bertrand et al. 2024 (stability of iterative retraining with real data): the stated contraction rate and
the Gaussian family's exact retraining map, on which the rate is checked (docs/derivations/real-data.md).
"""
from __future__ import annotations

import math


def bertrand_rate(lam: float, alpha: float, L: float, eps: float) -> float:
    r"""Contraction factor lam (alpha + eps L) / (alpha - lam (alpha + eps L)) of Bertrand et al. 2024
    (Theorem 1 as restated); the theorem needs lam (1 + L eps / alpha) < 1/2, where the factor is < 1."""
    a = lam * (alpha + eps * L)
    if not alpha > a:
        return math.inf
    return a / (alpha - a)


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
