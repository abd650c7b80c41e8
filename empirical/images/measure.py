"""What the image kind measures of a model beyond rewards: the judge's reward and class proportions (an independent
classifier), FD in the reward classifier's features, FID with precision and recall in Inception features, and a
sample grid (PNG)."""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simtheory.runs import RunFolder, atomic_write

from .. import fid as fidmod
from .. import metrics as mt
from ..fold_spec import Sampler
from ..seeds import sample_seeds
from . import cifar10
from .score import rewards_of

if TYPE_CHECKING:
    from .config import ImageLoopConfig


def _se(a: np.ndarray) -> float | None:
    """Standard error of a mean (None for a single value)."""
    return float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else None


def save_grid(images: np.ndarray, path: Path, ncol: int = 16) -> None:
    """A PNG grid of uint8 NCHW images (upscaled so small images stay visible)."""
    from PIL import Image
    n = min(len(images), ncol * ncol)
    rows = int(math.ceil(n / ncol))
    c, h, w = images.shape[1:]
    grid = np.zeros((rows * h, ncol * w, c), np.uint8)
    for i in range(n):
        r, q = divmod(i, ncol)
        grid[r * h:(r + 1) * h, q * w:(q + 1) * w] = images[i].transpose(1, 2, 0)
    scale = max(1, 128 // w)
    im = Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    atomic_write(path, buf.getvalue())


def _proportions(probs: np.ndarray, n_classes: int) -> list:
    return (np.bincount(probs.argmax(1), minlength=n_classes) / len(probs)).tolist()


def measure_images(cfg: ImageLoopConfig, t: int, imgs: np.ndarray, seeds: np.ndarray, clf, acc, judge, ref,
                   folder: Path, sample: Sampler,
             clf_ref=None) -> dict:
    """What the image kind measures beyond rewards on generation t's evaluation images ``imgs`` (drawn from
    ``seeds`` by ``sample``): the judge's reward and class proportions (``judge_*``: the reward formula and argmax
    classes under the independent classifier), the classifiers' accuracies, FD in the reward classifier's features
    (``clf_ref``), FID (and precision/recall) on fid_n images (more are drawn from the same block when fid_n >
    n_eval) and the sample grid."""
    jclf, jacc = judge
    jr, jprobs = rewards_of(cfg, jclf, imgs, cfg.judge.device)
    n = len(cfg.class_names)
    rec = {"classifier_accuracy": acc, "judge_mean_reward": float(jr.mean()), "judge_reward_se": _se(jr),
           "judge_class_proportions": _proportions(jprobs, n), "judge_accuracy": jacc}
    if clf_ref is not None:
        rec["fd_classifier"] = mt.frechet_of_features(mt.classifier_features(clf, imgs, cfg.classifier.device),
                                                      clf_ref["clf_mu"], clf_ref["clf_sigma"])
    save_grid(imgs, folder / "samples.png")
    if cfg.fid_n:
        fseeds = sample_seeds("eval", cfg.seed, t, cfg.fid_n)
        fimgs = imgs[: cfg.fid_n] if cfg.fid_n <= len(imgs) else np.concatenate([imgs, sample(fseeds[len(imgs):])])
        if clf_ref is not None and "pr_feats" in clf_ref:
            rec.update(mt.fid_precision_recall(fimgs, ref, clf_ref["pr_feats"], fseeds, device=cfg.device))
        else:
            rec.update(fidmod.fid(fimgs, ref, seeds=fseeds, device=cfg.device))
    return rec


def classifier_reference(cfg: ImageLoopConfig, clf, rf: RunFolder) -> dict:
    """Classifier-feature statistics of the real test images (FD per generation) and, with fid_n, the Inception
    features of the first fid_n of them (the real manifold of precision/recall; cached in the run folder)."""
    xt, _ = cifar10.dataset("test", cfg.resolution, cfg.classes, None, 0, cfg.data)
    out = mt.reference(xt, clf, cfg.classifier.device)
    if cfg.fid_n:
        pr = rf.load_arrays("pr-reference")
        if pr is None:
            pr = {"feats": fidmod.inception_features(xt[: cfg.fid_n], device=cfg.device)}
            rf.save_arrays("pr-reference", **pr)
        out["pr_feats"] = pr["feats"]
    return out
