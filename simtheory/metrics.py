"""Metrics of a distribution on atoms, shared by the exact dynamics, the loops, the figures and the checks.

Exponential moments are reported relative to the top reward r* (w = e^{r - r*} in (0, 1]), so rewards of
any scale neither overflow nor underflow; E[e^r] = e^{r*} E[w].

Distance to a known law: the MMD with a Gaussian kernel (Gretton et al. 2012), one estimator for every half,

    MMD^2(p, q) = E_pp k(X, X') - 2 E_pq k(X, Y) + E_qq k(Y, Y'),     k(x, y) = exp(-|x - y|^2 / (2 h^2)).

Against a mixture q = sum_j w_j N(m_j, S_j) the q-terms are closed forms: E_{Y~N(m, S)} k(x, Y) =
h^d det(S + h^2 I)^(-1/2) exp(-(x - m)^T (S + h^2 I)^(-1) (x - m) / 2) (the law noised at sigma = h, times
(2 pi h^2)^(d/2)), and over two Gaussians the same with S_a + S_b + h^2 I. So the distance of samples has an
unbiased U-statistic with a standard error ([`mmd2`][simtheory.metrics.mmd2]), and the distance of a gridded law (atoms
with masses)
or of a fitted mixture ([`mmd2_laws`][simtheory.metrics.mmd2_laws]) is exact: sampled neural loops, finite GMM loops and
the exact gridded dynamics share one curve. (TV on a grid or a sliced W2 of samples are biased upward by sampling noise,
by different amounts at different sample sizes.)
"""
from __future__ import annotations

import numpy as np

from . import validate


def expected_reward(p: np.ndarray, r: np.ndarray) -> float:
    """E_p[r]."""
    return float(np.sum(p * r))


def expected_exp_reward(p: np.ndarray, r: np.ndarray, r_top: float) -> float:
    """E_p[e^{r - r_top}] (E_p[e^r] in units of e^{r_top})."""
    return float(np.sum(p * np.exp(r - r_top)))


def kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) = sum p log(p/q), 0 log 0 = 0; inf where p has mass that q lacks."""
    m = p > 0
    if np.any(q[m] <= 0):
        return float("inf")
    return float(np.sum(p[m] * (np.log(p[m]) - np.log(q[m]))))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """TV(p, q) = sum |p - q| / 2."""
    return float(0.5 * np.abs(p - q).sum())


def entropy(p: np.ndarray) -> float:
    """Shannon entropy -sum p log p in nats."""
    m = p > 0
    return float(-np.sum(p[m] * np.log(p[m])))


def rounding_atol(r: np.ndarray) -> float:
    """Rewards closer than this to r* are one level: 64 eps max(1, max|r|). A gap of rounding size would take
    ~1e16 retraining steps to separate, so exact equality would make the top level set an artefact of
    floating point (e.g. grid cells at exactly the disc radius of a centre reward)."""
    return 64 * np.finfo(float).eps * max(1.0, float(np.max(np.abs(r))))


def top_reward(p: np.ndarray, r: np.ndarray) -> float:
    """r* = the largest reward on the support of p (the top level set of Theorem 2.1)."""
    return float(r[p > 0].max())


def top_mask(p: np.ndarray, r: np.ndarray, atol: float | None = None) -> np.ndarray:
    """The top level set {r >= r* - atol} on the support of p (atol None: [`rounding_atol`][simtheory.metrics.rounding_atol])."""
    atol = rounding_atol(r) if atol is None else atol
    return (r >= top_reward(p, r) - atol) & (p > 0)


def top_mass(p: np.ndarray, r: np.ndarray, r_star: float, atol: float | None = None) -> float:
    """Mass p puts on {r >= r_star - atol} (atol None: [`rounding_atol`][simtheory.metrics.rounding_atol])."""
    atol = rounding_atol(r) if atol is None else atol
    return float(p[r >= r_star - atol].sum())



def nearest_centre(x: np.ndarray, centres) -> np.ndarray:
    """Index of the nearest centre (squared Euclidean distance) for each point of x (..., d): the mode a point
    belongs to."""
    c = np.asarray(centres, float)
    return np.argmin(((np.asarray(x)[..., None, :] - c) ** 2).sum(-1), axis=-1)


def mode_proportions(x: np.ndarray, centres) -> np.ndarray:
    """Fraction of the rows of x (n, d) nearest to each centre."""
    return np.bincount(nearest_centre(x, centres), minlength=len(centres)) / x.shape[0]


def mixture_law(law) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, means, covs) of a Gaussian mixture given as a dict (families.gmm's format) or a triple, checked:
    a ValueError unless the weights are a probability vector and the shapes (k,), (k, d), (k, d, d) agree."""
    w, m, c = (law["weights"], law["means"], law["covs"]) if isinstance(law, dict) else law
    w = validate.probability(w, "law weights")
    m = validate.finite_array(m, "law means")
    c = validate.finite_array(c, "law covs")
    if m.ndim != 2 or m.shape[0] != w.size or c.shape != (w.size, m.shape[1], m.shape[1]):
        raise ValueError(f"law: weights {w.shape}, means {m.shape} and covs {c.shape} do not agree")
    return w, m, c


def _kernel_mean(x: np.ndarray, cov: np.ndarray | None, q, h: float) -> np.ndarray:
    """E k(X_i, Y) with Y ~ q and X_i ~ N(x_i, cov_i) (X_i = x_i when cov is None), x (n, d), cov (n, d, d): (n,)."""
    w, m, c = q
    d = m.shape[1]
    out = np.zeros(len(x))
    for j in range(w.size):
        C = c[j] + h**2 * np.eye(d) if cov is None else cov + (c[j] + h**2 * np.eye(d))[None]
        L = np.linalg.cholesky(C)
        if cov is None:
            y = np.linalg.solve(L, (x - m[j]).T).T
            logdet = np.log(np.diag(L)).sum()
        else:
            y = np.linalg.solve(L, (x - m[j])[..., None])[..., 0]
            logdet = np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        out += w[j] * np.exp(d * np.log(h) - logdet - 0.5 * np.sum(y**2, axis=1))
    return out


def _kernel(a: np.ndarray, b: np.ndarray, h: float) -> np.ndarray:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.exp(-np.maximum(d2, 0.0) / (2 * h**2))


def _bandwidth(q, bandwidth) -> float:
    h = default_bandwidth(q) if bandwidth is None else float(bandwidth)
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"bandwidth must be finite and > 0, got {bandwidth}")
    return h


def default_bandwidth(law) -> float:
    """h = the law's mean within-component standard deviation, sqrt(sum_j w_j trace(S_j) / d): the scale at which
    a model must resolve the components (for one Gaussian, its own scale); in the law's units."""
    w, m, c = mixture_law(law)
    return float(np.sqrt(np.einsum("k,kaa->", w, c) / m.shape[1]))


def mmd2_laws(p, q, bandwidth: float | None = None) -> float:
    """Exact squared MMD (Gaussian kernel; bandwidth None: [`default_bandwidth`][simtheory.metrics.default_bandwidth] of q) between two Gaussian
    mixtures, e.g. a fitted GMM and the data law."""
    P, Q = mixture_law(p), mixture_law(q)
    h = _bandwidth(Q, bandwidth)
    return float(P[0] @ _kernel_mean(P[1], P[2], P, h) - 2 * P[0] @ _kernel_mean(P[1], P[2], Q, h)
                 + Q[0] @ _kernel_mean(Q[1], Q[2], Q, h))


def mmd2(x, law, bandwidth: float | None = None, weights=None, chunk: int = 2048) -> tuple[float, float]:
    r"""Squared MMD (Gaussian kernel, bandwidth h) between points x (n, d) and a Gaussian-mixture ``law``, with
    its standard error: (value, se).

    ``weights`` None: x are i.i.d. samples and the value is the unbiased U-statistic
    U = 1/(n(n-1)) sum_{i != j} H(x_i, x_j), H(x, x') = k(x, x') - g(x) - g(x') + E_qq k, g(x) = E_q k(x, Y).
    Its SE is the U-statistic's: Var U = (4 (n - 2) zeta_1 + 2 zeta_2) / (n (n - 1)), zeta_1 = Var E[H(X, X')|X]
    and zeta_2 = Var H(X, X') estimated from all pairs and triples (each floored at 0: variances). It holds at
    p = q too, where zeta_1 = 0 and the second term is the whole variance.
    ``weights`` given: x are atoms with these probabilities (a gridded law) and the value is that discrete law's
    exact MMD^2 (SE 0). ``bandwidth`` None: [`default_bandwidth`][simtheory.metrics.default_bandwidth] of the law.
    """
    q = mixture_law(law)
    d = q[1].shape[1]
    x = validate.finite_array(x, "x")
    if x.ndim == 1 and d == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"x must have shape (n, d = {d}), got {x.shape}")
    h = _bandwidth(q, bandwidth)
    c = float(q[0] @ _kernel_mean(q[1], q[2], q, h))
    g = _kernel_mean(x, None, q, h)
    n = len(x)
    if weights is not None:
        p = validate.probability(weights, "weights")
        if p.shape != (n,):
            raise ValueError(f"weights must have shape ({n},), got {p.shape}")
        pkp = sum(float(p[s:s + chunk] @ _kernel(x[s:s + chunk], x, h) @ p) for s in range(0, n, chunk))
        return pkp - 2 * float(p @ g) + c, 0.0
    if n < 3:
        raise ValueError(f"the U-statistic and its SE need n >= 3 samples, got {n}")
    row = np.empty(n)
    sq = 0.0
    for s in range(0, n, chunk):
        H = _kernel(x[s:s + chunk], x, h) - g[s:s + chunk, None] - g[None, :] + c
        H[np.arange(len(H)), s + np.arange(len(H))] = 0.0          # pairs i != j only
        row[s:s + chunk] = H.sum(axis=1)
        sq += float(np.sum(H * H))
    u = row.sum() / (n * (n - 1))
    zeta2 = max(sq / (n * (n - 1)) - u * u, 0.0)
    zeta1 = max((np.sum(row**2) - sq) / (n * (n - 1) * (n - 2)) - u * u, 0.0)
    return float(u), float(np.sqrt((4 * (n - 2) * zeta1 + 2 * zeta2) / (n * (n - 1))))
