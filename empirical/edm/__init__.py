r"""The neural core of EDM (Karras et al. 2022), for samples of any shape (images (n, C, H, W), points (n, d)):

    precond   the preconditioned denoiser D(x; sigma) = c_skip x + c_out F(c_in x; c_noise) around a network
    loss      the training loss: ln sigma ~ N(-1.2, 1.2^2), weight (sigma^2 + sd^2) / (sigma sd)^2
    sampler   the deterministic Heun sampler, per-seed latents, generate (a network's samples for seeds)
    guidance  D_base + w (D_base - D_aux) (SIMS, autoguidance) with the denoiser's own signature

Every denoiser, a network or a guided pair, has one signature, D(x, sigma, class_labels); the networks themselves
live in `empirical.networks`.
"""
from __future__ import annotations

import importlib
import warnings

from .guidance import (GuidedDenoiser, PairedDenoiser, check_interval, guided_denoiser, guided_generate, num_classes,
                       one_hot, seed_labels)
from .loss import P_MEAN, P_STD, draw_noise, edm_loss
from .precond import SIGMA_DATA, Preconditioned, per_sample, precond_coefficients
from .sampler import generate, heun_sample, latents_for_seeds, sigma_steps

__all__ = ["GuidedDenoiser", "PairedDenoiser", "P_MEAN", "P_STD", "Preconditioned", "SIGMA_DATA", "check_interval",
           "draw_noise", "edm_loss", "generate", "guided_denoiser", "guided_generate", "heun_sample",
           "latents_for_seeds", "num_classes", "one_hot", "per_sample", "precond_coefficients", "seed_labels",
           "sigma_steps"]

MOVED = {"Denoiser": "empirical.networks.unet", "to_float": "empirical.networks.unet",
         "to_uint8": "empirical.networks.unet"}
"""Names this package held before its split, now where their concept lives (a DeprecationWarning on use)."""


def __getattr__(name: str):
    if name in MOVED:
        warnings.warn(f"empirical.edm.{name} moved to {MOVED[name]}.{name}; import it from there",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(MOVED[name]), name)
    raise AttributeError(f"module 'empirical.edm' has no attribute {name!r}")
