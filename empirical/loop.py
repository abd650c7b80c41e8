"""The curated retraining loop on images: the fold of simtheory.loops with real networks.

Generation 0 trains the base model on N real images. Generation t: generate K m candidates from model t-1
(per-image seeds), score them with the classifier reward, keep one per group of K by softmax (simtheory's
selection rule), mix with real images by scheme and lam, fine-tune model t-1 on the result, then measure:
mean reward and its standard error on n_eval fixed-seed images, class proportions by the classifier, FID
(optional) and a sample grid. Run folder: config.json, metrics.jsonl, classifier/, gen_XXX/ (network.pt,
synthetic.npz, samples.png). Rerunning resumes; every step writes atomically, so a kill loses nothing done.
"""
from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np
import torch

from simtheory.runs import jsonable
from simtheory.runs import RunFolder, atomic_write
from simtheory.selection import select_softmax

from . import compare
from . import data as cifar
from . import fid as fidmod
from .classifier import load_classifier, predict_proba, train_classifier
from .configs import ImageLoopConfig
from .edm import generate
from .reward import reward_from_probs
from .train import finetune_config, load_network, train

EVAL_SEED0 = 10**9          # evaluation images use the same seeds every generation (paired comparisons)


def _gen_seeds(cfg: ImageLoopConfig, t: int, n: int) -> np.ndarray:
    return cfg.seed * 10**8 + t * 10**6 + np.arange(n)


def rewards_of(cfg: ImageLoopConfig, clf, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rewards, class probabilities) of uint8 images."""
    probs = predict_proba(clf, images, cfg.classifier.device)
    return reward_from_probs(probs, cfg.reward, cfg.class_names.index(cfg.target) if cfg.reward == "class" else 0,
                             cfg.gamma), probs


def curate(cfg: ImageLoopConfig, candidates: np.ndarray, rewards: np.ndarray, rng: np.random.Generator):
    """Keep one image per consecutive group of K by softmax of the reward (simtheory.select_softmax)."""
    m = len(candidates) // cfg.K
    keep = select_softmax(rewards[: m * cfg.K].reshape(m, cfg.K), rng)
    idx = np.arange(m) * cfg.K + keep
    return candidates[idx], rewards[idx]


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
    im = Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    atomic_write(path, buf.getvalue())


def _real(cfg: ImageLoopConfig):
    x, y = cifar.dataset("train", cfg.resolution, cfg.classes, None, cfg.data_seed, cfg.data)
    perm = np.random.default_rng(cfg.data_seed).permutation(len(x))
    need = cfg.n_samples * ((cfg.generations + 1) if cfg.scheme == "fresh" else 1)
    if need > len(x):
        raise ValueError(f"the run needs {need} real images, the selected classes have {len(x)}")
    return x[perm], y[perm]


def _classifier(cfg: ImageLoopConfig, folder: Path, progress: bool):
    path = folder / "classifier.pt"
    if path.exists():
        clf, meta = load_classifier(path, cfg.classifier.device)
        return clf, meta["test_accuracy"]
    x, y = cifar.dataset("train", cfg.resolution, cfg.classes, cfg.classifier_subset, cfg.data_seed + 1, cfg.data)
    xt, yt = cifar.dataset("test", cfg.resolution, cfg.classes, None, 0, cfg.data)
    return train_classifier(cfg.classifier, x, y, xt, yt, folder, progress)


def _measure(cfg, t, D, clf, acc, ref, folder: Path, progress: bool) -> dict:
    seeds = EVAL_SEED0 + np.arange(cfg.n_eval)
    imgs = generate(D, seeds, cfg.train.device, cfg.num_steps, progress=progress)
    r, probs = rewards_of(cfg, clf, imgs)
    counts = np.bincount(probs.argmax(1), minlength=len(cfg.class_names))
    rec = {"generation": t, "mean_reward": float(r.mean()), "reward_se": float(r.std(ddof=1) / math.sqrt(len(r))),
           "mean_exp_reward": float(np.exp(r).mean()), "mean_exp_reward_se": float(np.exp(r).std(ddof=1) / math.sqrt(len(r))),
           "class_proportions": (counts / counts.sum()).tolist(), "classes": list(cfg.class_names),
           "classifier_accuracy": acc, "n_eval": cfg.n_eval}
    save_grid(imgs, folder / "samples.png")
    if cfg.fid_n:
        fseeds = EVAL_SEED0 + np.arange(cfg.fid_n)
        fimgs = imgs if cfg.fid_n <= cfg.n_eval else generate(D, fseeds, cfg.train.device, cfg.num_steps)
        rec.update(fidmod.fid(fimgs[: cfg.fid_n], ref, seeds=fseeds, device=cfg.train.device))
    return rec


def run_image_loop(cfg: ImageLoopConfig, out, progress: bool = True) -> RunFolder:
    """Run (or resume) the loop into ``out``; returns the run folder."""
    rf = RunFolder.open(out, cfg.to_dict())
    torch.manual_seed(cfg.seed)
    x, y = _real(cfg)
    clf, acc = _classifier(cfg, rf.path / "classifier", progress)
    ref = None
    if cfg.fid_n:
        xt, _ = cifar.dataset("test", cfg.resolution, cfg.classes, None, 0, cfg.data)
        ref = fidmod.reference_statistics(xt, rf.path / "fid-reference.npz", device=cfg.train.device)
    done = rf.keep_metrics(cfg.generations + 1)
    base = rf.path / "gen_000"
    if done == 0:
        D = train(cfg.train, x[: cfg.n_samples], y[: cfg.n_samples], base, progress=progress)
        rf.append(jsonable(_measure(cfg, 0, D, clf, acc, ref, base, progress)))
        done = 1
    D = load_network(rf.path / f"gen_{done - 1:03d}" / "network.pt", cfg.train.device)
    for t in range(done, cfg.generations + 1):
        g = rf.path / f"gen_{t:03d}"
        g.mkdir(exist_ok=True)
        syn_path = g / "synthetic.npz"
        if syn_path.exists():
            with np.load(syn_path) as z:
                syn = z["images"]
        else:
            cand = generate(D, _gen_seeds(cfg, t, cfg.n_synthetic * cfg.K), cfg.train.device, cfg.num_steps,
                            progress=progress)
            r, probs = rewards_of(cfg, clf, cand)
            rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, t]))
            keep, kept_r = curate(cfg, np.arange(len(cand)), r, rng) if cfg.K > 1 else (np.arange(len(cand)), r)
            syn = cand[keep]
            # issue 11: every candidate's reward and label (and the real images') so predictions can be recomputed
            record = {"candidate_rewards": r, "candidate_labels": probs.argmax(1), "kept_index": keep}
            if cfg.lam != math.inf or cfg.scheme == "accumulate":
                rr, rp = rewards_of(cfg, clf, x[cfg.n_samples * t if cfg.scheme == "fresh" else 0:][: cfg.n_samples])
                record.update(real_rewards=rr, real_labels=rp.argmax(1))
            buf = io.BytesIO()
            np.savez(buf, images=syn, rewards=kept_r, candidate_mean_reward=np.array(r.mean()), **record)
            atomic_write(syn_path, buf.getvalue())
        pool = [syn]
        if cfg.scheme == "accumulate":
            pool = [np.load(rf.path / f"gen_{s:03d}" / "synthetic.npz")["images"] for s in range(1, t + 1)]
        real = []
        if cfg.lam != math.inf or cfg.scheme == "accumulate":
            start = cfg.n_samples * t if cfg.scheme == "fresh" else 0
            real = [x[start:start + cfg.n_samples]]
        train_x = np.concatenate(real + pool)
        ft = finetune_config(cfg.train, cfg.finetune_images, cfg.seed * 1000 + t, cfg.finetune_lr)
        D = train(ft, train_x, None, g, init=D.state_dict(), progress=progress)
        rec = _measure(cfg, t, D, clf, acc, ref, g, progress)
        with np.load(syn_path) as z:
            rec["kept_mean_reward"] = float(z["rewards"].mean())
            rec["candidate_mean_reward"] = float(z["candidate_mean_reward"])
        try:    # issue 11: the exact one- and multi-step predictions from the stored candidates, with SEs
            rec.update(compare.recorded_predictions(rf.path, cfg.to_dict(), t, len(cfg.class_names)))
        except compare.MissingCandidates as e:
            warnings.warn(f"no predictions recorded: {e}")
        rf.append(jsonable(rec))
    return rf
