"""Eq. 6 of Ferbach et al. 2024: the kept sample has law p H_K, E_p[H_K] = 1, 0 < H_K < K; the doc's example."""
from __future__ import annotations

import math

import numpy as np

import simtheory
from simtheory.curation import curated_bruteforce

from .core import Check, passes, rounding_level, verdict


def run(quick: bool = False) -> list[Check]:
    rng = np.random.default_rng(0)
    n_cases = 40 if quick else 200
    err, hmin, hmax_rel, mass = 0.0, np.inf, 0.0, 0.0
    for _ in range(n_cases):
        n, K = int(rng.integers(1, 5)), int(rng.integers(2, 6))
        p = rng.dirichlet(np.ones(n))
        r = rng.normal(0, rng.choice([0.1, 1.0, 10.0, 1e3]), n)
        c = simtheory.curated(p, r, K)
        err = max(err, float(np.abs(c - curated_bruteforce(p, r, K)).max()))
        H = c / p
        hmin, hmax_rel = min(hmin, float(H.min())), max(hmax_rel, float(H.max()) / K)
        mass = max(mass, abs(float(c.sum()) - 1))
    out = [Check("C1.1", "Curation keeps x with law p(x) H_K(x) (softmax choice among K draws)",
                 "Ferbach et al. 2024, Eq. 6 [paper]", "p H_K equals the K-draw selection law exactly",
                 f"max |curated - enumeration of all K-tuples| = {rounding_level(err)} over {n_cases} random cases (n<=4, K<=5, |r| up to 1e3)",
                 "1e-10: both exact; only rounding and quadrature error remain", verdict(passes(err, "<", 1e-10)), kind="paper"),
           Check("C1.2", "E_p[H_K] = 1 and 0 < H_K < K", "Ferbach et al. 2024, Eq. 6 [paper]",
                 "sum p H_K = 1; min H_K > 0; max H_K / K < 1",
                 f"max |sum - 1| = {rounding_level(mass)}; min H_K = {hmin:.3g}; max H_K/K = {hmax_rel:.4f}",
                 "rounding (1e-12) for the sum", verdict(passes(mass, "<", 1e-12) & passes(hmin, ">", 0) & passes(hmax_rel, "<", 1)), kind="paper")]
    # Monte Carlo selection against the exact law
    p, r = rng.dirichlet(np.ones(6)), rng.normal(0, 1, 6)
    N = 50_000 if quick else 400_000
    freq = simtheory.curated_frequencies(p, r, 4, N, np.random.default_rng(1))
    ex = simtheory.curated(p, r, 4)
    z = float(np.max(np.abs(freq - ex) / np.sqrt(ex * (1 - ex) / N)))
    out.append(Check("C1.3", "Sampling K and keeping one by softmax(r) draws from p H_K",
                     "Ferbach et al. 2024, Sec. 2 [paper]", "empirical frequencies -> p H_K",
                     f"max |freq - exact| / SE = {z:.2f} over 6 atoms, N = {N}", "4 standard errors per atom",
                     verdict(passes(z, "<=", 4)), kind="paper"))
    stated = {2: [.3152, .3073, .2517, .1258], 4: [.2721, .3018, .2841, .1420],
              8: [.2521, .2963, .3011, .1505], math.inf: [.2339, .2892, .3179, .1590]}
    dev = max(float(np.abs(simtheory.curated([.4, .3, .2, .1], [0, .5, 1, 1], K) - v).max()) for K, v in stated.items())
    out.append(Check("C1.4", "Example p=(.4,.3,.2,.1), r=(0,.5,1,1): p_hat at K = 2, 4, 8, inf",
                     "docs/derivations/curated-step.md [derived]", "the 16 four-decimal values of the doc",
                     f"max deviation {dev:.1e}", "5e-5: the doc rounds to 4 decimals", verdict(passes(dev, "<=", 5e-5)), kind="derived"))
    return out
