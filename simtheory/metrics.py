"""Metrics of a distribution on atoms, shared by the exact dynamics, the loops, the figures and the checks.

Exponential moments are reported relative to the top reward r* (w = e^{r - r*} in (0, 1]), so rewards of
any scale neither overflow nor underflow; E[e^r] = e^{r*} E[w].
"""
from __future__ import annotations

import numpy as np


def expected_reward(p: np.ndarray, r: np.ndarray) -> float:
    """E_p[r]."""
    return float(np.sum(p * r))


def expected_exp_reward(p: np.ndarray, r: np.ndarray, r_top: float) -> float:
    """E_p[e^{r - r_top}] (E_p[e^r] in units of e^{r_top})."""
    return float(np.sum(p * np.exp(r - r_top)))


def kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) = sum p log(p/q), 0 log 0 = 0; inf where p has mass that q lacks."""
    m = p > 0
    if np.any(q[m] <= 0):
        return float("inf")
    return float(np.sum(p[m] * (np.log(p[m]) - np.log(q[m]))))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """TV(p, q) = sum |p - q| / 2."""
    return float(0.5 * np.abs(p - q).sum())


def entropy(p: np.ndarray) -> float:
    """Shannon entropy -sum p log p in nats."""
    m = p > 0
    return float(-np.sum(p[m] * np.log(p[m])))


def rounding_atol(r: np.ndarray) -> float:
    """Rewards closer than this to r* are one level: 64 eps max(1, max|r|). A gap of rounding size would take
    ~1e16 retraining steps to separate, so exact equality would make the top level set an artefact of
    floating point (e.g. grid cells at exactly the disc radius of a centre reward)."""
    return 64 * np.finfo(float).eps * max(1.0, float(np.max(np.abs(r))))


def top_reward(p: np.ndarray, r: np.ndarray) -> float:
    """r* = the largest reward on the support of p (the top level set of Theorem 2.1)."""
    return float(r[p > 0].max())


def top_mask(p: np.ndarray, r: np.ndarray, atol: float | None = None) -> np.ndarray:
    """The top level set {r >= r* - atol} on the support of p (atol None: :func:`rounding_atol`)."""
    atol = rounding_atol(r) if atol is None else atol
    return (r >= top_reward(p, r) - atol) & (p > 0)


def top_mass(p: np.ndarray, r: np.ndarray, r_star: float, atol: float | None = None) -> float:
    """Mass p puts on {r >= r_star - atol} (atol None: :func:`rounding_atol`)."""
    atol = rounding_atol(r) if atol is None else atol
    return float(p[r >= r_star - atol].sum())
