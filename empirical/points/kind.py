"""The point kind of the fold ([`empirical.fold_spec.DataKind`][empirical.fold_spec.DataKind]): real points, rewards from a callable, labels by the
nearest mode, the measures of [`empirical.points.measure`][empirical.points.measure];
[`run_point_loop`][empirical.points.kind.run_point_loop] runs the curated loop on it."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from simtheory.metrics import default_bandwidth, mmd2
from simtheory.runs import RunFolder

from ..fold import Sampler, run_fold
from ..samples import SAMPLES_KEY, write_npz
from ..seeds import stream_seed
from .config import PointLoopConfig
from .inputs import Reward, checked_reward, nearest, resolve_inputs
from .measure import denoiser_error, exact_sampler_error, law_reference


class PointData:
    """The point kind of the fold ([`empirical.fold.run_fold`][empirical.fold.run_fold]): real points, rewards from a callable, labels
    by the nearest mode, and the measures of [`empirical.points.measure`][empirical.points.measure]. Where the data law
    is known
    (``mixture``, a Gaussian mixture), [`start`][empirical.points.kind.PointData.start] computes its exact curated
    trajectory (``law``) from ``n_law`` exact draws."""

    def __init__(self, cfg: PointLoopConfig, x: np.ndarray, reward: Reward, mixture: dict | None, progress: bool):
        self.cfg, self.x, self.reward, self.mixture, self.progress = cfg, x, reward, mixture, progress
        self.n_classes = 1 if cfg.modes is None else len(cfg.modes)
        self.classes = ["all"] if cfg.modes is None else [f"mode {i}" for i in range(len(cfg.modes))]
        self.devices: tuple[str, ...] = (cfg.device,)
        self.log_fields: dict = {}
        self.bandwidth: float | None = None
        self.law: dict | None = None
        if mixture is not None:
            self.bandwidth = cfg.mmd_bandwidth or default_bandwidth(mixture)

    def real(self) -> tuple[np.ndarray, None]:
        """The run's real points (checked in [`resolve_inputs`][empirical.points.inputs.resolve_inputs]) and no labels (the MLP is unconditional)."""
        return self.x, None

    def start(self, rf: RunFolder) -> None:
        """The exact curated trajectory of the data law, when it is known ([`law_reference`][empirical.points.measure.law_reference])."""
        if self.mixture is not None:
            self.law = law_reference(self.cfg, self.mixture, self.score)

    def score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rewards, labels) of points: the reward callable (checked) and the nearest mode."""
        return checked_reward(self.reward, x), nearest(x, self.cfg.modes)

    def measure(self, t: int, D, samples: np.ndarray, seeds: np.ndarray, folder: Path, sample: Sampler) -> dict:
        """What the point kind measures beyond rewards on generation t's evaluation points: MMD^2 to the law (where
        known) and at t = 0 the denoiser's error against the exact one; the points go to <folder>/samples.npz."""
        cfg = self.cfg
        rec: dict = {}
        if self.mixture is not None:
            v, se = mmd2(samples, self.mixture, self.bandwidth)
            rec.update(mmd2_to_data=v, mmd2_to_data_se=se, mmd_bandwidth=self.bandwidth)
            if t == 0:
                rec.update(denoiser_error(D, self.mixture, cfg.denoiser_sigmas, cfg.n_denoiser,
                                          stream_seed(cfg.seed, "denoiser"), cfg.device))
        write_npz(Path(folder) / "samples.npz", **{SAMPLES_KEY: samples}, seeds=seeds, rewards=self.score(samples)[0])
        return rec

    def exact_sampler(self) -> dict:
        """The sampler's own error on the data law: E[r] of the exact denoiser run through the loop's Heun sampler
        (in the network's space, the run's steps, n_sampler draws) minus the law's E[r] (from its exact draws)."""
        if self.mixture is None or self.law is None:
            return {}
        return exact_sampler_error(self.cfg, self.mixture, self.score, self.law)


def run_point_loop(config: PointLoopConfig, out, data=None, reward: Reward | None = None, law: dict | None = None,
                   progress: bool = True) -> RunFolder | None:
    """Run (or resume) the curated loop on points into ``out``; returns the run folder.

    ``data``: None (the config's named data set, drawn with its seed), an (n, d) float array or a .npy/.csv path
    (the config's data set is then ignored); ``reward``: None (the data set's) or a callable of points (n, d) ->
    (n,); ``law``: the data law as a Gaussian mixture {weights, means, covs} when ``data`` are passed and their law
    is known (a named data set brings its own). Bad data or a bad reward fail before the folder exists."""
    cfg, x, reward, mixture = resolve_inputs(config, data, reward, law)
    return run_fold(cfg, PointData(cfg, x, reward, mixture, progress), out, progress)
