r"""SIMS where the fit has a systematic error: the Gaussian case in closed form (docs/derivations/
sims-systematic-error.md derives every line).

The fit. From n points with mean x-bar and sum of squared deviations S, the biased fit is
N(x-bar + delta, S / c + b): ``shift`` delta moves every fitted mean, ``smoothing`` b adds to every fitted
variance (a kernel density's bandwidth h adds h^2), c = n (MLE) or n - 1 (unbiased).

One generation on data N(mu, v). The base is fitted to M real points, the auxiliary the same way to n_s samples
of the base (SIMS fine-tunes a copy of the base on its own samples), and the guided ODE
D_w = (1 + w) D_base - w D_aux is run from sigma_max -> inf (:mod:`.gaussian`, exact). With Q_M = chi^2_{M-1} / c_M,
Q_s = chi^2_{n_s-1} / c_s and standard normals Z_1, Z_2, all four independent (a Gaussian sample's mean and
variance are independent):

    m_b = mu + delta + sqrt(v / M) Z_1,            v_b = v Q_M + b,
    m_a = m_b + delta + sqrt(v_b / n_s) Z_2,        v_a = v_b Q_s + b,
    V_w = v_b^(1+w) v_a^(-w),                      m_w = m_b - w g(v_b, v_a) (m_a - m_b),

g = Phi(0) J / 2 the closed-form mean factor of the guided law (1 when v_a = v_b). Every moment of (m_w, V_w)
is therefore a 2-D integral over (Q_M, Q_s) (:func:`moments`: trapezoid rule in log chi^2, geometric
convergence), and in particular

    E[m_w] - mu = delta (1 - w E[g]),
    E[(m_w - mu)^2] = E[delta^2 (1 - w g)^2] + v / M + w^2 E[g^2 v_b] / n_s,
    E[W2^2] = E[(m_w - mu)^2] + E[V_w] - 2 sqrt(v) E[sqrt(V_w)] + v       (W2 to the data law).

Noise-free (M, n_s -> inf): the base is N(mu + delta, v + b) and the auxiliary N(mu + 2 delta, v + 2 b), so

    V*(w) / v = (1 + beta)^(1+w) (1 + 2 beta)^(-w) = 1 + beta (1 - w) + beta^2 w (1 + w) / 2 + O(beta^3),
    m*(w) - mu = delta (1 - w g*),   g* = g(v + b, v + 2b) = 1 - (1 + w) beta / 3 + O(beta^2),   beta = b / v:

w = 1 cancels the first-order bias of both (V*(1) - v = b^2 / (v + 2 b), m*(1) - mu = 2 delta beta / 3 +
O(delta beta^2)); the variance's bias vanishes at
w_0 = log(1 + beta) / log((1 + 2 beta) / (1 + beta)) = 1 + beta + O(beta^2). To first order in the noise,
Var log V_w = 2 rho^2 (1 + w kappa / (1 + kappa))^2 / M + 2 w^2 / ((1 + kappa)^2 n_s) (rho = 1 - kappa =
v / (v + b)) and Var m_w = v / M + w^2 g*^2 (v + b) / n_s; for small beta and delta^2 / v

    E[W2^2] / v = B (1 - w)^2 + (3/2) (1 / M + w^2 / n_s),      B = beta^2 / 4 + delta^2 / v,

minimised at w* = B / (B + 3 / (2 n_s)): near 1 when n_s B >> 3/2 (the systematic error dominates and w = 1
removes it), near 0 when n_s B << 3/2 (guidance only amplifies the auxiliary's sampling noise; the exact model,
b = delta = 0, has w* = 0).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from .. import validate
from .gaussian import guided_gaussian_1d
from .sampler import check_w

ESTIMATORS = {"mle": 0, "unbiased": 1}     # divisor n - ddof (as in .sims)
STEPS_PER_SD = 12                          # trapezoid nodes per SD of log chi^2 (geometric convergence)
TAIL = 60.0                                # nats of log-density left out at each end of the node range
G_NODES = 4001                             # spline nodes in log(v_a / v_b) for the mean factor g


def _check(M, n_s, smoothing, shift, estimator, var) -> tuple[int, int, float, float, float]:
    M, n_s = validate.count(M, "M", 2), validate.count(n_s, "n_s", 2)
    b = validate.ratio(smoothing, "smoothing")
    if b == math.inf:
        raise ValueError("smoothing must be finite")
    d = float(shift)
    if not math.isfinite(d):
        raise ValueError(f"shift must be finite, got {shift!r}")
    v = float(var)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"var must be finite and > 0, got {var!r}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}, got {estimator!r}")
    return M, n_s, b, d, v


def chi2_nodes(n: int, divisor: float, left_power: float = 0.0,
               steps_per_sd: int = STEPS_PER_SD) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[f(Q)], Q = chi^2_{n-1} / divisor: the trapezoid rule in y = log chi^2, whose
    density exp(k y - e^y / 2) / (2^k Gamma(k)), k = (n - 1)/2, is smooth and decays at both ends, so the rule
    converges geometrically (step min(1, SD) / steps_per_sd). ``left_power`` p: the integrands grow like Q^-p
    as Q -> 0 (p < k needed); the left end of the range is widened so that Q^-p times the density has also
    dropped by TAIL nats there."""
    k = 0.5 * (n - 1)
    if left_power >= k:
        raise ValueError(f"E[Q^-{left_power:g}] diverges for chi^2 with {n - 1} degrees of freedom")
    ym = math.log(2 * k)
    sd = 1.0 / math.sqrt(k)
    # log-density relative to the mode: k (u - e^u + 1) at y = ym + u; each end is where that (times the
    # integrand's growth, Q^-p on the left, at most Q^4 on the right) has fallen by TAIL nats
    drop = lambda u, p: k * (math.expm1(u) - u) - p * abs(u) - TAIL     # noqa: E731
    left = optimize.brentq(lambda u: drop(-u, left_power), 1e-12, 1e6)
    right = optimize.brentq(lambda u: drop(u, 4.0), 1e-12, 50.0)
    nodes = int(math.ceil((left + right) / (min(1.0, sd) / steps_per_sd))) + 1
    y = np.linspace(ym - left, ym + right, nodes)
    logd = k * y - 0.5 * np.exp(y) - k * math.log(2.0) - special.gammaln(k)
    w = np.exp(logd) * (y[1] - y[0])
    total = float(w.sum())
    if abs(total - 1.0) > 1e-9:
        raise FloatingPointError(f"chi^2 quadrature lost mass: {total!r} (k = {k})")
    return np.exp(y) / divisor, w / total


def _grid(M, n_s, b, estimator, w_pow, steps_per_sd):
    """Q_M nodes (column), Q_s nodes (row) and the product weights of the 2-D rule."""
    ddof = ESTIMATORS[estimator]
    # with b = 0 the integrands carry Q_s^(-2w) at worst (E[V_w^2]); with b > 0 they are bounded near 0
    qm, wm = chi2_nodes(M, M - ddof, 0.0, steps_per_sd)
    qs, ws = chi2_nodes(n_s, n_s - ddof, w_pow if b == 0 else 0.0, steps_per_sd)
    return qm[:, None], qs[None, :], wm[:, None] * ws[None, :]


def _g(vb, va, w):
    """The guided law's mean factor g(v_b, v_a): m_w = m_b - w g (m_a - m_b) (sigma_max -> inf), from the
    closed form (hypergeometric J) of :func:`.gaussian.guided_gaussian_1d`."""
    if w == 0:
        return np.ones(np.broadcast(vb, va).shape)
    m, _ = guided_gaussian_1d(0.0, vb, 1.0, va, w, math.inf)
    return -m / w


def _g_spline(vb, va, w):
    """g on a 2-D grid: g depends on v_a / v_b alone (substitute t = v_b s in J), so it is evaluated on
    G_NODES points of log(v_a / v_b) and interpolated by a cubic spline (agrees with :func:`_g` to ~1e-12,
    tests/test_diffusion_systematic.py) -- the hypergeometric function is slow on 10^5 points."""
    from scipy.interpolate import CubicSpline
    lr = np.log(va / vb)
    lo, hi = float(lr.min()), float(lr.max())
    if hi - lo < 1e-9:
        return _g(vb, va, w)
    u = np.linspace(lo, hi, G_NODES)
    return CubicSpline(u, _g(1.0, np.exp(u), w))(lr)


def moments(w: float, M: int, n_s: int, smoothing: float = 0.0, shift: float = 0.0, estimator: str = "mle",
            var: float = 1.0, *, steps_per_sd: int = STEPS_PER_SD) -> dict[str, float]:
    r"""Exact (to quadrature) moments of the one-generation guided law N(m_w, V_w) (module docstring) on data
    N(0, var): base fitted to M real points, auxiliary to n_s of the base's samples, both with the systematic
    ``smoothing`` b and ``shift`` delta, guided ODE with weight w from sigma_max -> inf.

    Returns
    -------
    dict: ``var_mean`` E[V_w], ``var_bias`` E[V_w] - v, ``var_sd`` SD(V_w), ``logvar_bias`` E[log V_w / v],
    ``logvar_sd``, ``mean_bias`` E[m_w] - mu, ``mean_sd`` SD(m_w), ``mean_mse`` E[(m_w - mu)^2], ``w2sq``
    E[W2^2] to the data law. Moments that diverge (b = 0 and 2 w >= (n_s - 1)/2 for the SD, w >= (n_s - 1)/2
    for the mean of V_w) are inf.
    """
    w = check_w(w)
    M, n_s, b, d, v = _check(M, n_s, smoothing, shift, estimator, var)
    k_s = 0.5 * (n_s - 1)
    if b == 0 and w >= k_s:
        return {k: math.inf for k in ("var_mean", "var_bias", "var_sd", "logvar_bias", "logvar_sd", "mean_bias",
                                       "mean_sd", "mean_mse", "w2sq")}
    second = not (b == 0 and 2 * w >= k_s)
    qm, qs, W = _grid(M, n_s, b, estimator, 2 * w if second else w, steps_per_sd)
    vb = v * qm + b
    va = vb * qs + b
    logV = (1 + w) * np.log(vb) - w * np.log(va)
    V = np.exp(logV)
    E = lambda a: float(np.sum(W * a))          # noqa: E731
    g = _g_spline(vb, va, w)
    ev = E(V)
    var_sd = math.sqrt(max(E(V * V) - ev * ev, 0.0)) if second else math.inf
    el = E(logV) - math.log(v)
    mean_bias = d * (1 - w * E(g))
    mean_mse = E(d * d * (1 - w * g) ** 2) + v / M + w * w * E(g * g * vb) / n_s
    return {"var_mean": ev, "var_bias": ev - v, "var_sd": var_sd, "logvar_bias": el,
            "logvar_sd": math.sqrt(max(E((logV - math.log(v)) ** 2) - el * el, 0.0)),
            "mean_bias": mean_bias, "mean_sd": math.sqrt(max(mean_mse - mean_bias**2, 0.0)), "mean_mse": mean_mse,
            "w2sq": mean_mse + ev - 2 * math.sqrt(v) * E(np.sqrt(V)) + v}


def noise_free(w: float, smoothing: float = 0.0, shift: float = 0.0, var: float = 1.0) -> tuple[float, float]:
    """(m*(w) - mu, V*(w)): the guided law when M, n_s -> inf (base N(mu + delta, v + b), auxiliary
    N(mu + 2 delta, v + 2 b), module docstring)."""
    w = check_w(w)
    _, _, b, d, v = _check(2, 2, smoothing, shift, "mle", var)
    m, V = guided_gaussian_1d(d, v + b, 2 * d, v + 2 * b, w, math.inf)
    return float(m), float(V)


def bias_free_w(smoothing: float, var: float = 1.0) -> float:
    """w_0 = log(1 + beta) / log((1 + 2 beta) / (1 + beta)), beta = b / v: the w at which the noise-free guided
    variance equals the data's (V*(w_0) = v); 1 + beta + O(beta^2). inf at b = 0 (any w is bias-free)."""
    _, _, b, _, v = _check(2, 2, smoothing, 0.0, "mle", var)
    if b == 0:
        return math.inf
    beta = b / v
    return math.log1p(beta) / (math.log1p(2 * beta) - math.log1p(beta))


def first_order(w: float, M: int, n_s: int, smoothing: float = 0.0, shift: float = 0.0,
                var: float = 1.0) -> dict[str, float]:
    """The first-order closed forms of the module docstring: ``var_bias`` V*(w) - v (exact noise-free value),
    ``logvar_sd``, ``mean_bias`` delta (1 - w g*), ``mean_sd``, and ``w2sq`` v [B (1 - w)^2 + 3/2 (1/M +
    w^2/n_s)] (small beta, delta^2 / v), B = beta^2 / 4 + delta^2 / v."""
    w = check_w(w)
    M, n_s, b, d, v = _check(M, n_s, smoothing, shift, "mle", var)
    m_star, V_star = noise_free(w, b, d, v)
    kappa = b / (v + b)
    rho = 1 - kappa
    g_star = 1.0 if w == 0 else float(_g(v + b, v + 2 * b, w))
    B = (b / v) ** 2 / 4 + d * d / v
    return {"var_bias": V_star - v,
            "logvar_sd": math.sqrt(2 * (rho * (1 + w * kappa / (1 + kappa))) ** 2 / M
                                   + 2 * (w / (1 + kappa)) ** 2 / n_s),
            "mean_bias": m_star, "mean_sd": math.sqrt(v / M + (w * g_star) ** 2 * (v + b) / n_s),
            "w2sq": v * (B * (1 - w) ** 2 + 1.5 * (1 / M + w * w / n_s))}


def optimal_w_first_order(n_s: int, smoothing: float = 0.0, shift: float = 0.0, var: float = 1.0) -> float:
    """w* = B / (B + 3 / (2 n_s)), B = beta^2 / 4 + delta^2 / v: the minimiser of the first-order E[W2^2]."""
    _, n_s, b, d, v = _check(2, n_s, smoothing, shift, "mle", var)
    B = (b / v) ** 2 / 4 + d * d / v
    return B / (B + 1.5 / n_s)


def optimal_w(M: int, n_s: int, smoothing: float = 0.0, shift: float = 0.0, estimator: str = "mle",
              var: float = 1.0, w_max: float = 4.0) -> float:
    """The w in [0, w_max] minimising the exact E[W2^2] of :func:`moments` (bounded Brent search; w_max is
    kept below (n_s - 1)/4 where b = 0, so that the objective stays finite)."""
    M, n_s, b, d, v = _check(M, n_s, smoothing, shift, estimator, var)
    hi = float(w_max) if b > 0 else min(float(w_max), 0.25 * (n_s - 1) - 1e-6)
    res = optimize.minimize_scalar(lambda w: moments(w, M, n_s, b, d, estimator, v)["w2sq"], bounds=(0.0, hi),
                                   method="bounded", options={"xatol": 1e-6})
    f0 = moments(0.0, M, n_s, b, d, estimator, v)["w2sq"]
    return 0.0 if f0 <= res.fun else float(res.x)


def augmentation_fixed_point(w: float, lam: float, smoothing: float = 0.0, shift: float = 0.0,
                             var: float = 1.0, *, tol: float = 1e-14, max_iter: int = 100_000) -> dict[str, float]:
    r"""Noise-free fixed point of the synthetic-augmentation loop (fixed real set, lam synthetic points per real
    one, each generation's base guided by its own auxiliary): with the base N(m, u), the guided law
    N(m - w g(u, u + b) delta, u (u / (u + b))^w) = N(m_g, V); the pooled training set has mean
    p = (mu + lam m_g) / (1 + lam) and variance (v + lam V) / (1 + lam) + lam (m_g - mu)^2 / (1 + lam)^2, and
    the next base is N(p + delta, that variance + b). Iterated from the first base N(mu + delta, v + b)
    (a contraction: rate about lam / (1 + lam)). Returns the base's ``base_mean`` - mu and ``base_var``, the
    guided law's ``guided_mean`` - mu and ``guided_var``, and ``guided_w2sq``, its W2^2 to the data.
    At w = 0, delta = 0: base_var = v + b (1 + lam) (the systematic error compounds); at w = 1 it stays
    v + b + O(b^2)."""
    w = check_w(w)
    la = validate.ratio(lam, "lam")
    if la == math.inf:
        raise ValueError("lam must be finite: the fully synthetic loop (lam = inf) has no fixed point")
    _, _, b, d, v = _check(2, 2, smoothing, shift, "mle", var)
    m, u = d, v + b
    for _ in range(validate.count(max_iter, "max_iter")):
        g = 1.0 if w == 0 or b == 0 else float(_g(u, u + b, w))
        mg, V = m - w * g * d, u * (u / (u + b)) ** w
        p = la * mg / (1 + la)
        pv = (v + la * V) / (1 + la) + la * mg * mg / (1 + la) ** 2
        m_new, u_new = p + d, pv + b
        if abs(m_new - m) <= tol * (1 + abs(m)) and abs(u_new - u) <= tol * u:
            m, u = m_new, u_new
            break
        m, u = m_new, u_new
    else:
        raise RuntimeError(f"the augmentation map did not converge in {max_iter} iterations")
    g = 1.0 if w == 0 or b == 0 else float(_g(u, u + b, w))
    mg, V = m - w * g * d, u * (u / (u + b)) ** w
    return {"base_mean": m, "base_var": u, "guided_mean": mg, "guided_var": V,
            "guided_w2sq": mg * mg + (math.sqrt(V) - math.sqrt(v)) ** 2}
