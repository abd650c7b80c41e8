r"""SIMS where the fit has a systematic error: the Gaussian case in closed form (docs/derivations/
sims-systematic-error.md derives every line).

The fit. From n points with mean x-bar and sum of squared deviations S, the biased fit is
N(x-bar + delta, S / c + b): ``shift`` delta moves every fitted mean, ``smoothing`` b adds to every fitted
variance (a kernel density's bandwidth h adds h^2), c = n (MLE) or n - 1 (unbiased).

One generation on data N(mu, v). The base is fitted to M real points, the auxiliary the same way to n_s samples
of the base (SIMS fine-tunes a copy of the base on its own samples), and the guided ODE
D_w = (1 + w) D_base - w D_aux is run from sigma_max -> inf ([`gaussian`][simtheory.diffusion.gaussian], exact). With
Q_M = chi^2_{M-1} / c_M,
Q_s = chi^2_{n_s-1} / c_s and standard normals Z_1, Z_2, all four independent (a Gaussian sample's mean and
variance are independent):

    m_b = mu + delta + sqrt(v / M) Z_1,            v_b = v Q_M + b,
    m_a = m_b + delta + sqrt(v_b / n_s) Z_2,        v_a = v_b Q_s + b,
    V_w = v_b^(1+w) v_a^(-w),                      m_w = m_b - w g(v_b, v_a) (m_a - m_b),

g = Phi(0) J / 2 the closed-form mean factor of the guided law (1 when v_a = v_b; it depends on v_a / v_b alone).
Every moment of (m_w, V_w) is therefore a 2-D integral over (Q_M, Q_s)
([`moments`][simtheory.diffusion.systematic.moments]: trapezoid rule in
log chi^2, geometric convergence), and in particular

    E[m_w] - mu = delta (1 - w E[g]),
    E[(m_w - mu)^2] = E[delta^2 (1 - w g)^2] + v / M + w^2 E[g^2 v_b] / n_s,
    E[W2^2] = E[(m_w - mu)^2] + E[V_w] - 2 sqrt(v) E[sqrt(V_w)] + v       (W2 to the data law).

With b = 0 the integral factorises: V_w = v Q_M Q_s^-w and g = g(Q_s), so each moment is a product of 1-D
integrals, and E[Q_s^-p] diverges at p = (n_s - 1)/2;
[`simtheory.diffusion.chi2.chi2_expect`][simtheory.diffusion.chi2.chi2_expect] integrates up to that divergence.

Noise-free (M, n_s -> inf): the base is N(mu + delta, v + b) and the auxiliary N(mu + 2 delta, v + 2 b), so

    V*(w) / v = (1 + beta)^(1+w) (1 + 2 beta)^(-w) = 1 + beta (1 - w) + beta^2 w (1 + w) / 2 + O(beta^3),
    m*(w) - mu = delta (1 - w g*),   g* = g(v + b, v + 2b) = 1 - (1 + w) beta / 3 + O(beta^2),   beta = b / v:

w = 1 cancels the first-order bias of both (V*(1) - v = b^2 / (v + 2 b), m*(1) - mu = 2 delta beta / 3 +
O(delta beta^2)); the variance's bias vanishes at
w_0 = log(1 + beta) / log((1 + 2 beta) / (1 + beta)) = 1 + beta + O(beta^2). To first order in the noise,
Var log V_w = 2 rho^2 (1 + w kappa / (1 + kappa))^2 / M + 2 w^2 / ((1 + kappa)^2 n_s) (rho = 1 - kappa =
v / (v + b)) and Var m_w = v / M + w^2 g*^2 (v + b) / n_s. A first-order approximation (small beta,
delta^2 / v and noise; [`first_order`][simtheory.diffusion.systematic.first_order]):

    E[W2^2] / v ~ B (1 - w)^2 + (3/2) (1 / M + w^2 / n_s),      B = beta^2 / 4 + delta^2 / v,

minimised at w* ~ B / (B + 3 / (2 n_s))
([`optimal_w_first_order`][simtheory.diffusion.systematic.optimal_w_first_order]): near 1 when n_s B >> 3/2 (the
systematic error dominates and w = 1 removes it), near 0 when n_s B << 3/2 (guidance only amplifies the
auxiliary's sampling noise; the exact model, b = delta = 0, has w* = 0). Both are approximations: the noise
coefficient 3/2 holds only at b = delta = 0 ([`noise_coefficient`][simtheory.diffusion.systematic.noise_coefficient]
measures it elsewhere), and w* is off
where n_s B is small or beta is not; their measured accuracy against the exact optimum
([`optimal_w`][simtheory.diffusion.systematic.optimal_w],
[`first_order_optimum_error`][simtheory.diffusion.systematic.first_order_optimum_error]) is on
docs/derivations/sims-systematic-error.md and paper checks C13.8.1-C13.8.2.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from .. import validate
from ..families.gaussian import DDOF
from .chi2 import LOG_MAX, MAX_NODES, STEPS_PER_SD, chi2_expect, chi2_nodes
from .gaussian import guided_gaussian_1d
from .mean_factor import _g, _log_G, _log_abs_1m_exp, _log_g_spline
from .sampler import check_w


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
    if estimator not in DDOF:
        raise ValueError(f"estimator must be one of {sorted(DDOF)}, got {estimator!r}")
    return M, n_s, b, d, v


MOMENTS = ("var_mean", "var_bias", "var_sd", "logvar_bias", "logvar_sd", "mean_bias", "mean_sd", "mean_mse", "w2sq")


def _moments_exact_fit(w, M, n_s, d, estimator, v, steps_per_sd) -> dict[str, float]:
    """b = 0: V_w = v_b (v_a / v_b)^-w = v Q_M Q_s^-w and g = g(Q_s) (v_a / v_b = Q_s), so every moment is a product of 1-D
    expectations over Q_M and Q_s ([`chi2_expect`][simtheory.diffusion.chi2.chi2_expect]), each finite or divergent on
    its own: E[Q_s^-p] < inf iff p < k_s = (n_s - 1)/2, and g grows like Q_s^(-w/2) as Q_s -> 0."""
    ddof = DDOF[estimator]
    cm, cs = M - ddof, n_s - ddof
    k = 0.5 * (n_s - 1)
    qm = lambda p, **kw: chi2_expect(M, cm, p, steps_per_sd=steps_per_sd, **kw)       # noqa: E731
    qs = lambda p, **kw: chi2_expect(n_s, cs, p, steps_per_sd=steps_per_sd, **kw)     # noqa: E731
    # log-moments: always finite (untilted rule)
    lm, wm = chi2_nodes(M, cm, steps_per_sd=steps_per_sd)
    ls, ws = chi2_nodes(n_s, cs, steps_per_sd=steps_per_sd)
    elm, els = float(np.exp(wm) @ lm), float(np.exp(ws) @ ls)
    vlm, vls = float(np.exp(wm) @ (lm - elm) ** 2), float(np.exp(ws) @ (ls - els) ** 2)
    out = {"logvar_bias": elm - w * els, "logvar_sd": math.sqrt(vlm + w * w * vls)}
    # V_w and its square root
    a1, s1 = qm(1.0), qs(-w)
    if w < k:
        ev = v * a1 * s1
        # Var(XY) / (EX EY)^2 = rx ry + rx + ry for independent X = Q_M, Y = Q_s^-w, with the relative
        # variances rx, ry integrated as central second moments (no cancellation when both are small)
        rx = qm(0.0, log_f=lambda lq: 2 * _log_abs_1m_exp(lq - math.log(a1)), right_power=2.0)
        if 2 * w < k:
            ry = qs(-2 * w, log_f=lambda lq: 2 * (_log_abs_1m_exp(w * lq + math.log(s1)) - math.log(s1)),
                    conv=w, right_power=2 * w)
            var_sd = ev * math.sqrt(rx * ry + rx + ry)
        else:
            var_sd = math.inf
        esq = math.sqrt(v) * qm(0.5) * qs(-0.5 * w)
    else:
        ev = var_sd = esq = math.inf
    out.update(var_mean=ev, var_bias=ev - v, var_sd=var_sd)
    # the mean factor g(Q_s) = Q_s^(-w/2) G(Q_s)
    if w == 0:
        eg, eg2 = 1.0, 1.0
    else:
        rp = max(0.5 * w - 1.0, 0.0) + 1.0          # G grows at most like rho^(w/2 - 1) as rho -> inf
        cg = min(0.5 * w, 1.0)                      # G - G(0) = O(rho^cg) as rho -> 0
        eg = qs(-0.5 * w, log_f=lambda lq: _log_G(lq, w), conv=cg, right_power=rp)
        eg2 = qs(-w, log_f=lambda lq: 2 * _log_G(lq, w), conv=cg, right_power=2 * rp)
    if eg == math.inf:           # w >= 2 k_s: E|m_w - mu| = inf, the mean does not exist
        out.update(mean_bias=math.nan, mean_sd=math.inf, mean_mse=math.inf)
    else:
        out["mean_bias"] = d * (1 - w * eg)
        # m_w - mu = delta (1 - w g) + sqrt(v/M) Z_1 - w g sqrt(v_b / n_s) Z_2, E[g^2 v_b] = v E[Q_M] E[g^2]
        var_g = 0.0 if d == 0 else max(eg2 - eg * eg, 0.0)           # Var g (inf when w >= k_s)
        var_m = d * d * w * w * var_g + v / M + w * w * v * qm(1.0) * eg2 / n_s
        out.update(mean_sd=math.sqrt(var_m), mean_mse=var_m + out["mean_bias"] ** 2)
    out["w2sq"] = out["mean_mse"] + ev - 2 * math.sqrt(v) * esq + v if w < k else math.inf
    return {key: float(out[key]) for key in MOMENTS}


def _moments_smoothed(w, M, n_s, b, d, estimator, v, steps_per_sd) -> dict[str, float]:
    """b > 0: the 2-D product trapezoid rule over (log Q_M, log Q_s), every sum taken in logs. The integrands
    are bounded as Q_s -> 0 (v_a >= b), but grow like (Q_s + b / v_b)^(-2w) (E[V_w^2]) down to Q_s ~ b / v_b,
    which the node range of Q_s covers ([`chi2_nodes`][simtheory.diffusion.chi2.chi2_nodes], left_floor)."""
    ddof = DDOF[estimator]
    lqm, lwm = chi2_nodes(M, M - ddof, steps_per_sd=steps_per_sd)
    lvb = np.logaddexp(math.log(v) + lqm, math.log(b))[:, None]             # log v_b
    lqs, lws = chi2_nodes(n_s, n_s - ddof, 2 * w, left_floor=math.log(b) - float(lvb.max()),
                          steps_per_sd=steps_per_sd)
    if lqm.size * lqs.size > MAX_NODES:
        raise ValueError(f"smoothing b = {b!r} with w = {w!r}: the 2-D quadrature would need "
                         f"{lqm.size * lqs.size} points (more than {MAX_NODES})")
    lr = np.logaddexp(lqs[None, :], math.log(b) - lvb)                       # log(v_a / v_b) = log(Q_s + b / v_b)
    logV = lvb - w * lr                                                      # V_w = v_b (v_a / v_b)^-w
    logW = lwm[:, None] + lws[None, :]

    def E(logf):
        """E[exp(logf)], summed in logs."""
        t = logW + logf
        top = float(t.max())
        if top == -math.inf:
            return 0.0
        log_total = top + math.log(float(np.exp(t - top).sum()))
        return math.exp(log_total) if log_total < LOG_MAX else math.inf

    W = np.exp(logW)
    ev = E(logV)
    var_sd = math.sqrt(E(2 * (logV + _log_abs_1m_exp(math.log(ev) - logV))))       # E[(V - E V)^2]
    el = float(np.sum(W * logV))
    log_sqv = 0.5 * math.log(v)
    # E[(sqrt V - sqrt v)^2], no cancellation
    dev = E(2 * (log_sqv + _log_abs_1m_exp(0.5 * logV - log_sqv)))
    lg = _log_g_spline(lr, w) if w > 0 else np.zeros_like(lr)
    eg = E(lg)
    var_g = E(2 * (lg + _log_abs_1m_exp(math.log(eg) - lg)))
    var_m = d * d * w * w * var_g + v / M + w * w * E(2 * lg + lvb) / n_s
    mean_bias = d * (1 - w * eg)
    mean_mse = var_m + mean_bias**2
    return {"var_mean": ev, "var_bias": ev - v, "var_sd": var_sd, "logvar_bias": el - math.log(v),
            "logvar_sd": math.sqrt(float(np.sum(W * (logV - el) ** 2))), "mean_bias": mean_bias,
            "mean_sd": math.sqrt(var_m), "mean_mse": mean_mse, "w2sq": mean_mse + dev}


def moments(w: float, M: int, n_s: int, smoothing: float = 0.0, shift: float = 0.0, estimator: str = "mle",
            var: float = 1.0, *, steps_per_sd: int = STEPS_PER_SD) -> dict[str, float]:
    r"""Exact (to quadrature) moments of the one-generation guided law N(m_w, V_w) (module docstring) on data
    N(0, var): base fitted to M real points, auxiliary to n_s of the base's samples, both with the systematic
    ``smoothing`` b and ``shift`` delta, guided ODE with weight w from sigma_max -> inf.

    Returns
    -------
    dict
        ``var_mean`` E[V_w], ``var_bias`` E[V_w] - v, ``var_sd`` SD(V_w), ``logvar_bias`` E[log V_w / v],
        ``logvar_sd``, ``mean_bias`` E[m_w] - mu, ``mean_sd`` SD(m_w), ``mean_mse`` E[(m_w - mu)^2], ``w2sq``
        E[W2^2] to the data law. With b > 0 every moment is finite. With b = 0, V_w = v Q_M Q_s^-w and the
        mean factor g grows like Q_s^(-w/2), k_s = (n_s - 1)/2: ``var_sd`` is inf when 2 w >= k_s; ``var_mean``,
        ``var_bias``, ``mean_sd``, ``mean_mse`` and ``w2sq`` when w >= k_s; ``mean_bias`` is nan when w >= 2 k_s
        (E|m_w| = inf: the mean does not exist); ``logvar_bias`` and ``logvar_sd`` are always finite.
    """
    w = check_w(w)
    M, n_s, b, d, v = _check(M, n_s, smoothing, shift, estimator, var)
    if b == 0:
        return _moments_exact_fit(w, M, n_s, d, estimator, v, steps_per_sd)
    return _moments_smoothed(w, M, n_s, b, d, estimator, v, steps_per_sd)


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
    """First-order approximations of the module docstring (not exact; [`moments`][simtheory.diffusion.systematic.moments] is): ``var_bias``
    V*(w) - v (the exact noise-free value), ``logvar_sd`` and ``mean_sd`` (first order in the noise),
    ``mean_bias`` delta (1 - w g*) (noise-free), and ``w2sq`` v [B (1 - w)^2 + 3/2 (1/M + w^2/n_s)] (first order
    in beta, delta^2 / v and the noise), B = beta^2 / 4 + delta^2 / v."""
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
    """w* ~ B / (B + 3 / (2 n_s)), B = beta^2 / 4 + delta^2 / v: the minimiser of the first-order approximation
    of E[W2^2] ([`first_order`][simtheory.diffusion.systematic.first_order]), a first-order approximation of the exact
    optimum [`optimal_w`][simtheory.diffusion.systematic.optimal_w]. It
    ignores M, the noise coefficient's dependence on b and delta
    ([`noise_coefficient`][simtheory.diffusion.systematic.noise_coefficient]) and the exact
    optimum's approach to w_0 ~ 1 + beta rather than 1; its measured error is on
    docs/derivations/sims-systematic-error.md
    ([`first_order_optimum_error`][simtheory.diffusion.systematic.first_order_optimum_error])."""
    _, n_s, b, d, v = _check(2, n_s, smoothing, shift, "mle", var)
    B = (b / v) ** 2 / 4 + d * d / v
    return B / (B + 1.5 / n_s)


def first_order_optimum_error(M: int, nsB: float, smoothing: float = 0.0, shift: float = 0.0,
                              var: float = 1.0) -> dict[str, float]:
    """The first-order w* ([`optimal_w_first_order`][simtheory.diffusion.systematic.optimal_w_first_order]) against the exact optimum ([`optimal_w`][simtheory.diffusion.systematic.optimal_w]) at the
    n_s that puts n_s B nearest ``nsB`` (n_s = max(2, round(nsB / B)), B = (b/v)^2/4 + delta^2/v > 0).

    Returns ``n_s``, ``nsB`` (the n_s B reached), ``exact``, ``first_order`` and ``rel_error`` first_order /
    exact - 1 (inf where the exact optimum is 0 and the first-order one is not)."""
    M, _, b, d, v = _check(M, 2, smoothing, shift, "mle", var)
    x = float(nsB)
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"nsB must be finite and > 0, got {nsB!r}")
    B = (b / v) ** 2 / 4 + d * d / v
    if B == 0:
        raise ValueError("smoothing or shift must be nonzero: B = 0 has no n_s B scale")
    n_s = max(2, round(x / B))
    exact = optimal_w(M, n_s, b, d, var=v)
    first = optimal_w_first_order(n_s, b, d, v)
    rel = (first / exact - 1.0) if exact > 0 else (0.0 if first == 0 else math.inf)
    return {"n_s": float(n_s), "nsB": n_s * B, "exact": exact, "first_order": first, "rel_error": rel}


def optimal_w(M: int, n_s: int, smoothing: float = 0.0, shift: float = 0.0, estimator: str = "mle",
              var: float = 1.0, w_max: float = 4.0) -> float:
    """The w in [0, w_max] minimising the exact E[W2^2] of [`moments`][simtheory.diffusion.systematic.moments] (bounded Brent search; where b = 0,
    w_max is kept below (n_s - 1)/2, beyond which E[W2^2] is infinite). 0.0 itself when w = 0 is no worse than
    the search's point (the bounded search only approaches its ends)."""
    M, n_s, b, d, v = _check(M, n_s, smoothing, shift, estimator, var)
    hi = float(w_max) if b > 0 else min(float(w_max), 0.5 * (n_s - 1) - 1e-6)
    res = optimize.minimize_scalar(lambda w: moments(w, M, n_s, b, d, estimator, v)["w2sq"], bounds=(0.0, hi),
                                   method="bounded", options={"xatol": 1e-6})
    f0 = moments(0.0, M, n_s, b, d, estimator, v)["w2sq"]
    return 0.0 if f0 <= res.fun else float(res.x)


def noise_coefficient(w: float, n_s: int, smoothing: float = 0.0, shift: float = 0.0, var: float = 1.0,
                      M: int = 10**8) -> float:
    """The coefficient c of the auxiliary's noise in E[W2^2] ~ W2*(w)^2 + v c w^2 / n_s, measured on the exact
    moments: c = n_s [E W2^2(w) - E W2^2(0) - (W2*(w)^2 - W2*(0)^2)] / (v w^2), W2* the noise-free law's distance
    ([`noise_free`][simtheory.diffusion.systematic.noise_free]), with a base fitted to so many points (M) that the
    base's own noise is negligible. The
    first-order approximation of the module docstring takes c = 3/2, its value at b = delta = 0 as n_s -> inf
    (Var m_w = w^2 v / n_s plus Var sqrt(V_w) = v w^2 / (2 n_s)); with a systematic error the noise also meets
    the bias (E[sqrt(V_w)] and E[g] shift by O(1/n_s)), and c moves away from 3/2."""
    w = check_w(w)
    if w == 0:
        raise ValueError("w must be > 0 for the noise coefficient")
    M, n_s, b, d, v = _check(M, n_s, smoothing, shift, "mle", var)

    def star(w):
        m, V = noise_free(w, b, d, v)
        return m * m + (math.sqrt(V) - math.sqrt(v)) ** 2

    excess = moments(w, M, n_s, b, d, var=v)["w2sq"] - moments(0.0, M, n_s, b, d, var=v)["w2sq"]
    return n_s * (excess - (star(w) - star(0.0))) / (v * w * w)


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
