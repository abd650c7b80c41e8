r"""Multi-step predictions: the exact fold of a sampled loop's law from one generation's samples, with the mixing
rule of [`simtheory.fold.mixing_weights`][simtheory.fold.mixing_weights], and its influence functions by reverse mode
through the fold
([`trajectory`][simtheory.predict.multistep.trajectory]); the exact curated trajectory of a known law with the noise a
loop's finite sets add
([`law_trajectory`][simtheory.predict.multistep.law_trajectory]). Ferbach et al. 2024, Eq. 7 and Sec. 3.
"""
from __future__ import annotations

import math

import numpy as np

from .. import curated, validate
from ..curation import NORM_TOL
from ..fold import mixing_weights
from .derivative import _Quadrature, _vjp
from .intervals import interval
from .values import _exp_scale, _n_classes, _ref, _sample, _values


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
    r"""Influence functions on the candidate atoms of $\theta_t = f^\top p_t$ for every t, stacked
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


def trajectory(rewards, labels=None, K=2, steps: int = 1, *, lam: float = math.inf, real_rewards=None,
               real_labels=None, n_classes: int | None = None, scheme: str = "replace",
               level: float = 0.95) -> dict:
    r"""Predicted trajectory of a curated loop from one generation's samples (Ferbach et al. 2024, Eq. 7 and
    Sec. 3), with delta-method standard errors from those samples.

    Parameters
    ----------
    rewards : array_like (n,)
        rewards of n samples of the current model (atoms of mass 1/n).
    labels : array_like of int (n,), optional
        their class labels (classifier argmax, atom class, mode).
    K : int >= 1 or math.inf
        group size of the curation.
    steps : int >= 0
        generations to predict.
    lam : float in [0, inf]
        synthetic-to-real ratio (the loops' convention).
    real_rewards, real_labels : array_like (N,)
        the real training images' rewards and labels (atoms of mass
        1/N); required when real data enter (lam finite, or scheme 'accumulate').
    n_classes : int, optional
        number of classes (default: max label + 1).
    scheme : 'replace' | 'fresh' | 'accumulate'
        the mixing rule, [`simtheory.fold.mixing_weights`][simtheory.fold.mixing_weights].
    level : float
        coverage of the intervals (default 0.95).

    Returns
    -------
    dict of arrays over generations 0..steps (generation 0 is the samples' own law)
        ``mean_reward``, ``mean_exp_reward``, ``class_proportions`` (steps + 1, C), each with ``_se`` (delta
        method) and the interval ``_lo``, ``_hi`` ([`interval`][simtheory.predict.intervals.interval]:
        skewness-corrected, Student-t).
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
    law, so $p_{t+1} = (p_0 + \lambda\, c(p_t)) / (1 + \lambda)$ (Eq. 7 and Sec. 3 of Ferbach et al. 2024;
    the schemes of [`simtheory.fold.mixing_weights`][simtheory.fold.mixing_weights]): the trajectory an infinitely large
    loop with infinite
    capacity follows. Its means ``mean_reward``, ``mean_exp_reward`` and ``class_proportions`` (arrays over
    t = 0..steps) carry ``_se``, the Monte Carlo error of the M atoms.

    A loop of finite sets does not follow it exactly, even when each network reproduces the law of its training
    set: model 0 learns n_real real samples, and generation s trains on n_synthetic samples kept from candidates of
    model s - 1 (each an exact draw from the curated law $c(p_{s-1})$ when the candidates are draws of
    p_{s-1}) beside the real ones. To first order each finite set adds its sampling noise, carried to generation t
    by the derivative of the exact map (the influence function, reverse mode through the fold as in
    [`trajectory`][simtheory.predict.multistep.trajectory]), so the loop's value at t has variance

    $$
    \mathrm{Var}_{p_0}[IF^{real}_t] / n_{real} + \sum_{s=1}^{t} \mathrm{Var}_{c(p_{s-1})}[IF^{kept}_{s,t}] /
    n_{synthetic},
    $$

    the real set entering both as p_0 and as each generation's real block (one set under replace and accumulate;
    a new block per generation under fresh). ``_path_se`` is its square root: the spread a model's measured value
    has about the exact law's even without any fit error. The variances are estimated on the first ``n_se`` atoms.

    Parameters
    ----------
    rewards : array_like (M,)
        rewards of M exact draws from the data law.
    labels : array_like of int (M,), optional
        their classes (mode, component).
    K : int >= 1 or math.inf
        group size of the curation.
    steps : int >= 0
        generations.
    lam : float in [0, inf]
        synthetic-to-real ratio; ``scheme``: 'replace' | 'fresh' | 'accumulate'.
    n_real, n_synthetic : int >= 1
        the loop's real samples per generation (N) and kept samples per generation.
    n_classes : int, optional
        number of classes (default: max label + 1).
    n_se : int
        atoms used for the variances of the path noise and the Monte Carlo error.

    Returns
    -------
    dict of arrays over t = 0..steps
        ``mean_reward``, ``mean_exp_reward``, ``class_proportions`` (steps + 1, C),
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
