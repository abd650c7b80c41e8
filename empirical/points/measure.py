r"""What the point kind measures of a model beyond rewards: where the data law is known (a Gaussian mixture), the
squared MMD to it ([`simtheory.metrics.mmd2`][simtheory.metrics.mmd2]), the denoiser's RMS error against the exact one
([`denoiser_error`][empirical.points.measure.denoiser_error]), the exact curated trajectory of the law
([`law_reference`][empirical.points.measure.law_reference]) and the sampler's own error
on it ([`exact_sampler_error`][empirical.points.measure.exact_sampler_error])."""
from __future__ import annotations

import math

import numpy as np

from simtheory import predict

from ..denoiser_rmse import denoiser_rmse
from ..networks.mlp import MLPConfig, MLPDenoiser
from ..seeds import stream_seed
from .config import PointLoopConfig


def network_law(law: dict, mlp: MLPConfig) -> dict:
    """The data law in the network's space z = (x - shift) / scale (still a Gaussian mixture)."""
    s, sh = np.asarray(mlp.scale), np.asarray(mlp.shift)
    return {"weights": law["weights"], "means": (law["means"] - sh) / s, "covs": law["covs"] / np.outer(s, s)[None]}


def denoiser_error(D: MLPDenoiser, law: dict, sigmas, n: int, seed: int, device="cpu") -> dict:
    r"""RMS error of D against the exact denoiser D* of the data law (Tweedie, [`simtheory.diffusion.gmm_denoiser`][simtheory.diffusion.denoiser.gmm_denoiser])
    at each sigma, in the network's units (data std 0.5 per coordinate): x0 ~ law (n points, generator ``seed``),
    y = x0 + sigma n, error^2 = mean over points and coordinates of (D(y) - D*(y))^2; with its delta-method SE and,
    for scale, the exact denoiser's own RMS error to x0 (the least any denoiser can reach)."""
    from simtheory.diffusion import gmm_denoiser
    from simtheory.families import gmm
    nl = network_law(law, D.cfg)
    rng = np.random.default_rng(seed)
    x0 = gmm.sample(nl, n, rng)
    return denoiser_rmse(D, lambda y, s: gmm_denoiser(y, s, nl["weights"], nl["means"], nl["covs"]), x0, sigmas, rng,
                         device)




def law_reference(cfg: PointLoopConfig, mixture: dict, score) -> dict:
    """[`simtheory.predict.law_trajectory`][simtheory.predict.multistep.law_trajectory] of the data law ``mixture``: n_law exact draws (stream 'law'),
    scored and labelled by ``score``, run through the exact curated dynamics of the run's K, lam, scheme and
    generations, with the noise of its N real and n_synthetic kept samples per generation."""
    from simtheory.families import gmm
    pts = gmm.sample(mixture, cfg.n_law, np.random.default_rng(stream_seed(cfg.seed, "law")))
    r, lab = score(pts)
    nc = 1 if cfg.modes is None else len(cfg.modes)
    return predict.law_trajectory(r, lab, cfg.K, cfg.generations, lam=cfg.lam, scheme=cfg.scheme,
                                  n_real=cfg.n_samples, n_synthetic=cfg.n_synthetic, n_classes=nc)




def exact_sampler_error(cfg: PointLoopConfig, mixture: dict, score, law: dict) -> dict:
    """``exact_sampler_error`` (with ``_se``): the exact denoiser of ``mixture`` ([`simtheory.diffusion.gmm_denoiser`][simtheory.diffusion.denoiser.gmm_denoiser])
    through the Heun sampler of `simtheory.diffusion` at the run's num_steps, in the network's space,
    on n_sampler draws (stream 'law', generation 1), against the law's exact E[r]."""
    from simtheory.diffusion import gmm_denoiser, heun_sample
    mlp = cfg.train.mlp
    assert mlp is not None, "a point loop trains the MLP"
    nl = network_law(mixture, mlp)
    n = min(cfg.n_sampler, cfg.n_eval)
    lat = np.random.default_rng(stream_seed(cfg.seed, "law", 1)).standard_normal((n, len(mlp.shift)))
    z = heun_sample(lambda x, s: gmm_denoiser(x, s, nl["weights"], nl["means"], nl["covs"]), lat, cfg.num_steps)
    pts = np.asarray(mlp.shift) + np.asarray(mlp.scale) * z
    r = score(pts)[0]
    se = math.hypot(float(r.std(ddof=1)) / math.sqrt(n), float(law["mean_reward_se"][0]))
    return {"exact_sampler_error": float(r.mean() - law["mean_reward"][0]), "exact_sampler_error_se": se,
            "exact_sampler_steps": cfg.num_steps, "n_exact_sampler": n}
