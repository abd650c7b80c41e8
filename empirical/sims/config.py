"""The config of a SIMS experiment on one image base ([`SimsConfig`][empirical.sims.config.SimsConfig], its presets) and the image-loop config its
metrics use: the one the base records (a loop generation's, or a ``train`` run's), else the preset's, checked
against the base ([`resolve_config`][empirical.sims.config.resolve_config]). Seed set j of an experiment is block
('sweep', j) of [`empirical.seeds`][empirical.seeds] ([`seed_set`][empirical.sims.config.seed_set])."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from simtheory import validate
from simtheory.diffusion.sampler import check_w

from .. import checkpoints
from ..edm.guidance import check_interval
from ..seeds import BLOCK_SIZE, MAX_SEED, sample_seeds
from .auxiliary import AUX_EMA, base_folder, base_train_config


METRICS_LOWER_BETTER = {"fd_classifier": True, "fid": True, "precision": False, "recall": False}


@dataclass(frozen=True)
class SimsConfig:
    """One SIMS experiment on a base model. loop: the image-loop preset whose data, classes, classifier and
    reward the metrics use (a base that records its own loop config must match it); n_s, images (B), lr, ema: the
    auxiliary (lr None: the base's; ema:
    [`empirical.sims.finetune_auxiliary`][empirical.sims.auxiliary.finetune_auxiliary]); ws: the guidance grid;
    interval: the guidance interval in sigma (None: every noise level); num_steps: Heun steps of every sampling.
    ``data`` (where CIFAR-10 lies) and ``device`` are where, not what: neither enters the compared config."""

    loop: str = "cpu"
    n_s: tuple = (2500,)
    images: tuple = (10_000,)
    lr: float | None = None
    ema: float = AUX_EMA
    ws: tuple = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)
    interval: tuple | None = None
    n: int = 1000                      # images per seed set and setting (classifier metrics)
    n_sets: int = 3
    select: str = "fd_classifier"
    inception_n: int = 200             # images of each report set that get FID and P/R (w = 0 and the pick)
    inception_ref_n: int = 500         # real test images behind FID and the real P/R manifold
    num_steps: int = 8
    shift_class: str = "airplane"
    shift_share: float = 0.3
    shift_w: float = 1.0
    seed: int = 0
    device: str | None = None          # None: the loop preset's
    data: str | None = None            # None: the default CIFAR-10 source ($CIFAR10_SOURCE)

    def __post_init__(self):
        object.__setattr__(self, "n_s", tuple(validate.count(v, "n_s", 1) for v in np.atleast_1d(self.n_s)))
        object.__setattr__(self, "images", tuple(validate.count(v, "images (B)", 1) for v in np.atleast_1d(self.images)))
        object.__setattr__(self, "ws", tuple(check_w(w) for w in np.atleast_1d(self.ws)))
        if 0.0 not in self.ws:
            raise ValueError("the w grid must include 0 (the base, the reference line)")
        if len(set(self.ws)) != len(self.ws) or len(set(self.n_s)) != len(self.n_s) or \
                len(set(self.images)) != len(self.images):
            raise ValueError(f"repeated values in the grid: ws {self.ws}, n_s {self.n_s}, images {self.images}")
        validate.count(self.n, "n", 2)
        validate.count(self.n_sets, "n_sets", 2)
        validate.count(self.num_steps, "num_steps", 2)
        if self.n > BLOCK_SIZE:
            raise ValueError(f"n must be at most {BLOCK_SIZE} (one block of seeds per seed set), got {self.n}")
        if not (math.isfinite(float(self.ema)) and float(self.ema) >= 0):
            raise ValueError(f"ema (the auxiliary's EMA half-life as a fraction of B; 0: raw weights) must be >= 0, "
                             f"got {self.ema}")
        object.__setattr__(self, "ema", float(self.ema))
        iv = check_interval(self.interval)
        object.__setattr__(self, "interval", None if iv is None else tuple(iv))
        if self.select not in METRICS_LOWER_BETTER:
            raise ValueError(f"select must be one of {sorted(METRICS_LOWER_BETTER)}, got {self.select!r}")
        if self.select in ("fid", "precision", "recall"):
            raise ValueError("the pick runs on every setting; choose fd_classifier (Inception metrics run only "
                             "for w = 0 and the pick)")
        if not 0 < self.shift_share < 1:
            raise ValueError(f"shift_share must be in (0, 1), got {self.shift_share}")
        if self.inception_n > self.n:
            raise ValueError(f"inception_n {self.inception_n} exceeds n {self.n}")
        if self.inception_n and self.inception_ref_n < 2:
            raise ValueError(f"inception_ref_n must be >= 2 when inception_n > 0, got {self.inception_ref_n}")
        check_w(self.shift_w)
        seed = validate.count(self.seed, "seed", 0)
        if seed >= MAX_SEED:
            raise ValueError(f"seed must be below {MAX_SEED}, got {seed}")

    def loop_config(self):
        from ..images.config import preset
        over = {"device": self.device} if self.device else {}
        return preset(self.loop, **over, **({"data": self.data} if self.data else {}))

    def to_dict(self) -> dict:
        d = {"kind": "sims", **asdict(self)}
        d.pop("data")
        d["interval"] = None if self.interval is None else list(self.interval)
        return d


PRESETS = {
    # 18 Heun steps, as the tiny loop preset: at fewer the tiny classifier labels nearly every sample of the tiny
    # base with one class (docs/empirical/sims.md has the measurement)
    "tiny": SimsConfig(loop="tiny", n_s=(64,), images=(256,), ws=(0.0, 1.0), n=32, n_sets=3, inception_n=0,
                       inception_ref_n=0, num_steps=18, shift_class="airplane", shift_share=0.7, shift_w=1.0),
    # lr: the base's, picked over a fifth of it on seed set 0 (results/cpu-sims/explore); w picked by the sweep
    "cpu": SimsConfig(loop="cpu", n_s=(2500,), images=(10_000,), ws=(0.0, 0.5, 1.0, 1.5, 2.0, 3.0), n=1000,
                      inception_n=1000, inception_ref_n=1000, num_steps=8),
    "gpu": SimsConfig(loop="gpu", n_s=(10_000,), images=(500_000,), lr=1e-4, ws=(0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0),
                      n=5000, inception_n=5000, inception_ref_n=10_000, num_steps=18),
}


def sims_preset(name: str, **overrides) -> SimsConfig:
    """A named SIMS preset with fields replaced."""
    if name not in PRESETS:
        raise ValueError(f"unknown SIMS config {name!r}; presets are {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides) if overrides else PRESETS[name]


def seed_set(j: int, n: int) -> np.ndarray:
    """Seeds of seed set j (disjoint blocks)."""
    return sample_seeds("sweep", j, 0, n)


def _loop_from_dict(d: dict):
    """An ImageLoopConfig from a stored config.json dict (its SIMS option, irrelevant to measuring a base, left out)."""
    from ..images.config import ImageLoopConfig
    fields = ImageLoopConfig.__dataclass_fields__
    return ImageLoopConfig(**{k: v for k, v in checkpoints.upgrade_keys(d).items() if k in fields and k != "sims"})


def recorded_loop_config(base_run):
    """(the image-loop config the base was trained under, where it is recorded) or (None, None): a loop
    generation's run folder config.json, or a ``train`` run's config.json (written by the train command)."""
    bf = base_folder(base_run)
    for path, kind in ((bf / "config.json", "image_train"), (bf.parent / "config.json", "image_loop")):
        if path.exists():
            d = checkpoints.read_json(path)
            if d.get("kind") == kind:
                try:
                    return _loop_from_dict(d["image_loop"] if kind == "image_train" else d), path
                except (KeyError, TypeError, ValueError) as e:
                    raise ValueError(f"{path} does not hold a usable image-loop config ({e})") from None
    return None, None


def _describe(lc) -> str:
    return f"{len(lc.class_names)} classes ({', '.join(lc.class_names)}) at {lc.resolution}x{lc.resolution}"


def _matching_presets(base_run, recorded) -> list[str]:
    """SIMS presets whose loop preset has the base's classes and resolution (and, when nothing is recorded, the
    base's network)."""
    unet = base_train_config(base_run).unet
    out = []
    for name, sc in PRESETS.items():
        lc = sc.loop_config()
        if recorded is not None:
            if (lc.resolution, lc.class_names) == (recorded.resolution, recorded.class_names):
                out.append(name)
        elif lc.train.unet == unet:
            out.append(name)
    return out


def resolve_config(name: str | None, base_run, **overrides) -> tuple[SimsConfig, Any]:
    """The SIMS preset (``name``, or None: the one matching the base) with ``overrides``, and the image-loop config
    its metrics use: the base's recorded one when there is one
    ([`recorded_loop_config`][empirical.sims.config.recorded_loop_config]), else the preset's.

    A preset whose classes or resolution differ from the base's recorded ones, or (when nothing is recorded) whose
    network differs from the base's, is a ValueError naming both: measuring a two-class base against ten classes
    labels its samples with classes it never saw."""
    bf = base_folder(base_run)
    recorded, where = recorded_loop_config(bf)
    if name is None:
        names = _matching_presets(bf, recorded)
        if len(names) != 1:
            what = _describe(recorded) if recorded is not None else f"a network {base_train_config(bf).unet}"
            raise ValueError(f"the base {bf} has {what}; {'no preset matches it' if not names else f'presets {names} match it'}"
                             ": pass --config")
        name = names[0]
    cfg = sims_preset(name, **overrides)
    lc = cfg.loop_config()
    if recorded is not None:
        if (recorded.resolution, recorded.class_names) != (lc.resolution, lc.class_names):
            match = _matching_presets(bf, recorded)
            raise ValueError(f"--config {name} measures {_describe(lc)}, but the base {bf} was trained on "
                             f"{_describe(recorded)} (recorded in {where})"
                             + (f": pass --config {match[0]}, or omit --config" if match else ""))
        dev = cfg.device or lc.train.device
        lc = replace(recorded, data=cfg.data, train=replace(recorded.train, device=dev),
                     classifier=replace(recorded.classifier, device=dev), judge=replace(recorded.judge, device=dev))
    else:
        unet = base_train_config(bf).unet
        if unet != lc.train.unet:
            match = _matching_presets(bf, None)
            raise ValueError(f"--config {name} is for the network {lc.train.unet} on {_describe(lc)}, but the base {bf} "
                             f"has the network {unet} and records no data config (classes, resolution)"
                             + (f": pass --config {match[0]}, the preset with its network" if match else ""))
    return cfg, lc


def lc_of(cfg: SimsConfig, base_run, lc):
    """The image-loop config of an experiment: ``lc`` if given, else [`resolve_config`][empirical.sims.config.resolve_config] (checked against the
    base)."""
    return lc if lc is not None else resolve_config(cfg.loop, base_run, **{k: getattr(cfg, k) for k in
                                                                    SimsConfig.__dataclass_fields__ if k != "loop"})[1]
