r"""EDM rho-schedule and deterministic Heun sampler in numpy (the rule of empirical/edm.py), guided denoisers.

sigma_i = (smax^(1/rho) + i/(N-1) (smin^(1/rho) - smax^(1/rho)))^rho for i < N, sigma_N = 0;
x_0 = latents * sigma_0; d_i = (x_i - D(x_i; sigma_i)) / sigma_i; Euler x' = x_i + (sigma_{i+1} - sigma_i) d_i,
then the trapezoidal (Heun) correction with d' = (x' - D(x'; sigma_{i+1})) / sigma_{i+1}, except on the last
step (sigma_N = 0): 2N - 1 denoiser evaluations (Karras et al. 2022, Algorithm 1).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import numpy as np

from .. import validate
from .denoiser import check_gmm, denoise_checked, gmm_denoiser


def sigma_steps(num_steps: int = 18, sigma_min: float = 0.002, sigma_max: float = 80.0,
                rho: float = 7.0) -> np.ndarray:
    """The rho-schedule sigma_0 = smax > ... > sigma_{N-1} = smin, with sigma_N = 0 appended (float64)."""
    n = validate.count(num_steps, "num_steps", minimum=2)
    for name, v in (("sigma_min", sigma_min), ("sigma_max", sigma_max), ("rho", rho)):
        if not (isinstance(v, numbers.Real) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be finite and > 0, got {v!r}")
    if not sigma_max > sigma_min:
        raise ValueError(f"sigma_max ({sigma_max}) must exceed sigma_min ({sigma_min})")
    i = np.arange(n, dtype=np.float64)
    s = (sigma_max ** (1 / rho) + i / (n - 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return np.concatenate([s, [0.0]])


def heun_sample(denoise: Callable[[np.ndarray, float], np.ndarray], latents, num_steps: int = 18,
                sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0) -> np.ndarray:
    """Deterministic Heun sampler (EDM Algorithm 1) from latents ~ N(0, I) (n, d), scaled by sigma_max inside;
    ``denoise(x, sigma)`` returns an array like x. float64 throughout."""
    t = sigma_steps(num_steps, sigma_min, sigma_max, rho)
    n = len(t) - 1                        # the validated step count (num_steps may be an integral float)
    x = validate.finite_array(latents, "latents") * t[0]
    for i in range(n):
        t0, t1 = t[i], t[i + 1]
        d = (x - np.asarray(denoise(x, t0), dtype=np.float64)) / t0
        x1 = x + (t1 - t0) * d
        if i < n - 1:
            d1 = (x1 - np.asarray(denoise(x1, t1), dtype=np.float64)) / t1
            x1 = x + (t1 - t0) * (0.5 * d + 0.5 * d1)
        x = x1
    return x


FLOAT32_TINY = float(np.finfo(np.float32).tiny)
"""float32's smallest normal number: a positive guidance weight below it is refused (a network evaluates guidance
in float32, where such a w is flushed to zero or loses its precision)."""


def check_w(w, name: str = "w") -> float:
    """Guidance weight as a float; ValueError naming it unless it is a finite number >= 0 and, when positive, at
    least [`FLOAT32_TINY`][simtheory.diffusion.sampler.FLOAT32_TINY] (pass w = 0 for no guidance)."""
    if isinstance(w, bool) or not isinstance(w, numbers.Real) or not math.isfinite(float(w)) or float(w) < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {w!r}")
    if 0 < float(w) < FLOAT32_TINY:
        raise ValueError(f"{name} = {w!r} is below float32's smallest normal number ({FLOAT32_TINY:.3g}), where the "
                         f"guidance term is flushed to zero or loses its precision; pass {name} = 0 for no guidance")
    return float(w)


def gmm_params(params: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, means, covs) of a mixture given as a dict (families.gmm's format), checked; covariances may be
    positive semi-definite: the guided denoiser is only ever evaluated at sigma > 0 (Heun skips sigma_N = 0)."""
    return check_gmm(params["weights"], params["means"], params["covs"], psd=True)


def guided_denoiser(base: dict, aux: dict | None = None, w: float = 0.0, *,
                    fast: bool = True) -> Callable[[np.ndarray, float], np.ndarray]:
    """denoise(x, sigma) = (1 + w) D_base - w D_aux (SIMS negative guidance; autoguidance with g = 1 + w) for
    mixtures given as dicts with weights, means, covs; w = 0 or no auxiliary gives D_base. The mixtures are
    checked once here; ``fast=False`` evaluates the checked numpy reference instead of the Numba kernel."""
    w = check_w(w)
    b = gmm_params(base)
    a = gmm_params(aux) if aux is not None else None
    if a is not None and a[1].shape[1] != b[1].shape[1]:
        raise ValueError(f"aux has dimension {a[1].shape[1]}, base {b[1].shape[1]}")

    den = denoise_checked if fast else (lambda x, s, *p: gmm_denoiser(x, s, *p, fast=False))

    def f(x, sigma):
        db = den(x, sigma, *b)
        if a is None or w == 0:
            return db
        return (1 + w) * db - w * den(x, sigma, *a)
    return f
