r"""Exact output law of the SIMS-guided probability-flow ODE for a Gaussian base and a Gaussian auxiliary.

With C_b(t) = S_b + t I, C_a(t) = S_a + t I and t = sigma^2, each denoiser is affine in x, and the guided ODE
dx/dsigma = (x - D_w(x; sigma)) / sigma, D_w = (1 + w) D_b - w D_a, becomes (I - S C^{-1} = t C^{-1})

    dx/dt = 1/2 [M(t) x - beta(t)],   M = (1 + w) C_b^{-1} - w C_a^{-1},   beta = (1 + w) C_b^{-1} m_b - w C_a^{-1} m_a,

a linear ODE with no singularity at t = 0 (the 1/sigma of the sigma form cancels). From x(T) ~ N(0, T I),
T = sigma_max^2, the output x(0) is Gaussian: mean m(0) with m' = (M m - beta)/2, m(T) = 0, and covariance
T Psi Psi^T with Psi' = M Psi / 2, Psi(T) = I.

Closed form when S_b and S_a commute (per eigen-direction, base variance b, aux variance a, p = (1+w)/2,
q = w/2, Phi(t) = (b + t)^p (a + t)^(-q)):

    var  = T Phi(0)^2 / Phi(T)^2 = b^(1+w) a^(-w) (1 + a/T)^w (1 + b/T)^-(1+w)   -> b^(1+w) a^(-w) as T -> inf
    mean = m_b (1 - Phi(0)/Phi(T)) - q (m_a - m_b) Phi(0) J,   J = int_0^T (a + t)^(q-1) (b + t)^(-p) dt,

and J = 2 [H(0) - H(T)], H(t) = 2F1(1/2, -e; 3/2; |b - a| / (max(a, b) + t)) / sqrt(max(a, b) + t), with
e = w/2 - 1 if b > a else -(1 + w)/2 (substitute u = (a+t)/(b+t), resp. (b+t)/(a+t), then 1 - u = y^2).
The product-form heuristic p_b^(1+w) / p_a^w instead has precision (1 + w) S_b^{-1} - w S_a^{-1}: in 1-D its
variance 1 / ((1+w)/b - w/a) diverges at w = a / (b - a) when a < b, while the ODE's b (b/a)^w stays finite.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
from scipy import integrate, linalg
from scipy.special import hyp2f1

from .. import validate
from ..families import gaussian
from .sampler import check_w

COMMUTE_TOL = 1e-12     # ||S_b S_a - S_a S_b|| relative to ||S_b|| ||S_a||: below it the closed form is used
ODE_RTOL, ODE_ATOL = 1e-11, 1e-13


def _check_sigma_max(sigma_max) -> float:
    s = float(sigma_max)
    if math.isnan(s) or s <= 0:
        raise ValueError(f"sigma_max must be > 0 (or inf), got {sigma_max!r}")
    return s


def _gaussian_args(mean, cov, name: str) -> tuple[np.ndarray, np.ndarray]:
    m = np.atleast_1d(validate.finite_array(mean, f"mean_{name}"))
    c = np.atleast_2d(validate.finite_array(cov, f"cov_{name}"))
    if m.ndim != 1 or c.shape != (m.size, m.size):
        raise ValueError(f"mean_{name} must be (d,) and cov_{name} (d, d); got {m.shape} and {c.shape}")
    gaussian.check_cov(c, f"cov_{name}")
    return m, c


def guided_gaussian_1d(mb, vb, ma, va, w, sigma_max=80.0) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form (mean, variance) of the guided ODE's output in 1-D (module docstring), vectorised over
    broadcastable arrays of base mean/variance and aux mean/variance; sigma_max may be inf (the limit law).
    Inputs are not validated here (the loops call it in bulk): use
    [`guided_gaussian`][simtheory.diffusion.gaussian.guided_gaussian] at a boundary."""
    mb, vb, ma, va = (np.asarray(v, dtype=np.float64) for v in (mb, vb, ma, va))
    w = float(w)
    T = float(sigma_max) ** 2
    lb, la = np.log(vb), np.log(va)
    corr = 0.0 if math.isinf(T) else w * np.log1p(va / T) - (1 + w) * np.log1p(vb / T)
    log_var = (1 + w) * lb - w * la + corr
    var = np.exp(log_var)
    log_phi0 = 0.5 * ((1 + w) * lb - w * la)
    ratio = 0.0 if math.isinf(T) else np.exp(0.5 * log_var - 0.5 * math.log(T))   # Phi(0) / Phi(T)
    big = np.maximum(va, vb)
    gap = np.abs(vb - va)
    e = np.where(vb > va, 0.5 * w - 1.0, -0.5 * (1.0 + w))

    def H(t):
        if math.isinf(t):
            return 0.0
        return hyp2f1(0.5, -e, 1.5, gap / (big + t)) / np.sqrt(big + t)

    J = 2.0 * (H(0.0) - H(T))
    mean = mb * (1.0 - ratio) - 0.5 * w * (ma - mb) * np.exp(log_phi0) * J
    return mean, var


def _common_basis(cb: np.ndarray, ca: np.ndarray) -> np.ndarray | None:
    """Orthonormal Q diagonalising both covariances if they commute (to COMMUTE_TOL), else None."""
    comm = np.linalg.norm(cb @ ca - ca @ cb)
    if comm > COMMUTE_TOL * np.linalg.norm(cb) * np.linalg.norm(ca):
        return None
    _, Q = np.linalg.eigh(cb + math.pi * ca)      # generic combination: splits S_b's repeated eigenvalues
    for c in (cb, ca):
        D = Q.T @ c @ Q
        if np.linalg.norm(D - np.diag(np.diag(D))) > 1e-10 * np.linalg.norm(c):
            return None
    return Q


def _guided_ode(mb, cb, ma, ca, w, T) -> tuple[np.ndarray, np.ndarray]:
    """The linear moment ODE integrated by scipy (DOP853) in s = log(t + c0), t = sigma^2 from T to 0, where
    c0 is the smallest eigenvalue of S_b, S_a: (t + c0) M(t) stays O(1 + 2w), so the system is not stiff."""
    d = mb.size
    lb, Ub = np.linalg.eigh(cb)
    la, Ua = np.linalg.eigh(ca)
    c0 = float(min(lb.min(), la.min()))

    def rhs(s, y):
        t = max(math.exp(s) - c0, 0.0)
        ib = (Ub / (lb + t)) @ Ub.T
        ia = (Ua / (la + t)) @ Ua.T
        M = (1 + w) * ib - w * ia
        beta = (1 + w) * ib @ mb - w * ia @ ma
        Psi = y[:d * d].reshape(d, d)
        m = y[d * d:]
        scale = 0.5 * (t + c0)
        return np.concatenate([(scale * (M @ Psi)).ravel(), scale * (M @ m - beta)])

    y0 = np.concatenate([np.eye(d).ravel(), np.zeros(d)])
    sol = integrate.solve_ivp(rhs, (math.log(T + c0), math.log(c0)), y0, method="DOP853",
                              rtol=ODE_RTOL, atol=ODE_ATOL)
    if not sol.success:
        raise RuntimeError(f"guided moment ODE failed: {sol.message}")
    Psi = sol.y[:d * d, -1].reshape(d, d)
    cov = T * Psi @ Psi.T
    return sol.y[d * d:, -1], 0.5 * (cov + cov.T)


def guided_gaussian(mean_base, cov_base, mean_aux, cov_aux, w, sigma_max=80.0, *,
                    method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """(mean, cov) of the exact output law of the guided probability-flow ODE, D_w = (1 + w) D_base - w D_aux,
    for Gaussian base N(mean_base, cov_base) and auxiliary N(mean_aux, cov_aux), from latents
    x(sigma_max) ~ N(0, sigma_max^2 I) (module docstring). ``method``: 'closed' (covariances must commute;
    sigma_max = inf allowed), 'ode' (scipy solve of the linear moment ODE), 'auto' (closed when they commute).
    1-D inputs may be scalars; the result is always ((d,), (d, d))."""
    mb, cb = _gaussian_args(mean_base, cov_base, "base")
    ma, ca = _gaussian_args(mean_aux, cov_aux, "aux")
    if ma.size != mb.size:
        raise ValueError(f"base has dimension {mb.size}, aux {ma.size}")
    w = check_w(w)
    s = _check_sigma_max(sigma_max)
    if method not in ("auto", "closed", "ode"):
        raise ValueError(f"method must be 'auto', 'closed' or 'ode', got {method!r}")
    Q = _common_basis(cb, ca) if method != "ode" else None
    if method == "closed" and Q is None:
        raise ValueError("method='closed' needs commuting cov_base and cov_aux")
    if Q is not None:
        vb, va = np.diag(Q.T @ cb @ Q), np.diag(Q.T @ ca @ Q)
        m, v = guided_gaussian_1d(Q.T @ mb, vb, Q.T @ ma, va, w, s)
        cov = (Q * v) @ Q.T
        return Q @ m, 0.5 * (cov + cov.T)
    if math.isinf(s):
        raise ValueError("sigma_max = inf needs commuting covariances (the closed form)")
    return _guided_ode(mb, cb, ma, ca, w, s * s)


def product_gaussian(mean_base, cov_base, mean_aux, cov_aux, w) -> tuple[np.ndarray, np.ndarray]:
    """(mean, cov) of the product-form heuristic p_base^(1+w) / p_aux^w, normalised: precision
    (1 + w) S_b^{-1} - w S_a^{-1}. ValueError when that precision is not positive definite (w at or past
    [`product_divergence_w`][simtheory.diffusion.gaussian.product_divergence_w]: the heuristic has no normalisable law
    there)."""
    mb, cb = _gaussian_args(mean_base, cov_base, "base")
    ma, ca = _gaussian_args(mean_aux, cov_aux, "aux")
    w = check_w(w)
    pb, pa = np.linalg.inv(cb), np.linalg.inv(ca)
    prec = (1 + w) * pb - w * pa
    try:
        cf = linalg.cho_factor(0.5 * (prec + prec.T), lower=True)
    except linalg.LinAlgError:
        raise ValueError(f"the product form p_base^(1+w)/p_aux^w is not normalisable at w = {w}") from None
    cov = linalg.cho_solve(cf, np.eye(mb.size))
    mean = linalg.cho_solve(cf, (1 + w) * pb @ mb - w * pa @ ma)
    return mean, 0.5 * (cov + cov.T)


def product_divergence_w(cov_base, cov_aux) -> float:
    """The w at which the product form's precision (1 + w) S_b^{-1} - w S_a^{-1} = P_b - w (P_a - P_b) first
    loses positive definiteness: 1 / lambda_max of the pencil (P_a - P_b, P_b); inf if P_a <= P_b."""
    d = np.atleast_2d(np.asarray(cov_base, float)).shape[0]
    _, cb = _gaussian_args(np.zeros(d), cov_base, "base")
    _, ca = _gaussian_args(np.zeros(d), cov_aux, "aux")
    pb, pa = np.linalg.inv(cb), np.linalg.inv(ca)
    lam = linalg.eigh(pa - pb, pb, eigvals_only=True).max()
    return math.inf if lam <= 0 else float(1.0 / lam)


def guided_law_1d_sympy(w=None):
    """sympy closed forms of the 1-D guided law: (mean, var) in the symbols mb, vb, ma, va, T (positive) for
    guidance w (a sympy number, or the symbol w when None). The mean keeps J as a sympy integral (elementary
    for rational w, e.g. w = 1); ``.doit()`` evaluates it. An independent reference for the numeric forms."""
    mb, ma = sp.symbols("mb ma", real=True)
    vb, va, T, t = sp.symbols("vb va T t", positive=True)
    ws = sp.Symbol("w", nonnegative=True) if w is None else sp.nsimplify(w)
    M = (1 + ws) / (vb + t) - ws / (va + t)
    var = sp.simplify(T * sp.exp(-sp.integrate(M, (t, 0, T))))
    p, q = (1 + ws) / 2, ws / 2
    phi0 = vb**p * va**(-q)
    J = sp.Integral((va + t) ** (q - 1) * (vb + t) ** (-p), (t, 0, T))
    mean = mb * (1 - sp.sqrt(var / T)) - q * (ma - mb) * phi0 * J
    return mean, var
