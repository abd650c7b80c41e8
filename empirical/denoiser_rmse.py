r"""A network's denoiser measured against an exact one: the RMS gap at each noise level, its SE and the exact
denoiser's own error, the part of the point and mixture rungs' measurements that does not depend on the law's form."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch


@torch.no_grad()
def denoiser_rmse(D, exact: Callable[[np.ndarray, float], np.ndarray], x0: np.ndarray, sigmas: Sequence[float],
                  rng: np.random.Generator, device="cpu") -> dict:
    r"""RMS error of the network D against the exact denoiser D*(y, sigma) = E[x0 | y] (Tweedie) at each sigma:
    y = x0 + sigma n with n ~ N(0, I) from ``rng`` (one draw per sigma, in order), error^2 = mean over draws and
    coordinates of (D(y) - D*(y))^2; with its delta-method SE (the draws' spread of the per-draw squared error)
    and the exact denoiser's own RMS error to x0, the least any denoiser can reach. ``x0``: (n, d) flat draws of
    the law; D receives them in its ``sample_shape`` where it has one."""
    n = x0.shape[0]
    shape = (n,) + tuple(getattr(D, "sample_shape", x0.shape[1:]))
    rmse, se, floor = [], [], []
    for s in sigmas:
        y = x0 + s * rng.standard_normal(x0.shape)
        ref = exact(y, s)
        net = D(torch.as_tensor(y.reshape(shape), dtype=torch.float32, device=device),
                torch.full((n,), s, dtype=torch.float32, device=device)).double().cpu().numpy().reshape(n, -1)
        e2 = ((net - ref) ** 2).mean(axis=1)
        m = math.sqrt(e2.mean())
        rmse.append(m)
        se.append(float(e2.std(ddof=1) / math.sqrt(n) / (2 * m)) if m > 0 else 0.0)
        floor.append(math.sqrt(((ref - x0) ** 2).mean()))
    return {"denoiser_sigmas": list(sigmas), "denoiser_rmse": rmse, "denoiser_rmse_se": se,
            "denoiser_mmse_rms": floor, "denoiser_n": n}
