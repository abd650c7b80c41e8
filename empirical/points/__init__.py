r"""The curated retraining loop on low-dimensional points with a neural EDM model: the rung where the theorems'
exact predictions and a trained network meet.

The loop is the fold of [`empirical.fold.run_fold`][empirical.fold.run_fold] with points as its data kind
([`PointData`][empirical.points.kind.PointData]): real
points come from a named data set of [`simtheory.datasets`][simtheory.datasets] (the laws the theory half runs on) or
from any
(n, d) float array (Python, or a ``.npy`` / ``.csv`` file on the command line); the reward is the data set's or any
callable of points (n, d) -> (n,); labels, for the class proportions of the image loop, are the nearest of the
data set's modes (one class "all" without modes). The network is
[`empirical.networks.mlp.MLPDenoiser`][empirical.networks.mlp.MLPDenoiser],
trained by [`empirical.train.train`][empirical.train.train] (EMA, per-step seeds, resume, checkpoints, DDP, progress),
with the points
normalised per coordinate to std sigma_data = 0.5 from the run's real training points (so a law of any scale meets
EDM's noise schedule as an image does).

K, lam, scheme, seed, the run folder (config.json, log.jsonl, metrics.jsonl, gen_XXX/ with network.pt,
training-state.pt, synthetic.npz), resume, the refusal of a changed config and the metrics keys of the one- and
multi-step predictions are the image loop's. Each generation measures on ``n_eval`` fixed-seed samples: the mean
reward and E[e^r] with SEs, the mode proportions, and, where the data law is known (a Gaussian mixture), the
squared MMD to it with its SE ([`simtheory.metrics.mmd2`][simtheory.metrics.mmd2], the estimator of the theory half's
loops too). Generation 0 also records the denoiser's RMS error against the exact denoiser of the data law
([`simtheory.diffusion.gmm_denoiser`][simtheory.diffusion.denoiser.gmm_denoiser]) at a few noise levels.
``gen_XXX/samples.npz`` keeps the evaluation points (figures read them).

    config   PointLoopConfig and its presets (tiny, cpu)
    inputs   real points, the reward, labels by the nearest mode, checked before any folder exists
    measure  MMD^2 to the law, the denoiser's error, the law's exact trajectory, the sampler's error on it
    kind     PointData (the DataKind) and run_point_loop
"""
from __future__ import annotations

import warnings

from ..networks.mlp import MLPConfig, MLPDenoiser
from .config import POINT_PRESETS, PointLoopConfig, point_preset
from .inputs import check_points, checked_reward, load_points, nearest, resolve_inputs, reward_from_spec
from .kind import PointData, run_point_loop
from .measure import denoiser_error, exact_sampler_error, law_reference, network_law

__all__ = ["MLPConfig", "MLPDenoiser", "PointLoopConfig", "PointData", "point_preset", "run_point_loop",
           "load_points", "denoiser_error", "POINT_PRESETS", "check_points", "checked_reward", "exact_sampler_error",
           "law_reference", "nearest", "network_law", "resolve_inputs", "reward_from_spec"]


def __getattr__(name: str):
    if name == "resolve":
        warnings.warn("empirical.points.resolve is empirical.points.resolve_inputs", DeprecationWarning, stacklevel=2)
        return resolve_inputs
    raise AttributeError(f"module 'empirical.points' has no attribute {name!r}")
