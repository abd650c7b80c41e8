"""Closed forms in sympy, used as references independent of the quadrature and of sampling."""
from __future__ import annotations

import functools

import sympy as sp

a, d, t = sp.symbols("a d t", positive=True)


@functools.cache
def two_atom_curated(K: int) -> sp.Expr:
    r"""Curated mass of the top atom of a 2-atom law (mass a at reward d, 1 - a at reward 0), Eq. 6 summed
    over the number j of top draws among K:

    $$
    \hat a = \sum_{j=1}^{K} \binom{K}{j} a^j (1-a)^{K-j} \frac{j e^d}{j e^d + K - j}.
    $$
    """
    if K < 1:
        raise ValueError(f"K must be >= 1, got {K}")
    e = sp.exp(d)
    return sp.simplify(sum(sp.binomial(K, j) * a**j * (1 - a) ** (K - j) * j * e / (j * e + K - j)
                           for j in range(1, K + 1)))


def two_atom_curated_numeric(K: int):
    """``two_atom_curated(K)`` as a numpy function of (a, d), evaluated in mpmath-free float64."""
    return sp.lambdify((a, d), two_atom_curated(K), "numpy")


@functools.cache
def two_atom_kinf() -> sp.Expr:
    """K = inf top mass after t steps: a e^{t d} / (a e^{t d} + 1 - a) (Lemma 2.1 on two atoms)."""
    return a * sp.exp(t * d) / (a * sp.exp(t * d) + 1 - a)


def two_atom_kinf_kl() -> sp.Expr:
    """KL(p* || p_t) for two atoms at K = inf: -log(top mass), i.e. log(1 + (1-a) e^{-t d} / a)."""
    return sp.simplify(-sp.log(two_atom_kinf()))
