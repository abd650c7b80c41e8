"""EDM's training loss (Karras et al. 2022): ln sigma ~ N(P_mean, P_std^2) = N(-1.2, 1.2^2), weight
(sigma^2 + sd^2) / (sigma sd)^2, the squared error of the denoised sample averaged over its entries."""
from __future__ import annotations

import torch
from torch import nn

from .precond import SIGMA_DATA, per_sample

P_MEAN, P_STD = -1.2, 1.2


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
