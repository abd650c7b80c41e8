r"""Exact predictions of a sampled curation loop's next generations from its own samples (theory vs experiment).

A generation of a sampled loop (the image loop, or a finite-sample family loop) draws n = K m candidates from
the current model, scores them (r_i) and labels them (y_i: a classifier's argmax, an atom's class, a mode),
keeps one per group of K by softmax(r), mixes the kept ones with real data and retrains. Take the candidates as
atoms of mass 1/n, :math:`\hat P_n`. The exact curated step (Eq. 6 of Ferbach et al. 2024,
:func:`simtheory.curated`) gives the law of a kept sample, :math:`c(\hat P_n)`; with real data at ratio lam the
next model's law under infinite capacity is :math:`(P_{real} + \lambda\, c(\hat P_n)) / (1 + \lambda)` (Sec. 3),
:math:`P_{real}` the real training images' rewards and labels as atoms of mass 1/N. Every mean of a per-sample
value f (the reward, e^r, a one-hot label) is then a number; :func:`one_step` returns them,
:func:`trajectory` runs the exact dynamics forward for many generations from one generation's samples.

Standard errors (delta method). A prediction is a smooth functional :math:`\theta(\hat P_n)`; for one step it
is the V-statistic of degree K with kernel :math:`h(x_1..x_K) = \sum_k f(x_k)\,\mathrm{softmax}_k(r)`. Its
first-order (Hoeffding) term is :math:`\frac1n\sum_i IF(x_i)`, IF the influence function (the derivative of
theta in the direction :math:`\delta_x - P`), so :math:`\mathrm{Var}\,\theta(\hat P_n) = \mathrm{Var}_P IF / n
+ O(n^{-2})` and the plug-in SE is :math:`\sqrt{\overline{IF^2}/n}` over the candidates (the mean of IF under
:math:`\hat P_n` is 0 exactly). At K = inf this is the usual delta-method variance of the ratio estimator
:math:`\sum f e^r / \sum e^r`; at K = 1 the binomial/sample-mean variance. IF is computed exactly (to quadrature
rounding) by reverse-mode differentiation of the curated map, :func:`curated_vjp`, chained through every step
of a trajectory. The real images enter as fixed atoms: the next model is trained on exactly those images, so
the SE is that of the n candidates, as the loop's question is what its own samples predict.

Intervals (``_lo``, ``_hi``). The delta-method SE is right on average, but theta-hat is not normal when a few
candidates carry most of the weight (K = inf and unbounded rewards: p_t / p_0 is proportional to e^{t r}):
a sample that misses the tail gives a low estimate *and* a low SE, so the studentised error is skewed and
heavy-tailed and theta-hat +- 1.96 SE covers 60-90% at t >= 2 (tests/test_predict.py measures it). Each
interval is instead :func:`interval`: the studentised statistic corrected for skewness by Hall's (1992) cubic
transformation, with the skewness of the exact influence function, and Student-t quantiles with the
Satterthwaite degrees of freedom of the variance estimate, (sum IF^2)^2 / sum IF^4 (the effective number of
candidates the SE rests on). Both come from the IF already computed, so they cost O(n) more.
"""
from __future__ import annotations

import math

import numpy as np

from scipy import stats

from . import curated, theorems, validate
from .curation import NORM_TOL
from .fold import mixing_weights

Y_LO = -4.0                 # Gumbel CDF G(-4) = e^{-e^4} < 3e-24: nothing below the lowest reward + Y_LO
Y_HI = 45.0                 # above max r + log K + Y_HI the integrands are below K e^{-45}
H = math.log(2.0) / 3.0     # trapezoid step: geometric convergence for these analytic integrands (~1e-14)
CACHE_ENTRIES = 4_000_000   # keep the (atoms x nodes) Gumbel matrices when smaller than this, else recompute
CHUNK = 4096


# ---------------------------------------------------------------------------- quadrature of the curated map
class _Quadrature:
    r"""The Gumbel-grid form of the curated map for fixed rewards and K (kernels.py's integrals, densely):

    .. math:: c_x(p) = K p_x \int g(z - r_x) F(z)^{K-1} dz,\qquad F(z) = \sum_y p_y G(z - r_y),

    G the standard Gumbel CDF and g = G'. It is homogeneous of degree K in p and sums to (sum p)^K, so its
    derivative maps directions of zero sum to directions of zero sum (the simplex's tangent space).
    """

    def __init__(self, r: np.ndarray, K: int):
        self.r, self.K = r, K
        z0 = float(r.min()) + Y_LO
        self.z = z0 + H * np.arange(int(math.ceil((float(r.max()) + math.log(K) + Y_HI - z0) / H)) + 1)
        self._cache = None
        if r.size * self.z.size <= CACHE_ENTRIES:
            self._cache = [self._block(slice(s, min(s + CHUNK, r.size))) for s in range(0, r.size, CHUNK)]

    def _block(self, sl: slice):
        y = self.z[None, :] - self.r[sl, None]
        with np.errstate(over="ignore"):
            u = np.exp(-y)
            G = np.exp(-u)
            g = u * G            # g(y) = e^{-y} exp(-e^{-y}); u = inf gives inf * 0 below, masked next
        g[~np.isfinite(g)] = 0.0
        return sl, g, G

    def blocks(self):
        if self._cache is not None:
            yield from self._cache
        else:
            for s in range(0, self.r.size, CHUNK):
                yield self._block(slice(s, min(s + CHUNK, self.r.size)))

    def parts(self, p: np.ndarray):
        """(F on the grid, H_x = K int g(z - r_x) F^{K-1} dz for every atom)."""
        F = np.zeros(self.z.size)
        for sl, _, G in self.blocks():
            F += p[sl] @ G
        Fk1 = F ** (self.K - 1)
        Hx = np.empty(self.r.size)
        for sl, g, _ in self.blocks():
            Hx[sl] = self.K * H * (g @ Fk1)
        return F, Hx

    def curated(self, p: np.ndarray) -> np.ndarray:
        """c(p) = p H_K on the dense grid (the reference the tests hold against simtheory.curated)."""
        return p * self.parts(p)[1]

    def vjp(self, p: np.ndarray, v: np.ndarray) -> np.ndarray:
        r"""Rows of :math:`\nabla_p [v^\top c(p)]`: with :math:`B(z) = \sum_x v_x p_x g(z - r_x)`,

        .. math:: \partial_{p_z} \sum_x v_x c_x = v_z H_z + K (K-1) \int B(z) F(z)^{K-2} G(z - r_z) dz.
        """
        F, Hx = self.parts(p)
        B = np.zeros((self.z.size, v.shape[1]))
        for sl, g, _ in self.blocks():
            B += g.T @ (v[sl] * p[sl, None])
        psi = B * (F ** (self.K - 2))[:, None]
        out = v * Hx[:, None]
        for sl, _, G in self.blocks():
            out[sl] += self.K * (self.K - 1) * H * (G @ psi)
        return out


def curated_vjp(p, r, K, v) -> np.ndarray:
    r"""Gradient :math:`\nabla_p [v^\top c(p)]` of linear functionals of the exact curated step (Eq. 6).

    Parameters
    ----------
    p : array_like (n,) -- probabilities (zeros allowed: the derivative at an atom without mass is returned too).
    r : array_like (n,) -- finite rewards.
    K : int >= 1 or math.inf -- group size (K = inf: the tilt p e^r / E_p[e^r] of Lemma 2.1).
    v : array_like (n,) or (n, m) -- per-atom values, one column per functional.

    Returns
    -------
    numpy.ndarray shaped like v: the derivative of :math:`\sum_x v_x c_x(p)` with respect to each p_z, taking
    c as the degree-K homogeneous extension off the simplex (the degree-0 one at K = inf). Contracted with a
    direction of zero sum (:math:`\delta_z - p`) it is the directional derivative on the simplex.
    """
    pa = validate.probability(p, "p")
    ra = validate.rewards(r, pa.shape, "r")
    k = validate.group_size(K, "K")
    va = validate.finite_array(v, "v")
    if va.shape[0] != pa.size or va.ndim > 2:
        raise ValueError(f"v must have shape ({pa.size},) or ({pa.size}, m), got {va.shape}")
    col = va.reshape(pa.size, -1)
    return _vjp(pa, ra, k, col, None).reshape(va.shape)


def _vjp(p, r, K, v, quad: _Quadrature | None) -> np.ndarray:
    if K == 1:
        return v.copy()
    if K == math.inf:
        w = np.exp(r - r[p > 0].max())
        Z = float(p @ w)
        return (w / Z)[:, None] * (v - (p * w / Z) @ v)
    return (quad or _Quadrature(r, K)).vjp(p, v)


# ---------------------------------------------------------------------------------------------- inputs
def _values(rewards: np.ndarray, labels: np.ndarray | None, n_classes: int) -> np.ndarray:
    """Per-atom values f: columns reward, e^{r - r_ref} and the one-hot labels."""
    cols = [rewards[:, None], np.exp(rewards - _ref(rewards))[:, None]]
    if n_classes:
        cols.append(np.eye(n_classes)[labels])
    return np.concatenate(cols, axis=1)


def _ref(r: np.ndarray) -> float:
    """Exponential moments are computed as e^{r_ref} E[e^{r - r_ref}] (no overflow inside the fold)."""
    return float(r.max())


def _exp_scale(r_ref: float) -> float:
    """e^{r_ref}, the unit the exponential moments are reported in; a ValueError where it is not a float."""
    if r_ref > _EXP_MAX:
        raise ValueError(f"rewards up to {r_ref:.6g}: E[e^r] is beyond the float range (e^r overflows above "
                         f"r = {_EXP_MAX:.6g}); shift the rewards by a constant (curation does not change)")
    return math.exp(r_ref)


_EXP_MAX = math.log(np.finfo(np.float64).max)


def _sample(rewards, labels, n_classes, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    r = validate.rewards(rewards, None, f"{name}_rewards").ravel()
    if r.size == 0:
        raise ValueError(f"{name}_rewards is empty")
    if labels is None:
        if n_classes:
            raise ValueError(f"{name}_labels are needed for class proportions (n_classes={n_classes})")
        return r, None
    y = np.asarray(labels)
    if y.shape != r.shape or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name}_labels must be integers shaped like {name}_rewards {r.shape}, got "
                         f"{y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name}_labels must lie in [0, {n_classes}), got [{y.min()}, {y.max()}]")
    return r, y.astype(np.int64)


def _n_classes(labels, real_labels, n_classes) -> int:
    if n_classes is not None:
        return validate.count(n_classes, "n_classes")
    if labels is None:
        return 0
    hi = int(np.max(labels)) if np.size(labels) else -1
    if real_labels is not None and np.size(real_labels):
        hi = max(hi, int(np.max(real_labels)))
    return hi + 1


# --------------------------------------------------------------------------------------------- dynamics
def _fold(p0, p_data, r, K, W, d) -> np.ndarray:
    """Forward trajectory with simtheory.curated at each step (replace: the same numbers as simtheory.retrain).

    Each mixed law must sum to 1 within the quadrature's NORM_TOL (FloatingPointError otherwise); the check
    passed, it is divided by its sum, a rounding-level correction that keeps the degree-K map from growing a
    normalisation error K-fold per step."""
    steps = W.shape[0] - 1
    P = np.zeros((steps + 1, p0.size))
    C = np.zeros_like(P)
    P[0] = p0
    for t in range(steps):
        C[t] = curated(P[t], r, K)
        nxt = d[t + 1] * p_data if d[t + 1] else np.zeros(p0.size)
        nxt = nxt + W[t + 1, : t + 1] @ C[: t + 1]
        total = float(nxt.sum())
        if abs(total - 1.0) > NORM_TOL:
            raise FloatingPointError(f"step {t + 1} of the predicted trajectory has mass {total!r}: more than "
                                     f"{NORM_TOL:g} from 1 (a curated step or the mixing weights lost mass)")
        P[t + 1] = nxt / total
    return P


def _influence(P, r, K, W, f, cand: np.ndarray) -> np.ndarray:
    r"""Influence functions on the candidate atoms of :math:`\theta_t = f^\top p_t` for every t, stacked
    (n_cand, steps + 1, m): reverse mode through the fold, all targets at once (the VJP is linear in v).

    Both mixing rules weigh c(p_s) in p_t by a weight W[t, s] that depends on t only (replace: s = t - 1 only;
    accumulate: every s < t alike), so the adjoint of c(p_s) is a running sum and two adjoints stay in memory.
    """
    steps = P.shape[0] - 1
    n, m = f.shape
    quad = _Quadrature(r, K) if K not in (1, math.inf) else None
    cols = (steps + 1) * m
    cumulative = bool(np.count_nonzero(W[-1]) > 1)
    A = np.zeros((n, cols))                                   # adjoint of p_{s+1}, one column block per target
    A[:, steps * m:] = f
    C = np.zeros((n, cols))                                   # adjoint of c(p_s)
    for s in range(steps - 1, -1, -1):
        C = (C if cumulative else 0.0) + W[s + 1, s] * A
        A = _vjp(P[s], r, K, C, quad) if W[s + 1, s] else np.zeros((n, cols))
        A[:, s * m:(s + 1) * m] += f
    IF = A[cand] - P[0] @ A                                   # directions delta_z - p_0 stay on the simplex
    return IF.reshape(int(cand.sum()), steps + 1, m)


def interval(theta, IF, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    r"""Skewness-corrected studentised interval for a functional theta(P) estimated by theta(P_n) from n
    draws, given the estimate and its influence function on the n draws (axis 0 of ``IF``, centred).

    With :math:`S_k = \sum_i IF_i^k`, the SE is :math:`\sqrt{S_2}/n` and :math:`T = (\hat\theta -
    \theta)/SE`. Hall's (1992) transformation :math:`g(T) = T + a T^2 + a^2 T^3/3 + b`, :math:`a = \hat
    g/3`, :math:`b = \hat g/6`, :math:`\hat g = S_3 / S_2^{3/2}` (the skewness over :math:`\sqrt n`), is
    monotone and removes T's first-order skewness; g(T) is referred to Student's t with
    :math:`\nu = S_2^2/S_4 - 1` degrees of freedom (Satterthwaite: the effective number of terms in the
    variance estimate; n - 1 when all |IF_i| are equal). Inverting, :math:`\theta \in [\hat\theta - SE\,
    g^{-1}(q), \hat\theta - SE\, g^{-1}(-q)]`, :math:`g^{-1}(y) = ((1 + 3a(y - b))^{1/3} - 1)/a`.
    Where every IF_i is 0 the interval is the point theta.

    Parameters
    ----------
    theta : array_like (...,) -- the estimates.
    IF : array_like (n, ...) -- influence functions on the draws, one column per estimate.
    level : float in (0, 1) -- coverage (default 0.95).

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


def trajectory(rewards, labels=None, K=2, steps: int = 1, *, lam: float = math.inf, real_rewards=None,
               real_labels=None, n_classes: int | None = None, scheme: str = "replace",
               level: float = 0.95) -> dict:
    r"""Predicted trajectory of a curated loop from one generation's samples (Ferbach et al. 2024, Eq. 7 and
    Sec. 3), with delta-method standard errors from those samples.

    Parameters
    ----------
    rewards : array_like (n,) -- rewards of n samples of the current model (atoms of mass 1/n).
    labels : array_like of int (n,), optional -- their class labels (classifier argmax, atom class, mode).
    K : int >= 1 or math.inf -- group size of the curation.
    steps : int >= 0 -- generations to predict.
    lam : float in [0, inf] -- synthetic-to-real ratio (the loops' convention).
    real_rewards, real_labels : array_like (N,) -- the real training images' rewards and labels (atoms of mass
        1/N); required when real data enter (lam finite, or scheme 'accumulate').
    n_classes : int, optional -- number of classes (default: max label + 1).
    scheme : 'replace' | 'fresh' | 'accumulate' -- the mixing rule, :func:`simtheory.fold.mixing_weights`.
    level : float -- coverage of the intervals (default 0.95).

    Returns
    -------
    dict of arrays over generations 0..steps (generation 0 is the samples' own law):
    ``mean_reward``, ``mean_exp_reward``, ``class_proportions`` (steps + 1, C), each with ``_se`` (delta
    method) and the interval ``_lo``, ``_hi`` (:func:`interval`: skewness-corrected, Student-t).
    """
    nc = _n_classes(labels, real_labels, n_classes)
    r, y = _sample(rewards, labels, nc, "candidate")
    k = validate.group_size(K, "K")
    la = validate.ratio(lam, "lam")
    steps = validate.count(steps, "steps", minimum=0)
    W, d = mixing_weights(scheme, la, steps)
    real_needed = bool(np.any(d > 0))
    if real_needed and real_rewards is None:
        raise ValueError("real_rewards are required when real data are mixed in (lam finite or scheme accumulate)")
    if real_needed:
        rr, ry = _sample(real_rewards, real_labels, nc, "real")
    else:
        rr, ry = np.zeros(0), (np.zeros(0, np.int64) if nc else None)
    n, N = r.size, rr.size
    r_all = np.concatenate([r, rr])
    y_all = np.concatenate([y, ry]) if nc else None
    cand = np.zeros(n + N, bool)
    cand[:n] = True
    p0 = np.where(cand, 1.0 / n, 0.0)
    p_data = np.where(cand, 0.0, 1.0 / N) if N else None
    P = _fold(p0, p_data, r_all, k, W, d)
    f = _values(r_all, y_all, nc)
    theta = P @ f                                           # (steps + 1, m)
    IF = _influence(P, r_all, k, W, f, cand)
    se = np.sqrt(np.mean(IF ** 2, axis=0) / n)
    lo, hi = interval(theta, IF, level)
    scale = _exp_scale(_ref(r_all))
    out = {}
    for key, cols, unit in (("mean_reward", slice(0, 1), 1.0), ("mean_exp_reward", slice(1, 2), scale),
                            ("class_proportions", slice(2, None), 1.0)):
        if key == "class_proportions" and not nc:
            continue
        pick = (lambda a: a[:, cols.start]) if key != "class_proportions" else (lambda a: a[:, cols])
        out[key], out[f"{key}_se"] = unit * pick(theta), unit * pick(se)
        out[f"{key}_lo"], out[f"{key}_hi"] = unit * pick(lo), unit * pick(hi)
    return out


def law_trajectory(rewards, labels=None, K=2, steps: int = 1, *, lam: float = math.inf, scheme: str = "replace",
                   n_real: int, n_synthetic: int, n_classes: int | None = None, n_se: int = 16384) -> dict:
    r"""The exact curated trajectory of a known data law, and the noise a loop's finite sets add to it.

    The law p_0 is given by M exact draws (``rewards``, ``labels``: atoms of mass 1/M). It is also the real data's
    law, so :math:`p_{t+1} = (p_0 + \lambda\, c(p_t)) / (1 + \lambda)` (Eq. 7 and Sec. 3 of Ferbach et al. 2024;
    the schemes of :func:`simtheory.fold.mixing_weights`): the trajectory an infinitely large loop with infinite
    capacity follows. Its means ``mean_reward``, ``mean_exp_reward`` and ``class_proportions`` (arrays over
    t = 0..steps) carry ``_se``, the Monte Carlo error of the M atoms.

    A loop of finite sets does not follow it exactly, even when each network reproduces the law of its training
    set: model 0 learns n_real real samples, and generation s trains on n_synthetic samples kept from candidates of
    model s - 1 (each an exact draw from the curated law :math:`c(p_{s-1})` when the candidates are draws of
    p_{s-1}) beside the real ones. To first order each finite set adds its sampling noise, carried to generation t
    by the derivative of the exact map (the influence function, reverse mode through the fold as in
    :func:`trajectory`), so the loop's value at t has variance

    .. math:: \mathrm{Var}_{p_0}[IF^{real}_t] / n_{real} + \sum_{s=1}^{t} \mathrm{Var}_{c(p_{s-1})}[IF^{kept}_{s,t}] /
       n_{synthetic},

    the real set entering both as p_0 and as each generation's real block (one set under replace and accumulate;
    a new block per generation under fresh). ``_path_se`` is its square root: the spread a model's measured value
    has about the exact law's even without any fit error. The variances are estimated on the first ``n_se`` atoms.

    Parameters
    ----------
    rewards : array_like (M,) -- rewards of M exact draws from the data law.
    labels : array_like of int (M,), optional -- their classes (mode, component).
    K : int >= 1 or math.inf -- group size of the curation.
    steps : int >= 0 -- generations.
    lam : float in [0, inf] -- synthetic-to-real ratio; ``scheme``: 'replace' | 'fresh' | 'accumulate'.
    n_real, n_synthetic : int >= 1 -- the loop's real samples per generation (N) and kept samples per generation.
    n_classes : int, optional -- number of classes (default: max label + 1).
    n_se : int -- atoms used for the variances of the path noise and the Monte Carlo error.

    Returns
    -------
    dict of arrays over t = 0..steps: ``mean_reward``, ``mean_exp_reward``, ``class_proportions`` (steps + 1, C),
    each with ``_se`` (Monte Carlo, M atoms) and ``_path_se`` (the finite sets' noise), and ``n_atoms``.
    """
    nc = _n_classes(labels, None, n_classes)
    r, y = _sample(rewards, labels, nc, "law")
    k = validate.group_size(K, "K")
    la = validate.ratio(lam, "lam")
    steps = validate.count(steps, "steps", minimum=0)
    n_real = validate.count(n_real, "n_real")
    n_synthetic = validate.count(n_synthetic, "n_synthetic")
    n_se = validate.count(n_se, "n_se", minimum=2)
    W, d = mixing_weights(scheme, la, steps)
    M = r.size
    p0 = np.full(M, 1.0 / M)
    P = _fold(p0, p0, r, k, W, d)
    f = _values(r, y, nc)
    theta = P @ f
    # the variances, on a subsample of the atoms (a variance needs far fewer atoms than the mean it describes)
    sub = min(M, n_se)
    rs, fs = r[:sub], f[:sub]
    q0 = np.full(sub, 1.0 / sub)
    Ps = _fold(q0, q0, rs, k, W, d)
    m = f.shape[1]
    cols = (steps + 1) * m
    quad = _Quadrature(rs, int(k)) if k not in (1, math.inf) else None
    cumulative = bool(np.count_nonzero(W[-1]) > 1)
    A = np.zeros((sub, cols))
    A[:, steps * m:] = fs
    C = np.zeros((sub, cols))
    real_adj = np.zeros((sub, cols))          # adjoint of the real law where it is the same set throughout
    var_blocks = np.zeros(cols)               # fresh: each generation's new real block
    var_kept = np.zeros(cols)
    for s in range(steps - 1, -1, -1):        # A: adjoint of p_{s+1}
        if d[s + 1]:
            if scheme == "fresh":
                g = d[s + 1] * A
                var_blocks += q0 @ (g - q0 @ g) ** 2 / n_real
                real_adj += g                                          # the law is one set for the Monte Carlo error
            else:
                real_adj += d[s + 1] * A
        C = (C if cumulative else 0.0) + W[s + 1, s] * A                 # adjoint of c(p_s), the kept law
        if W[s + 1, s]:
            cs = curated(Ps[s], rs, k)
            var_kept += cs @ (C - cs @ C) ** 2 / n_synthetic
            A = _vjp(Ps[s], rs, k, C, quad)
        else:
            A = np.zeros((sub, cols))
        A[:, s * m:(s + 1) * m] += fs
    IF0 = A - q0 @ A                                                    # model 0's real set (block 0)
    var0 = q0 @ IF0 ** 2
    IF_law = A + real_adj
    IF_law = IF_law - q0 @ IF_law
    var_law = q0 @ IF_law ** 2
    if scheme == "fresh":
        var_path = var0 / n_real + var_blocks + var_kept
    else:
        var_path = var_law / n_real + var_kept
    mc = np.sqrt(var_law / M).reshape(steps + 1, m)
    path = np.sqrt(var_path).reshape(steps + 1, m)
    scale = _exp_scale(_ref(r))
    out: dict = {"n_atoms": M}
    for key, cols_, unit in (("mean_reward", 0, 1.0), ("mean_exp_reward", 1, scale)):
        out[key], out[f"{key}_se"], out[f"{key}_path_se"] = (unit * theta[:, cols_], unit * mc[:, cols_],
                                                             unit * path[:, cols_])
    if nc:
        out["class_proportions"], out["class_proportions_se"] = theta[:, 2:], mc[:, 2:]
        out["class_proportions_path_se"] = path[:, 2:]
    return out


def one_step(candidate_rewards, candidate_labels=None, K=2, *, lam: float = math.inf, real_rewards=None,
             real_labels=None, n_classes: int | None = None) -> dict:
    r"""One generation's predictions from its candidates (the record the loops write into metrics.jsonl).

    ``predicted_kept_*``: the law of a kept sample, :math:`c(\hat P_n)` (Eq. 6) -- what the kept set's measured
    values test (the selection). ``predicted_*``: the next model's law under infinite capacity, the lam-mixture
    :math:`(P_{real} + \lambda c(\hat P_n)) / (1 + \lambda)` (equal to the kept law at lam = inf) -- what the
    next model's measured values test (the fit). ``candidate_*``: the candidates' own means. Each value has its
    ``_se`` (delta method, module docstring). ``lemma22_gain_bound``: the lower bound of Lemma 2.2 on
    :math:`E_{kept}[e^r] - E_{cand}[e^r]`, :math:`\frac{K-1}{K} Var_{\hat P_n}[e^r] / e^{r^*}` (r* = the top
    candidate reward, taken as fixed for its SE), beside ``predicted_kept_exp_gain``, the exact gain.
    For accumulated training sets pass the other training images (real and earlier kept ones) as real_* and
    lam = this generation's synthetic count over theirs.
    """
    nc = _n_classes(candidate_labels, real_labels, n_classes)
    r, y = _sample(candidate_rewards, candidate_labels, nc, "candidate")
    k = validate.group_size(K, "K")
    la = validate.ratio(lam, "lam")
    kept = trajectory(r, y, k, 1, n_classes=nc or None)
    out = {"n_candidates": int(r.size), "K": k}
    keys = ["mean_reward", "mean_exp_reward"] + (["class_proportions"] if nc else [])
    sufs = ("", "_se", "_lo", "_hi")
    for key in keys:
        for suf in sufs:
            out[f"candidate_{key}{suf}"] = _plain(kept[key + suf][0])
            out[f"predicted_kept_{key}{suf}"] = _plain(kept[key + suf][1])
    if la == math.inf:
        nxt = kept
    else:
        if real_rewards is None:
            raise ValueError("real_rewards are required when lam is finite (the lam-mixture with real data)")
        nxt = trajectory(r, y, k, 1, lam=la, real_rewards=real_rewards, real_labels=real_labels,
                         n_classes=nc or None)
        rr, ry = _sample(real_rewards, real_labels, nc, "real")
        out["real_mean_reward"] = float(rr.mean())
        out["real_mean_exp_reward"] = _exp_scale(_ref(rr)) * float(np.exp(rr - _ref(rr)).mean())
        if nc and ry is not None:
            out["real_class_proportions"] = (np.bincount(ry, minlength=nc) / ry.size).tolist()
    for key in keys:
        for suf in sufs:
            out[f"predicted_{key}{suf}"] = _plain(nxt[key + suf][1])
    out.update(lemma22(r, k))
    return out


def lemma22(rewards, K) -> dict:
    r"""Lemma 2.2 of Ferbach et al. 2024 (as restated) on the samples' empirical law :math:`\hat P_n`:
    ``lemma22_gain_bound`` :math:`= \frac{K-1}{K} Var[e^r] / e^{r^*}` (via :func:`simtheory.theorems.lemma22_bound`)
    with its delta-method SE (r* fixed at the top sample reward), and ``predicted_kept_exp_gain``
    :math:`= E_{c(\hat P_n)}[e^r] - E_{\hat P_n}[e^r]` with its SE. Both in units of e^r."""
    r = validate.rewards(rewards, None, "rewards").ravel()
    k = validate.group_size(K, "K")
    n = r.size
    p = np.full(n, 1.0 / n)
    rs = float(r.max())
    _exp_scale(rs)
    w = np.exp(r - rs)
    mu = float(w.mean())
    var = float(np.mean((w - mu) ** 2))
    frac = 1.0 if k == math.inf else (k - 1) / k
    bound = (theorems.lemma22_bound(p, r, k) - mu) * math.exp(rs)
    if_bound = frac * ((w - mu) ** 2 - var) * math.exp(rs)
    # exact gain theta(P) = E_c[w] - E_P[w]: its IF is the curated mean's IF minus (w - mu)
    g = _vjp(p, r, k, w[:, None], _Quadrature(r, int(k)) if k not in (1, math.inf) else None)[:, 0]
    gain = float(curated(p, r, k) @ w - mu)
    if_gain = (g - p @ g) - (w - mu)
    return {"lemma22_gain_bound": bound, "lemma22_gain_bound_se": float(np.sqrt(np.mean(if_bound ** 2) / n)),
            "predicted_kept_exp_gain": gain * math.exp(rs),
            "predicted_kept_exp_gain_se": float(np.sqrt(np.mean(if_gain ** 2) / n)) * math.exp(rs)}


def _plain(x):
    a = np.asarray(x)
    return float(a) if a.ndim == 0 else a.tolist()


# ------------------------------------------------------------------------------------ measured, and z
def sample_means(rewards, labels=None, n_classes: int | None = None) -> dict:
    """Measured means of a sample with their standard errors (sample SD / sqrt n; binomial for proportions):
    ``mean_reward``, ``mean_exp_reward``, ``class_proportions`` (+ ``_se``), ``n``."""
    nc = _n_classes(labels, None, n_classes)
    r, y = _sample(rewards, labels, nc, "sample")
    n = r.size
    e = _exp_scale(_ref(r)) * np.exp(r - _ref(r))
    sd = (lambda a: float(a.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf)
    out = {"n": n, "mean_reward": float(r.mean()), "mean_reward_se": sd(r), "mean_exp_reward": float(e.mean()),
           "mean_exp_reward_se": sd(e)}
    if nc and y is not None:
        q = np.bincount(y, minlength=nc) / n
        out["class_proportions"] = q.tolist()
        out["class_proportions_se"] = np.sqrt(q * (1 - q) / n).tolist()
    return out


def zscore(a, a_se, b, b_se):
    r"""(a - b) / sqrt(se_a^2 + se_b^2), elementwise. For the kept set against its prediction (both from the same
    candidates, positively correlated) the summed variance is an upper bound on the difference's variance, so
    the test is conservative; for a next model's fresh samples against the prediction the two are independent
    given the candidates."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    s = np.sqrt(np.asarray(a_se, float) ** 2 + np.asarray(b_se, float) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s > 0, (a - b) / np.where(s > 0, s, 1.0), np.where(a == b, 0.0, np.inf))


# ------------------------------------------------------------------------- theory against one generation
QUANTITIES = ("mean_reward", "mean_exp_reward", "class_proportions")


def compare_generation(prediction: dict, kept: dict | None, model: dict | None) -> dict:
    r"""Predicted against measured for one generation, per quantity q in :data:`QUANTITIES` present in both:

    ``selection_z_q``: (kept set - predicted kept law) / combined SE -- tests the selection (conservative,
    :func:`zscore`). ``onestep_error_q`` = next model's measured - predicted next law, with
    ``onestep_error_q_se`` (independent draws) and ``onestep_z_q`` -- what infinite capacity misses, plus the
    selection's and the model's sampling noise (the fit error proper, model against its training set, is the
    loop's ``fit_error``).
    ``kept`` and ``model`` are :func:`sample_means`-shaped dicts (keys q and q_se). Where the prediction
    carries its interval (``_lo``, ``_hi``) the prediction's SE is :func:`interval_se` on the measured side.
    """
    out = {}
    for q in QUANTITIES:
        pk, pn = prediction.get(f"predicted_kept_{q}"), prediction.get(f"predicted_{q}")
        if kept is not None and pk is not None and q in kept:
            out[f"selection_z_{q}"] = _plain(zscore(kept[q], _null_se(kept, q, pk), pk,
                                                    interval_se(prediction, f"predicted_kept_{q}", kept[q])))
        if model is not None and pn is not None and model.get(q) is not None:
            err = np.asarray(model[q], float) - np.asarray(pn, float)
            ms = _null_se(model, q, pn)
            ps = interval_se(prediction, f"predicted_{q}", model[q])
            out[f"onestep_error_{q}"], out[f"onestep_error_{q}_se"] = _plain(err), _plain(np.hypot(ms, ps))
            out[f"onestep_z_{q}"] = _plain(zscore(model[q], ms, pn, ps))
    return out


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


def _null_se(sample: dict, q: str, predicted) -> np.ndarray:
    """A measured value's SE for testing it against a prediction: for class proportions the binomial SE under
    the prediction, sqrt(pi (1 - pi) / n) (the plug-in SE is 0 for a class the sample happens to miss, which
    would make any rare predicted class a failure); for means the sample's own SE."""
    if q == "class_proportions" and "n" in sample:
        pi = np.clip(np.asarray(predicted, float), 0.0, 1.0)     # rounding only: predictions are probabilities
        return np.sqrt(pi * (1 - pi) / sample["n"])
    return np.asarray(sample[f"{q}_se"], float)


def _tv(a, b) -> float:
    return float(0.5 * np.abs(np.asarray(a, float) - np.asarray(b, float)).sum())


SCOPES = {"selection": "kept set", "lemma22": "kept set", "exp_reward_no_fall": "given the fit",
          "k1_no_drift": "given the fit", "real_data_distance": "given the fit", "fit": "model", "law": "model"}
"""What each check is about: the kept set (the selection, exact within noise whatever the network), the model
(its measured values against its training set or the exact law: these fail when the network does not fit), or
the theorems' consequences *given the fit* (allowances that include the measured fit error, so they hold whenever
the kept sets behave, however poor the network)."""


def model_checks(rows: list[dict], n_se: float = 4.0) -> list[dict]:
    r"""Checks on each model of a loop that fail when the network does not fit, from its metrics lines:

    - ``fit``: :math:`|E_{model_t}[r] - E_{train_t}[r]| \le` ``n_se`` SE (``fit_error``, ``fit_error_se``: the
      model's draws and its finite training set);
    - ``law`` (where the data law is known): :math:`|E_{model_t}[r] - E_{p_t}[r]| \le` ``n_se`` SE against the
      exact curated trajectory p_t of the law (``law_error``, ``law_error_se``: the model's draws, the law's atoms
      and the loop's finite sets, :func:`law_trajectory`).

    Returns rows {generation, check, value (|error|), allowance (n_se SE), holds, scope 'model'}, for every line that
    records the error."""
    out = []
    for row in rows:
        for check in ("fit", "law"):
            e, se = row.get(f"{check}_error"), row.get(f"{check}_error_se")
            if e is None or se is None:
                continue
            out.append({"generation": int(row["generation"]), "check": check, "value": abs(float(e)),
                        "allowance": n_se * float(se), "holds": bool(abs(e) <= n_se * se), "scope": "model"})
    return out


def loop_checks(generations: list[dict], K, lam: float, n_se: float = 4.0) -> list[dict]:
    r"""The theorems' consequences for a sampled loop, checked generation by generation with allowances from
    the sample sizes (``n_se`` standard errors) and the measured fit error. The last three are consistency checks
    *given the fit* (:data:`SCOPES`): their allowance includes the fit error the model shows, so a network that
    does not fit passes them; :func:`model_checks` holds the model itself to its training set and the law.

    Each element of ``generations`` (t = 1, 2, ...) holds ``prediction`` (:func:`one_step` on generation t's
    candidates, i.e. samples of model t-1), ``kept`` (the kept set), ``train`` (the whole training set of model
    t: kept and real), ``model`` (samples of model t) and optionally ``previous`` (other samples of model t-1),
    the last four :func:`sample_means`-shaped.
    Returns rows {generation, check, value, allowance, holds}; a check holds when value <= allowance.

    - ``selection``: max over the reward and classes of |kept - predicted kept law| / combined SE (Eq. 6).
    - ``lemma22``: bound - (E_kept[e^r] - E_cand[e^r]) against n_se SEs (Lemma 2.2: the gain is above the bound).
    - ``exp_reward_no_fall`` (lam = inf): E_{t-1}[e^r] (candidates) - E_t[e^r] (model) against the kept set's
      noise plus the measured fit error max(0, E_train[e^r] - E_t[e^r]) (Lemma 2.2: the exact step never
      lowers E[e^r]).
    - ``k1_no_drift`` (K = 1, lam = inf): |proportions_t - proportions_{t-1}| per class (``previous``) against
      noise plus the measured per-class fit error |model_t - train_t| (K = 1 is the identity map, so train_t is
      the candidates' law and only the candidates' agreement with ``previous`` is left to noise).
    - ``real_data_distance`` (lam finite): TV(model_t, data) - TV(predicted_t, data) against the noise of the
      kept set (diluted by lam / (1 + lam)) plus the measured fit error TV(model_t, train) (triangle
      inequality through the training set, whose distance to the prediction is selection noise).
    """
    k = validate.group_size(K, "K")
    la = validate.ratio(lam, "lam")
    rows = []
    for t, g in enumerate(generations, start=1):
        pred, kept, train, model = g["prediction"], g.get("kept"), g.get("train"), g.get("model")

        def add(check, value, allowance):     # 1e-12: differences of equal probabilities are rounding
            rows.append({"generation": t, "check": check, "value": float(value), "allowance": float(allowance),
                         "holds": bool(value <= allowance + 1e-12), "scope": SCOPES[check]})
        if kept is not None:
            z = compare_generation(pred, kept, None)
            zs = np.concatenate([np.abs(np.atleast_1d(z[f"selection_z_{q}"]))
                                 for q in ("mean_reward", "class_proportions") if f"selection_z_{q}" in z])
            add("selection", zs.max(), n_se)
            gain = kept["mean_exp_reward"] - pred["candidate_mean_exp_reward"]
            add("lemma22", pred["lemma22_gain_bound"] - gain,
                n_se * math.hypot(kept["mean_exp_reward_se"], pred["predicted_kept_exp_gain_se"]))
        if model is None or train is None:
            continue
        if la == math.inf and model.get("mean_exp_reward") is not None and kept is not None:
            # cand - model = (train - model) + (cand - kept): only a fall beyond the kept set's noise fails
            drop = pred["candidate_mean_exp_reward"] - model["mean_exp_reward"]
            add("exp_reward_no_fall", drop,
                n_se * math.hypot(kept["mean_exp_reward_se"], pred["predicted_kept_exp_gain_se"])
                + max(0.0, train["mean_exp_reward"] - model["mean_exp_reward"]))
        if "class_proportions" not in model:
            continue
        m = np.asarray(model["class_proportions"])
        prev = g.get("previous")
        if k == 1 and la == math.inf and prev is not None and "class_proportions" in prev:
            pp = np.asarray(prev["class_proportions"])
            fit = np.abs(m - np.asarray(train["class_proportions"]))
            c = np.asarray(pred["candidate_class_proportions"])
            if "n" in prev:     # two samples of one model: binomial SE of the difference at the pooled proportion
                nc, npv = pred["n_candidates"], prev["n"]
                pi = (c * nc + pp * npv) / (nc + npv)
                noise = np.sqrt(pi * (1 - pi) * (1 / nc + 1 / npv))
            else:
                noise = np.hypot(pred["candidate_class_proportions_se"], prev["class_proportions_se"])
            # m_t - m_{t-1} = (m_t - train_t) + (cand_t - m_{t-1}) exactly, train_t being the candidates
            excess = np.abs(m - pp) - n_se * noise - fit
            add("k1_no_drift", excess.max(), 0.0)
        if la != math.inf and "real_class_proportions" in pred and kept is not None:
            data = pred["real_class_proportions"]
            pk = pred["predicted_kept_class_proportions"]
            noise = 0.5 * n_se * la / (1 + la) * np.hypot(_null_se(kept, "class_proportions", pk),
                                                          np.asarray(pred["predicted_kept_class_proportions_se"])).sum()
            add("real_data_distance", _tv(m, data) - _tv(pred["predicted_class_proportions"], data),
                noise + _tv(m, train["class_proportions"]))
    return rows
