"""The fold's interfaces: the config of a loop that [`empirical.fold.run_fold`][empirical.fold.run_fold] runs ([`FoldConfig`][empirical.fold_spec.FoldConfig]), a
kind of data it runs on ([`DataKind`][empirical.fold_spec.DataKind]), the neural loop's words
([`NeuralLoopWords`][empirical.fold_spec.NeuralLoopWords]) and their check
([`check_fold_config`][empirical.fold_spec.check_fold_config]). No torch at import: a kind's config module imports these
without the neural core."""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from simtheory import fold as words
from simtheory import validate
from simtheory.runs import RunFolder

from .seeds import BLOCK_SIZE, MAX_GENERATION, MAX_SEED

if TYPE_CHECKING:
    from .edm.precond import Preconditioned
    from .sims.auxiliary import SimsSampling
    from .train import TrainConfig

Sampler = Callable[..., np.ndarray]
"""(seeds, steps=None) -> one sample per seed from a generation's model (plain, or SIMS-guided)."""


class FoldConfig(Protocol):
    """The config of a loop that [`run_fold`][empirical.fold.run_fold] runs (frozen dataclasses: [`empirical.images.ImageLoopConfig`][empirical.images.config.ImageLoopConfig],
    [`empirical.points.PointLoopConfig`][empirical.points.config.PointLoopConfig]): the loop's words of
    [`simtheory.fold`][simtheory.fold] and its networks'."""

    @property
    def n_samples(self) -> int: ...
    @property
    def K(self) -> int: ...
    @property
    def lam(self) -> float: ...
    @property
    def scheme(self) -> str: ...
    @property
    def generations(self) -> int: ...
    @property
    def n_synthetic(self) -> int: ...
    @property
    def train(self) -> TrainConfig: ...
    @property
    def finetune_samples(self) -> int: ...
    @property
    def finetune_lr(self) -> float: ...
    @property
    def finetune_ema(self) -> float: ...
    @property
    def num_steps(self) -> int: ...
    @property
    def n_eval(self) -> int: ...
    @property
    def sampler_ref_steps(self) -> int: ...
    @property
    def n_sampler(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def sims(self) -> SimsSampling | None: ...
    @property
    def device(self) -> str: ...

    def to_dict(self) -> dict: ...


class DataKind(Protocol):
    """A kind of data the fold runs on: one subpackage of empirical each (images/, points/). Its methods are called
    on rank 0 only, in this order: [`real`][empirical.fold_spec.DataKind.real] (before the run folder exists: bad data
    fail first), [`start`][empirical.fold_spec.DataKind.start],
    then per generation [`score`][empirical.fold_spec.DataKind.score] and
    [`measure`][empirical.fold_spec.DataKind.measure], and at generation 0
    [`exact_sampler`][empirical.fold_spec.DataKind.exact_sampler]."""

    classes: list[str]
    """Label names (``["all"]`` for a kind without labels)."""
    n_classes: int
    devices: tuple[str, ...]
    """Every device the kind computes on, checked before anything runs."""
    log_fields: dict
    """The kind's own fields of a start's log.jsonl line."""
    law: dict | None
    """[`simtheory.predict.law_trajectory`][simtheory.predict.multistep.law_trajectory] of the data law (set by [`start`][empirical.fold_spec.DataKind.start]), or None: no law is known."""

    def real(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The run's real samples in its order (blocks of N, [`simtheory.fold.real_block`][simtheory.fold.real_block]), and their labels
        for a class-conditional network (else None)."""
        ...

    def start(self, rf: RunFolder) -> None:
        """What the kind needs before generation 0 (classifiers, reference statistics, the law's trajectory)."""
        ...

    def score(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rewards (n,), integer labels (n,)) of samples."""
        ...

    def measure(self, t: int, D: Preconditioned, samples: np.ndarray, seeds: np.ndarray, folder: Path,
                sample: Sampler) -> dict:
        """The kind's own metrics of model t on its evaluation draws ``samples`` (drawn from ``seeds`` by
        ``sample``), written beside them into ``folder``."""
        ...

    def exact_sampler(self) -> dict:
        """The sampler's own error on the exact law (where one is known; else {})."""
        ...


class NeuralLoopWords(words.LoopWords):
    """The words of a neural loop's config (a mixin of frozen dataclasses): [`simtheory.fold.LoopWords`][simtheory.fold.LoopWords], and
    the fine-tune budget under its earlier name."""

    finetune_samples: int

    @property
    def finetune_images(self) -> int:
        """Deprecated: `finetune_samples` (samples seen by each generation's fine-tune)."""
        warnings.warn("finetune_images is finetune_samples", DeprecationWarning, stacklevel=2)
        return self.finetune_samples


def restore_parts(cfg, *extra: tuple[str, Callable[[dict], object]]) -> None:
    """Rebuild the nested parts of a loop config (frozen dataclass) that config.json gives back as dicts: ``train``
    (a TrainConfig, earlier key names upgraded), ``sims`` (SimsSampling) and any ``extra`` (name, constructor)."""
    from .checkpoints import upgrade_keys
    from .sims.auxiliary import SimsSampling
    from .train import TrainConfig
    parts: tuple = (("train", lambda d: TrainConfig(**upgrade_keys(d))), ("sims", lambda d: SimsSampling(**d))) + extra
    for name, make in parts:
        if isinstance(getattr(cfg, name), dict):
            object.__setattr__(cfg, name, make(getattr(cfg, name)))


def check_fold_config(cfg) -> None:
    """K, lam and scheme of a loop config (frozen dataclass), as every loop reads them
    ([`simtheory.fold.check_words`][simtheory.fold.check_words]: K an integer >= 1, lam >= 0 or inf, scheme one of
    SCHEMES), set back in
    their checked form; and the sizes that index seed blocks ([`empirical.seeds`][empirical.seeds]): generations,
    candidates and evaluation draws per generation, the sampler check's steps and draws."""
    k, lam = words.check_words(cfg.K, cfg.lam, cfg.scheme)
    object.__setattr__(cfg, "K", k)
    object.__setattr__(cfg, "lam", lam)
    validate.count(cfg.seed, "seed", minimum=0)
    if cfg.seed >= MAX_SEED:
        raise ValueError(f"seed must be below {MAX_SEED}, got {cfg.seed}")
    for name in ("n_samples", "generations", "n_eval", "num_steps", "finetune_samples", "n_sampler",
                 "sampler_ref_steps"):
        validate.count(getattr(cfg, name), name, minimum=0 if name in ("generations", "sampler_ref_steps") else 1)
    if cfg.n_synthetic < 1:
        raise ValueError(f"lam = {cfg.lam:g} with n_samples = {cfg.n_samples} rounds to {cfg.n_synthetic} "
                         "synthetic samples per generation; raise lam or n_samples (round(lam N) >= 1)")
    if not (math.isfinite(cfg.finetune_lr) and cfg.finetune_lr > 0):
        raise ValueError(f"finetune_lr must be > 0, got {cfg.finetune_lr}")
    if not (math.isfinite(cfg.finetune_ema) and cfg.finetune_ema >= 0):
        raise ValueError(f"finetune_ema (the fine-tune's EMA half-life as a fraction of its budget; 0: the raw "
                         f"weights) must be >= 0, got {cfg.finetune_ema}")
    if cfg.generations > MAX_GENERATION - 2:
        raise ValueError(f"generations must be at most {MAX_GENERATION - 2} (the last model draws from the candidate "
                         f"seed block of generation T + 1 < {MAX_GENERATION}), got {cfg.generations}")
    if cfg.num_steps < 2:
        raise ValueError(f"num_steps must be >= 2 (the Heun schedule needs two noise levels), got {cfg.num_steps}")
    if cfg.sampler_ref_steps == 1:
        raise ValueError("sampler_ref_steps must be 0 (no sampler check) or >= 2, got 1")
    for name, n in (("n_eval", cfg.n_eval), ("candidates per generation (K x n_synthetic)", cfg.K * cfg.n_synthetic)):
        if n > BLOCK_SIZE:
            raise ValueError(f"{name} = {n} exceeds the {BLOCK_SIZE} samples of one seed block")
