r"""One generation's predictions from its candidates (the record the loops write into metrics.jsonl), and Lemma
2.2 of Ferbach et al. 2024 on the candidates' empirical law.
"""
from __future__ import annotations

import math

import numpy as np

from .. import curated, theorems, validate
from .derivative import _Quadrature, _vjp
from .multistep import trajectory
from .values import _exp_scale, _n_classes, _plain, _ref, _sample


def one_step(candidate_rewards, candidate_labels=None, K=2, *, lam: float = math.inf, real_rewards=None,
             real_labels=None, n_classes: int | None = None) -> dict:
    r"""One generation's predictions from its candidates (the record the loops write into metrics.jsonl).

    ``predicted_kept_*``: the law of a kept sample, $c(\hat P_n)$ (Eq. 6) -- what the kept set's measured
    values test (the selection). ``predicted_*``: the next model's law under infinite capacity, the lam-mixture
    $(P_{real} + \lambda c(\hat P_n)) / (1 + \lambda)$ (equal to the kept law at lam = inf) -- what the
    next model's measured values test (the fit). ``candidate_*``: the candidates' own means. Each value has its
    ``_se`` (delta method, module docstring). ``lemma22_gain_bound``: the lower bound of Lemma 2.2 on
    $E_{kept}[e^r] - E_{cand}[e^r]$, $\frac{K-1}{K} Var_{\hat P_n}[e^r] / e^{r^*}$ (r* = the top
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
    r"""Lemma 2.2 of Ferbach et al. 2024 (as restated) on the samples' empirical law $\hat P_n$:
    ``lemma22_gain_bound`` $= \frac{K-1}{K} Var[e^r] / e^{r^*}$ (via
    [`simtheory.theorems.lemma22_bound`][simtheory.theorems.ferbach.lemma22_bound])
    with its delta-method SE (r* fixed at the top sample reward), and ``predicted_kept_exp_gain``
    $= E_{c(\hat P_n)}[e^r] - E_{\hat P_n}[e^r]$ with its SE. Both in units of e^r."""
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
