r"""Low-rank mixtures fitted to labelled data, and the committed ones: one component per class by probabilistic
PCA (`fit_lowrank_mixture`), the CIFAR-10 law at 8 x 8 (`cifar_mixture`: ``data/cifar8_rank16.npz``,
fitted to the training split scaled to [-1, 1]; how it was made and what it measures are in
docs/theory/lowrank-mixture.md), the reward of its Bayes classifier (`class_reward`) and its Monte Carlo facts
(`bayes_facts`). The law itself,
[`simtheory.diffusion.lowrank.LowRankMixture`][simtheory.diffusion.lowrank.LowRankMixture].
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

from .. import validate
from .lowrank import LowRankMixture

DATA = Path(__file__).resolve().parent / "data"
CIFAR_LAWS = {8: "cifar8_rank16.npz"}           # resolution -> the committed law (package data)


# ---------------------------------------------------------------------- the fit
def fit_lowrank_mixture(x, labels, rank: int, floor=None) -> LowRankMixture:
    r"""One component per class: weight = the class's share, mean = the class mean, covariance = the maximum-
    likelihood probabilistic-PCA fit of rank ``rank`` (Tipping & Bishop 1999, eq. 7-8).

    With the class's sample covariance (1/n_k normalisation) eigen-decomposed as sum_j lambda_j u_j u_j^T
    (lambda_1 >= ... >= lambda_d), the floor is f = mean(lambda_{rank+1}, ..., lambda_d) unless given, and
    F = [u_1 ... u_rank] diag(sqrt(max(lambda_j - f, 0))): the fitted covariance F F^T + f I has the data's
    top-``rank`` eigenpairs exactly and the floor on the rest, so its trace equals the data's (with a given floor
    above some lambda_j, that direction gets no factor: the likelihood's maximiser for that floor).

    Parameters
    ----------
    x : (n, d) points or (n, ...) arrays (images: flattened in C order; the law records the shape).
    labels : (n,) integers 0..K-1, every class present with at least 2 points.
    rank : 0 <= rank < d.
    floor : None (per class, the mean of the remaining eigenvalues), a number > 0, or (K,) numbers > 0.
    """
    a = validate.finite_array(x, "x")
    if a.ndim < 2 or a.shape[0] < 2:
        raise ValueError(f"x must have shape (n, d) or (n, ...) with n >= 2, got {a.shape}")
    shape = tuple(a.shape[1:]) if a.ndim > 2 else None
    a = a.reshape(a.shape[0], -1)
    n, d = a.shape
    y = np.asarray(labels)
    if y.shape != (n,) or not (np.issubdtype(y.dtype, np.integer) or y.dtype == bool):
        raise ValueError(f"labels must be integers of shape ({n},), got dtype {y.dtype} shape {y.shape}")
    if y.min() < 0:
        raise ValueError(f"labels must be >= 0, got {y.min()}")
    counts = np.bincount(y)
    K = counts.size
    if np.any(counts < 2):
        raise ValueError(f"labels: every class 0..{K - 1} needs >= 2 points; counts {counts.tolist()}")
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or not 0 <= rank < d:
        raise ValueError(f"rank must be an integer with 0 <= rank < d={d}, got {rank!r}")
    if floor is not None:
        fl = validate.finite_array(floor, "floor")
        if fl.ndim > 1 or (fl.ndim == 1 and fl.shape != (K,)) or np.any(fl <= 0):
            raise ValueError(f"floor must be None, a number > 0 or ({K},) numbers > 0, got {floor!r}")
        fl = np.broadcast_to(fl, (K,))
    means = np.empty((K, d))
    factors = np.empty((K, d, rank))
    floors = np.empty(K)
    for k in range(K):
        xk = a[y == k]
        means[k] = xk.mean(axis=0)
        xc = xk - means[k]
        lam, vec = np.linalg.eigh(xc.T @ xc / xk.shape[0])
        lam, vec = lam[::-1], vec[:, ::-1]
        f = float(lam[rank:].mean()) if floor is None else float(fl[k])
        if not f > 0:
            raise ValueError(f"class {k}: the mean of its {d - rank} smallest covariance eigenvalues is {f!r} "
                             f"(it has {xk.shape[0]} points in d={d}); lower rank or give floor")
        floors[k] = f
        factors[k] = vec[:, :rank] * np.sqrt(np.maximum(lam[:rank] - f, 0.0))
    return LowRankMixture(counts / n, means, factors, floors, shape=shape)


# ---------------------------------------------------------------------- the committed laws and their rewards
def cifar_mixture(resolution: int = 8) -> LowRankMixture:
    """The committed CIFAR-10 law at ``resolution`` (10 classes in CIFAR-10's order, rank 16, data in [-1, 1],
    sample shape (3, H, W)), made by ``python -m empirical fit-mixture --resolution 8 --rank 16 --float32 --out
    simtheory/diffusion/data/cifar8_rank16.npz``; its floors and measured facts are in
    docs/theory/lowrank-mixture.md."""
    if isinstance(resolution, bool) or resolution not in CIFAR_LAWS:
        raise ValueError(f"resolution must be one of {sorted(CIFAR_LAWS)} (the committed laws), got {resolution!r}")
    return LowRankMixture.load(DATA / CIFAR_LAWS[resolution])


def class_reward(law: LowRankMixture, target: int, gamma: float = 5.0,
                 temperature: float = 1.0) -> Callable[[np.ndarray], np.ndarray]:
    r"""The reward r(x) = gamma softmax_k(log P(k | x) / T)[target] of the clean law's Bayes classifier
    (Ferbach et al. 2024's r = gamma P(target | x) at T = 1; T > 1 smooths it toward gamma / K, T < 1 sharpens
    it toward gamma 1[argmax = target]). Returns a callable of points (n, d) or (n, ...) -> (n,)."""
    if isinstance(target, bool) or not isinstance(target, numbers.Integral) or not 0 <= target < law.K:
        raise ValueError(f"target must be a component index 0..{law.K - 1}, got {target!r}")
    for name, v in (("gamma", gamma), ("temperature", temperature)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    t, g, T = int(target), float(gamma), float(temperature)

    def reward(x) -> np.ndarray:
        lp = law.log_posterior(x) / T
        return g * np.exp(lp[:, t] - logsumexp(lp, axis=1))
    return reward


def bayes_facts(law: LowRankMixture, n: int, rng: np.random.Generator, target: int = 0,
                gamma: float = 5.0) -> dict:
    r"""Monte Carlo facts of the law on n exact draws, each with its standard error: ``mean_reward`` of
    r = gamma P(target | x) (exactly gamma pi_target, since E[P(k | x)] = pi_k), ``accuracy`` of the Bayes
    classifier argmax_k P(k | x) against the drawn labels, and ``confident_share``, the share of draws whose top
    posterior exceeds 0.9. Draws are made in chunks of at most 2^22 / d rows (about 32 MB each), in order."""
    n = validate.count(n, "n", minimum=2)
    reward = class_reward(law, target, gamma)
    rows = max(1, 2**22 // law.d)
    r, hit, conf = [], [], []
    for start in range(0, n, rows):
        x, y = law.sample(min(rows, n - start), rng, return_labels=True)
        post = law.posterior(x)
        r.append(reward(x))
        hit.append((post.argmax(axis=1) == y).astype(np.float64))
        conf.append((post.max(axis=1) > 0.9).astype(np.float64))
    rv, hv, cv = (np.concatenate(v) for v in (r, hit, conf))
    se = lambda v: float(v.std(ddof=1) / math.sqrt(n))
    return {"n": n, "mean_reward": float(rv.mean()), "mean_reward_se": se(rv),
            "mean_reward_exact": float(gamma * law.weights[target]),
            "accuracy": float(hv.mean()), "accuracy_se": se(hv),
            "confident_share": float(cv.mean()), "confident_share_se": se(cv)}
