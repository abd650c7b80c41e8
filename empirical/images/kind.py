"""The image kind of the fold ([`empirical.fold_spec.DataKind`][empirical.fold_spec.DataKind]): CIFAR-10 images, rewards and labels by the reward
classifier, measured by it, the judge and (optionally) FID; [`run_image_loop`][empirical.images.kind.run_image_loop]
runs the curated loop on it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from simtheory.runs import RunFolder

from .. import distributed
from .. import fid as fidmod
from ..fold import Sampler, run_fold
from . import cifar10
from .config import ImageLoopConfig
from .inputs import real_images
from .measure import classifier_reference, measure_images
from .score import rewards_of, run_classifier


class ImageData:
    """The image kind of the fold: CIFAR-10 images, rewards and labels by the reward classifier, measured by it,
    the judge and (optionally) FID. Methods are called on rank 0 only."""

    def __init__(self, cfg: ImageLoopConfig, progress: bool):
        self.cfg, self.progress = cfg, progress
        self.classes = list(cfg.class_names)
        self.n_classes = len(self.classes)
        self.devices: tuple[str, ...] = (cfg.device, cfg.classifier.device, cfg.judge.device)
        self.log_fields: dict = {"classifier_device": cfg.classifier.device}
        self.law: dict | None = None            # real images: no exact law to hold a model against
        self.clf: Any = None
        self.acc: Any = None
        self.judge: Any = None
        self.ref: Any = None
        self.clf_ref: Any = None

    def real(self) -> tuple[np.ndarray, np.ndarray]:
        """The real images and labels (a missing data file fails here, before the folder exists)."""
        x, y = real_images(self.cfg)
        if self.cfg.fid_n:
            fidmod.detector_path()
        return x, y

    def start(self, rf: RunFolder) -> None:
        """The classifiers (trained once, then loaded) and the reference statistics of the run folder."""
        cfg, progress = self.cfg, self.progress
        self.clf, self.acc = run_classifier(cfg, "classifier", rf.path / "classifier", progress)
        self.judge = run_classifier(cfg, "judge", rf.path / "judge", progress)
        if cfg.fid_n:
            xt, _ = cifar10.dataset("test", cfg.resolution, cfg.classes, None, 0, cfg.data)
            self.ref = fidmod.reference_statistics(xt, rf.path / "fid-reference.npz", device=cfg.device)
        self.clf_ref = classifier_reference(cfg, self.clf, rf)

    def score(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rewards, labels): the classifier reward and the classifier's argmax class."""
        r, probs = rewards_of(self.cfg, self.clf, images)
        return r, probs.argmax(1)

    def measure(self, t: int, D, samples: np.ndarray, seeds: np.ndarray, folder: Path, sample: Sampler) -> dict:
        """The judge, FD, FID and the sample grid on generation t's evaluation images
        ([`empirical.images.measure.measure_images`][empirical.images.measure.measure_images])."""
        return measure_images(self.cfg, t, samples, seeds, self.clf, self.acc, self.judge, self.ref, folder, sample,
                              self.clf_ref)

    def exact_sampler(self) -> dict:
        """Nothing: real images have no exact law to run the sampler on."""
        return {}


def run_image_loop(cfg: ImageLoopConfig, out, progress: bool = True) -> RunFolder | None:
    """Run (or resume) the image loop into ``out``; returns the run folder (None on torchrun ranks other than 0)."""
    return run_fold(cfg, ImageData(cfg, progress and distributed.is_main()), out, progress)
