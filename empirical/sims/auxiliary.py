r"""The SIMS auxiliary (Alemohammad et al. 2024): a copy of a base model fine-tuned on its own samples.

1. A base EDM model (a loop's gen_000 or a ``train`` run) draws a synthetic set S of n_s samples with fixed seeds
   (and, for a class-conditional base, fixed labels).
2. A copy of the base, from the base's weights and with the base's hyperparameters (lr and the auxiliary's EMA
   half-life set here), is fine-tuned on S for B samples seen: the auxiliary model.
3. Sampling then uses D = D_base + w (D_base - D_aux), w >= 0 ([`empirical.edm.guidance`][empirical.edm.guidance]).

Nothing here assumes images beyond the base's sampler: the guide may be any module with the base's call signature
D(x, sigma, class_labels) and output shape, and a synthetic set is whatever
[`empirical.edm.generate`][empirical.edm.sampler.generate] returns.
Distribution shifting composes S with chosen class proportions (by the reward classifier's labels,
[`compose_by_class`][empirical.sims.auxiliary.compose_by_class]; the proportions from
[`simtheory.diffusion.shifting.aux_weights_for_target`][simtheory.diffusion.shifting.aux_weights_for_target]).
A loop generation's sampler with the SIMS option is [`generation_sampler`][empirical.sims.auxiliary.generation_sampler].
Words as in the theory half: w, n_s, B (``images``), aux.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from collections.abc import Callable
from typing import cast

import numpy as np
from torch import nn

from simtheory import validate
from simtheory.diffusion.sampler import check_w
from simtheory.runs import RunFolder, atomic_write

from .. import checkpoints, seeds as seedblocks
from ..edm.guidance import check_interval, guided_generate, num_classes, seed_labels
from ..edm.precond import Preconditioned
from ..edm.sampler import generate
from ..samples import SAMPLES_KEY, samples_key, samples_of
from ..train import TrainConfig, finetune_config, load_network, train

AUX_EMA = 0.1                  # default auxiliary EMA half-life, as a fraction of B (picked on seed set 0:
                               # results/cpu-sims/explore, docs/empirical/sims.md)
MEASURED = "measured"          # config.json key written after the fine-tune; not compared on resume


def sha1_array(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()


def _file_sha1(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def base_folder(base_run) -> Path:
    """The folder holding the base's network.pt (a run folder or the network.pt itself); a missing base is a
    ValueError naming the path."""
    p = Path(base_run)
    if p.is_file() and p.name == "network.pt":
        p = p.parent
    if not (p / "network.pt").exists():
        raise ValueError(f"base run not found: no network.pt in {p} (pass a loop's gen_000 folder or a `train` run)")
    return p


def damaged_base(e: checkpoints.Unreadable) -> ValueError:
    """The error for a damaged file of a SIMS base: the base is this experiment's input, never recomputed here."""
    return ValueError(f"the base's {e.path} is unreadable ({e.why}). Do not delete the base folder {e.path.parent}: "
                      "it is the input of this experiment (and of every other built on it), and nothing here can "
                      "recompute it. Restore the file from a copy, or train a new base into another folder and pass "
                      "that as --base.")


def base_train_config(base_run) -> TrainConfig:
    """The hyperparameters the base was trained with (its training-state checkpoint's config)."""
    p = base_folder(base_run)
    f = p / "training-state.json"
    if not f.exists():
        raise ValueError(f"base run {p} has no training-state.json: its hyperparameters are unknown")
    try:
        return TrainConfig.from_stored(checkpoints.read_json(f))
    except checkpoints.Unreadable as e:
        raise damaged_base(e) from None
    except (TypeError, ValueError) as e:
        raise damaged_base(checkpoints.unreadable(f, f"not a training config: {e}")) from None


def load_base(base_run, device="cpu") -> Preconditioned:
    """The base's network; a damaged network.pt is a ValueError that names it and says not to delete the base."""
    try:
        return load_network(base_folder(base_run) / "network.pt", device)
    except checkpoints.Unreadable as e:
        raise damaged_base(e) from None


def class_quotas(proportions: np.ndarray, n: int) -> np.ndarray:
    """Integer counts summing to n, closest to n * proportions (largest remainders)."""
    raw = np.asarray(proportions, float) * n
    q = np.floor(raw).astype(int)
    q[np.argsort(-(raw - q), kind="stable")[: n - q.sum()]] += 1
    return q


def compose_by_class(D: Preconditioned, label_fn: Callable[[np.ndarray], np.ndarray], proportions, n_s: int,
                     seed0: int, device, num_steps: int, chunk: int = 1024,
                     max_draws: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n_s base samples with class counts from ``proportions`` (labels by ``label_fn``, e.g. the classifier's
    argmax): candidates are drawn in seed order and each is kept while its class still has room.
    Returns (samples, labels, seeds); a quota that cannot be filled within ``max_draws`` (default 50 n_s, at most
    one seed block, `empirical.seeds.BLOCK_SIZE`) is a ValueError."""
    quota = class_quotas(validate.probability(proportions, "auxiliary proportions"), n_s)
    max_draws = min(max_draws or 50 * n_s, seedblocks.BLOCK_SIZE)
    imgs, labs, seeds, drawn = [], [], [], 0
    have = np.zeros_like(quota)
    while np.any(have < quota):
        if drawn >= max_draws:
            raise ValueError(f"after {drawn} candidates the class quotas {quota.tolist()} are not met "
                             f"(have {have.tolist()}): a target this far from the base needs more draws or a larger w")
        s = seed0 + drawn + np.arange(min(chunk, max_draws - drawn))
        x = generate(D, s, device, num_steps)
        y = np.asarray(label_fn(x))
        for i in range(len(x)):
            if have[y[i]] < quota[y[i]]:
                have[y[i]] += 1
                imgs.append(x[i])
                labs.append(y[i])
                seeds.append(s[i])
        drawn += len(s)
    return np.stack(imgs), np.array(labs), np.array(seeds, dtype=np.int64)


def synthetic_seed0(seed: int) -> int:
    """The first synthetic seed of auxiliary seed ``seed``: the start of its block of [`empirical.seeds`][empirical.seeds]
    (disjoint from every loop's, sweep's and other auxiliary's seeds)."""
    return seedblocks.block_start("sims_aux", seedblocks.check_run_seed(seed, "the SIMS seed"))


def weight_distances(base: dict, raw: dict, aux: dict) -> dict:
    """L2 distances over all floating-point weights: auxiliary to base, raw fine-tune to base, and their ratio
    (1 for the raw weights; an EMA started at the base sits part of the way)."""
    def dist(a, b):
        return math.sqrt(sum(float(((a[k].double() - b[k].double().to(a[k].device)) ** 2).sum())
                             for k in a if a[k].is_floating_point()))
    d_aux, d_raw = dist(aux, base), dist(raw, base)
    return {"aux_to_base": d_aux, "raw_to_base": d_raw, "relative": d_aux / d_raw if d_raw > 0 else float("nan")}


def _load_synthetic(rf: RunFolder) -> dict | None:
    try:
        return rf.load_arrays("synthetic")
    except Exception as e:        # zipfile, pickle and key errors of a torn or foreign file
        raise checkpoints.unreadable(rf.path / "synthetic.npz", f"{type(e).__name__}: {e}") from None


SYNTHETIC_KEYS = ("base_network_sha1", "n_s", "seed0", "num_steps", "class_proportions", "conditional")


def _shared_synthetic(folder, config: dict) -> dict | None:
    """The synthetic set of the auxiliary folder ``folder`` if its config draws the same set as ``config``
    (SYNTHETIC_KEYS) and it has one; else None (then it is drawn)."""
    p = Path(folder)
    if not (p / "config.json").exists() or not (p / "synthetic.npz").exists():
        return None
    other = checkpoints.read_json(p / "config.json")
    if any(other.get(k) != json.loads(json.dumps(config[k])) for k in SYNTHETIC_KEYS):
        return None
    return _load_synthetic(RunFolder(p))


def _open_with_measured(out, config: dict) -> RunFolder:
    """RunFolder.open, keeping a stored ``measured`` entry (written after the fine-tune) out of the comparison."""
    path = Path(out) / "config.json"
    if path.exists():
        stored = checkpoints.read_json(path)
        if MEASURED in stored:
            config = {**config, MEASURED: stored[MEASURED]}
    return RunFolder.open(out, config, upgrade=checkpoints.upgrade_keys)


def finetune_auxiliary(base_run, out, n_s: int, images: int, lr: float | None = None, seed: int = 0, *,
                       num_steps: int = 8, device: str | None = None, class_proportions=None,
                       label_fn: Callable | None = None, progress: bool = False, ema: float = AUX_EMA,
                       seed0: int | None = None, synthetic_from=None) -> nn.Module:
    """Build (or resume) the SIMS auxiliary of ``base_run`` in the run folder ``out``; returns it.

    Draws n_s samples from the base with seeds seed0 + i (default seed0 =
    [`synthetic_seed0`][empirical.sims.auxiliary.synthetic_seed0] (seed); the loop
    passes its own block) and, for a conditional base, labels
    [`seed_labels`][empirical.edm.guidance.seed_labels]; or, with ``class_proportions`` and ``label_fn``, a set with
    those class proportions
    ([`compose_by_class`][empirical.sims.auxiliary.compose_by_class]; for a conditional base the labels are assigned by
    quota instead). Then fine-tunes
    a copy of the base from its weights with the base's hyperparameters
    ([`empirical.train.finetune_config`][empirical.train.finetune_config]:
    no warm-up, lr overridable) for ``images`` images seen (B), seeded by ``seed``.

    ``ema``: the auxiliary's weights, its EMA half-life as a fraction of B. 0: the raw fine-tuned weights;
    f > 0: an EMA with half-life f B images, started at the base's weights, so that it keeps a base share of
    0.5^(1/f) (f = 1: a half). Default AUX_EMA = 0.1 (base share 0.001).
    ``synthetic_from``: another auxiliary folder whose synthetic set is this one's (same base network, seeds,
    n_s, steps and class proportions, checked in its config.json); copied instead of drawn again.

    Folder: config.json (inputs, base network sha1; after the fine-tune also ``measured``: the auxiliary's
    L2 distance from the base relative to the raw fine-tune's,
    [`weight_distances`][empirical.sims.auxiliary.weight_distances]), synthetic.npz,
    network.pt, training-state.pt, metrics.jsonl. A rerun resumes; another config is refused with the differing
    keys (simtheory.runs.ConfigMismatch, a ValueError); a damaged file is a ValueError naming it.
    """
    n_s = validate.count(n_s, "n_s", minimum=1)
    images = validate.count(images, "images (B)", minimum=1)
    if n_s > seedblocks.BLOCK_SIZE:
        raise ValueError(f"n_s must be at most {seedblocks.BLOCK_SIZE} (one block of synthetic seeds), got {n_s}")
    if lr is not None and not (math.isfinite(float(lr)) and float(lr) > 0):
        raise ValueError(f"lr must be > 0, got {lr}")
    ema = float(ema)
    if not (math.isfinite(ema) and ema >= 0):
        raise ValueError(f"ema (the auxiliary's EMA half-life as a fraction of B; 0: raw weights) must be >= 0, "
                         f"got {ema}")
    first = synthetic_seed0(seed) if seed0 is None else validate.count(seed0, "seed0", minimum=0)
    bf = base_folder(base_run)
    base_cfg = base_train_config(bf)
    dev = device or base_cfg.device
    ft = finetune_config(replace(base_cfg, device=dev), images, seed, lr, ema=ema)
    props = None if class_proportions is None else validate.probability(class_proportions, "class_proportions").tolist()
    D_base = load_base(bf, dev)
    n_cls = num_classes(D_base)
    if props is not None and n_cls == 0 and label_fn is None:
        raise ValueError("class_proportions needs label_fn (the classifier's labels)")
    if props is not None and n_cls and len(props) != n_cls:
        raise ValueError(f"class_proportions has {len(props)} classes, the conditional base {n_cls}")
    config = {"kind": "sims_auxiliary", "base": str(base_run), "base_network_sha1": _file_sha1(bf / "network.pt"),
              "n_s": n_s, "images": images, "lr": ft.lr, "ema": ema, "seed": int(seed), "seed0": int(first),
              "num_steps": int(num_steps), "class_proportions": props, "conditional": bool(n_cls),
              "train": ft.compared()}
    with _open_with_measured(out, config) as rf:          # held until the auxiliary is built
        syn = _load_synthetic(rf)
        t0 = time.perf_counter()
        if syn is None and synthetic_from is not None:
            syn = _shared_synthetic(synthetic_from, config)
            if syn is not None:
                rf.save_arrays("synthetic", **syn)
        if syn is None:
            if props is None or n_cls:
                s = first + np.arange(n_s)
                y = None
                if n_cls:
                    y = seed_labels(s, n_cls) if props is None else np.repeat(np.arange(n_cls), class_quotas(props, n_s))
                x = guided_generate(D_base, None, 0.0, s, dev, num_steps, progress=progress, labels=y)
                syn = {SAMPLES_KEY: x, "seeds": s} if y is None else {SAMPLES_KEY: x, "labels": y, "seeds": s}
            else:
                assert label_fn is not None, "checked above: class_proportions of an unconditional base need it"
                x, y, s = compose_by_class(D_base, label_fn, props, n_s, first, dev, num_steps)
                syn = {SAMPLES_KEY: x, "labels": y, "seeds": s}
            rf.save_arrays("synthetic", **syn)
        elif len(syn.get(samples_key(syn) or SAMPLES_KEY, ())) != n_s:
            held = len(syn.get(samples_key(syn) or SAMPLES_KEY, ()))
            raise checkpoints.unreadable(rf.path / "synthetic.npz", f"holds {held} samples, "
                                         f"the config says n_s = {n_s}")
        train(ft, samples_of(syn), syn.get("labels") if n_cls else None, rf.path, init=D_base.state_dict(),
              progress=progress)
        aux = load_network(rf.path / "network.pt", dev)         # a damaged network.pt is an error naming it
        if MEASURED not in rf.config:
            st, _ = checkpoints.load(rf.path / "training-state.pt", ft.compared())
            config[MEASURED] = {"weight_distance": weight_distances(D_base.state_dict(), st["net"], st["ema"])}
            atomic_write(rf.path / "config.json", (json.dumps(json.loads(json.dumps(config)), indent=2,
                                                              sort_keys=True) + "\n").encode())
        if not rf.metrics():
            rec = {"stage": "auxiliary", "n_s": n_s, "images": images, "lr": ft.lr, "ema": ema, "seed": int(seed),
                   "synthetic_sha1": sha1_array(samples_of(syn)), "seconds": time.perf_counter() - t0,
                   **cast(dict, config[MEASURED])}
            if "labels" in syn:
                rec["synthetic_class_counts"] = np.bincount(syn["labels"], minlength=len(props or []) or n_cls).tolist()
            rf.append(rec)
    return aux.eval()


def load_auxiliary(aux_run, D_base: nn.Module | None = None, device="cpu") -> nn.Module:
    """The guide network of a run folder (a [`finetune_auxiliary`][empirical.sims.auxiliary.finetune_auxiliary] folder, or any ``train`` run: the guide
    may have another architecture than the base); a missing or damaged network.pt is a ValueError naming it. With
    ``D_base``, a guide for other data (another sample shape or channel count) is refused."""
    p = Path(aux_run)
    if p.is_file() and p.name == "network.pt":
        p = p.parent
    if not (p / "network.pt").exists():
        raise ValueError(f"no auxiliary network in {p}: run `python -m empirical sims` first")
    aux = load_network(p / "network.pt", device)
    if D_base is not None:
        a, b = tuple(getattr(aux, "sample_shape", ())), tuple(getattr(D_base, "sample_shape", ()))
        if a != b:
            raise ValueError(f"the guide {p} makes samples of shape {a}, the base {b}: it was trained on other data")
    return aux


@dataclass(frozen=True)
class SimsSampling:
    """The SIMS option of a loop generation: its model D samples with D + w (D - D_aux), where D_aux is D fine-tuned
    on n_s of D's own samples for ``images`` images at learning rate ``lr`` (the same for every generation, so that
    the generations compare like with like), with auxiliary weights ``ema``
    ([`finetune_auxiliary`][empirical.sims.auxiliary.finetune_auxiliary]) and
    guidance inside ``interval`` (None: every noise level). w = 0 samples plainly."""

    w: float = 1.0
    n_s: int = 2500
    images: int = 25_000
    lr: float = 1e-3
    ema: float = AUX_EMA
    interval: tuple | None = None

    def __post_init__(self):
        object.__setattr__(self, "w", check_w(self.w))
        object.__setattr__(self, "n_s", validate.count(self.n_s, "sims n_s", 1))
        object.__setattr__(self, "images", validate.count(self.images, "sims images (B)", 1))
        if self.lr is None:
            raise ValueError("sims lr must be given (one lr for every generation's auxiliary)")
        if not (math.isfinite(float(self.lr)) and float(self.lr) > 0):
            raise ValueError(f"sims lr must be > 0, got {self.lr}")
        object.__setattr__(self, "lr", float(self.lr))
        if not (math.isfinite(float(self.ema)) and float(self.ema) >= 0):
            raise ValueError(f"sims ema (half-life as a fraction of B) must be >= 0 (0: raw weights), got {self.ema}")
        object.__setattr__(self, "ema", float(self.ema))
        iv = check_interval(self.interval)
        object.__setattr__(self, "interval", None if iv is None else list(iv))

    def to_dict(self) -> dict:
        return asdict(self)


def generation_sampler(D: Preconditioned, gen_folder, sims: SimsSampling | None, device, num_steps: int, seed: int,
                       progress: bool = False, seed0: int | None = None) -> Callable[..., np.ndarray]:
    """(seeds, steps=None) -> samples of one loop generation with ``steps`` Heun steps (default ``num_steps``): plain
    Heun sampling, or, with ``sims`` (w > 0), guidance from the generation's own auxiliary, built (or resumed) in
    <gen_folder>/sims-aux from <gen_folder>/network.pt and fine-tuned with seed ``seed``, its synthetic set drawn
    from the seeds ``seed0`` + i (the loop passes its generation's block of [`empirical.seeds`][empirical.seeds])."""
    if sims is None or sims.w == 0:
        return lambda seeds, steps=None: guided_generate(D, None, 0.0, seeds, device, steps or num_steps,
                                                         progress=progress)
    aux = finetune_auxiliary(gen_folder, Path(gen_folder) / "sims-aux", sims.n_s, sims.images, sims.lr, seed,
                             num_steps=num_steps, device=str(device), ema=sims.ema, seed0=seed0)
    return lambda seeds, steps=None: guided_generate(D, aux, sims.w, seeds, device, steps or num_steps,
                                                     progress=progress, interval=sims.interval)
