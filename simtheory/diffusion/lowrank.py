r"""Gaussian mixtures with low-rank-plus-floor covariances: exact EDM quantities in image dimensions.

The law is p = sum_k pi_k N(mu_k, S_k) in d dimensions with S_k = F_k F_k^T + f_k I, factors F_k (d x r) and
floors f_k > 0 (probabilistic PCA per component, Tipping & Bishop 1999). Noised at sigma, x = x_0 + sigma n has
covariance C_k = F_k F_k^T + c_k I with c_k = f_k + sigma^2, so every quantity is exact at any sigma >= 0 in
O(d r) per point and component, never forming a d x d matrix:

    Woodbury:                C_k^{-1} = c_k^{-1} [I - F_k (c_k I_r + F_k^T F_k)^{-1} F_k^T]
    determinant lemma:       log det C_k = (d - r) log c_k + log det(c_k I_r + F_k^T F_k)

With the thin SVD F_k = U_k diag(s_k) V_k^T (U_k d x m orthonormal, m = min(d, r), lambda_k = s_k^2), computed
once, the r x r matrix c I_r + F^T F is diagonal in V_k at every sigma, and (dropping k)

    C^{-1} = I / c - U diag(e) U^T,         e_j = lambda_j / (c (lambda_j + c)),
    log det C = (d - m) log c + sum_j log(lambda_j + c),
    (x - mu)^T C^{-1} (x - mu) = |x - mu|^2 / c - sum_j e_j p_j^2,      p = U^T (x - mu).

Tweedie's formula gives EDM's denoiser D(x; sigma) = E[x_0 | x_0 + sigma n = x] as the posterior-weighted sum of
the components' linear denoisers mu + S C^{-1} (x - mu) = (f / c) x + (sigma^2 / c) mu + U (b * p) with
b_j = sigma^2 e_j: no cancellation at sigma = 0 (D = x) nor at sigma = 80 (D -> the posterior mean of the means).
The score grad log p_sigma(x) = -sum_k gamma_k(x) C_k^{-1} (x - mu_k) (= (D - x) / sigma^2) is summed directly.
The responsibilities gamma_k(x) = pi_k N(x; mu_k, C_k) / p_sigma(x) come from a log-sum-exp.

The fast path evaluates all components with two matrix products per call: x against the stacked [U_1 ... U_K,
mu_1 ... mu_K] (d x (K m + K)), and the weighted projections back through a per-sigma rescaling of the same
matrix. |x - mu_k|^2 is expanded as |x|^2 - 2 x.mu_k + |mu_k|^2, which costs eps (|x|^2 + |mu_k|^2) / c_k in the
quadratic form (float64: below 1e-10 for images in [-1, 1] at any resolution up to 32 x 32 and floors >= 1e-3).
[`DenseMixture`][simtheory.diffusion.lowrank.DenseMixture] is the plain reference: one d x d Cholesky factor of C_k per
component.

Points are rows: x of shape (n, d), or (n, ...) with d values per row (e.g. NCHW images, flattened in C order);
denoiser and score return x's shape. Everything is float64.

The fit to labelled data, the committed CIFAR-10 law, its class reward and Bayes facts are in
`simtheory.diffusion.lowrank_fit`.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np
from scipy import linalg
from scipy.special import logsumexp

from .. import validate
from ..kernels import launch_threads

LOG_2PI = math.log(2 * math.pi)
KEYS = ("weights", "means", "factors", "floors")


def check_sigma0(sigma, name: str = "sigma") -> float:
    """sigma as a float; ValueError unless it is one finite number >= 0 (sigma = 0 is the clean law)."""
    if isinstance(sigma, bool):
        raise ValueError(f"{name} must be a finite number >= 0, got a bool")
    a = np.asarray(sigma, dtype=np.float64)
    if a.size != 1:
        raise ValueError(f"{name} must be a scalar, got shape {a.shape}")
    s = float(a.reshape(-1)[0])
    if not math.isfinite(s) or s < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {s!r}")
    return s


def _rows(x, d: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """x as a float64 (n, d) array and x's own shape; (n, ...) with d values per row is flattened (C order)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim < 2 or a.shape[0] == 0 or math.prod(a.shape[1:]) != d:
        raise ValueError(f"x must have shape (n, {d}) or (n, ...) with {d} values per row and n >= 1, "
                         f"got {a.shape}")
    return a.reshape(a.shape[0], d), a.shape


def _softmax_rows(lj: np.ndarray) -> np.ndarray:
    g = np.exp(lj - lj.max(axis=1, keepdims=True))
    g /= g.sum(axis=1, keepdims=True)
    return g


class LowRankMixture:
    r"""p = sum_k pi_k N(mu_k, F_k F_k^T + f_k I): K components in d dimensions with rank-r factors.

    Parameters
    ----------
    weights : (K,) probability vector pi.
    means : (K, d) component means mu_k.
    factors : (K, d, r) factors F_k (r >= 0; r = 0 is an isotropic mixture).
    floors : (K,) isotropic floors f_k > 0.
    shape : optional sample shape (e.g. (3, 8, 8) for NCHW images) with prod(shape) = d; rows reshape to it.

    Every method is exact at any sigma >= 0 (module docstring: Woodbury, the determinant lemma, Tweedie); x is
    (n, d) or (n, ...) with d values per row. Raises ValueError naming the argument on bad input.
    """

    def __init__(self, weights, means, factors, floors, shape: tuple[int, ...] | None = None):
        w = validate.probability(weights, "weights")
        if w.ndim != 1:
            raise ValueError(f"weights must have shape (K,), got {w.shape}")
        K = w.size
        m = validate.finite_array(means, "means")
        if m.ndim != 2 or m.shape[0] != K or m.shape[1] < 1:
            raise ValueError(f"means must have shape (K={K}, d) with d >= 1, got {m.shape}")
        d = m.shape[1]
        F = validate.finite_array(factors, "factors")
        if F.ndim != 3 or F.shape[:2] != (K, d):
            raise ValueError(f"factors must have shape (K={K}, d={d}, r), got {F.shape}")
        f = validate.finite_array(floors, "floors")
        if f.shape != (K,):
            raise ValueError(f"floors must have shape (K={K},), got {f.shape}")
        if np.any(f <= 0):
            raise ValueError(f"floors must be > 0 (the law needs a density at sigma = 0), got min {f.min()!r}")
        if shape is not None:
            shape = tuple(int(v) for v in shape)
            if math.prod(shape) != d or any(v < 1 for v in shape):
                raise ValueError(f"shape must be positive sizes whose product is d={d}, got {shape}")
        self.weights, self.means, self.factors, self.floors = (np.array(a) for a in (w, m, F, f))
        for a in (self.weights, self.means, self.factors, self.floors):
            a.flags.writeable = False
        self.shape = shape
        self.K, self.d, self.r = K, d, F.shape[2]
        # thin SVD of each factor, once: U_k (d x mm) orthonormal, lambda_k = s_k^2 the nonzero spectrum of F F^T
        mm = min(d, self.r)
        if mm > 0:
            U, s, _ = np.linalg.svd(F, full_matrices=False)
        else:
            U, s = np.zeros((K, d, 0)), np.zeros((K, 0))
        self._m = mm
        self._U = U
        self._lam = s**2
        with np.errstate(divide="ignore"):
            self._logw = np.log(w)
        Km = K * mm
        # G = [U_1 ... U_K | mu_1 ... mu_K] (d, K m + K): one product gives every projection and x . mu_k
        self._G = np.ascontiguousarray(np.concatenate([U.transpose(1, 0, 2).reshape(d, Km), m.T], axis=1))
        self._Gt = np.ascontiguousarray(self._G.T)
        self._mu_proj = np.einsum("kdj,kd->kj", U, m).reshape(Km)       # U_k^T mu_k, stacked
        self._mu_sq = np.einsum("kd,kd->k", m, m)
        self._Km = Km

    # ------------------------------------------------------------------ the fast path
    def _per_sigma(self, s: float):
        """(c, e, logdet) at sigma = s: c_k = f_k + s^2, e_kj = lambda_kj / (c_k (lambda_kj + c_k)), and
        log det C_k (the determinant lemma)."""
        c = self.floors + s * s
        lc = self._lam + c[:, None]
        e = self._lam / (c[:, None] * lc)
        logdet = (self.d - self._m) * np.log(c) + np.log(lc).sum(axis=1)
        return c, e, logdet

    def _evaluate(self, x, sigma, what: str, fast: bool):
        """The shared path of the public methods: ``what`` is 'lj' (log pi_k + log N(x; mu_k, C_k), (n, K)),
        'denoiser' or 'score' (x's shape). One product Z = x G gives p_k + U_k^T mu_k and x . mu_k; the Numba kernel
        (``fast``) or numpy then forms the log-joint, the responsibilities g and, in Z's memory, [g_k p_k | g];
        one product with G^T rescaled per sigma gives the U_k and mu_k terms; alpha x adds the identity terms."""
        s = check_sigma0(sigma)
        x2, shp = _rows(x, self.d)
        if what == "denoiser" and s == 0:       # E[x_0 | x_0 = x] = x: every other term is 0
            if not np.all(np.isfinite(x2)):
                raise ValueError("x holds NaN or infinite values")
            return x2.copy().reshape(shp)
        c, e, logdet = self._per_sigma(s)
        base = self._logw - 0.5 * (logdet + self.d * LOG_2PI)
        if what == "denoiser":                  # (f/c) x + (s^2/c) mu + U (s^2 e * p)
            coef_x, coef_u, coef_mu = self.floors / c, s * s * e, s * s / c
        elif what == "score":                   # -(x - mu)/c + U (e * p)
            coef_x, coef_u, coef_mu = -1 / c, e, 1 / c
        else:
            coef_x = coef_u = coef_mu = None
        Z = x2 @ self._G
        if fast:
            launch_threads()                    # keeps torch's OpenMP thread count (see kernels.launch_threads)
            lj, alpha, xx = _middle_kernel(x2, Z, self._mu_proj, self._mu_sq, base, 1 / c, e,
                                           np.zeros(self.K) if coef_x is None else coef_x, coef_x is not None)
        else:
            lj, alpha, xx = self._middle_numpy(x2, Z, base, c, e, coef_x)
        if not np.all(np.isfinite(xx)):         # |x|^2 is finite iff every entry is (short of overflow)
            raise ValueError("x holds NaN or infinite values (or values so large that |x|^2 overflows)")
        if coef_x is None:
            return lj
        out = Z @ (self._Gt * np.concatenate([coef_u.reshape(-1), coef_mu])[:, None])
        if fast:
            _add_scaled_rows(out, alpha, x2)
        else:
            out += alpha[:, None] * x2
        return out.reshape(shp)

    def _middle_numpy(self, x2, Z, base, c, e, coef_x):
        """numpy reference of `_middle_kernel` (same arguments, same in-place use of Z)."""
        n = x2.shape[0]
        K, m, Km = self.K, self._m, self._Km
        xx = np.einsum("ij,ij->i", x2, x2)
        P = Z[:, :Km]
        P -= self._mu_proj
        q = (xx[:, None] - 2 * Z[:, Km:] + self._mu_sq) / c
        if m:
            P3 = P.reshape(n, K, m)
            q -= np.einsum("nkj,kj->nk", P3 * P3, e)
        lj = base - 0.5 * q
        if coef_x is None:
            return lj, None, xx
        g = _softmax_rows(lj)
        P *= np.repeat(g, m, axis=1)
        Z[:, Km:] = g
        return lj, g @ coef_x, xx

    def log_posterior(self, x, sigma=0.0, *, fast: bool = True) -> np.ndarray:
        """log P(component k | x_sigma = x) (n, K) under the law noised at sigma (log-sum-exp normalised)."""
        lj = self._evaluate(x, sigma, "lj", fast)
        return lj - logsumexp(lj, axis=1, keepdims=True)

    def posterior(self, x, sigma=0.0, *, fast: bool = True) -> np.ndarray:
        r"""Responsibilities gamma_k(x) = pi_k N(x; mu_k, C_k) / p_sigma(x), shape (n, K) (Bayes' rule under the
        law noised at sigma; sigma = 0 is the Bayes classifier of the clean law). ``fast=False``: numpy only."""
        return _softmax_rows(self._evaluate(x, sigma, "lj", fast))

    def logpdf(self, x, sigma=0.0, *, fast: bool = True) -> np.ndarray:
        r"""log p_sigma(x) = log sum_k pi_k N(x; mu_k, F_k F_k^T + (f_k + sigma^2) I), shape (n,), by the
        Woodbury form of the quadratic and the determinant lemma (module docstring)."""
        return logsumexp(self._evaluate(x, sigma, "lj", fast), axis=1)

    def denoiser(self, x, sigma, *, fast: bool = True) -> np.ndarray:
        r"""EDM's D(x; sigma) = E[x_0 | x_0 + sigma n = x] (Tweedie):
        sum_k gamma_k(x) [(f_k / c_k) x + (sigma^2 / c_k) mu_k + U_k (sigma^2 e_k * U_k^T (x - mu_k))],
        c_k = f_k + sigma^2 (module docstring); D = x at sigma = 0. Returns x's shape. ``fast=False`` runs the
        numpy reference of the Numba kernel (same values to rounding)."""
        return self._evaluate(x, sigma, "denoiser", fast)

    def score(self, x, sigma, *, fast: bool = True) -> np.ndarray:
        r"""grad_x log p_sigma(x) = -sum_k gamma_k(x) C_k^{-1} (x - mu_k)
        = sum_k gamma_k [-(x - mu_k) / c_k + U_k (e_k * U_k^T (x - mu_k))] (Woodbury), summed directly (no
        (D - x) / sigma^2 cancellation). Returns x's shape."""
        return self._evaluate(x, sigma, "score", fast)

    # ------------------------------------------------------------------ moments, draws, storage
    def sample(self, n: int, rng: np.random.Generator, return_labels: bool = False):
        """n exact draws (n, d): label k ~ pi, then mu_k + F_k z + sqrt(f_k) eps with z ~ N(0, I_r),
        eps ~ N(0, I_d). With ``return_labels`` also the labels (n,) int64. Draw order: labels, z, eps."""
        n = validate.count(n, "n")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
        labels = rng.choice(self.K, size=n, p=self.weights).astype(np.int64)
        z = rng.standard_normal((n, self.r))
        x = rng.standard_normal((n, self.d))
        for k in range(self.K):
            idx = np.flatnonzero(labels == k)
            if idx.size:
                x[idx] = self.means[k] + z[idx] @ self.factors[k].T + math.sqrt(self.floors[k]) * x[idx]
        return (x, labels) if return_labels else x

    def mean(self) -> np.ndarray:
        """E[x] = sum_k pi_k mu_k, shape (d,)."""
        return self.weights @ self.means

    def component_covariances(self) -> np.ndarray:
        """S_k = F_k F_k^T + f_k I as dense (K, d, d) arrays (for references; the fast path never forms them)."""
        S = np.einsum("kar,kbr->kab", self.factors, self.factors)
        S[:, np.arange(self.d), np.arange(self.d)] += self.floors[:, None]
        return S

    def covariance(self) -> np.ndarray:
        """Cov[x] = sum_k pi_k (S_k + mu_k mu_k^T) - mu mu^T, shape (d, d) (law of total covariance)."""
        mu = self.mean()
        dm = self.means - mu
        S = np.einsum("k,kab->ab", self.weights, self.component_covariances())
        return S + np.einsum("k,ka,kb->ab", self.weights, dm, dm)

    def to_dense(self) -> DenseMixture:
        """The same law as a [`DenseMixture`][simtheory.diffusion.lowrank.DenseMixture] (dense covariances, Cholesky reference)."""
        return DenseMixture(self.weights, self.means, self.component_covariances())

    def save(self, path, *, float32: bool = False) -> Path:
        """Write the law to ``path`` (.npz, compressed). ``float32`` stores means and factors in float32
        (weights and floors stay float64); [`load`][simtheory.diffusion.lowrank.LowRankMixture.load] returns the float64
        law of exactly the stored values."""
        arrays: dict[str, Any] = {"weights": self.weights, "floors": self.floors,
                  "means": self.means.astype(np.float32) if float32 else self.means,
                  "factors": self.factors.astype(np.float32) if float32 else self.factors}
        if self.shape is not None:
            arrays["shape"] = np.asarray(self.shape, dtype=np.int64)
        p = Path(path)
        with open(p, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        return p

    @classmethod
    def load(cls, path) -> LowRankMixture:
        """The law stored by [`save`][simtheory.diffusion.lowrank.LowRankMixture.save] (float64, exact to the stored values); ValueError naming the file when
        it is missing or lacks an array."""
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"path {p}: no such file")
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in KEYS if k not in z.files]
            if missing:
                raise ValueError(f"path {p} lacks {', '.join(missing)}: not a LowRankMixture file")
            arr = {k: np.asarray(z[k], dtype=np.float64) for k in KEYS}
            shape = tuple(int(v) for v in z["shape"]) if "shape" in z.files else None
        return cls(arr["weights"], arr["means"], arr["factors"], arr["floors"], shape=shape)

    def __repr__(self) -> str:
        return f"LowRankMixture(K={self.K}, d={self.d}, r={self.r}, shape={self.shape})"


@nb.njit(parallel=True, cache=True)
def _middle_kernel(x, Z, mu_proj, mu_sq, base, inv_c, e, coef_x, back):
    """Per row i (rows are independent, so threads never change a result): xx_i = |x_i|^2; in Z's first K m
    columns p_kj = Z_ij' - (U_k^T mu_k)_j; lj_ik = base_k - 0.5 [(xx_i - 2 x_i . mu_k + |mu_k|^2) / c_k
    - sum_j e_kj p_kj^2]; with ``back`` the softmax g_i of lj_i, Z_i <- [g_k p_k | g] and
    alpha_i = sum_k g_ik coef_x_k. Returns (lj, alpha, xx)."""
    n, d = x.shape
    K, m = e.shape
    Km = K * m
    lj = np.empty((n, K))
    alpha = np.zeros(n)
    xx = np.empty(n)
    for i in nb.prange(n):
        t = 0.0
        for a in range(d):
            t += x[i, a] * x[i, a]
        xx[i] = t
        mx = -np.inf
        for k in range(K):
            q = (t - 2.0 * Z[i, Km + k] + mu_sq[k]) * inv_c[k]
            for j in range(m):
                p = Z[i, k * m + j] - mu_proj[k * m + j]
                Z[i, k * m + j] = p
                q -= e[k, j] * p * p
            v = base[k] - 0.5 * q
            lj[i, k] = v
            mx = max(mx, v)
        if not back:
            continue
        tot = 0.0
        for k in range(K):
            g = math.exp(lj[i, k] - mx)
            Z[i, Km + k] = g
            tot += g
        al = 0.0
        for k in range(K):
            g = Z[i, Km + k] / tot
            Z[i, Km + k] = g
            al += g * coef_x[k]
            for j in range(m):
                Z[i, k * m + j] *= g
        alpha[i] = al
    return lj, alpha, xx


@nb.njit(parallel=True, cache=True)
def _add_scaled_rows(out, alpha, x):
    """out_i += alpha_i x_i in place (no temporary of x's size)."""
    n, d = x.shape
    for i in nb.prange(n):
        a = alpha[i]
        for j in range(d):
            out[i, j] += a * x[i, j]


class DenseMixture:
    r"""Reference: p = sum_k pi_k N(mu_k, S_k) with dense covariances, one d x d Cholesky factor of
    C_k = S_k + sigma^2 I per component and call (scipy triangular solves). Same methods as
    [`LowRankMixture`][simtheory.diffusion.lowrank.LowRankMixture] on (n, d) points; S_k must be positive definite
    (sigma = 0 is allowed)."""

    def __init__(self, weights, means, covs):
        from .denoiser import check_gmm
        self.weights, self.means, self.covs = check_gmm(weights, means, covs)
        self.K, self.d = self.means.shape

    def _terms(self, x, sigma) -> tuple[np.ndarray, np.ndarray]:
        """(log pi_k + log N(x; mu_k, C_k) (n, K), z_k = C_k^{-1} (x - mu_k) as (K, n, d))."""
        s = check_sigma0(sigma)
        x = validate.finite_array(x, "x")
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"x must have shape (n, {self.d}), got {x.shape}")
        lj = np.empty((x.shape[0], self.K))
        z = np.empty((self.K,) + x.shape)
        for k in range(self.K):
            L = np.linalg.cholesky(self.covs[k] + s * s * np.eye(self.d))
            y = linalg.solve_triangular(L, (x - self.means[k]).T, lower=True)
            z[k] = linalg.solve_triangular(L.T, y, lower=False).T
            with np.errstate(divide="ignore"):
                lw = math.log(self.weights[k]) if self.weights[k] > 0 else -math.inf
            lj[:, k] = lw - 0.5 * np.sum(y * y, axis=0) - np.log(np.diag(L)).sum() - 0.5 * self.d * LOG_2PI
        return lj, z

    def logpdf(self, x, sigma=0.0) -> np.ndarray:
        """log p_sigma(x), shape (n,)."""
        return logsumexp(self._terms(x, sigma)[0], axis=1)

    def posterior(self, x, sigma=0.0) -> np.ndarray:
        """Bayes' rule under the noised law, shape (n, K)."""
        return _softmax_rows(self._terms(x, sigma)[0])

    def denoiser(self, x, sigma) -> np.ndarray:
        """D(x; sigma) = sum_k gamma_k [mu_k + S_k C_k^{-1} (x - mu_k)] (Tweedie), shape (n, d)."""
        lj, z = self._terms(x, sigma)
        g = _softmax_rows(lj)
        post = self.means[:, None, :] + np.einsum("kab,knb->kna", self.covs, z)
        return np.einsum("nk,knd->nd", g, post)

    def score(self, x, sigma) -> np.ndarray:
        """grad log p_sigma(x) = -sum_k gamma_k C_k^{-1} (x - mu_k), shape (n, d)."""
        lj, z = self._terms(x, sigma)
        return -np.einsum("nk,knd->nd", _softmax_rows(lj), z)
