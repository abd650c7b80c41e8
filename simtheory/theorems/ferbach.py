"""Ferbach, Bertrand, Bose, Gidel 2024 (curated retraining): the predictions and bounds as functions, each
citing its lemma or theorem.

Exponential moments are in units of e^{r*} (w = e^{r - r*}), r* the top reward on the support of p0, so
that the bounds are checked without overflow for rewards of any scale; every statement below is homogeneous
in e^r, so this is the same inequality.
"""
from __future__ import annotations

import math

import numpy as np

from .. import validate
from ..curation import tilt
from ..dynamics import fixed_point
from ..metrics import kl, top_mask, top_reward


def kinf_closed_form(p0, r, t: float) -> np.ndarray:
    r"""p_t proportional to p_0 e^{t r}: the K = inf fully synthetic loop after t steps (Lemma 2.1, Ferbach
    et al. 2024), the maximiser of E_p[r] - (1/t) KL(p || p_0)."""
    p = validate.probability(p0, "p0")
    ra = validate.rewards(r, p.shape, "r")
    if not (t >= 0):
        raise ValueError(f"t must be >= 0, got {t}")
    return tilt(p, ra, t)


def limit_distribution(p0, r, atol: float | None = None) -> np.ndarray:
    r"""p* = p_0 restricted to the top level set {r >= r* - atol} and renormalised (Theorem 2.1); atol None
    means rounding level ([`simtheory.metrics.rounding_atol`][simtheory.metrics.rounding_atol])."""
    p = validate.probability(p0, "p0")
    ra = validate.rewards(r, p.shape, "r")
    m = top_mask(p, ra, atol)
    out = np.where(m, p, 0.0)
    return out / out.sum()


def lemma22_bound(p, r, K, r_top: float | None = None) -> float:
    r"""Lower bound on E_{p_{t+1}}[e^r] after one fully synthetic step (Lemma 2.2, as restated):

    $$
    E_{p_{t+1}}[e^r] \ge E_{p_t}[e^r] + \frac{K-1}{K} \frac{Var_{p_t}[e^r]}{e^{r^*}},
    $$

    returned in units of e^{r_top} (default r_top = r*, the top reward on the support of p). (K-1)/K = 1 at
    K = inf. The exact normaliser in the paper is unverified (docs/derivations/retraining.md).
    """
    pa = validate.probability(p, "p")
    ra = validate.rewards(r, pa.shape, "r")
    k = validate.group_size(K, "K")
    rs = top_reward(pa, ra)
    c = rs if r_top is None else float(r_top)
    w = np.exp(ra - c)
    m = float(np.sum(pa * w))
    var = float(np.sum(pa * (w - m) ** 2))
    frac = 1.0 if k == math.inf else (k - 1) / k
    return m + frac * var * math.exp(c - rs)


def kinf_kl_to_limit(p0, r, t: float, atol: float | None = None) -> float:
    r"""KL(p* || p_t) for K = inf (derived, docs/derivations/retraining.md):
    log(1 + E_{p_0}[e^{t (r - r*)} 1{r < r*}] / P_0(r = r*)), decaying like e^{-t gap}."""
    p = validate.probability(p0, "p0")
    ra = validate.rewards(r, p.shape, "r")
    rs = top_reward(p, ra)
    top = top_mask(p, ra, atol)
    below = np.sum(np.where(top, 0.0, p * np.exp(t * np.minimum(ra - rs, 0.0))))
    return float(np.log1p(below / p[top].sum()))


def mixed_fixed_point(p_data, r, K, lam: float) -> dict:
    """The fixed point q of the lam-mixed map (Theorems 2.2-2.4 setting) with its reward and its KL to p_data.

    Returns {'q', 'mean_reward', 'mean_reward_data', 'kl_to_data', 'kl_data_to_q'}.
    """
    q = fixed_point(p_data, r, K, lam)
    pd = validate.probability(p_data, "p_data")
    ra = validate.rewards(r, pd.shape, "r")
    return {
        "q": q,
        "mean_reward": float(np.sum(q * ra)),
        "mean_reward_data": float(np.sum(pd * ra)),
        "kl_to_data": kl(q, pd),
        "kl_data_to_q": kl(pd, q),
    }
