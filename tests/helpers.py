"""Brute-force references shared by tests."""
import itertools

import numpy as np
from scipy import integrate, stats


def enumerate_curated(p, r, K):
    """Eq. 6 by enumerating all n^K ordered K-tuples of draws (feasible for tiny n, K)."""
    p = np.asarray(p, float).ravel()
    r = np.asarray(r, float).ravel()
    out = np.zeros(p.size)
    for tup in itertools.product(range(p.size), repeat=K):
        idx = list(tup)
        pr = np.prod(p[idx])
        if pr == 0:
            continue
        w = np.exp(r[idx] - r[idx].max())
        np.add.at(out, idx, pr * w / w.sum())
    return out


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
