"""Exact curated step: Numba kernels vs the dense numpy reference vs the bare-exp bound, and vs Monte Carlo,
at 1 thread and at 2 threads.

Prints ratios measured in this run (no stored numbers). Goals (issue 3): Numba >= 20x the reference at
n = 10^6, and >= 50% of the bare-exp bound, i.e. bare_time / numba_time >= 0.5 for the same count of
integrand values (2 * WINDOW per atom, each priced at one exp). Every kernel is compiled and run once before
any timing. Run (2 threads need a pool of 2: NUMBA_NUM_THREADS unset or >= 2):
    python benchmarks/bench_curation.py [--quick]
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numba as nb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time, thread_counts, threads  # noqa: E402

from simtheory import kernels  # noqa: E402
from simtheory.curation import curated_finite  # noqa: E402
from simtheory.selection import curated_frequencies  # noqa: E402


@nb.njit(parallel=True, cache=True)
def bare_exp(x: np.ndarray, per_atom: int) -> float:
    """per_atom exps per entry of x, summed: the cost of evaluating each integrand value with one exp."""
    acc = np.zeros(x.size)
    for i in nb.prange(x.size):
        a = 0.0
        v = x[i]
        for k in range(per_atom):
            a += math.exp(v - 0.01 * k)
        acc[i] = a
    return acc.sum()


def warm(K: int, per_atom: int) -> None:
    """Compile and run every kernel the timings use (curation kernels, selection, bare exp) once."""
    rng = np.random.default_rng(0)
    p, r = rng.dirichlet(np.ones(50)), rng.normal(0, 1, 50)
    curated_finite(p, r, K)
    curated_frequencies(p, r, K, 1000, rng)
    bare_exp(r, per_atom)


def main(quick: bool = False) -> None:
    K = 8
    per_atom = 2 * kernels.nodes_per_atom()
    warm(K, per_atom)
    sizes = [10**4, 10**5] if quick else [10**4, 10**5, 10**6]
    print(f"K={K}  integrand values per atom={per_atom}")
    for nt in thread_counts():
        with threads(nt):
            print(f"\n--- {nt} thread(s) (Numba, BLAS) ---")
            print(f"{'n':>9} {'numba s':>9} {'numpy s':>9} {'speedup':>8} {'bare-exp s':>10} {'of bound':>8}")
            for n in sizes:
                rng = np.random.default_rng(0)
                p = rng.dirichlet(np.ones(n))
                r = rng.normal(0, 1, n)
                t_nb = best_time(lambda: curated_finite(p, r, K))
                t_np = best_time(lambda: curated_finite(p, r, K, fast=False), repeat=1)
                t_bare = best_time(lambda: bare_exp(r, per_atom))
                print(f"{n:>9} {t_nb:9.4f} {t_np:9.4f} {t_np / t_nb:7.1f}x {t_bare:10.4f} {t_bare / t_nb:7.0%}")

            # exact step vs a Monte Carlo estimate reaching max error 1e-3 (N doubled until it does, same seed)
            n = 200
            rng = np.random.default_rng(1)
            p = rng.dirichlet(np.ones(n))
            r = rng.normal(0, 1, n)
            exact = curated_finite(p, r, K)
            t_exact = best_time(lambda: curated_finite(p, r, K), repeat=5)
            N = 1000
            while True:
                err = np.abs(curated_frequencies(p, r, K, N, np.random.default_rng(2)) - exact).max()
                if err < 1e-3:
                    break
                N *= 2
            t_mc = best_time(lambda: curated_frequencies(p, r, K, N, np.random.default_rng(2)), repeat=1)
            print(f"n={n}: exact step {t_exact * 1e3:.2f} ms; Monte Carlo needs N={N} draws of K for max error "
                  f"{err:.1e}: {t_mc * 1e3:.1f} ms ({t_mc / t_exact:.0f}x the exact step)")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
