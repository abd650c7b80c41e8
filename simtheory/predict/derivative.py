r"""The exact curated map on a Gumbel grid and its reverse-mode derivative: the vector-Jacobian products every
influence function of `simtheory.predict` is chained from (Eq. 6 of Ferbach et al. 2024).
"""
from __future__ import annotations

import math

import numpy as np

from .. import validate

Y_LO = -4.0                 # Gumbel CDF G(-4) = e^{-e^4} < 3e-24: nothing below the lowest reward + Y_LO
Y_HI = 45.0                 # above max r + log K + Y_HI the integrands are below K e^{-45}
H = math.log(2.0) / 3.0     # trapezoid step: geometric convergence for these analytic integrands (~1e-14)
CACHE_ENTRIES = 4_000_000   # keep the (atoms x nodes) Gumbel matrices when smaller than this, else recompute
CHUNK = 4096


# ---------------------------------------------------------------------------- quadrature of the curated map
class _Quadrature:
    r"""The Gumbel-grid form of the curated map for fixed rewards and K (kernels.py's integrals, densely):

    $$
    c_x(p) = K p_x \int g(z - r_x) F(z)^{K-1} dz,\qquad F(z) = \sum_y p_y G(z - r_y),
    $$

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
        r"""Rows of $\nabla_p [v^\top c(p)]$: with $B(z) = \sum_x v_x p_x g(z - r_x)$,

        $$
        \partial_{p_z} \sum_x v_x c_x = v_z H_z + K (K-1) \int B(z) F(z)^{K-2} G(z - r_z) dz.
        $$
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
    r"""Gradient $\nabla_p [v^\top c(p)]$ of linear functionals of the exact curated step (Eq. 6).

    Parameters
    ----------
    p : array_like (n,)
        probabilities (zeros allowed: the derivative at an atom without mass is returned too).
    r : array_like (n,)
        finite rewards.
    K : int >= 1 or math.inf
        group size (K = inf: the tilt p e^r / E_p[e^r] of Lemma 2.1).
    v : array_like (n,) or (n, m)
        per-atom values, one column per functional.

    Returns
    -------
    numpy.ndarray shaped like v
        the derivative of $\sum_x v_x c_x(p)$ with respect to each p_z, taking
        c as the degree-K homogeneous extension off the simplex (the degree-0 one at K = inf). Contracted with a
        direction of zero sum ($\delta_z - p$) it is the directional derivative on the simplex.
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
