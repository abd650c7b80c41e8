r"""Intervals for the predictions: the skewness-corrected studentised interval of a functional estimated from n
draws (Hall 1992, Satterthwaite degrees of freedom), and the standard error a prediction brings to a comparison.
"""
from __future__ import annotations

import numpy as np
from scipy import stats


def interval(theta, IF, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    r"""Skewness-corrected studentised interval for a functional theta(P) estimated by theta(P_n) from n
    draws, given the estimate and its influence function on the n draws (axis 0 of ``IF``, centred).

    With $S_k = \sum_i IF_i^k$, the SE is $\sqrt{S_2}/n$ and $T = (\hat\theta -
    \theta)/SE$. Hall's (1992) transformation $g(T) = T + a T^2 + a^2 T^3/3 + b$, $a = \hat
    g/3$, $b = \hat g/6$, $\hat g = S_3 / S_2^{3/2}$ (the skewness over $\sqrt n$), is
    monotone and removes T's first-order skewness; g(T) is referred to Student's t with
    $\nu = S_2^2/S_4 - 1$ degrees of freedom (Satterthwaite: the effective number of terms in the
    variance estimate; n - 1 when all |IF_i| are equal). Inverting, $\theta \in [\hat\theta - SE\,
    g^{-1}(q), \hat\theta - SE\, g^{-1}(-q)]$, $g^{-1}(y) = ((1 + 3a(y - b))^{1/3} - 1)/a$.
    Where every IF_i is 0 the interval is the point theta.

    Parameters
    ----------
    theta : array_like (...,)
        the estimates.
    IF : array_like (n, ...)
        influence functions on the draws, one column per estimate.
    level : float in (0, 1)
        coverage (default 0.95).

    Returns
    -------
    (lo, hi), each shaped like theta.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    th = np.asarray(theta, float)
    f = np.asarray(IF, float)
    n = f.shape[0]
    s2, s3, s4 = (np.sum(f ** k, axis=0) for k in (2, 3, 4))
    live = s2 > 0
    s2l = np.where(live, s2, 1.0)
    se = np.sqrt(s2) / n
    g = np.where(live, s3 / s2l ** 1.5, 0.0)
    a, b = g / 3.0, g / 6.0
    nu = np.where(live, s2l ** 2 / np.where(live, s4, 1.0) - 1.0, np.inf)
    q = stats.t.ppf(0.5 + 0.5 * level, np.maximum(nu, 1.0))

    def ginv(y):
        small = np.abs(a) < 1e-12
        safe = np.where(small, 1.0, a)
        return np.where(small, y - b, (np.cbrt(1.0 + 3.0 * safe * (y - b)) - 1.0) / safe)
    return th - se * ginv(q), th - se * ginv(-q)


def interval_se(prediction: dict, key: str, measured, level: float = 0.95) -> np.ndarray:
    """The SE of prediction[key] to combine with a measurement: the half-width of its interval on the side
    of ``measured`` over the normal quantile of ``level`` (the interval's skewness and t-widening carried
    into a normal z), or ``key_se`` where the prediction has no interval."""
    if f"{key}_lo" not in prediction:
        return np.asarray(prediction[f"{key}_se"], float)
    p = np.asarray(prediction[key], float)
    lo, hi = np.asarray(prediction[f"{key}_lo"], float), np.asarray(prediction[f"{key}_hi"], float)
    zq = stats.norm.ppf(0.5 + 0.5 * level)
    return np.where(np.asarray(measured, float) >= p, hi - p, p - lo) / zq
