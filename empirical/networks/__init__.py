"""The networks of the project, each beside its config: [`unet`][empirical.networks.unet] (the U-Net and its EDM denoiser, images),
[`mlp`][empirical.networks.mlp] (the residual MLP denoiser, points) and [`classifier`][empirical.networks.classifier]
(the reward classifier and the judge).
`ARCHITECTURES` names the denoisers a training run can build; a checkpoint records its network under one of
these names (`build_network`).
"""
from __future__ import annotations

from ..edm.precond import Preconditioned
from .mlp import MLPConfig, MLPDenoiser
from .unet import Denoiser, UNetConfig

__all__ = ["ARCHITECTURES", "build_network"]

ARCHITECTURES = {"unet": (UNetConfig, Denoiser), "mlp": (MLPConfig, MLPDenoiser)}
"""name -> (config class, denoiser class); a checkpoint's JSON names its architecture by one of these keys."""


def build_network(network_config: dict) -> Preconditioned:
    """The (untrained) denoiser of a network config {arch: {...}} as checkpoints store it; a config naming no
    known architecture, or several, is a ValueError."""
    found = [k for k in ARCHITECTURES if network_config.get(k) is not None]
    if len(found) != 1:
        raise ValueError(f"a network config names exactly one architecture of {sorted(ARCHITECTURES)}; "
                         f"got keys {sorted(network_config)}")
    cfg_cls, net_cls = ARCHITECTURES[found[0]]
    cfg = network_config[found[0]]
    return net_cls(cfg if isinstance(cfg, cfg_cls) else cfg_cls(**cfg))
