r"""What the mixture kind measures against its exact law: the exact curated trajectory's weights on the law's
atoms, the Frechet distance of samples' moments to an exact mean and covariance with its noise floor, errors
against the law's E[r] and class shares, and the exact denoiser (the law's own, float64) through the loop's Heun
sampler and against a network."""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from simtheory import curated
from simtheory.diffusion.lowrank import LowRankMixture
from simtheory.fold import mixing_weights

from ..denoiser_rmse import denoiser_rmse


def frechet_reference(mean: np.ndarray, cov: np.ndarray) -> dict:
    """The reference side of `frechet_to`: the mean, the covariance, its trace and its symmetric square root
    (eigendecomposition, negative rounding-level eigenvalues taken as 0)."""
    mean = np.asarray(mean, np.float64)
    cov = np.asarray(cov, np.float64)
    cov = 0.5 * (cov + cov.T)
    lam, V = np.linalg.eigh(cov)
    root = (V * np.sqrt(np.maximum(lam, 0.0))) @ V.T
    return {"mean": mean, "cov": cov, "trace": float(np.trace(cov)), "root": 0.5 * (root + root.T)}


def frechet_to(samples: np.ndarray, ref: dict) -> float:
    r"""Frechet distance of the samples' mean and covariance (ddof 1) to a reference (`frechet_reference`):
    $|\mu_s - \mu|^2 + \mathrm{tr}\,\Sigma_s + \mathrm{tr}\,\Sigma - 2\,\mathrm{tr}\,(\Sigma^{1/2} \Sigma_s
    \Sigma^{1/2})^{1/2}$ (Dowson & Landau 1982; the FID's formula, with the reference's root taken once and the
    last trace from the eigenvalues of a symmetric matrix)."""
    x = np.asarray(samples, np.float64).reshape(len(samples), -1)
    mu = x.mean(axis=0)
    S = np.cov(x, rowvar=False)
    R = ref["root"]
    M = R @ S @ R
    ev = np.linalg.eigvalsh(0.5 * (M + M.T))
    cross = float(np.sqrt(np.maximum(ev, 0.0)).sum())
    return float(np.sum((mu - ref["mean"]) ** 2) + np.trace(S) + ref["trace"] - 2 * cross)


def curated_weights(rewards: np.ndarray, K, steps: int, lam: float, scheme: str) -> np.ndarray:
    r"""Weights (steps + 1, M) of the exact curated trajectory on M equally weighted atoms with ``rewards``:
    $p_{t+1} = d_{t+1} p_0 + \sum_{s \le t} W_{t+1,s}\, c(p_s)$ with the mixing rule of
    [`simtheory.fold.mixing_weights`][simtheory.fold.mixing_weights] and c the exact curated step
    [`simtheory.curated`][simtheory.curation.curated] (Eq. 6 of Ferbach
    et al. 2024; Sec. 3 for the mixing): the trajectory
    [`simtheory.predict.law_trajectory`][simtheory.predict.multistep.law_trajectory] follows, as weights
    on the atoms for moments other than its own."""
    r = np.asarray(rewards, np.float64)
    M = r.size
    W, d = mixing_weights(scheme, lam, steps)
    P = np.empty((steps + 1, M))
    C = np.empty((steps, M))
    P[0] = 1.0 / M
    for t in range(steps):
        C[t] = curated(P[t], r, K)
        nxt = d[t + 1] * P[0] + W[t + 1, : t + 1] @ C[: t + 1]
        P[t + 1] = nxt / nxt.sum()
    return P


def against_law(r: np.ndarray, y: np.ndarray, law: dict, n_classes: int, prefix: str) -> dict:
    """``<prefix>_error`` (E[r] of the draws minus the law's, generation 0) and ``<prefix>_class_share_error`` (per
    class), each with ``_se`` (the draws' and the law's Monte Carlo error)."""
    n = len(r)
    q = np.bincount(y, minlength=n_classes) / n
    lq, lq_se = np.asarray(law["class_proportions"][0]), np.asarray(law["class_proportions_se"][0])
    return {f"{prefix}_error": float(r.mean() - law["mean_reward"][0]),
            f"{prefix}_error_se": math.hypot(float(r.std(ddof=1)) / math.sqrt(n), float(law["mean_reward_se"][0])),
            f"{prefix}_class_share_error": (q - lq).tolist(),
            f"{prefix}_class_share_error_se": np.sqrt(q * (1 - q) / n + lq_se**2).tolist()}


def display_uint8(x: np.ndarray) -> np.ndarray:
    """Float images in [-1, 1] as 8-bit pixels for a picture (x 127.5 + 128, rounded down, outside values shown at
    0 or 255): for display only, never for data."""
    return np.clip(np.asarray(x) * 127.5 + 128, 0, 255).astype(np.uint8)


@torch.no_grad()
def exact_denoiser(law: LowRankMixture, device="cpu") -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The law's exact denoiser as the callable (x, sigma) -> D of [`empirical.edm.heun_sample`][empirical.edm.sampler.heun_sample],
    computed in float64 behind the sampler's float32 boundary: on a CPU by the numpy law itself
    ([`LowRankMixture.denoiser`][simtheory.diffusion.lowrank.LowRankMixture.denoiser], its fused kernel: 17x the
    torch twin at 32 x 32), elsewhere by the torch twin on the device
    ([`empirical.lowrank.TorchLowRankMixture.as_denoiser`][empirical.lowrank.TorchLowRankMixture.as_denoiser]); the
    two agree to float64 rounding (tests/empirical/test_lowrank.py)."""
    from ..lowrank import TorchLowRankMixture
    if torch.device(device).type != "cpu":
        return TorchLowRankMixture(law).as_denoiser(torch.float64)

    def denoise(x: torch.Tensor, sigma) -> torch.Tensor:
        n = x.shape[0]
        x2 = x.detach().to("cpu", torch.float64).numpy().reshape(n, -1)
        s = np.broadcast_to(torch.as_tensor(sigma).detach().to("cpu", torch.float64).numpy(), (n,))
        out = np.empty_like(x2)
        for v in np.unique(s):                 # the sampler passes one sigma per step; rows may differ in general
            rows = s == v
            out[rows] = law.denoiser(x2[rows], float(v))
        return torch.from_numpy(out).reshape(x.shape).to(x.device, x.dtype)
    return denoise


def exact_samples(law: LowRankMixture, seeds, num_steps: int, shape: tuple, device="cpu",
                  batch: int = 256) -> np.ndarray:
    """Samples of the exact denoiser of ``law`` ([`exact_denoiser`][empirical.mixture.measure.exact_denoiser],
    float64) through [`empirical.edm.heun_sample`][empirical.edm.sampler.heun_sample], the loop's sampler, from the
    latents of ``seeds`` (one per seed, as a network's sampler draws them); float64 (n, *shape)."""
    from ..edm import heun_sample, latents_for_seeds
    D = exact_denoiser(law, device)
    seeds = [int(s) for s in seeds]
    out = [heun_sample(D, latents_for_seeds(seeds[s:s + batch], shape, device), num_steps).cpu().numpy()
           for s in range(0, len(seeds), batch)]
    return np.concatenate(out) if out else np.zeros((0,) + tuple(shape))


def denoiser_error(D, law: LowRankMixture, sigmas, n: int, seed: int, device="cpu") -> dict:
    r"""RMS error of the network D against the exact denoiser D* of the law (Tweedie,
    [`LowRankMixture.denoiser`][simtheory.diffusion.lowrank.LowRankMixture.denoiser]) at each sigma, per pixel, in the
    law's [-1, 1] space: x0 ~ law (n draws,
    generator ``seed``), y = x0 + sigma n, error^2 = mean over images and pixels of (D(y) - D*(y))^2; with its
    delta-method SE and the exact denoiser's own RMS error to x0 (the least any denoiser can reach)."""
    rng = np.random.default_rng(seed)
    return denoiser_rmse(D, law.denoiser, law.sample(n, rng), sigmas, rng, device)
