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
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from simtheory.runs import jsonable
from simtheory.runs import RunFolder, atomic_write
from simtheory import predict
from simtheory.selection import select_softmax

from . import checkpoints, compare, distributed
from . import data as cifar
from . import fid as fidmod
from .networks.classifier import load_classifier, predict_proba, train_classifier
from .configs import ImageLoopConfig
from .seeds import block_start, sample_seeds, stream_seed
from .reward import reward_from_probs
from .sims.auxiliary import generation_sampler
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


def sample_candidates(cfg, t: int, sample: Callable) -> np.ndarray:
    """Generation t's K m candidates, samples of model t - 1 drawn by ``sample`` (seeds -> samples: plain or SIMS-
    guided, :func:`_sampler`) from the candidate seed block of generation t (block T + 1: the last model's own
    draw, the seeds a generation T + 1 would use)."""
    return sample(sample_seeds("candidates", cfg.seed, t, cfg.n_synthetic * cfg.K))


def _sampler(cfg, t: int, D, folder: Path, progress: bool) -> Callable:
    """(seeds, steps=None) -> samples of generation t's model: plain, or with cfg.sims guided by the generation's own
    auxiliary (built once in <gen>/sims-aux from the generation's network; one process only). ``steps``: Heun steps
    (default the run's num_steps)."""
    if cfg.sims is not None and distributed.world()[1] > 1:
        raise ValueError("a SIMS loop runs in one process: its auxiliary is trained by the sampling rank")
    return generation_sampler(D, folder, cfg.sims, cfg.device, cfg.num_steps, stream_seed(cfg.seed, "sims", t),
                              progress, seed0=block_start("sims_loop", cfg.seed, t))


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


def _measure(cfg, t, imgs: np.ndarray, seeds: np.ndarray, clf, acc, judge, ref, folder: Path, sample: Callable,
             clf_ref=None) -> dict:
    """What the image kind measures beyond rewards on generation t's evaluation images ``imgs`` (drawn from
    ``seeds`` by ``sample``): the judge's reward and class proportions (``judge_*``: the reward formula and argmax
    classes under the independent classifier), the classifiers' accuracies, FD in the reward classifier's features
    (``clf_ref``), FID (and precision/recall) on fid_n images (more are drawn from the same block when fid_n >
    n_eval) and the sample grid."""
    from . import metrics as mt
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
    """Every array of a synthetic.npz: the kept samples (under ``key``), their rewards, the candidates' rewards and
    labels, the kept indices and, when real data are mixed in, the real block's rewards and labels."""
    try:
        with np.load(path) as z:
            out = {k: z[k] for k in z.files}
        for k in (key, "rewards", "candidate_rewards"):
            out[k]                                  # a file without them is foreign or torn
        return out
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


def _synthetic(cfg, kind, t: int, folder: Path, x: np.ndarray, sample: Callable) -> dict:
    """Generation t's candidates and curated samples (sampled by ``sample``, model t - 1's sampler; scored and
    curated once, then read from <folder>/synthetic.npz): beside the kept samples and rewards, every candidate's
    reward and label, the kept indices and, when real data are mixed in, the real training samples' rewards and
    labels, so that the predictions can be recomputed (:mod:`empirical.compare`)."""
    path = folder / "synthetic.npz"
    if path.exists():
        return _load_synthetic(path, kind.samples_key)
    cand = sample_candidates(cfg, t, sample)
    r, labels = kind.score(cand)
    rng = np.random.default_rng(stream_seed(cfg.seed, "curation", t))
    idx = np.arange(len(cand))
    keep, kept_r = curate(cfg, idx, r, rng) if cfg.K > 1 else (idx, r)    # curating indices: the same draws
    out = {kind.samples_key: cand[keep], "rewards": kept_r, "candidate_rewards": r, "candidate_labels": labels,
           "kept_index": keep}
    if _mixes_real(cfg):
        rr, rl = kind.score(_real_block(cfg, x, t))
        out.update(real_rewards=rr, real_labels=rl)
    folder.mkdir(parents=True, exist_ok=True)
    _save_npz(path, out)
    return out


def _save_npz(path: Path, arrays: dict) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(path, buf.getvalue())


def _final_draw(cfg, kind, t: int, folder: Path, sample: Callable) -> dict:
    """The last model's own draw of as many samples as a next generation's candidates (the candidate seed block
    of generation t + 1), scored once into <folder>/final-draw.npz: its rewards and labels."""
    path = folder / "final-draw.npz"
    if path.exists():
        try:
            with np.load(path) as z:
                return {"candidate_rewards": z["rewards"], "candidate_labels": z["labels"]}
        except Exception as e:        # zipfile, pickle and key errors of a torn or foreign file
            raise checkpoints.unreadable(path, f"{type(e).__name__}: {e}") from None
    r, labels = kind.score(sample_candidates(cfg, t + 1, sample))
    _save_npz(path, {"rewards": r, "labels": labels})
    return {"candidate_rewards": r, "candidate_labels": labels}


def _training_set(cfg, kind, t: int, syn: np.ndarray, x: np.ndarray, run: Path) -> np.ndarray:
    """What model t is fine-tuned on: this generation's synthetic samples (all generations' for accumulate)
    and, unless lam = inf with replace or fresh, N real samples (block t of the real data for fresh)."""
    pool = [syn]
    if cfg.scheme == "accumulate":
        pool = [_load_synthetic(run / f"gen_{s:03d}" / "synthetic.npz", kind.samples_key)[kind.samples_key]
                for s in range(1, t)] + [syn]
    real = [_real_block(cfg, x, t)] if _mixes_real(cfg) else []
    return np.concatenate(real + pool)


def _training_rewards(cfg, kind, t: int, syn: dict | None, x: np.ndarray, run: Path) -> np.ndarray:
    """The rewards of model t's training set (:func:`_training_set`'s samples, in its order): the real block's at
    t = 0, else the real block's (when mixed in) and the kept sets'."""
    if t == 0:
        return kind.score(_real_block(cfg, x, 0))[0]
    pool = [syn["rewards"]]
    if cfg.scheme == "accumulate":
        pool = [_load_synthetic(run / f"gen_{s:03d}" / "synthetic.npz", kind.samples_key)["rewards"]
                for s in range(1, t)] + pool
    real = [syn["real_rewards"] if "real_rewards" in syn else kind.score(_real_block(cfg, x, t))[0]] \
        if _mixes_real(cfg) else []
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
    law = None                      # real images: no exact law to hold a model against

    def __init__(self, cfg: ImageLoopConfig, progress: bool):
        self.cfg, self.progress = cfg, progress
        self.classes = list(cfg.class_names)
        self.n_classes = len(self.classes)
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

    def measure(self, t: int, D, samples: np.ndarray, seeds: np.ndarray, folder: Path, sample: Callable) -> dict:
        """The judge, FD, FID and the sample grid on generation t's evaluation images (:func:`_measure`)."""
        return _measure(self.cfg, t, samples, seeds, self.clf, self.acc, self.judge, self.ref, folder, sample,
                        self.clf_ref)


def _means(r: np.ndarray, labels: np.ndarray, n_classes: int, prefix: str = "") -> dict:
    """Mean reward, E[e^r] and class proportions of a sample with their SEs, keys as metrics.jsonl names them."""
    m = predict.sample_means(r, labels, n_classes)
    out = {f"{prefix}mean_reward": m["mean_reward"], f"{prefix}reward_se": m["mean_reward_se"]}
    if not prefix:
        out.update(mean_exp_reward=m["mean_exp_reward"], mean_exp_reward_se=m["mean_exp_reward_se"],
                   class_proportions=m["class_proportions"])
    return out


def _model_record(cfg, kind, t: int, D, sample: Callable, folder: Path, nxt: dict, train_r: np.ndarray) -> dict:
    """Generation t's metrics line: model t measured on its evaluation draws (fresh seeds per generation and run)
    and on ``nxt`` (the next generation's candidates, or the last model's own draw), with the three errors of a
    generation that concern the model (docs/empirical/compare.md defines every key):

    - fit: model t's mean reward against its training set's (``train_r``), ``fit_error`` with ``fit_error_se``
      from both samples (the model's draws and the finite training set, one draw of the law the network learns);
    - law (where the kind knows its data law): against the exact curated trajectory of that law,
      ``law_error`` with ``law_error_se`` (the model's draws, the law's Monte Carlo atoms and the noise every
      finite set of the loop adds, :func:`simtheory.predict.law_trajectory`);
    - sampler (``sampler_ref_steps`` > 0): the same network at the run's Heun steps against ``sampler_ref_steps``
      on the first n_sampler evaluation latents (paired), ``sampler_error`` with ``sampler_error_se``.
    """
    seeds = sample_seeds("eval", cfg.seed, t, cfg.n_eval)
    ev = sample(seeds)
    r_e, y_e = kind.score(ev)
    rec: dict = {"generation": t, "classes": kind.classes, "n_eval": cfg.n_eval}
    rec.update(kind.measure(t, D, ev, seeds, folder, sample))
    r_all = np.concatenate([r_e, nxt["candidate_rewards"]])
    y_all = np.concatenate([y_e, nxt["candidate_labels"]]).astype(np.int64)
    rec.update(_means(r_all, y_all, kind.n_classes))
    rec["n_measured"] = int(r_all.size)
    rec.update(_means(r_e, y_e, kind.n_classes, "eval_"))
    tm = predict.sample_means(train_r)
    rec.update(train_mean_reward=tm["mean_reward"], train_reward_se=tm["mean_reward_se"], n_train=int(train_r.size),
               fit_error=rec["mean_reward"] - tm["mean_reward"],
               fit_error_se=math.hypot(rec["reward_se"], tm["mean_reward_se"]))
    if kind.law is not None:
        law = kind.law
        rec.update(law_mean_reward=float(law["mean_reward"][t]), law_mean_reward_se=float(law["mean_reward_se"][t]),
                   law_path_se=float(law["mean_reward_path_se"][t]), law_error=rec["mean_reward"] - float(
                       law["mean_reward"][t]),
                   law_error_se=float(np.sqrt(rec["reward_se"] ** 2 + law["mean_reward_se"][t] ** 2
                                              + law["mean_reward_path_se"][t] ** 2)))
        if "class_proportions" in law:
            rec["law_class_proportions"] = np.asarray(law["class_proportions"][t]).tolist()
    if cfg.sampler_ref_steps:
        n = min(cfg.n_sampler, cfg.n_eval)
        ref = kind.score(sample(seeds[:n], cfg.sampler_ref_steps))[0]
        d = r_e[:n] - ref
        rec.update(sampler_error=float(d.mean()), sampler_error_se=_se(d), sampler_steps=cfg.num_steps,
                   sampler_ref_steps=cfg.sampler_ref_steps, n_sampler=n)
    if t == 0 and getattr(kind, "exact_sampler", None) is not None:
        rec.update(kind.exact_sampler())
    if cfg.sims is not None:
        rec["sims_w"] = cfg.sims.w
    return rec


def run_fold(cfg, kind, out, progress: bool = True) -> RunFolder | None:
    """Run (or resume) the curated retraining fold of ``cfg`` on data of ``kind`` into ``out``: generation 0
    trains on N real samples; generation t fine-tunes model t-1 on the curated samples of its K m candidates
    (drawn, scored and curated right after model t-1 is made, since they also measure it) mixed with real ones.
    Each model is measured (:func:`_model_record`) once the next generation's candidates exist (the last model
    draws as many of its own). Returns the run folder (None on torchrun ranks other than 0).

    A data kind supplies ``samples_key``, ``classes``, ``n_classes``, ``devices``, ``log_fields``, ``law`` (None or
    :func:`simtheory.predict.law_trajectory` of its data law), ``real()``, ``start(rf)``, ``score(samples)`` ->
    (rewards, labels), ``measure(t, D, samples, seeds, folder, sample)`` -> its own metrics, and optionally
    ``exact_sampler()`` -> the exact denoiser's sampler error on the law."""
    main = distributed.is_main()
    progress = progress and main
    for dev in kind.devices:
        distributed.check_device(dev)
    run = Path(out)
    x = y = rf = None
    if main:
        x, y = kind.real()                            # bad data fail before the folder exists
        rf = _open(cfg, out, kind.log_fields)
        kind.start(rf)
    distributed.init(cfg.device)
    try:
        _generations(cfg, kind, run, rf, x, y, main, progress)
    finally:
        if rf is not None:
            rf.close()                # the folder is free for the next writer as soon as the run ends
    distributed.barrier()
    return rf


def _generations(cfg, kind, run: Path, rf: RunFolder | None, x, y, main: bool, progress: bool) -> None:
    """The fold's generations from the resume point on (rank 0 samples, measures and writes; every rank trains)."""
    done = distributed.share(_resume_point(rf, cfg) if main else None)
    D = None
    for t in range(done, cfg.generations + 1):
        g = run / f"gen_{t:03d}"
        syn = None
        if t == 0:
            real = distributed.share((x[: cfg.n_samples], None if y is None else y[: cfg.n_samples]) if main else None)
            D = train(cfg.train, *real, g, progress=progress)
        else:
            if D is None and main:
                D = load_network(run / f"gen_{t - 1:03d}" / "network.pt", cfg.device)
            if main:
                syn = _synthetic(cfg, kind, t, g, x, _lazy(lambda: _sampler(cfg, t - 1, D, g.parent / f"gen_{t - 1:03d}",
                                                                            progress)))
            train_x = distributed.share(_training_set(cfg, kind, t, syn[kind.samples_key], x, run) if main else None)
            ft = finetune_config(cfg.train, cfg.finetune_images, stream_seed(cfg.seed, "finetune", t), cfg.finetune_lr,
                                 cfg.finetune_ema)
            D = train(ft, train_x, None, g, init=D.state_dict() if main else None, progress=progress)
        if not main:
            continue
        sample = _sampler(cfg, t, D, g, progress)
        nxt = (_synthetic(cfg, kind, t + 1, run / f"gen_{t + 1:03d}", x, sample) if t < cfg.generations
               else _final_draw(cfg, kind, t, g, sample))
        rec = _model_record(cfg, kind, t, D, sample, g, nxt, _training_rewards(cfg, kind, t, syn, x, run))
        if t:
            kept, cand = syn["rewards"], syn["candidate_rewards"]
            rec.update(kept_mean_reward=float(kept.mean()), kept_reward_se=_se(kept),
                       candidate_mean_reward=float(cand.mean()), candidate_reward_se=_se(cand))
            rec.update(_predictions(rf, cfg, t, kind.n_classes))
        rf.append(jsonable(rec))


def _lazy(make: Callable[[], Callable]) -> Callable:
    """A sampler built on its first call (a resumed generation whose candidates exist needs none: building a SIMS
    sampler may train an auxiliary)."""
    box: list = []

    def call(*args):
        if not box:
            box.append(make())
        return box[0](*args)
    return call


def run_image_loop(cfg: ImageLoopConfig, out, progress: bool = True) -> RunFolder | None:
    """Run (or resume) the image loop into ``out``; returns the run folder (None on torchrun ranks other than 0)."""
    return run_fold(cfg, ImageData(cfg, progress and distributed.is_main()), out, progress)
