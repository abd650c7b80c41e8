r"""The curated retraining loop with real networks: the fold of [`simtheory.fold`][simtheory.fold], for any data kind.

    model_{t-1} --sample (Heun, per-seed)--> K m candidates --score, keep one of K (softmax)--> kept set t
      --mix with the real block (lam, scheme)--> training set t --fine-tune model_{t-1}--> model_t --measure

[`run_fold`][empirical.fold.run_fold] is the same for every kind of data. A kind
([`DataKind`][empirical.fold_spec.DataKind]: [`empirical.images.ImageData`][empirical.images.kind.ImageData]
for CIFAR-10, [`empirical.points.PointData`][empirical.points.kind.PointData] for low-dimensional points; a new kind is
one subpackage that
implements the protocol) supplies the real data, the rewards and labels of samples, and its own measurements of a
model. The loop's words, the mixing rule, the real block of a generation, keep-one-of-K and the streams are
simtheory.fold's; the seed blocks are [`empirical.seeds`][empirical.seeds]'.

Generation 0 trains the base model on N real samples. Generation t draws K m candidates from model t - 1 (per-sample
seeds, [`sample_candidates`][empirical.fold.sample_candidates]), scores them, keeps one per group of K by softmax of the
reward, mixes the kept set
with real samples by scheme and lam ([`simtheory.fold.training_set`][simtheory.fold.training_set]), fine-tunes model t -
1 on the result
and measures model t ([`model_record`][empirical.fold.model_record]): on its evaluation draws and on the next
generation's candidates, with
its fit error (against its training set), its law error (where the kind knows its data law) and its sampler error.

Run folder: config.json (compared on resume; no device), log.jsonl (one line per start: device, threads, world
size), metrics.jsonl, the kind's own files, gen_XXX/ (network.pt, training-state.pt, synthetic.npz: the kept
samples under [`empirical.samples.SAMPLES_KEY`][empirical.samples.SAMPLES_KEY], every candidate's reward and label, the
kept indices and, when
real data are mixed in, the real block's rewards and labels). Rerunning resumes from
[`resume_point`][empirical.fold.resume_point]; every step writes
atomically, so a kill loses nothing done. Under torchrun, rank 0 alone samples, curates, measures and writes; every
rank trains ([`empirical.distributed`][empirical.distributed]).
"""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from simtheory import fold as words
from simtheory import predict
from simtheory.runs import RunFolder, jsonable

from . import checkpoints, compare, distributed
from .fold_spec import DataKind, FoldConfig, NeuralLoopWords, Sampler, check_fold_config  # noqa: F401 (its interfaces)
from .samples import SAMPLES_KEY, samples_of, write_npz
from .seeds import block_start, sample_seeds, stream_seed
from .sims.auxiliary import generation_sampler
from .train import finetune_config, load_network, train


# ---------------------------------------------------------------------------------------------- sampling
def sample_candidates(cfg: FoldConfig, t: int, sample: Sampler) -> np.ndarray:
    """Generation t's K m candidates, samples of model t - 1 drawn by ``sample`` (seeds -> samples: plain or SIMS-
    guided, [`generation_sampler`][empirical.sims.auxiliary.generation_sampler]) from the candidate seed block of
    generation t (block T + 1: the last model's own draw, the seeds a generation T + 1 would use)."""
    return sample(sample_seeds("candidates", cfg.seed, t, cfg.n_synthetic * cfg.K))


def _sampler(cfg: FoldConfig, t: int, D, folder: Path, progress: bool) -> Sampler:
    """(seeds, steps=None) -> samples of generation t's model: plain, or with cfg.sims guided by the generation's own
    auxiliary (built once in <gen>/sims-aux from the generation's network; one process only). ``steps``: Heun steps
    (default the run's num_steps)."""
    if cfg.sims is not None and distributed.world()[1] > 1:
        raise ValueError("a SIMS loop runs in one process: its auxiliary is trained by the sampling rank")
    return generation_sampler(D, folder, cfg.sims, cfg.device, cfg.num_steps, stream_seed(cfg.seed, "sims", t),
                              progress, seed0=block_start("sims_loop", cfg.seed, t))


def _lazy(make: Callable[[], Sampler]) -> Sampler:
    """A sampler built on its first call (a resumed generation whose candidates exist needs none: building a SIMS
    sampler may train an auxiliary)."""
    box: list = []

    def call(*args):
        if not box:
            box.append(make())
        return box[0](*args)
    return call


# ------------------------------------------------------------------------------------------ npz files
def read_synthetic(path: Path) -> dict:
    """Every array of a generation's synthetic.npz: the kept samples (under [`empirical.samples.SAMPLES_KEY`][empirical.samples.SAMPLES_KEY],
    read from an older key too), their rewards, the candidates' rewards and labels, the kept indices and, when real data are mixed
    in, the real block's rewards and labels. A torn or foreign file is
    [`empirical.checkpoints.Unreadable`][empirical.checkpoints.Unreadable]."""
    try:
        with np.load(path) as z:
            out = {k: z[k] for k in z.files}
        out[SAMPLES_KEY] = samples_of(out)
        for k in ("rewards", "candidate_rewards"):
            out[k]                                  # a file without them is foreign or torn
        return out
    except Exception as e:        # zipfile, pickle and key errors of a torn or foreign file
        raise checkpoints.unreadable(path, f"{type(e).__name__}: {e}") from None


# --------------------------------------------------------------------------------------- a generation
def _synthetic(cfg: FoldConfig, kind: DataKind, t: int, folder: Path, x: np.ndarray, sample: Sampler) -> dict:
    """Generation t's candidates and kept set (sampled by ``sample``, model t - 1's sampler; scored and curated
    once, then read from <folder>/synthetic.npz): beside the kept samples and rewards, every candidate's reward and
    label, the kept indices and, when real data are mixed in, the real training samples' rewards and labels, so
    that the predictions can be recomputed ([`empirical.compare`][empirical.compare])."""
    path = folder / "synthetic.npz"
    if path.exists():
        return read_synthetic(path)
    cand = sample_candidates(cfg, t, sample)
    r, labels = kind.score(cand)
    keep = words.keep_one_of_k(r, cfg.K, np.random.default_rng(stream_seed(cfg.seed, "curation", t)))
    out = {SAMPLES_KEY: cand[keep], "rewards": r[keep], "candidate_rewards": r, "candidate_labels": labels,
           "kept_index": keep}
    if words.mixes_real(cfg.scheme, cfg.lam):
        rr, rl = kind.score(words.real_block(x, cfg.n_samples, t, cfg.scheme))
        out.update(real_rewards=rr, real_labels=rl)
    folder.mkdir(parents=True, exist_ok=True)
    write_npz(path, **out)
    return out


def _final_draw(cfg: FoldConfig, kind: DataKind, t: int, folder: Path, sample: Sampler) -> dict:
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
    write_npz(path, rewards=r, labels=labels)
    return {"candidate_rewards": r, "candidate_labels": labels}


def _kept(run: Path, s: int, key: str) -> np.ndarray:
    return read_synthetic(run / f"gen_{s:03d}" / "synthetic.npz")[key]


def training_set(cfg: FoldConfig, t: int, syn: dict, x: np.ndarray, run: Path) -> np.ndarray:
    """What model t (t >= 1) is fine-tuned on, in the order of [`simtheory.fold.training_set`][simtheory.fold.training_set]: the real block
    (when mixed in) and the kept sets (this generation's; every generation's so far under 'accumulate')."""
    mix = words.training_set(cfg.scheme, cfg.lam, t)
    real = [] if mix.real is None else [words.real_block(x, cfg.n_samples, t, cfg.scheme)]
    return np.concatenate(real + [syn[SAMPLES_KEY] if s == t else _kept(run, s, SAMPLES_KEY) for s in mix.kept])


def training_rewards(cfg: FoldConfig, kind: DataKind, t: int, syn: dict | None, x: np.ndarray,
                     run: Path) -> np.ndarray:
    """The rewards of model t's training set ([`training_set`][empirical.fold.training_set]'s samples, in its order): the real block's at
    t = 0, else the real block's (when mixed in: stored in synthetic.npz) and the kept sets'."""
    if t == 0:
        return kind.score(words.real_block(x, cfg.n_samples, 0, cfg.scheme))[0]
    assert syn is not None, "generation t >= 1 has its kept set"
    mix = words.training_set(cfg.scheme, cfg.lam, t)
    real = [] if mix.real is None else [syn["real_rewards"] if "real_rewards" in syn
                                        else kind.score(words.real_block(x, cfg.n_samples, t, cfg.scheme))[0]]
    return np.concatenate(real + [syn["rewards"] if s == t else _kept(run, s, "rewards") for s in mix.kept])


def _predictions(rf: RunFolder, cfg: FoldConfig, t: int, n_classes: int) -> dict:
    """The exact one- and multi-step predictions (with SEs) from the stored candidates."""
    try:
        return compare.recorded_predictions(rf.path, cfg.to_dict(), t, n_classes)
    except compare.MissingCandidates as e:       # a folder resumed from before candidates were stored
        warnings.warn(f"no predictions recorded: {e}", stacklevel=2)
        return {}


# ------------------------------------------------------------------------------------------- a record
def _se(a: np.ndarray) -> float | None:
    """Standard error of a mean (None for a single value)."""
    return float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else None


def _means(r: np.ndarray, labels: np.ndarray, n_classes: int, prefix: str = "") -> dict:
    """Mean reward, E[e^r] and class proportions of a sample with their SEs, keys as metrics.jsonl names them."""
    m = predict.sample_means(r, labels, n_classes)
    out = {f"{prefix}mean_reward": m["mean_reward"], f"{prefix}reward_se": m["mean_reward_se"]}
    if not prefix:
        out.update(mean_exp_reward=m["mean_exp_reward"], mean_exp_reward_se=m["mean_exp_reward_se"],
                   class_proportions=m["class_proportions"])
    return out


def model_record(cfg: FoldConfig, kind: DataKind, t: int, D, sample: Sampler, folder: Path, nxt: dict,
                 train_r: np.ndarray) -> dict:
    """Generation t's metrics line: model t measured on its evaluation draws (fresh seeds per generation and run)
    and on ``nxt`` (the next generation's candidates, or the last model's own draw), with the three errors of a
    generation that concern the model (docs/empirical/compare.md defines every key):

    - fit: model t's mean reward against its training set's (``train_r``), ``fit_error`` with ``fit_error_se``
      from both samples (the model's draws and the finite training set, one draw of the law the network learns);
    - law (where the kind knows its data law): against the exact curated trajectory of that law,
      ``law_error`` with ``law_error_se`` (the model's draws, the law's Monte Carlo atoms and the noise every
      finite set of the loop adds, [`simtheory.predict.law_trajectory`][simtheory.predict.multistep.law_trajectory]);
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
            lq = np.asarray(law["class_proportions"][t])
            q = np.asarray(rec["class_proportions"])
            rec["law_class_proportions"] = lq.tolist()
            # per class, with the law error's three noise sources: the model's draws, the atoms, the finite sets
            rec["class_share_error"] = (q - lq).tolist()
            rec["class_share_error_se"] = np.sqrt(q * (1 - q) / r_all.size + np.asarray(
                law["class_proportions_se"][t]) ** 2 + np.asarray(law["class_proportions_path_se"][t]) ** 2).tolist()
    if cfg.sampler_ref_steps:
        n = min(cfg.n_sampler, cfg.n_eval)
        ref = kind.score(sample(seeds[:n], cfg.sampler_ref_steps))[0]
        d = r_e[:n] - ref
        rec.update(sampler_error=float(d.mean()), sampler_error_se=_se(d), sampler_steps=cfg.num_steps,
                   sampler_ref_steps=cfg.sampler_ref_steps, n_sampler=n)
    if t == 0:
        rec.update(kind.exact_sampler())
    if cfg.sims is not None:
        rec["sims_w"] = cfg.sims.w
    return rec


# ------------------------------------------------------------------------------------------ the run
def _open(cfg: FoldConfig, out, log_fields: dict) -> RunFolder:
    """The run folder, after the inputs are known good (a typo must not leave a folder that refuses reruns);
    appends this start's line to log.jsonl (``log_fields``: the kind's own, e.g. the classifier's device)."""
    cfg_path = Path(out) / "config.json"
    if cfg_path.exists():
        checkpoints.read_json(cfg_path)           # a torn or garbage config.json: say which file, what to do
    rf = RunFolder.open(out, cfg.to_dict(), upgrade=checkpoints.upgrade_keys)
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


def resume_point(rf: RunFolder, cfg: FoldConfig) -> int:
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


def run_fold(cfg: FoldConfig, kind: DataKind, out, progress: bool = True) -> RunFolder | None:
    """Run (or resume) the curated retraining fold of ``cfg`` on data of ``kind`` into ``out``: generation 0
    trains on N real samples; generation t fine-tunes model t-1 on the kept samples of its K m candidates
    (drawn, scored and curated right after model t-1 is made, since they also measure it) mixed with real ones.
    Each model is measured ([`model_record`][empirical.fold.model_record]) once the next generation's candidates exist
    (the last model draws as many of its own). Returns the run folder (None on torchrun ranks other than 0)."""
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


def _generations(cfg: FoldConfig, kind: DataKind, run: Path, rf: RunFolder | None, x, y, main: bool,
                 progress: bool) -> None:
    """The fold's generations from the resume point on (rank 0 samples, measures and writes; every rank trains)."""
    done = distributed.share(resume_point(rf, cfg) if rf is not None else None)
    D = None
    for t in range(done, cfg.generations + 1):
        g = run / f"gen_{t:03d}"
        syn = None
        if t == 0:
            real_x, real_y = distributed.share((x[: cfg.n_samples], None if y is None else y[: cfg.n_samples])
                                               if main else None)
            D = train(cfg.train, real_x, real_y, g, progress=progress)
        else:
            kept = init = None                        # rank 0's training set (shared below) and weights
            if main:
                if D is None:
                    D = load_network(run / f"gen_{t - 1:03d}" / "network.pt", cfg.device)
                prev = g.parent / f"gen_{t - 1:03d}"
                syn = _synthetic(cfg, kind, t, g, x, _lazy(lambda: _sampler(cfg, t - 1, D, prev, progress)))
                kept = training_set(cfg, t, syn, x, run)
                init = D.state_dict()
            train_x = distributed.share(kept)
            ft = finetune_config(cfg.train, cfg.finetune_samples, stream_seed(cfg.seed, "finetune", t), cfg.finetune_lr,
                                 cfg.finetune_ema)
            D = train(ft, train_x, None, g, init=init, progress=progress)
        if rf is None:
            continue
        sample = _sampler(cfg, t, D, g, progress)
        nxt = (_synthetic(cfg, kind, t + 1, run / f"gen_{t + 1:03d}", x, sample) if t < cfg.generations
               else _final_draw(cfg, kind, t, g, sample))
        rec = model_record(cfg, kind, t, D, sample, g, nxt, training_rewards(cfg, kind, t, syn, x, run))
        if syn is not None:
            kept, cand = syn["rewards"], syn["candidate_rewards"]
            rec.update(kept_mean_reward=float(kept.mean()), kept_reward_se=_se(kept),
                       candidate_mean_reward=float(cand.mean()), candidate_reward_se=_se(cand))
            rec.update(_predictions(rf, cfg, t, kind.n_classes))
        rf.append(jsonable(rec))
