r"""Expectations over a scaled chi^2 law, E[f(Q)] with Q = chi^2_{n-1} / divisor (the law of a fitted Gaussian
variance over the true one): the trapezoid rule in y = log chi^2, whose density is smooth and decays at both ends,
so the rule converges geometrically; with the left tail summed in closed form near a divergence of E[Q^power].
The quadrature behind [`simtheory.diffusion.systematic`][simtheory.diffusion.systematic]'s moments.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import optimize, special

from .. import validate

STEPS_PER_SD = 12                          # trapezoid nodes per SD of log chi^2 (geometric convergence)
TAIL = 60.0                                # nats of the integrand left out at each end of the node range
MAX_NODES = 4_000_000                      # largest quadrature (1-D nodes, or 2-D grid points) built
LOG_MAX = math.log(np.finfo(np.float64).max)


def _left_end(a: float) -> float:
    """The y < log(2a) at which exp(a y - e^y / 2) (a Gamma(a) law in y = log chi^2) has fallen TAIL nats below
    its maximum: y = log(2a) - u with a (e^-u - 1 + u) = TAIL (the left side of the root lies below TAIL/a + 2)."""
    u = optimize.brentq(lambda u: a * (math.expm1(-u) + u) - TAIL, 1e-12, TAIL / a + 2.0)
    return math.log(2 * a) - u


def _right_end(a: float) -> float:
    """The y > log(2a) at which exp(a y - e^y / 2) has fallen TAIL nats: a (e^u - 1 - u) = TAIL."""
    u = optimize.brentq(lambda u: a * (math.expm1(u) - u) - TAIL, 1e-12, math.sqrt(2 * TAIL / a) + 1.0)
    return math.log(2 * a) + u


def _log_norm(k: float) -> float:
    """k log k - k - log Gamma(k): the log normaliser of the chi^2_{2k} law of y = log chi^2 written about its mode
    (`_nodes`); from Stirling's series when k >= 100, where the direct difference of three terms of size
    k log k would lose digits (series error below 1e-17 there)."""
    if k < 100:
        return k * math.log(k) - k - float(special.gammaln(k))
    return 0.5 * math.log(k / (2 * math.pi)) - 1 / (12 * k) + 1 / (360 * k**3) - 1 / (1260 * k**5)


def _check_chi2(n, divisor, steps_per_sd) -> tuple[int, float, int]:
    n = validate.count(n, "n", 2)
    c = float(divisor)
    if not (math.isfinite(c) and c > 0):
        raise ValueError(f"divisor must be finite and > 0, got {divisor!r}")
    return n, c, validate.count(steps_per_sd, "steps_per_sd", 1)


def _nodes(k: float, y_lo: float, y_hi: float, step: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Equally spaced y = log chi^2 in [y_lo, y_hi] (spacing <= step) and the log of the trapezoid weights
    h p(y) of the chi^2_{2k} law of y, p(y) = exp(k y - e^y / 2) / (2^k Gamma(k)) = exp(-k (e^u - 1 - u) +
    k log k - k - log Gamma(k)), u = y - log(2k) (every node a full weight: the rule on the whole line)."""
    count = int(math.ceil((y_hi - y_lo) / step)) + 1
    if count > MAX_NODES:
        raise ValueError(f"the chi^2 quadrature would need {count} nodes (more than {MAX_NODES})")
    y = np.linspace(y_lo, y_hi, count)
    h = float(y[1] - y[0])
    u = y - math.log(2 * k)
    logw = -k * (np.expm1(u) - u) + _log_norm(k) + math.log(h)
    return y, logw, h


def chi2_nodes(n: int, divisor: float, left_power: float = 0.0, right_power: float = 4.0,
               left_floor: float = -math.inf, steps_per_sd: int = STEPS_PER_SD) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[f(Q)], Q = chi^2_{n-1} / divisor: the trapezoid rule in y = log chi^2, whose
    density exp(k y - e^y / 2) / (2^k Gamma(k)), k = (n - 1)/2, is smooth and decays at both ends, so the rule
    converges geometrically (step min(1, 1/sqrt(k + right_power)) / steps_per_sd).

    Returns ``(log Q, log weight)``: logs, so that nodes far in the left tail neither underflow nor lose the
    integrand's growth there. The range holds the chi^2 law to TAIL nats, and the integrand's growth: at most
    Q^right_power as Q -> inf, and Q^-left_power as Q -> 0 but only down to Q = exp(left_floor), below which
    the integrand is flat (a smoothing b > 0 bounds the guided variance there). The left end is the nearer of
    the two that each suffice: where Q^-left_power times the density has fallen TAIL nats (needs
    left_power < k), and TAIL / k nats of density below the floor. ``left_power >= k`` with no floor: the
    expectation diverges (ValueError)."""
    n, divisor, steps_per_sd = _check_chi2(n, divisor, steps_per_sd)
    k = 0.5 * (n - 1)
    y_lo, y_hi = _left_end(k), _right_end(k + max(right_power, 0.0))
    if left_power > 0:
        ends = [_left_end(k - left_power)] if left_power < k else []
        if left_floor > -math.inf:
            ends.append(left_floor + math.log(divisor) - TAIL / k)
        if not ends:
            raise ValueError(f"E[Q^-{left_power:g}] diverges for chi^2 with {n - 1} degrees of freedom")
        y_lo = min(y_lo, max(ends))
    y, logw, _ = _nodes(k, y_lo, y_hi, min(1.0, 1.0 / math.sqrt(k + max(right_power, 0.0))) / steps_per_sd)
    total = float(np.exp(logw).sum())
    if abs(total - 1.0) > 1e-9:
        raise FloatingPointError(f"chi^2 quadrature lost mass: {total!r} (k = {k})")
    return y - math.log(divisor), logw - math.log(total)


def chi2_expect(n: int, divisor: float, power: float = 0.0,
                log_f: Callable[[np.ndarray], np.ndarray] | None = None, *, conv: float = 1.0,
                right_power: float = 0.0, steps_per_sd: int = STEPS_PER_SD) -> float:
    r"""E[Q^power f(Q)], Q = chi^2_{n-1} / divisor, for a positive f that tends to a constant as Q -> 0 (relative
    error O(Q^conv)) and grows at most like Q^right_power as Q -> inf; ``log_f`` maps log Q to log f (None:
    f = 1). inf when power <= -k, k = (n - 1)/2 (the expectation diverges).

    The trapezoid rule in y = log chi^2 on the whole line. In y the integrand is exp(a y - e^y / 2) f, a = k +
    power: near the divergence (a -> 0) it decays only like e^(a y) to the left, over ~ TAIL / a nats. There
    f is constant and e^y negligible, so the rule's terms beyond the leftmost node y_L form a geometric series,
    summed in closed form (term(y_L) / expm1(a h)); y_L is where its ratio is exact to ~ e^-TAIL (the node
    count stays bounded as a -> 0), or where the integrand has already fallen TAIL nats if that is nearer."""
    n, divisor, steps_per_sd = _check_chi2(n, divisor, steps_per_sd)
    k = 0.5 * (n - 1)
    a = k + power
    if a <= 0:
        return math.inf
    shape = max(a + right_power, a, k)
    h = min(1.0, 1.0 / math.sqrt(shape)) / steps_per_sd
    c = min(conv, 1.0)
    y_geom = -(TAIL + math.log1p(1.0 / (a * h))) / (a + c)
    y, logw, h = _nodes(k, min(max(_left_end(a), y_geom), _left_end(k)), _right_end(shape), h)
    # the grid holds the chi^2 law itself (range and step): its mass, 1 up to rounding, normalises the rule
    mass = float(np.exp(logw).sum() + math.exp(logw[0]) / math.expm1(k * h))
    if abs(mass - 1.0) > 1e-9:
        raise FloatingPointError(f"chi^2 quadrature lost mass: {mass!r} (k = {k})")
    logw -= math.log(mass)
    lq = y - math.log(divisor)
    terms = logw + power * lq + (0.0 if log_f is None else log_f(lq))
    top = float(terms.max())
    if top == -math.inf:                        # f = 0 on every node
        return 0.0
    log_total = top + math.log(float(np.exp(terms - top).sum() + math.exp(terms[0] - top) / math.expm1(a * h)))
    return math.exp(log_total) if log_total < LOG_MAX else math.inf     # beyond the largest float: inf
