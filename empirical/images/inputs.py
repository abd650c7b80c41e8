"""The image kind's inputs: the run's real training images in a seeded order (blocks of N,
[`simtheory.fold.real_block`][simtheory.fold.real_block]), and the disjoint training images of the reward classifier and
of the judge, all from the CIFAR-10 training split ([`empirical.images.cifar10`][empirical.images.cifar10])."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simtheory.fold import real_needed

from ..seeds import stream_seed
from . import cifar10

if TYPE_CHECKING:
    from .config import ImageLoopConfig


def real_images(cfg: ImageLoopConfig) -> tuple[np.ndarray, np.ndarray]:
    """The run's real training images in a seeded order (the first N for replace/accumulate, block t for
    fresh generation t); a missing data file or too few images is a ValueError."""
    x, y = cifar10.dataset("train", cfg.resolution, cfg.classes, None, 0, cfg.data)
    perm = np.random.default_rng(stream_seed(cfg.seed, "data")).permutation(len(x))
    need = real_needed(cfg.n_samples, cfg.generations, cfg.scheme)
    if need > len(x):
        raise ValueError(f"the run needs {need} real images, the selected classes have {len(x)}")
    return x[perm], y[perm]


def classifier_data(cfg: ImageLoopConfig, which: str) -> tuple[np.ndarray, np.ndarray]:
    """Training images of the reward classifier (``which='classifier'``) or of the judge ('judge'): two
    disjoint parts of one seeded permutation of the classes' training split."""
    x, y = cifar10.dataset("train", cfg.resolution, cfg.classes, None, 0, cfg.data)
    perm = np.random.default_rng(stream_seed(cfg.seed, "split")).permutation(len(x))
    a = cfg.classifier_subset
    idx = perm[:a] if which == "classifier" else perm[a:a + cfg.judge_subset]
    idx = np.sort(idx)
    return x[idx], y[idx]
