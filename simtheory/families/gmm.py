r"""Gaussian mixture fitted by EM (Dempster et al. 1977), full or diagonal covariances, k components.

One EM iteration is one pass over the data ([`em_pass_numba`][simtheory.families.gmm.em_pass_numba]): the E-step's
log-densities
log w_j N(x; mu_j, S_j) = log w_j - sum log diag L_j - d/2 log 2pi - |L_j^{-1}(x - mu_j)|^2 / 2 (S_j = L_j L_j^T),
their log-sum-exp (the log-likelihood) and responsibilities, fused with the M-step's sufficient statistics
N_j = sum r_ij, S1_j = sum r_ij x_i, S2_j = sum r_ij x_i x_i^T. The M-step itself is O(k d^2):
w = N/n, mu = S1/N, S = S2/N - mu mu^T + reg I. Covariance regularisation ``reg`` matches scikit-learn's
``reg_covar``.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np
from scipy.special import logsumexp

COVARIANCES = ("full", "diag")
N_CHUNKS = 16     # fixed work split: the thread count never changes a result


def _factors(params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Inverse Cholesky factors P_j = L_j^{-1} and log normalisers log w_j - sum log diag L_j - d/2 log 2 pi."""
    covs = params["covs"]
    k, d, _ = covs.shape
    L = np.linalg.cholesky(covs)
    P = np.linalg.inv(L)
    with np.errstate(divide="ignore"):
        lw = np.log(params["weights"])
    log_norm = lw - np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1) - 0.5 * d * math.log(2 * math.pi)
    return np.ascontiguousarray(P), log_norm


def em_pass_reference(x: np.ndarray, means: np.ndarray, P: np.ndarray, log_norm: np.ndarray):
    """numpy reference of one E-step pass: (sum of log-likelihoods, N (k,), S1 (k, d), S2 (k, d, d))."""
    y = np.einsum("kab,nkb->nka", P, x[:, None, :] - means[None])
    logp = log_norm[None] - 0.5 * np.sum(y**2, axis=-1)
    ll = logsumexp(logp, axis=1)
    resp = np.exp(logp - ll[:, None])
    return ll.sum(), resp.sum(0), resp.T @ x, np.einsum("nk,na,nb->kab", resp, x, x)


BLOCK = 128       # points per block: the innermost loops run over points, so they vectorise


@nb.njit(parallel=True, cache=True, fastmath=True)
def em_pass_numba(x: np.ndarray, means: np.ndarray, P: np.ndarray, log_norm: np.ndarray):
    """One fused E-step pass; same outputs as [`em_pass_reference`][simtheory.families.gmm.em_pass_reference] (to rounding).

    Points are taken in blocks of BLOCK with the point index innermost (SIMD over points); each of a fixed
    number of chunks accumulates into its own arrays; S2 is accumulated on its lower triangle.

    Bounds (no check needed): every write is at [c], [j], [j, a], [j, a, bb] or [:B] with c < C, j < k,
    bb <= a < d and B <= BLOCK, the shapes of the arrays written; reads of x are at b0 + i < hi <= n.
    """
    n, d = x.shape
    k = means.shape[0]
    xt = np.ascontiguousarray(x.T)
    C = N_CHUNKS
    ll_c = np.zeros(C)
    N_c = np.zeros((C, k))
    S1_c = np.zeros((C, k, d))
    S2_c = np.zeros((C, k, d, d))
    Pm = np.zeros((k, d))            # P_j mu_j, so that L_j^{-1}(x - mu_j) = P_j x - P_j mu_j
    for j in range(k):
        for a in range(d):
            for b in range(a + 1):
                Pm[j, a] += P[j, a, b] * means[j, b]
    for c in nb.prange(C):
        lp = np.empty((k, BLOCK))
        s = np.empty(BLOCK)
        q = np.empty(BLOCK)
        m = np.empty(BLOCK)
        tot = np.empty(BLOCK)
        Nl = np.zeros(k)
        S1l = np.zeros((k, d))
        S2l = np.zeros((k, d, d))
        ll = 0.0
        lo, hi = c * n // C, (c + 1) * n // C
        for b0 in range(lo, hi, BLOCK):
            B = min(BLOCK, hi - b0)
            m[:B] = -np.inf
            for j in range(k):
                q[:B] = 0.0
                for a in range(d):           # P_j is lower triangular
                    for i in range(B):
                        s[i] = -Pm[j, a]
                    for bb in range(a + 1):
                        pab = P[j, a, bb]
                        for i in range(B):
                            s[i] += pab * xt[bb, b0 + i]
                    for i in range(B):
                        q[i] += s[i] * s[i]
                for i in range(B):
                    v = log_norm[j] - 0.5 * q[i]
                    lp[j, i] = v
                    m[i] = max(m[i], v)
            tot[:B] = 0.0
            for j in range(k):
                for i in range(B):
                    e = math.exp(lp[j, i] - m[i])
                    lp[j, i] = e
                    tot[i] += e
            for i in range(B):
                ll += m[i] + math.log(tot[i])
                tot[i] = 1.0 / tot[i]
            for j in range(k):
                for i in range(B):
                    lp[j, i] *= tot[i]           # responsibilities
                acc = 0.0
                for i in range(B):
                    acc += lp[j, i]
                Nl[j] += acc
                for a in range(d):
                    for i in range(B):
                        s[i] = lp[j, i] * xt[a, b0 + i]
                    acc = 0.0
                    for i in range(B):
                        acc += s[i]
                    S1l[j, a] += acc
                    for bb in range(a + 1):
                        acc = 0.0
                        for i in range(B):
                            acc += s[i] * xt[bb, b0 + i]
                        S2l[j, a, bb] += acc
        ll_c[c] = ll
        N_c[c] = Nl
        S1_c[c] = S1l
        S2_c[c] = S2l
    S2 = S2_c.sum(axis=0)
    for j in range(k):
        for a in range(d):
            for bb in range(a + 1, d):
                S2[j, a, bb] = S2[j, bb, a]
    return ll_c.sum(), N_c.sum(axis=0), S1_c.sum(axis=0), S2


def m_step(n: int, N: np.ndarray, S1: np.ndarray, S2: np.ndarray, covariance: str, reg: float) -> dict:
    """Weights, means and covariances from the sufficient statistics (an empty component keeps no mass)."""
    Ns = np.maximum(N, 1e-300)
    means = S1 / Ns[:, None]
    covs = S2 / Ns[:, None, None] - np.einsum("ka,kb->kab", means, means)
    if covariance == "diag":
        covs = np.einsum("kaa->ka", covs)[:, :, None] * np.eye(means.shape[1])[None]
    covs = covs + reg * np.eye(means.shape[1])[None]
    return {"weights": N / n, "means": means, "covs": covs}


def init_params(x: np.ndarray, components: int, rng: np.random.Generator, reg: float) -> dict:
    """Seeded start: means at k distinct data points, every covariance the data's (diagonal), equal weights."""
    n, d = x.shape
    if components > n:
        raise ValueError(f"components ({components}) exceeds the number of points ({n})")
    means = x[rng.choice(n, components, replace=False)].copy()
    var = np.diag(x.var(axis=0) + reg)
    return {"weights": np.full(components, 1.0 / components), "means": means,
            "covs": np.repeat(var[None], components, axis=0)}


def em(x: np.ndarray, params: dict, n_iter: int, *, covariance: str = "full", reg: float = 1e-6,
       tol: float = 0.0, fast: bool = True) -> tuple[dict, np.ndarray]:
    """``n_iter`` EM iterations from ``params`` (stopping early when the mean log-likelihood gains < tol);
    returns the parameters and the mean log-likelihood before each M-step."""
    if covariance not in COVARIANCES:
        raise ValueError(f"covariance must be one of {COVARIANCES}, got {covariance!r}")
    x = np.ascontiguousarray(x, dtype=np.float64)
    passf = em_pass_numba if fast else em_pass_reference
    if fast:
        from ..kernels import launch_threads
        launch_threads()                  # keeps torch's OpenMP thread count (see kernels.launch_threads)
    hist = []
    for _ in range(n_iter):
        P, log_norm = _factors(params)
        ll, N, S1, S2 = passf(x, params["means"], P, log_norm)
        hist.append(ll / x.shape[0])
        params = m_step(x.shape[0], N, S1, S2, covariance, reg)
        if tol > 0 and len(hist) > 1 and abs(hist[-1] - hist[-2]) < tol:
            break
    return params, np.array(hist)


def fit(x: np.ndarray, rng: np.random.Generator, warm: dict | None = None, *, components: int = 2,
        covariance: str = "full", n_iter: int = 100, tol: float = 1e-8, reg: float = 1e-6) -> dict:
    """EM from a seeded start (or from ``warm``, the previous generation's parameters)."""
    start = warm if warm is not None else init_params(x, components, rng, reg)
    start = {k: start[k] for k in ("weights", "means", "covs")}
    params, hist = em(x, start, n_iter, covariance=covariance, reg=reg, tol=tol)
    params["loglik"] = np.array(float(np.mean(logpdf(params, x))))
    params["em_iterations"] = np.array(len(hist))
    return params


def logpdf(params: dict, x: np.ndarray) -> np.ndarray:
    """log sum_j w_j N(x; mu_j, S_j) per row."""
    P, log_norm = _factors(params)
    y = np.einsum("kab,nkb->nka", P, x[:, None, :] - params["means"][None])
    return logsumexp(log_norm[None] - 0.5 * np.sum(y**2, axis=-1), axis=1)


def sample(params: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """Component by weight, then mean + L z."""
    comp = rng.choice(params["weights"].size, size=n, p=params["weights"] / params["weights"].sum())
    L = np.linalg.cholesky(params["covs"])
    z = rng.standard_normal((n, params["means"].shape[1]))
    return params["means"][comp] + np.einsum("nab,nb->na", L[comp], z)
