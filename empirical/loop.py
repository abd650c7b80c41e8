"""The curated retraining loop with real networks: the fold of simtheory.loops, for any data kind.

The fold (:func:`run_fold`) is the same for every kind of data; a kind (:class:`ImageData` here, and
:class:`empirical.points.PointData` for low-dimensional points) supplies the real data, the rewards and labels
of samples, and the measurement of a model. On images:

Generation 0 trains the base model on N real images. Generation t: sample K m candidates from model t-1
(per-image seeds; :func:`sample_candidates`), score them with the classifier reward, keep one per group of K
by softmax (simtheory's selection rule), mix with real images by scheme and lam, fine-tune model t-1 on the
result, then measure: mean reward and its standard error on n_eval fixed-seed images, class proportions by
the reward classifier and by an independent judge classifier (other architecture, seed and data), FID
(optional) and a sample grid.

Run folder: config.json (compared on resume; no device), log.jsonl (one line per start: device, threads,
world size), metrics.jsonl, classifier/, judge/, gen_XXX/ (network.pt, training-state.pt, synthetic.npz, samples.png).
Rerunning resumes; every step writes atomically, so a kill loses nothing done. Under torchrun, rank 0 alone
samples, curates, measures and writes; every rank trains (empirical.distributed).

A config of the fold has the image loop's words: n_samples (N), K, lam, scheme, generations, train (the
network and its training), finetune_images, finetune_lr, num_steps, n_eval, seed, sims, n_synthetic, device
and to_dict().
"""
from __future__ import annotations

import io
import json
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from simtheory.runs import jsonable
from simtheory.runs import RunFolder, atomic_write
from simtheory.selection import select_softmax

from . import checkpoints, compare, distributed
from . import data as cifar
from . import fid as fidmod
from .classifier import load_classifier, predict_proba, train_classifier
from .configs import ImageLoopConfig, image_seeds, stream_seed
from .edm import generate
from .reward import reward_from_probs
from .sims import generation_sampler
from .train import finetune_config, load_network, train


def rewards_of(cfg: ImageLoopConfig, clf, images: np.ndarray, device: str | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """(rewards, class probabilities) of uint8 images under classifier ``clf`` (on ``device``, default the
    reward classifier's)."""
    probs = predict_proba(clf, images, device or cfg.classifier.device)
    return reward_from_probs(probs, cfg.reward, cfg.class_names.index(cfg.target) if cfg.reward == "class" else 0,
                             cfg.gamma), probs


def curate(cfg: ImageLoopConfig, candidates: np.ndarray, rewards: np.ndarray, rng: np.random.Generator):
    """Keep one image per consecutive group of K by softmax of the reward (simtheory.select_softmax)."""
    m = len(candidates) // cfg.K
    keep = select_softmax(rewards[: m * cfg.K].reshape(m, cfg.K), rng)
    idx = np.arange(m) * cfg.K + keep
    return candidates[idx], rewards[idx]


def sample_candidates(cfg: ImageLoopConfig, D, t: int, progress: bool = False, sample=None) -> np.ndarray:
    """Generation t's K m candidate images from model t-1 (the loop's one sampling step); ``sample`` (seeds ->
    images, :func:`_sampler`) replaces plain sampling, e.g. with model t-1's SIMS guidance."""
    seeds = image_seeds(cfg.seed, t, cfg.n_synthetic * cfg.K)
    if sample is not None:
        return sample(seeds)
    return generate(D, seeds, cfg.device, cfg.num_steps, progress=progress)


def _sampler(cfg: ImageLoopConfig, t: int, D, folder: Path, progress: bool):
    """seeds -> images of generation t's model: plain, or with cfg.sims guided by the generation's own auxiliary
    (built once in <gen>/sims-aux from the generation's network; one process only)."""
    if cfg.sims is not None and distributed.world()[1] > 1:
        raise ValueError("a SIMS loop runs in one process: its auxiliary is trained by the sampling rank")
    return generation_sampler(D, folder, cfg.sims, cfg.device, cfg.num_steps, stream_seed(cfg.seed, "sims", t),
                              progress)


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


def real_images(cfg: ImageLoopConfig) -> tuple[np.ndarray, np.ndarray]:
    """The run's real training images in a seeded order (the first N for replace/accumulate, block t for
    fresh generation t); a missing data file or too few images is a ValueError."""
    x, y = cifar.dataset("train", cfg.resolution, cfg.classes, None, 0, cfg.data)
    perm = np.random.default_rng(stream_seed(cfg.seed, "data")).permutation(len(x))
    need = cfg.n_samples * ((cfg.generations + 1) if cfg.scheme == "fresh" else 1)
    if need > len(x):
        raise ValueError(f"the run needs {need} real images, the selected classes have {len(x)}")
    return x[perm], y[perm]


def classifier_data(cfg: ImageLoopConfig, which: str) -> tuple[np.ndarray, np.ndarray]:
    """Training images of the reward classifier (``which='classifier'``) or of the judge ('judge'): two
    disjoint parts of one seeded permutation of the classes' training split."""
    x, y = cifar.dataset("train", cfg.resolution, cfg.classes, None, 0, cfg.data)
    perm = np.random.default_rng(stream_seed(cfg.seed, "split")).permutation(len(x))
    a = cfg.classifier_subset
    idx = perm[:a] if which == "classifier" else perm[a:a + cfg.judge_subset]
    idx = np.sort(idx)
    return x[idx], y[idx]


def _classifier(cfg: ImageLoopConfig, which: str, folder: Path, progress: bool):
    """The reward classifier or the judge of a run (trained once, then loaded) and its test accuracy."""
    ccfg = cfg.classifier if which == "classifier" else cfg.judge
    path = folder / "classifier.pt"
    if path.exists():
        clf, meta = load_classifier(path, ccfg.device)
        return clf, meta["test_accuracy"]
    x, y = classifier_data(cfg, which)
    xt, yt = cifar.dataset("test", cfg.resolution, cfg.classes, None, 0, cfg.data)
    return train_classifier(ccfg, x, y, xt, yt, folder, progress)


def _se(a: np.ndarray) -> float | None:
    """Standard error of a mean (None for a single value)."""
    return float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else None


def _proportions(probs: np.ndarray, n_classes: int) -> list:
    return (np.bincount(probs.argmax(1), minlength=n_classes) / len(probs)).tolist()


def _measure(cfg, t, D, clf, acc, judge, ref, folder: Path, progress: bool, sample=None,
             clf_ref=None) -> dict:
    """Generation t's metrics on the n_eval evaluation images: the reward (mean, SE) and class proportions
    by the reward classifier, and by the judge (``judge_*``: the reward formula and argmax classes under the
    independent classifier); ``sample`` (seeds -> images) replaces plain
    sampling (SIMS guidance), ``clf_ref`` adds FD in classifier features (and precision/recall with FID)."""
    from . import metrics as mt
    seeds = image_seeds(cfg.seed, 0, max(cfg.n_eval, cfg.fid_n))
    sample = sample or (lambda s: generate(D, s, cfg.device, cfg.num_steps, progress=progress))
    imgs = sample(seeds[: cfg.n_eval])
    r, probs = rewards_of(cfg, clf, imgs)
    jclf, jacc = judge
    jr, jprobs = rewards_of(cfg, jclf, imgs, cfg.judge.device)
    n = len(cfg.class_names)
    rec = {"generation": t, "mean_reward": float(r.mean()), "reward_se": _se(r),
           "mean_exp_reward": float(np.exp(r).mean()), "mean_exp_reward_se": _se(np.exp(r)),
           "class_proportions": _proportions(probs, n), "classes": list(cfg.class_names),
           "classifier_accuracy": acc, "judge_mean_reward": float(jr.mean()),
           "judge_reward_se": _se(jr),
           "judge_class_proportions": _proportions(jprobs, n), "judge_accuracy": jacc, "n_eval": cfg.n_eval}
    if clf_ref is not None:
        rec["fd_classifier"] = mt.frechet_of_features(mt.classifier_features(clf, imgs, cfg.classifier.device),
                                                      clf_ref["clf_mu"], clf_ref["clf_sigma"])
    if cfg.sims is not None:
        rec["sims_w"] = cfg.sims.w
    save_grid(imgs, folder / "samples.png")
    if cfg.fid_n:
        fimgs = imgs if cfg.fid_n <= cfg.n_eval else sample(seeds)
        if clf_ref is not None and "pr_feats" in clf_ref:
            rec.update(mt.fid_precision_recall(fimgs[: cfg.fid_n], ref, clf_ref["pr_feats"], seeds[: cfg.fid_n],
                                               device=cfg.device))
        else:
            rec.update(fidmod.fid(fimgs[: cfg.fid_n], ref, seeds=seeds[: cfg.fid_n], device=cfg.device))
    return rec


def _classifier_reference(cfg: ImageLoopConfig, clf, rf: RunFolder) -> dict:
    """Classifier-feature statistics of the real test images (FD per generation) and, with fid_n, the Inception
    features of the first fid_n of them (the real manifold of precision/recall; cached in the run folder)."""
    from . import metrics as mt
    xt, _ = cifar.dataset("test", cfg.resolution, cfg.classes, None, 0, cfg.data)
    out = mt.reference(xt, clf, cfg.classifier.device)
    if cfg.fid_n:
        pr = rf.load_arrays("pr-reference")
        if pr is None:
            pr = {"feats": fidmod.inception_features(xt[: cfg.fid_n], device=cfg.device)}
            rf.save_arrays("pr-reference", **pr)
        out["pr_feats"] = pr["feats"]
    return out


def _load_synthetic(path: Path, key: str = "images") -> dict:
    """The kept samples (under ``key``), their rewards and the candidates' rewards of a synthetic.npz."""
    try:
        with np.load(path) as z:
            return {k: z[k] for k in (key, "rewards", "candidate_rewards")}
    except Exception as e:        # zipfile, pickle and key errors of a torn or foreign file
        raise checkpoints.unreadable(path, f"{type(e).__name__}: {e}") from None


def _real_block(cfg, x: np.ndarray, t: int) -> np.ndarray:
    """The N real samples generation t trains on (block t of the real data for 'fresh')."""
    start = cfg.n_samples * t if cfg.scheme == "fresh" else 0
    return x[start:start + cfg.n_samples]


def _mixes_real(cfg) -> bool:
    return cfg.lam != math.inf or cfg.scheme == "accumulate"


def _predictions(rf: RunFolder, cfg, t: int, n_classes: int) -> dict:
    """Issue 11: the exact one- and multi-step predictions (with SEs) from the stored candidates."""
    try:
        return compare.recorded_predictions(rf.path, cfg.to_dict(), t, n_classes)
    except compare.MissingCandidates as e:       # a folder resumed from before candidates were stored
        warnings.warn(f"no predictions recorded: {e}", stacklevel=2)
        return {}


def _synthetic(cfg, kind, t: int, D, folder: Path, progress: bool, x: np.ndarray, sample=None) -> dict:
    """Generation t's curated synthetic samples (sampled, scored, curated once; then read from synthetic.npz).

    Issue 11: beside the kept samples and rewards, every candidate's reward and label, the kept indices and,
    when real data are mixed in, the real training samples' rewards and labels, so that the predictions can be
    recomputed (empirical.compare)."""
    path = folder / "synthetic.npz"
    if path.exists():
        return _load_synthetic(path, kind.samples_key)
    cand = sample_candidates(cfg, D, t, progress, sample)
    r, labels = kind.score(cand)
    rng = np.random.default_rng(stream_seed(cfg.seed, "curation", t))
    idx = np.arange(len(cand))
    keep, kept_r = curate(cfg, idx, r, rng) if cfg.K > 1 else (idx, r)    # curating indices: the same draws
    out = {kind.samples_key: cand[keep], "rewards": kept_r, "candidate_rewards": r, "candidate_labels": labels,
           "kept_index": keep}
    if _mixes_real(cfg):
        rr, rl = kind.score(_real_block(cfg, x, t))
        out.update(real_rewards=rr, real_labels=rl)
    buf = io.BytesIO()
    np.savez(buf, **out)
    atomic_write(path, buf.getvalue())
    return out


def _training_set(cfg, kind, t: int, syn: np.ndarray, x: np.ndarray, run: Path) -> np.ndarray:
    """What model t is fine-tuned on: this generation's synthetic samples (all generations' for accumulate)
    and, unless lam = inf with replace or fresh, N real samples (block t of the real data for fresh)."""
    pool = [syn]
    if cfg.scheme == "accumulate":
        pool = [_load_synthetic(run / f"gen_{s:03d}" / "synthetic.npz", kind.samples_key)[kind.samples_key]
                for s in range(1, t)] + [syn]
    real = [_real_block(cfg, x, t)] if _mixes_real(cfg) else []
    return np.concatenate(real + pool)


def _open(cfg, out, log_fields: dict) -> RunFolder:
    """The run folder, after the inputs are known good (a typo must not leave a folder that refuses reruns);
    appends this start's line to log.jsonl (``log_fields``: the kind's own, e.g. the classifier's device)."""
    cfg_path = Path(out) / "config.json"
    if cfg_path.exists():
        checkpoints.read_json(cfg_path)           # a torn or garbage config.json: say which file, what to do
    rf = RunFolder.open(out, cfg.to_dict())
    import numba
    from simtheory.kernels import launch_threads
    launch_threads()                                  # so reading Numba's count keeps torch's
    log = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "device": cfg.device, **log_fields,
           "world_size": distributed.world()[1],
           "torch_threads": torch.get_num_threads(), "numba_threads": numba.get_num_threads(),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "torch": torch.__version__}
    with open(rf.path / "log.jsonl", "a") as f:
        f.write(json.dumps(log) + "\n")
    return rf


def _resume_point(rf: RunFolder, cfg) -> int:
    """Generations already finished: metric lines 0, 1, ... in order whose folder still holds network.pt."""
    done = rf.keep_metrics(cfg.generations + 1)
    for t in range(done):
        if not (rf.path / f"gen_{t:03d}" / "network.pt").exists():
            later = [f"gen_{s:03d}" for s in range(t + 1, cfg.generations + 1) if (rf.path / f"gen_{s:03d}").exists()]
            if later:
                raise ValueError(f"{rf.path / f'gen_{t:03d}'} lacks network.pt but later generations exist: delete "
                                 f"{', '.join(later)} as well (they were made from it), then rerun")
            return rf.keep_metrics(t)
    return done


class ImageData:
    """The image kind of the fold: CIFAR-10 images, rewards and labels by the reward classifier, measured by it,
    the judge and (optionally) FID. Methods are called on rank 0 only."""

    samples_key = "images"

    def __init__(self, cfg: ImageLoopConfig, progress: bool):
        self.cfg, self.progress = cfg, progress
        self.n_classes = len(cfg.class_names)
        self.devices = (cfg.device, cfg.classifier.device, cfg.judge.device)
        self.log_fields = {"classifier_device": cfg.classifier.device}
        self.clf = self.acc = self.judge = self.ref = self.clf_ref = None

    def real(self) -> tuple[np.ndarray, np.ndarray]:
        """The real images and labels (a missing data file fails here, before the folder exists)."""
        x, y = real_images(self.cfg)
        if self.cfg.fid_n:
            fidmod.detector_path()
        return x, y

    def start(self, rf: RunFolder) -> None:
        """The classifiers (trained once, then loaded) and the reference statistics of the run folder."""
        cfg, progress = self.cfg, self.progress
        self.clf, self.acc = _classifier(cfg, "classifier", rf.path / "classifier", progress)
        self.judge = _classifier(cfg, "judge", rf.path / "judge", progress)
        if cfg.fid_n:
            xt, _ = cifar.dataset("test", cfg.resolution, cfg.classes, None, 0, cfg.data)
            self.ref = fidmod.reference_statistics(xt, rf.path / "fid-reference.npz", device=cfg.device)
        self.clf_ref = _classifier_reference(cfg, self.clf, rf)

    def score(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rewards, labels): the classifier reward and the classifier's argmax class."""
        r, probs = rewards_of(self.cfg, self.clf, images)
        return r, probs.argmax(1)

    def measure(self, t: int, D, sample, folder: Path) -> dict:
        return _measure(self.cfg, t, D, self.clf, self.acc, self.judge, self.ref, folder, self.progress, sample,
                        self.clf_ref)


def run_fold(cfg, kind, out, progress: bool = True) -> RunFolder | None:
    """Run (or resume) the curated retraining fold of ``cfg`` on data of ``kind`` into ``out``: generation 0
    trains on N real samples; generation t samples K m candidates from model t-1, curates, mixes, fine-tunes
    model t-1 and measures. Returns the run folder (None on torchrun ranks other than 0)."""
    main = distributed.is_main()
    progress = progress and main
    for dev in kind.devices:
        distributed.check_device(dev)
    run = Path(out)
    x = y = rf = D = sample = None
    if main:
        x, y = kind.real()                            # bad data fail before the folder exists
        rf = _open(cfg, out, kind.log_fields)
        kind.start(rf)
    distributed.init(cfg.device)
    done = distributed.share(_resume_point(rf, cfg) if main else None)
    if done == 0:
        base = run / "gen_000"
        real = distributed.share((x[: cfg.n_samples], None if y is None else y[: cfg.n_samples]) if main else None)
        D = train(cfg.train, *real, base, progress=progress)
        if main:
            sample = _sampler(cfg, 0, D, base, progress)
            rf.append(jsonable(kind.measure(0, D, sample, base)))
        done = 1
    if main:
        D = load_network(rf.path / f"gen_{done - 1:03d}" / "network.pt", cfg.device)
        sample = _sampler(cfg, done - 1, D, run / f"gen_{done - 1:03d}", progress)
    for t in range(done, cfg.generations + 1):
        g = run / f"gen_{t:03d}"
        syn = None
        if main:
            g.mkdir(exist_ok=True)
            syn = _synthetic(cfg, kind, t, D, g, progress, x, sample)
        train_x = distributed.share(_training_set(cfg, kind, t, syn[kind.samples_key], x, run) if main else None)
        ft = finetune_config(cfg.train, cfg.finetune_images, stream_seed(cfg.seed, "finetune", t), cfg.finetune_lr)
        D = train(ft, train_x, None, g, init=D.state_dict() if main else None, progress=progress)
        if main:
            sample = _sampler(cfg, t, D, g, progress)
            rec = kind.measure(t, D, sample, g)
            kept, cand = syn["rewards"], syn["candidate_rewards"]
            rec.update(kept_mean_reward=float(kept.mean()), kept_reward_se=_se(kept),
                       candidate_mean_reward=float(cand.mean()), candidate_reward_se=_se(cand))
            rec.update(_predictions(rf, cfg, t, kind.n_classes))
            rf.append(jsonable(rec))
    distributed.barrier()
    return rf


def run_image_loop(cfg: ImageLoopConfig, out, progress: bool = True) -> RunFolder | None:
    """Run (or resume) the image loop into ``out``; returns the run folder (None on torchrun ranks other than 0)."""
    return run_fold(cfg, ImageData(cfg, progress and distributed.is_main()), out, progress)
