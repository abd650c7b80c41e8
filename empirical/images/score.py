"""How the image kind scores a sample: the rewards of Ferbach et al. 2024's CIFAR-10 experiments from classifier
probabilities (gamma = 5 default): r = gamma P(c | x) for a chosen class c, and r = gamma max_c P(c | x)
(confidence); the reward classifier (and the independent judge) of a run, trained once into its folder."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..networks.classifier import load_classifier, predict_proba, train_classifier
from . import cifar10
from .inputs import classifier_data

if TYPE_CHECKING:
    from .config import ImageLoopConfig

KINDS = ("class", "confidence")


def reward_from_probs(probs: np.ndarray, kind: str = "class", target: int = 0, gamma: float = 5.0) -> np.ndarray:
    """Rewards (n,) from class probabilities (n, C)."""
    if kind == "class":
        if not 0 <= target < probs.shape[1]:
            raise ValueError(f"target class index {target} outside 0..{probs.shape[1] - 1}")
        return gamma * probs[:, target]
    if kind == "confidence":
        return gamma * probs.max(axis=1)
    raise ValueError(f"reward kind must be one of {KINDS}, got {kind!r}")


def rewards_of(cfg: ImageLoopConfig, clf, images: np.ndarray, device: str | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """(rewards, class probabilities) of uint8 images under classifier ``clf`` (on ``device``, default the
    reward classifier's)."""
    probs = predict_proba(clf, images, device or cfg.classifier.device)
    return reward_from_probs(probs, cfg.reward, cfg.class_names.index(cfg.target) if cfg.reward == "class" else 0,
                             cfg.gamma), probs


def run_classifier(cfg: ImageLoopConfig, which: str, folder: Path, progress: bool):
    """The reward classifier or the judge of a run (trained once, then loaded) and its test accuracy."""
    ccfg = cfg.classifier if which == "classifier" else cfg.judge
    path = folder / "classifier.pt"
    if path.exists():
        clf, meta = load_classifier(path, ccfg.device)
        return clf, meta["test_accuracy"]
    x, y = classifier_data(cfg, which)
    xt, yt = cifar10.dataset("test", cfg.resolution, cfg.classes, None, 0, cfg.data)
    return train_classifier(ccfg, x, y, xt, yt, folder, progress)
