"""Low-rank mixture (simtheory.diffusion.lowrank) at image size: d = 192, K = 10, r = 16 (the committed CIFAR-10
8x8 law), one thread.

Prints the exact denoiser's time per call on the low-rank path (Numba kernel and its numpy reference) against
the dense-covariance reference (one d x d Cholesky per component) in the same run, with the largest difference
(goal: at least 10x, agreement to rounding), and the time to sample 10,000 8x8 images with the numpy Heun sampler
(18 steps, 35 denoiser calls; goal: under 2 s), as wall time and as this process's CPU time (on a shared machine
the two differ). Thread counts are set inside this script (benchmarks/_timing.py).
Run: OMP_NUM_THREADS=1 python benchmarks/bench_lowrank.py
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time, threads  # noqa: E402

from simtheory.diffusion import cifar_mixture, heun_sample  # noqa: E402


def best_wall_and_cpu(fn, repeat: int = 3) -> tuple[float, float]:
    """Best wall time and best process CPU time of ``repeat`` calls after one warm-up call."""
    fn()
    wall = cpu = float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return wall, cpu


def main() -> None:
    law = cifar_mixture(8)
    dense = law.to_dense()
    rng = np.random.default_rng(0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"law: K={law.K} d={law.d} r={law.r}; load average at start {load:.1f} on {os.cpu_count()} CPUs")
    with threads(1):
        for sigma in (0.002, 1.0, 80.0):
            x = law.sample(2000, rng) + sigma * rng.standard_normal((2000, law.d))
            t_fast = best_time(lambda: law.denoiser(x, sigma), repeat=7)
            t_np = best_time(lambda: law.denoiser(x, sigma, fast=False), repeat=7)
            t_dense = best_time(lambda: dense.denoiser(x, sigma), repeat=2)
            diff = np.abs(law.denoiser(x, sigma) - dense.denoiser(x, sigma)).max()
            print(f"denoiser n=2000 sigma={sigma:g}: low-rank {t_fast * 1e3:7.2f} ms (numpy path "
                  f"{t_np * 1e3:7.2f} ms), dense {t_dense * 1e3:8.1f} ms -> {t_dense / t_fast:5.1f}x "
                  f"(numpy path {t_dense / t_np:5.1f}x); max |difference| {diff:.1e}")
        lat = np.random.default_rng(1).standard_normal((10_000, law.d))
        wall, cpu = best_wall_and_cpu(lambda: heun_sample(law.denoiser, lat, 18))
        wall_np, cpu_np = best_wall_and_cpu(lambda: heun_sample(lambda v, s: law.denoiser(v, s, fast=False), lat, 18),
                                            repeat=2)
        print(f"Heun, 18 steps, 10,000 images 3x8x8: {wall:.2f} s wall, {cpu:.2f} s CPU (numpy path {wall_np:.2f} s "
              f"wall, {cpu_np:.2f} s CPU); goal < 2 s")


if __name__ == "__main__":
    main()
