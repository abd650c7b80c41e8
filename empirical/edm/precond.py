r"""EDM preconditioning (Karras et al. 2022, Table 1) for samples of any shape: images (n, C, H, W) and points
(n, d) go through the same code.

D(x; sigma) = c_skip x + c_out F(c_in x; c_noise), sigma_data = 0.5:
c_skip = sd^2/(sigma^2 + sd^2), c_out = sigma sd / sqrt(sigma^2 + sd^2), c_in = 1/sqrt(sigma^2 + sd^2),
c_noise = ln(sigma)/4.

A denoiser is a [`Preconditioned`][empirical.edm.precond.Preconditioned] module around a network F of the sample's shape
(`empirical.networks`);
it also says how data enter and leave its space (``encode``: uint8 images to [-1, 1], or points through the affine
map of their architecture's config; ``decode``: the reverse), so training and
[`empirical.edm.generate`][empirical.edm.sampler.generate] need no
case per data kind. Every denoiser, network or guided, has one signature: D(x, sigma, class_labels).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    import numpy as np

SIGMA_DATA = 0.5


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

    if TYPE_CHECKING:     # what every subclass gives (sample_shape as a property of its config), for the type checker
        @property
        def sample_shape(self) -> tuple: ...

        def encode(self, data, device="cpu") -> torch.Tensor: ...

        def decode(self, x: torch.Tensor) -> np.ndarray: ...

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, class_labels: torch.Tensor | None = None):
        sigma = per_sample(sigma, x).to(torch.float32)
        c_skip, c_out, c_in, c_noise = precond_coefficients(sigma)
        F_x = self.net((c_in * x).to(x.dtype), c_noise.flatten(), class_labels)
        return c_skip * x + c_out * F_x.to(torch.float32)
