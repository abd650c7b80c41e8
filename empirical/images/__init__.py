"""The image kind of the fold: CIFAR-10 (or a subset of its classes at a chosen resolution) scored by a classifier
reward.

    config   ImageLoopConfig and its presets (tiny, cpu, gpu)
    cifar10  the data set: download, md5 check, loading, downsampling, class subsets (no torch)
    inputs   the run's real images and the classifiers' training images (disjoint parts of one permutation)
    score    the reward formula and the reward classifier (and judge) of a run
    measure  the judge, FD, FID with precision/recall, the sample grid
    kind     ImageData (the DataKind) and run_image_loop

The names below are imported on first use, so that [`empirical.images.cifar10`][empirical.images.cifar10] (the download
command's) needs no torch.
"""
from __future__ import annotations

import importlib

__all__ = ["ImageData", "ImageLoopConfig", "PRESETS", "preset", "run_image_loop"]
_WHERE = {"ImageData": "kind", "run_image_loop": "kind", "ImageLoopConfig": "config", "PRESETS": "config",
          "preset": "config"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
