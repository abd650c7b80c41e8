"""EDM's deterministic Heun sampler (Karras et al. 2022, Algorithm 1) in torch, the rule of
[`simtheory.diffusion.sampler`][simtheory.diffusion.sampler] (the two agree to float32 rounding on the same exact
denoiser):
sigma_i = (smax^(1/rho) + i/(N-1) (smin^(1/rho) - smax^(1/rho)))^rho, sigma_N = 0; Heun steps with no correction on
the last one (2N - 1 evaluations). Per-seed latents, so sample i depends only on seeds[i];
[`generate`][empirical.edm.sampler.generate] draws a network's samples for a list of seeds.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .precond import Preconditioned


def sigma_steps(num_steps: int = 18, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0):
    """The rho-schedule sigma_0 > ... > sigma_{N-1}, with sigma_N = 0 appended (float64)."""
    if int(num_steps) != num_steps or num_steps < 2:
        raise ValueError(f"num_steps must be an integer >= 2 (sigma_max to sigma_min), got {num_steps!r}")
    if not 0 < sigma_min < sigma_max or rho <= 0:
        raise ValueError(f"need 0 < sigma_min < sigma_max and rho > 0, got {sigma_min}, {sigma_max}, {rho}")
    i = torch.arange(num_steps, dtype=torch.float64)
    s = (sigma_max ** (1 / rho) + i / (num_steps - 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([s, torch.zeros(1, dtype=torch.float64)])


@torch.no_grad()
def heun_sample(denoise: Callable, latents: torch.Tensor, num_steps: int = 18, sigma_min: float = 0.002,
                sigma_max: float = 80.0, rho: float = 7.0) -> torch.Tensor:
    """Deterministic Heun sampler (EDM Algorithm 1) from latents ~ N(0, I) (n, ...) scaled by sigma_max; the
    state is float64, the denoiser sees float32 (as a network does). Returns the float64 state."""
    t = sigma_steps(num_steps, sigma_min, sigma_max, rho).to(latents.device)
    x = latents.to(torch.float64) * t[0]
    for i in range(num_steps):
        t0, t1 = t[i], t[i + 1]
        d = (x - denoise(x.float(), t0.float().expand(x.shape[0])).double()) / t0
        x1 = x + (t1 - t0) * d
        if i < num_steps - 1:
            d1 = (x1 - denoise(x1.float(), t1.float().expand(x.shape[0])).double()) / t1
            x1 = x + (t1 - t0) * (0.5 * d + 0.5 * d1)
        x = x1
    return x


def latents_for_seeds(seeds, shape: tuple, device) -> torch.Tensor:
    """One N(0, I) latent of ``shape`` per seed, each from its own generator: sample i depends only on
    seeds[i]."""
    return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds]).to(device)


@torch.no_grad()
def generate(D: Preconditioned, seeds, device, num_steps: int = 18, batch: int = 256, class_labels=None,
             denoiser: Callable | None = None, progress: bool = False, desc: str = "sample") -> np.ndarray:
    """Samples for ``seeds`` (one per seed) with the Heun sampler, decoded by ``D`` (uint8 images from a U-Net
    denoiser, float64 points from a point denoiser).

    ``denoiser``: a callable with D's signature denoiser(x, sigma, class_labels) that denoises in D's place (a
    guided denoiser, [`empirical.edm.guidance.GuidedDenoiser`][empirical.edm.guidance.GuidedDenoiser]); D still fixes
    the sample shape and decodes.
    ``class_labels``: one-hot rows, one per seed, handed to whichever denoises (never dropped). Each batch of
    ``batch`` seeds is sampled alike, so a sample depends on its seed (and label) alone."""
    shape = tuple(D.sample_shape)
    net = D if denoiser is None else denoiser
    seeds = list(seeds)
    out = []
    it = range(0, len(seeds), batch)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=desc, unit="batch", disable=None)       # a bar on a terminal only
    for s in it:
        lat = latents_for_seeds(seeds[s:s + batch], shape, device)
        lab = None if class_labels is None else class_labels[s:s + batch].to(device)
        out.append(D.decode(heun_sample(lambda x, sigma: net(x, sigma, lab), lat, num_steps)))
    return np.concatenate(out) if out else D.decode(torch.zeros((0,) + shape, dtype=torch.float64))
