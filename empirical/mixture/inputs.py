r"""The mixture loop's inputs, checked before any folder exists: the law (a saved one, or the CIFAR-10 law fitted at
the run's resolution), its exact draws in seeded chunks, and the reward and labels of the law's own Bayes posterior.
No torch."""
from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import log_softmax

from simtheory.diffusion.lowrank import LowRankMixture
from simtheory.diffusion.lowrank_fit import CIFAR_LAWS, cifar_mixture

if TYPE_CHECKING:
    from .config import MixtureLoopConfig

CHUNK_BYTES = 2**25
"""Draws and scores go in chunks of at most this many bytes of float64 rows (32 MiB)."""


def law_sha1(law: LowRankMixture) -> str:
    """sha1 of a law's arrays (weights, means, factors, floors as float64): a run's config records it, so a run never
    resumes on another law."""
    h = hashlib.sha1()
    for a in (law.weights, law.means, law.factors, law.floors):
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()


def cifar_law(resolution: int, rank: int = 16, data=None, cache_dir: Path | None = None) -> LowRankMixture:
    """The CIFAR-10 law at ``resolution``: the committed law where there is one (8 x 8, rank 16,
    `simtheory.diffusion.cifar_mixture`), else the fit of [`empirical.lowrank.fit_cifar`][empirical.lowrank.fit_cifar]
    (one component
    per class, ``rank``) stored as ``fit-mixture --float32`` stores it, cached under ``cache_dir`` (default the CIFAR
    cache) by resolution, rank and a checksum of the training images, so a cached law always belongs to the data it
    was fitted to. ``data``: the CIFAR-10 source (default: the usual search)."""
    from ..images import cifar10 as cifar
    from .config import RESOLUTIONS
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")
    if resolution in CIFAR_LAWS and rank == 16:
        return cifar_mixture(resolution)
    d = 3 * resolution**2
    if not 0 <= rank < d:
        raise ValueError(f"rank must be in 0..{d - 1} at resolution {resolution}, got {rank}")
    x, _ = cifar.load_cifar10("train", data, cache_dir=cifar.CACHE)
    key = hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()[:16]
    folder = Path(cache_dir) if cache_dir is not None else cifar.CACHE
    path = folder / f"cifar{resolution}-rank{rank}-{key}.npz"
    if not path.exists():
        from ..lowrank import fit_cifar
        law = fit_cifar(resolution, rank, None, data)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz")
        os.close(fd)
        law.save(tmp, float32=True)
        os.replace(tmp, path)                   # another process fitting the same law writes the same file
    return LowRankMixture.load(path)


def load_law(cfg: MixtureLoopConfig) -> LowRankMixture:
    """The law of a config: its ``law`` file, or the CIFAR-10 law at its resolution and rank (`cifar_law`). A
    missing file is a ValueError naming it."""
    if cfg.law is not None:
        if not Path(cfg.law).is_file():
            raise ValueError(f"law {cfg.law}: no such file")
        return LowRankMixture.load(cfg.law)
    return cifar_law(cfg.resolution, cfg.rank, cfg.data)


def resolve(config: MixtureLoopConfig) -> tuple[MixtureLoopConfig, LowRankMixture]:
    """(config completed with the law's class names and sha1, the law); every input error (a missing law file or
    CIFAR-10, a law of another image shape, an unknown target, a stored sha1 that is not this law's) is raised
    here, before any folder exists."""
    from ..images.cifar10 import CLASSES
    law = load_law(config)
    unet = config.train.unet
    assert unet is not None                       # a MixtureLoopConfig trains the U-Net (checked when it is made)
    want = (unet.in_channels, config.resolution, config.resolution)
    if law.shape is not None and tuple(law.shape) != want or law.d != math.prod(want):
        raise ValueError(f"the law's samples have shape {law.shape} (d = {law.d}); the run's U-Net makes {want}")
    names = tuple(CLASSES) if config.law is None else tuple(str(k) for k in range(law.K))
    if config.classes is not None and tuple(config.classes) != names:
        raise ValueError(f"classes {list(config.classes)} are not the law's {list(names)}")
    sha = law_sha1(law)
    if config.law_sha1 is not None and config.law_sha1 != sha:
        raise ValueError(f"law_sha1 {config.law_sha1} is not the sha1 of the law loaded ({sha})")
    return replace(config, classes=names, law_sha1=sha), law


def chunk_rows(law: LowRankMixture) -> int:
    """Rows of one chunk: CHUNK_BYTES of float64 rows of d values."""
    return max(1, CHUNK_BYTES // (8 * law.d))


def law_draws(law: LowRankMixture, n: int, seed: int) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """n exact draws of ``law`` in chunks (slice, rows (m, d), labels (m,)): chunk i from its own generator,
    numpy's default_rng([seed, i]), so the draws depend on (seed, n) alone and a second pass redraws the same rows."""
    rows = chunk_rows(law)
    for i, start in enumerate(range(0, n, rows)):
        m = min(rows, n - start)
        x, y = law.sample(m, np.random.default_rng([seed, i]), return_labels=True)
        yield slice(start, start + m), x, y


def draw_law(law: LowRankMixture, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All of `law_draws` at once: (n, d) rows and (n,) labels."""
    x = np.empty((n, law.d))
    y = np.empty(n, np.int64)
    for sl, xc, yc in law_draws(law, n, seed):
        x[sl], y[sl] = xc, yc
    return x, y


def log_posteriors(law: LowRankMixture, x: np.ndarray) -> np.ndarray:
    """log P(k | x) (n, K) under the clean law, in chunks of `CHUNK_BYTES` (x (n, d) or (n, C, H, W))."""
    x2 = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if not len(x2):
        return np.zeros((0, law.K))
    rows = chunk_rows(law)
    return np.concatenate([law.log_posterior(x2[s:s + rows]) for s in range(0, len(x2), rows)])


def reward_of_posterior(lp: np.ndarray, kind: str, target: int, gamma: float, temperature: float) -> np.ndarray:
    r"""The reward from log posteriors ``lp`` (n, K): gamma softmax(lp / T)[target] (``'class'``, as
    `simtheory.diffusion.class_reward`) or gamma max_c softmax(lp / T)[c] (``'confidence'``)."""
    q = np.exp(log_softmax(lp / temperature, axis=1))
    return gamma * (q[:, target] if kind == "class" else q.max(axis=1))
