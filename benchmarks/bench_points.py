"""The point model's costs at 1 thread: training steps/s and points/s of the MLP denoiser for widths 32-512 (the
capacity ladder's), and the neural Heun sampler against the exact mixture sampler (Numba denoiser) on the same
latents, steps and law, measured in the same run.

Prints, per width: parameters, training steps/s and points/s (batch 512), sampling points/s (32 Heun steps) and
the ratio of the neural sampler's time to the exact one's. Thread counts are set inside this script (torch,
Numba and BLAS at 1; benchmarks/_timing.py). Run: python benchmarks/bench_points.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time, threads  # noqa: E402

from empirical.edm import draw_noise, edm_loss, heun_sample  # noqa: E402
from empirical.networks.mlp import MLPConfig, MLPDenoiser, normalisation  # noqa: E402
from empirical.points import network_law  # noqa: E402
from simtheory import datasets  # noqa: E402
from simtheory.diffusion import gmm_denoiser  # noqa: E402
from simtheory.diffusion import heun_sample as exact_heun  # noqa: E402

WIDTHS = (32, 64, 128, 256, 512)
BATCH, STEPS, N_SAMPLE, TRAIN_STEPS = 512, 32, 4096, 30


def train_rate(D: MLPDenoiser, x: torch.Tensor) -> float:
    """Training steps per second (Adam, EDM loss, batch BATCH), best of 3 runs of TRAIN_STEPS steps."""
    opt = torch.optim.Adam(D.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)

    def steps():
        for _ in range(TRAIN_STEPS):
            idx = torch.randint(len(x), (BATCH,), generator=g)
            sigma, noise = draw_noise(g, BATCH, (x.shape[1],))
            loss = edm_loss(D, x[idx], None, sigma, noise).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return TRAIN_STEPS / best_time(steps)


def main() -> None:
    torch.set_num_threads(1)
    with threads(1):
        run()


def run() -> None:
    ds = datasets.make("mixture2d", 8192, 0)
    shift, scale = normalisation(ds.x)
    lat = np.random.default_rng(1).standard_normal((N_SAMPLE, 2))
    nl = network_law(ds.law, MLPConfig(shift=shift, scale=scale))
    t_exact = best_time(lambda: exact_heun(lambda y, s: gmm_denoiser(y, s, nl["weights"], nl["means"], nl["covs"]),
                                           lat, STEPS), repeat=2)
    print(f"exact mixture sampler (Numba denoiser, 8 components): {N_SAMPLE} points x {STEPS} Heun steps in "
          f"{t_exact:.3f} s = {N_SAMPLE / t_exact:,.0f} points/s (1 thread)")
    print("| width | parameters | train steps/s | train points/s | sample points/s | neural / exact sampler time |")
    print("|---|---|---|---|---|---|")
    for w in WIDTHS:
        torch.manual_seed(0)
        D = MLPDenoiser(MLPConfig(width=w, depth=3, input_features=64, shift=shift, scale=scale))
        x = D.encode(ds.x)
        rate = train_rate(D, x)
        D.eval()
        lt = torch.from_numpy(lat)
        with torch.no_grad():
            t_net = best_time(lambda: heun_sample(lambda y, s: D(y, s), lt, STEPS), repeat=2)
        n_par = sum(p.numel() for p in D.parameters())
        print(f"| {w} | {n_par:,} | {rate:.1f} | {rate * BATCH:,.0f} | {N_SAMPLE / t_net:,.0f} | "
              f"{t_net / t_exact:.2f}x |", flush=True)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"({time.perf_counter() - t0:.0f} s)")
