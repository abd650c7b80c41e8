"""A DDPM++-style U-Net whose width, depth, attention and class conditioning are options (Karras et al. 2022,
Song et al. 2021): residual blocks with a noise embedding (scale and shift), self-attention at chosen
resolutions, average-pool down and nearest up sampling, skip connections between the two halves; and
[`Denoiser`][empirical.networks.unet.Denoiser], the EDM-preconditioned denoiser around it, whose data are uint8 NCHW
images ([-1, 1] inside:
[`to_float`][empirical.networks.unet.to_float], [`to_uint8`][empirical.networks.unet.to_uint8]), or with ``float_data``
float NCHW arrays already in that space (exact draws of a law, which quantising to 8 bits would change)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..edm.precond import Preconditioned


@dataclass(frozen=True)
class UNetConfig:
    img_resolution: int = 32
    in_channels: int = 3
    channels: int = 64            # base width
    channel_mult: tuple = (1, 2, 2)
    num_blocks: int = 2           # residual blocks per resolution
    attn_resolutions: tuple = (16,)
    dropout: float = 0.1
    num_classes: int = 0          # 0: unconditional
    float_data: bool = False      # data are float arrays in the [-1, 1]-scaled space (exact draws of a law), not uint8

    def __post_init__(self):
        object.__setattr__(self, "channel_mult", tuple(int(c) for c in self.channel_mult))
        object.__setattr__(self, "attn_resolutions", tuple(int(c) for c in self.attn_resolutions))
        if self.img_resolution % 2 ** (len(self.channel_mult) - 1):
            raise ValueError(f"img_resolution {self.img_resolution} is not divisible by 2^(levels-1)")
        if self.channels < 8 or self.channels % 4:
            raise ValueError(f"channels must be a multiple of 4 and >= 8, got {self.channels}")

    def to_dict(self) -> dict:
        """Every field; ``float_data`` only when set, so the JSON of uint8 networks (and their run configs) stays as
        it was before the option existed."""
        d = asdict(self)
        if not self.float_data:
            del d["float_data"]
        return d


def _norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, c // 4), c, eps=1e-6)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb: int, dropout: float, attn: bool):
        super().__init__()
        self.n0, self.c0 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.affine = nn.Linear(emb, 2 * cout)
        self.n1, self.c1 = _norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        assert self.c1.bias is not None                        # a Conv2d made with its default bias=True
        nn.init.zeros_(self.c1.weight)
        nn.init.zeros_(self.c1.bias)
        self.drop = nn.Dropout(dropout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        self.attn = attn
        if attn:
            self.na, self.qkv, self.proj = _norm(cout), nn.Conv2d(cout, 3 * cout, 1), nn.Conv2d(cout, cout, 1)
            assert self.proj.bias is not None                  # a Conv2d made with its default bias=True
            nn.init.zeros_(self.proj.weight)
            nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.c0(F.silu(self.n0(x)))
        scale, shift = self.affine(emb)[:, :, None, None].chunk(2, dim=1)
        h = F.silu(torch.addcmul(shift, self.n1(h), scale + 1))
        x = self.skip(x) + self.c1(self.drop(h))
        if self.attn:
            b, c, hh, ww = x.shape
            q, k, v = self.qkv(self.na(x)).reshape(b, 3, c, hh * ww).unbind(1)
            a = F.scaled_dot_product_attention(q.transpose(1, 2)[:, None], k.transpose(1, 2)[:, None],
                                               v.transpose(1, 2)[:, None])[:, 0]
            x = x + self.proj(a.transpose(1, 2).reshape(b, c, hh, ww))
        return x


class UNet(nn.Module):
    """F(x; c_noise, class) for the EDM preconditioning; x of shape (B, C, R, R)."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        c0, emb = cfg.channels, 4 * cfg.channels
        self.emb = nn.Sequential(nn.Linear(c0, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label = nn.Linear(cfg.num_classes, emb, bias=False) if cfg.num_classes else None
        self.inp = nn.Conv2d(cfg.in_channels, c0, 3, padding=1)
        self.down, skips, ch, res = nn.ModuleList(), [c0], c0, cfg.img_resolution
        for lvl, m in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_blocks):
                self.down.append(ResBlock(ch, c0 * m, emb, cfg.dropout, res in cfg.attn_resolutions))
                ch = c0 * m
                skips.append(ch)
            if lvl < len(cfg.channel_mult) - 1:
                self.down.append(nn.AvgPool2d(2))
                skips.append(ch)
                res //= 2
        self.mid = nn.ModuleList([ResBlock(ch, ch, emb, cfg.dropout, True), ResBlock(ch, ch, emb, cfg.dropout, False)])
        self.up = nn.ModuleList()
        for lvl, m in reversed(list(enumerate(cfg.channel_mult))):
            for _ in range(cfg.num_blocks + 1):
                self.up.append(ResBlock(ch + skips.pop(), c0 * m, emb, cfg.dropout, res in cfg.attn_resolutions))
                ch = c0 * m
            if lvl > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
                res *= 2
        head = nn.Conv2d(ch, cfg.in_channels, 3, padding=1)     # GroupNorm's init draws nothing: same RNG order
        self.out = nn.Sequential(_norm(ch), nn.SiLU(), head)
        assert head.bias is not None                                 # a Conv2d made with its default bias=True
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)

    def _embed(self, c_noise: torch.Tensor) -> torch.Tensor:
        half = self.cfg.channels // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=c_noise.device) / half)
        a = c_noise.float()[:, None] * 1000.0 * freqs[None] / 4   # c_noise = ln(sigma)/4 spans ~[-2, 1.1]
        return torch.cat([a.cos(), a.sin()], dim=1)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, class_labels: torch.Tensor | None = None):
        emb = self.emb(self._embed(c_noise))
        if self.label is not None:
            if class_labels is None:
                raise ValueError("this network is class-conditional: pass class_labels (one-hot)")
            emb = emb + self.label(class_labels.to(emb.dtype))
        emb = F.silu(emb)
        h = self.inp(x)
        hs = [h]
        for m in self.down:
            h = m(h, emb) if isinstance(m, ResBlock) else m(h)
            hs.append(h)
        for m in self.mid:
            h = m(h, emb)
        for m in self.up:
            h = m(torch.cat([h, hs.pop()], dim=1), emb) if isinstance(m, ResBlock) else m(h)
        return self.out(h)


class Denoiser(Preconditioned):
    """The preconditioned denoiser around a U-Net F; data are uint8 NCHW images ([-1, 1] inside), or with the
    config's ``float_data`` float NCHW arrays already in that space (passed through; decoded to float64, never
    quantised or clipped)."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        self.net = UNet(cfg)

    @property
    def sample_shape(self) -> tuple:
        return (self.cfg.in_channels, self.cfg.img_resolution, self.cfg.img_resolution)

    def encode(self, data, device="cpu") -> torch.Tensor:
        if self.cfg.float_data:
            return torch.as_tensor(np.asarray(data)).to(device=device, dtype=torch.float32)
        return to_float(data, device)

    def decode(self, x: torch.Tensor) -> np.ndarray:
        if self.cfg.float_data:
            return x.detach().to(torch.float64).cpu().numpy()
        return to_uint8(x)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """[-1, 1] float images -> uint8 NCHW (EDM's x * 127.5 + 128, clipped)."""
    return (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()


def to_float(x: np.ndarray | torch.Tensor, device="cpu") -> torch.Tensor:
    """uint8 NCHW -> float in [-1, 1]."""
    t = torch.as_tensor(np.asarray(x)).to(device)
    return t.to(torch.float32) / 127.5 - 1
