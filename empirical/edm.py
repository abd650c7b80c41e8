r"""EDM (Karras et al. 2022): preconditioning, training loss, the deterministic Heun sampler, guidance, for
samples of any shape: images (n, C, H, W) and points (n, d) go through the same code.

D(x; sigma) = c_skip x + c_out F(c_in x; c_noise), sigma_data = 0.5:
c_skip = sd^2/(sigma^2 + sd^2), c_out = sigma sd / sqrt(sigma^2 + sd^2), c_in = 1/sqrt(sigma^2 + sd^2),
c_noise = ln(sigma)/4. Loss: ln sigma ~ N(-1.2, 1.2^2), weight (sigma^2 + sd^2)/(sigma sd)^2.
Sampler: sigma_i = (smax^(1/rho) + i/(N-1) (smin^(1/rho) - smax^(1/rho)))^rho, sigma_N = 0; Heun steps with
no correction on the last one (2N - 1 evaluations).

A denoiser is a :class:`Preconditioned` module around a network F of the sample's shape; it also says how
data enter and leave its space (``encode``: uint8 images to [-1, 1], or points through the affine map of their
architecture's config; ``decode``: the reverse), so training and :func:`generate` need no case per data kind.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .unet import UNet, UNetConfig

SIGMA_DATA = 0.5
P_MEAN, P_STD = -1.2, 1.2


def precond_coefficients(sigma: torch.Tensor, sd: float = SIGMA_DATA):
    """(c_skip, c_out, c_in, c_noise) of EDM's Table 1."""
    s2 = sigma**2 + sd**2
    return sd**2 / s2, sigma * sd / s2.sqrt(), 1 / s2.sqrt(), sigma.log() / 4


def per_sample(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A per-sample vector (n,) shaped to broadcast against a batch x (n, ...): (n, 1, ..., 1)."""
    return v.reshape((-1,) + (1,) * (x.ndim - 1))


class Preconditioned(nn.Module):
    """The preconditioned denoiser D(x; sigma, class) = c_skip x + c_out F(c_in x; c_noise) around a network
    ``self.net`` (set by the subclass) that maps (c_in x, c_noise (n,), class_labels) to the shape of x.

    Subclasses also give ``cfg`` (the architecture's config), ``sample_shape`` (one sample's shape),
    ``encode`` (data -> float32 tensors in the network's space) and ``decode`` (sampler output -> data)."""

    net: nn.Module
    sample_shape: tuple

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, class_labels: torch.Tensor | None = None):
        sigma = per_sample(sigma, x).to(torch.float32)
        c_skip, c_out, c_in, c_noise = precond_coefficients(sigma)
        F_x = self.net((c_in * x).to(x.dtype), c_noise.flatten(), class_labels)
        return c_skip * x + c_out * F_x.to(torch.float32)


class Denoiser(Preconditioned):
    """The preconditioned denoiser around a U-Net F; data are uint8 NCHW images ([-1, 1] inside)."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        self.net = UNet(cfg)

    @property
    def sample_shape(self) -> tuple:
        return (self.cfg.in_channels, self.cfg.img_resolution, self.cfg.img_resolution)

    def encode(self, data, device="cpu") -> torch.Tensor:
        return to_float(data, device)

    def decode(self, x: torch.Tensor) -> np.ndarray:
        return to_uint8(x)


def draw_noise(g: torch.Generator, batch: int, shape: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """sigma (ln sigma ~ N(P_mean, P_std^2)) and unit noise for a batch, from generator g (on the CPU, so a
    run's draws do not depend on the device or on how the batch is split across processes)."""
    sigma = (torch.randn(batch, generator=g) * P_STD + P_MEAN).exp()
    return sigma, torch.randn((batch,) + tuple(shape), generator=g)


def edm_loss(D: nn.Module, y: torch.Tensor, labels: torch.Tensor | None, sigma: torch.Tensor,
             unit_noise: torch.Tensor) -> torch.Tensor:
    """Per-sample EDM loss weight(sigma) |D(y + sigma n; sigma) - y|^2 (mean over a sample's entries: pixels
    of an image, coordinates of a point)."""
    sigma = sigma.to(y.device)
    n = unit_noise.to(y.device) * per_sample(sigma, y)
    weight = (sigma**2 + SIGMA_DATA**2) / (sigma * SIGMA_DATA) ** 2
    return weight * ((D(y + n, sigma, labels) - y) ** 2).mean(dim=tuple(range(1, y.ndim)))


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


def guided(D_base: nn.Module, D_aux: nn.Module | None = None, w: float = 0.0, class_labels=None) -> Callable:
    """denoise(x, sigma) = D_base + w (D_base - D_aux) (SIMS negative guidance; autoguidance with g = 1 + w);
    w = 0 or no auxiliary model gives D_base."""
    def f(x, sigma):
        base = D_base(x, sigma, class_labels)
        if D_aux is None or w == 0:
            return base
        return base + w * (base - D_aux(x, sigma, class_labels))
    return f


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """[-1, 1] float images -> uint8 NCHW (EDM's x * 127.5 + 128, clipped)."""
    return (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()


def to_float(x: np.ndarray | torch.Tensor, device="cpu") -> torch.Tensor:
    """uint8 NCHW -> float in [-1, 1]."""
    t = torch.as_tensor(np.asarray(x)).to(device)
    return t.to(torch.float32) / 127.5 - 1


@torch.no_grad()
def generate(D: Preconditioned, seeds, device, num_steps: int = 18, batch: int = 256, class_labels=None,
             denoise: Callable | None = None, progress: bool = False) -> np.ndarray:
    """Samples for ``seeds`` (one per seed) with the Heun sampler, decoded by ``D`` (uint8 images from a U-Net
    denoiser, float64 points from a point denoiser); ``denoise`` overrides D (guidance)."""
    shape = tuple(D.sample_shape)
    seeds = list(seeds)
    out = []
    it = range(0, len(seeds), batch)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="sample", unit="batch", disable=None)
    for s in it:
        lat = latents_for_seeds(seeds[s:s + batch], shape, device)
        lab = None if class_labels is None else class_labels[s:s + batch].to(device)
        f = denoise or (lambda x, sigma: D(x, sigma, lab))
        out.append(D.decode(heun_sample(f, lat, num_steps)))
    return np.concatenate(out) if out else D.decode(torch.zeros((0,) + shape, dtype=torch.float64))
