"""Exact GMM denoiser: Numba kernel vs the numpy/scipy reference, same inputs, at 1 thread and at 2 threads.

Prints the time per call of both, their ratio and the largest difference (goal: agreement to rounding).
Thread counts are set inside this script (benchmarks/_timing.py). Run: python benchmarks/bench_diffusion.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time, thread_counts, threads  # noqa: E402

from simtheory.diffusion import gmm_denoiser, gmm_denoiser_reference, guided_denoiser, heun_sample  # noqa: E402


def main() -> None:
    for nt in thread_counts():
        with threads(nt):
            print(f"\n--- {nt} thread(s) (Numba, BLAS) ---")
            run()


def run() -> None:
    rng = np.random.default_rng(0)
    for n, k, d in ((10**5, 8, 2), (10**5, 8, 8), (10**4, 64, 2)):
        w = rng.dirichlet(np.ones(k))
        m = rng.normal(0, 3, (k, d))
        A = rng.normal(size=(k, d, d)) * 0.5
        c = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(d)
        x = rng.normal(0, 3, (n, d))
        t_fast = best_time(lambda: gmm_denoiser(x, 0.5, w, m, c))
        t_ref = best_time(lambda: gmm_denoiser_reference(x, 0.5, w, m, c))
        diff = np.abs(gmm_denoiser(x, 0.5, w, m, c) - gmm_denoiser_reference(x, 0.5, w, m, c)).max()
        print(f"n={n} k={k} d={d}: numba {t_fast * 1e3:8.2f} ms, numpy reference {t_ref * 1e3:8.2f} ms "
              f"-> numba {t_ref / t_fast:5.1f}x faster; max |difference| {diff:.1e}")
    params = {"weights": w, "means": m, "covs": c}
    lat = rng.standard_normal((10**4, d))
    t_fast = best_time(lambda: heun_sample(guided_denoiser(params, params, 1.0), lat, 18), repeat=2)
    t_ref = best_time(lambda: heun_sample(guided_denoiser(params, params, 1.0, fast=False), lat, 18), repeat=2)
    print(f"guided Heun, 18 steps, n=1e4 k={k} d={d}: numba {t_fast:.3f} s, reference {t_ref:.3f} s "
          f"-> {t_ref / t_fast:.1f}x")


if __name__ == "__main__":
    main()
