"""Brute-force references shared by tests."""
import numpy as np
from scipy import integrate, stats

from simtheory.curation import curated_bruteforce as enumerate_curated  # noqa: F401


def two_atom_binomial(a, d, K):
    """Top-atom curated mass of {a at reward d, 1-a at 0} by summing over the binomial count of top draws."""
    j = np.arange(1, K + 1)
    pmf = stats.binom.pmf(j, K, a)
    return float(np.sum(pmf * j / (j + (K - j) * np.exp(-d))))


def laplace_quad(p, r, K):
    """The doc's Laplace form K p w int_0^inf e^{-w s} M(s)^{K-1} ds, integrated by scipy.quad per atom."""
    p = np.asarray(p, float)
    w = np.exp(np.asarray(r, float) - np.max(r))

    def M(s):
        return np.sum(p * np.exp(-w * s))

    out = np.empty(p.size)
    for i in range(p.size):
        val, _ = integrate.quad(lambda s: w[i] * np.exp(-w[i] * s) * M(s) ** (K - 1), 0, np.inf,
                                epsabs=1e-14, epsrel=1e-12, limit=500)
        out[i] = K * p[i] * val
    return out
def interrupt_on_call(fn, n: int):
    """``fn`` wrapped to raise KeyboardInterrupt on its n-th call (a kill in the middle of a run)."""
    calls = {"n": 0}

    def wrapped(*a, **k):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return fn(*a, **k)
    return wrapped


__all__ = ["enumerate_curated", "two_atom_binomial", "laplace_quad", "interrupt_on_call"]
