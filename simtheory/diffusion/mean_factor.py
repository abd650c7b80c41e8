r"""The mean factor g of the guided Gaussian law: with base N(m_b, v_b) and auxiliary N(m_a, v_a), the guided ODE
run from sigma_max -> inf gives the mean m_w = m_b - w g (m_a - m_b), g depending on rho = v_a / v_b alone
([`systematic`][simtheory.diffusion.systematic] integrates its moments over the fits' chi^2 noise). `_g` is the
reference through
[`gaussian.guided_gaussian_1d`][simtheory.diffusion.gaussian.guided_gaussian_1d]; `_log_G` the same hypergeometric
closed form in logs for any rho > 0;
`_log_g_spline` a cubic spline of it for many points (the hypergeometric function is slow on 10^5 points).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

from .gaussian import guided_gaussian_1d

G_NODES = 4001                             # least number of spline nodes in log(v_a / v_b) for the mean factor g
G_STEP = 2e-3                              # largest spline step in log(v_a / v_b)
RHO_SMALL = 1e-3                           # below it the mean factor uses 2F1's connection formula about 1


def _log_abs_1m_exp(x):
    """log |1 - e^x| without overflow or cancellation (-inf at x = 0)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(x < 0, np.log(-np.expm1(np.minimum(x, 0.0))), x + np.log(-np.expm1(-np.abs(x))))


def _g(vb, va, w):
    """The guided law's mean factor g(v_b, v_a): m_w = m_b - w g (m_a - m_b) (sigma_max -> inf), from the
    closed form (hypergeometric J) of [`gaussian.guided_gaussian_1d`][simtheory.diffusion.gaussian.guided_gaussian_1d]
    (the reference for `_log_g`)."""
    if w == 0:
        return np.ones(np.broadcast(vb, va).shape)
    m, _ = guided_gaussian_1d(0.0, vb, 1.0, va, w, math.inf)
    return -m / w


def _log_G(lr, w):
    r"""log G, G = g rho^(w/2), as a function of lr = log rho, rho = v_a / v_b (g depends on the ratio alone):
    the same hypergeometric closed form as
    [`gaussian.guided_gaussian_1d`][simtheory.diffusion.gaussian.guided_gaussian_1d], written in logs so that it
    holds for any rho > 0 --

        rho > 1:            G = rho^(-1/2) 2F1(1/2, (1 + w)/2; 3/2; 1 - 1/rho),
        RHO_SMALL <= rho <= 1:   G = 2F1(1/2, 1 - w/2; 3/2; 1 - rho),
        rho < RHO_SMALL:    G = G_0 (1 - rho)^(-1/2) - rho^(w/2) 2F1(1, (1 + w)/2; 1 + w/2; rho) / w,

    the last the connection formula of 2F1 about 1 (argument 1 - rho; 2F1(a, b; b; x) = (1 - x)^-a), since
    1 - rho rounds away the rho^(w/2) approach of G to G_0 = G(0) = sqrt(pi) Gamma(w/2) / (2 Gamma((1 + w)/2))
    when rho is small. G is bounded as rho -> 0 (where g itself grows like rho^(-w/2)). w = 0: g = 1 by
    convention (it enters multiplied by w)."""
    lr = np.asarray(lr, dtype=np.float64)
    if w == 0:
        return np.zeros_like(lr)
    mid = np.clip(lr, math.log(RHO_SMALL), 0.0)
    hi = np.maximum(lr, 0.0)
    lo = np.minimum(lr, math.log(RHO_SMALL))
    g0 = 0.5 * math.sqrt(math.pi) * math.exp(special.gammaln(0.5 * w) - special.gammaln(0.5 * (1.0 + w)))
    rho = np.exp(lo)
    small = np.log(g0 / np.sqrt(-np.expm1(lo)) - np.exp(0.5 * w * lo) * special.hyp2f1(1.0, 0.5 * (1.0 + w),
                                                                                         1.0 + 0.5 * w, rho) / w)
    middle = np.log(special.hyp2f1(0.5, 1.0 - 0.5 * w, 1.5, -np.expm1(mid)))
    right = -0.5 * hi + np.log(special.hyp2f1(0.5, 0.5 * (1.0 + w), 1.5, -np.expm1(-hi)))
    return np.where(lr > 0, right, np.where(lr >= math.log(RHO_SMALL), middle, small))


def _log_g(lr, w):
    """log g(rho) at lr = log rho (`_log_G`)."""
    return _log_G(lr, w) - 0.5 * w * np.asarray(lr, dtype=np.float64)


def _log_g_spline(lr, w):
    """log g on a 2-D grid of lr = log(v_a / v_b): the bounded, smooth log G of `_log_G` evaluated on an
    even grid of lr (step <= G_STEP, at least G_NODES points) and interpolated by a cubic spline (agrees with
    the closed form to ~1e-12, tests/simtheory/diffusion/test_systematic.py) -- the hypergeometric function is slow on
    10^5 points."""
    from scipy.interpolate import CubicSpline
    lr = np.asarray(lr, dtype=np.float64)
    lo, hi = float(lr.min()), float(lr.max())
    if hi - lo < 1e-9:
        return _log_g(lr, w)
    u = np.linspace(lo, hi, max(G_NODES, int(math.ceil((hi - lo) / G_STEP)) + 1))
    return CubicSpline(u, _log_G(u, w))(lr) - 0.5 * w * lr


def _g_spline(vb, va, w):
    """g(v_b, v_a) on a grid through `_log_g_spline` (the form the tests compare with `_g`)."""
    return np.exp(_log_g_spline(np.log(np.asarray(va, dtype=np.float64) / np.asarray(vb, dtype=np.float64)), w))
