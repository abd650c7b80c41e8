r"""A residual MLP denoiser for points (n, d): the low-dimensional twin of the U-Net
([`empirical.networks.unet`][empirical.networks.unet]).

F(x_in; c_noise) = out(SiLU(LN(h_L))), h_0 = in(x_in), h_{l+1} = h_l + fc1(SiLU(fc0(SiLU(LN(h_l))) (1 + a_l) + b_l))
with (a_l, b_l) an affine map of the noise embedding e = MLP([cos 2 pi f_k c_noise, sin 2 pi f_k c_noise]) and
f_k geometric from 1/4 to 16 cycles per unit of c_noise = ln(sigma)/4 (the U-Net's residual blocks with
scale-and-shift conditioning, with linear layers). Optionally the input goes in beside Fourier features
[cos 2 pi B x_in, sin 2 pi B x_in] with fixed Gaussian frequencies B (Tancik et al. 2020), which lets a small MLP
resolve narrow, many-mode laws that it otherwise blurs (spectral bias). A batch at one noise level (the sampler's)
embeds it once. The last layer of each block and the output layer start at zero, so an untrained denoiser is
c_skip x. EDM preconditioning is [`empirical.edm.precond.Preconditioned`][empirical.edm.precond.Preconditioned].

Data normalisation: points live in the network's space as z = (x - shift) / scale per coordinate (``shift`` and
``scale`` of the config, fixed from the real data when a run starts: mean and std / sigma_data), so that every
coordinate has std sigma_data = 0.5 as EDM's schedule and preconditioning assume, whatever the law's scale.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from simtheory import validate

from ..edm.precond import Preconditioned


@dataclass(frozen=True)
class MLPConfig:
    """Architecture of [`MLPDenoiser`][empirical.networks.mlp.MLPDenoiser] and the affine map between data and the network's space."""

    dim: int = 2                  # d, the points' dimension
    width: int = 128              # hidden units
    depth: int = 3                # residual blocks
    emb_features: int = 32        # Fourier features of c_noise (half cos, half sin)
    input_features: int = 0       # Fourier features of the input beside it (half cos, half sin); 0: none
    input_scale: float = 1.0      # std of their frequencies, in cycles per unit of c_in x
    shift: tuple = ()             # x = shift + scale * z per coordinate; () means zeros
    scale: tuple = ()             # () means ones

    def __post_init__(self):
        validate.count(self.dim, "dim", minimum=1)
        validate.count(self.width, "width", minimum=2)
        validate.count(self.depth, "depth", minimum=0)
        validate.count(self.emb_features, "emb_features", minimum=2)
        validate.count(self.input_features, "input_features", minimum=0)
        if self.emb_features % 2 or self.input_features % 2:
            raise ValueError(f"emb_features and input_features must be even (cos and sin pairs), got "
                             f"{self.emb_features}, {self.input_features}")
        if not (math.isfinite(self.input_scale) and self.input_scale > 0):
            raise ValueError(f"input_scale must be finite and > 0, got {self.input_scale}")
        shift = tuple(float(v) for v in self.shift) or (0.0,) * self.dim
        scale = tuple(float(v) for v in self.scale) or (1.0,) * self.dim
        if len(shift) != self.dim or len(scale) != self.dim:
            raise ValueError(f"shift and scale need dim = {self.dim} entries, got {len(shift)} and {len(scale)}")
        if not all(math.isfinite(v) for v in shift) or not all(math.isfinite(v) and v > 0 for v in scale):
            raise ValueError(f"shift must be finite and scale finite and > 0, got {shift}, {scale}")
        object.__setattr__(self, "shift", shift)
        object.__setattr__(self, "scale", scale)

    def to_dict(self) -> dict:
        return asdict(self)


class _Block(nn.Module):
    def __init__(self, width: int, emb: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc0 = nn.Linear(width, width)
        self.affine = nn.Linear(emb, 2 * width)
        self.fc1 = nn.Linear(width, width)
        nn.init.zeros_(self.fc1.weight)
        nn.init.zeros_(self.fc1.bias)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        a = self.fc0(F.silu(self.norm(h)))
        scale, shift = self.affine(emb).chunk(2, dim=1)
        return h + self.fc1(F.silu(torch.addcmul(shift, a, scale + 1)))


class MLP(nn.Module):
    """The network F(x_in (n, d), c_noise (n,)) -> (n, d) of [`MLPDenoiser`][empirical.networks.mlp.MLPDenoiser]."""

    freqs: torch.Tensor
    input_freqs: torch.Tensor

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        half = cfg.emb_features // 2
        self.register_buffer("freqs", 2 * math.pi * torch.logspace(math.log10(0.25), math.log10(16.0), half),
                             persistent=False)
        self.emb = nn.Sequential(nn.Linear(cfg.emb_features, cfg.width), nn.SiLU(), nn.Linear(cfg.width, cfg.width),
                                 nn.SiLU())
        if cfg.input_features:        # Tancik et al. 2020: fixed Gaussian frequencies (seed 0), kept in the state
            B = torch.randn(cfg.input_features // 2, cfg.dim, generator=torch.Generator().manual_seed(0))
            self.register_buffer("input_freqs", 2 * math.pi * cfg.input_scale * B)
        self.inp = nn.Linear(cfg.dim + cfg.input_features, cfg.width)
        self.blocks = nn.ModuleList(_Block(cfg.width, cfg.width) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.width)
        self.out = nn.Linear(cfg.width, cfg.dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, class_labels: torch.Tensor | None = None):
        if class_labels is not None:
            raise ValueError("the point MLP is unconditional: class_labels must be None")
        c = c_noise.to(torch.float32)
        if c.numel() > 1 and bool((c == c[0]).all()):
            c = c[:1]             # one noise level (the sampler): embed once, broadcast in the blocks
        phase = c[:, None] * self.freqs[None]
        emb = self.emb(torch.cat([phase.cos(), phase.sin()], dim=1))
        if hasattr(self, "input_freqs"):
            phase = x @ self.input_freqs.T
            x = torch.cat([x, phase.cos(), phase.sin()], dim=1)
        h = self.inp(x)
        for b in self.blocks:
            h = b(h, emb)
        return self.out(F.silu(self.norm(h)))


class MLPDenoiser(Preconditioned):
    """EDM denoiser of points: preconditioning around [`MLP`][empirical.networks.mlp.MLP]; data are float (n, d) arrays in the data's
    own units, mapped to the network's space by the config's shift and scale."""

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        self.cfg = cfg
        self.net = MLP(cfg)

    @property
    def sample_shape(self) -> tuple:
        return (self.cfg.dim,)

    def encode(self, data, device="cpu") -> torch.Tensor:
        """Points (n, d) -> (x - shift) / scale as float32 on ``device``."""
        x = torch.as_tensor(np.asarray(data, dtype=np.float64))
        z = (x - torch.tensor(self.cfg.shift, dtype=torch.float64)) / torch.tensor(self.cfg.scale, dtype=torch.float64)
        return z.to(torch.float32).to(device)

    def decode(self, x: torch.Tensor) -> np.ndarray:
        """Sampler output z (n, d) -> shift + scale * z as float64 numpy points."""
        z = x.detach().to("cpu", torch.float64).numpy()
        return np.asarray(self.cfg.shift) + np.asarray(self.cfg.scale) * z


def normalisation(x: np.ndarray, sigma_data: float = 0.5) -> tuple[tuple, tuple]:
    """(shift, scale) that give points x (n, d) zero mean and std ``sigma_data`` per coordinate in the network's
    space (EDM's sigma_data); a coordinate without spread is a ValueError."""
    x = validate.finite_array(x, "points")
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"points must be an (n >= 2, d) array, got shape {x.shape}")
    sd = x.std(axis=0)
    if np.any(sd <= 0):
        raise ValueError(f"coordinates {np.flatnonzero(sd <= 0).tolist()} of the points have no spread")
    return tuple(x.mean(axis=0).tolist()), tuple((sd / sigma_data).tolist())
