"""What the predictions are means of, and the measured side they meet: the per-atom values f (the reward,
e^{r - r_ref}, one-hot labels), checked samples of rewards and labels, the exponential scale, and measured means
with their standard errors and z scores.
"""
from __future__ import annotations

import math

import numpy as np

from .. import validate


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


ROUNDING = 1e-12
"""Relative difference below which two computations of one number (a class share of 1 counted, and predicted
through the exact map) are the same number: rounding, not a finding."""


def zscore(a, a_se, b, b_se):
    r"""(a - b) / sqrt(se_a^2 + se_b^2), elementwise. For the kept set against its prediction (both from the same
    candidates, positively correlated) the summed variance is an upper bound on the difference's variance, so
    the test is conservative; for a next model's fresh samples against the prediction the two are independent
    given the candidates. Where both SEs are 0 (a quantity with no noise, e.g. the share of the only class) the
    z is 0 when a and b agree to [`ROUNDING`][simtheory.predict.values.ROUNDING] and inf otherwise."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    s = np.sqrt(np.asarray(a_se, float) ** 2 + np.asarray(b_se, float) ** 2)
    same = np.abs(a - b) <= ROUNDING * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s > 0, (a - b) / np.where(s > 0, s, 1.0), np.where(same, 0.0, np.inf))


def _plain(x):
    a = np.asarray(x)
    return float(a) if a.ndim == 0 else a.tolist()
