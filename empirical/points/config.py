"""The point loop's config and its named presets: the image loop's words over a named 2-D law of
[`simtheory.datasets`][simtheory.datasets] (or any (n, d) float array) with the MLP denoiser of
[`empirical.networks.mlp`][empirical.networks.mlp]."""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from simtheory import datasets, validate

from ..fold_spec import NeuralLoopWords, check_fold_config, restore_parts
from ..networks.mlp import MLPConfig
from ..seeds import stream_seed
from ..sims.auxiliary import SimsSampling
from ..train import FINETUNE_EMA, TrainConfig


@dataclass(frozen=True)
class PointLoopConfig(NeuralLoopWords):
    """The curated retraining loop on points; the image loop's words (n_samples = N, K, lam, scheme, generations,
    train, finetune_samples, finetune_lr, num_steps, n_eval, seed, sims).

    ``dataset``: a name of `simtheory.datasets.DATASETS` (None when the data are passed in);
    ``normalise``: set train.mlp's shift and scale from the real training points (per-coordinate mean and
    std / 0.5); ``modes``: centres whose nearest one labels a point (None: the data set's); ``denoiser_sigmas``:
    noise levels (in the network's units, data std 0.5) of generation 0's error against the exact denoiser;
    ``mmd_bandwidth``: the kernel bandwidth of the distance to the law (None: the law's default, in data units).
    ``reward`` and ``data_sha1`` name the reward and hash the real data;
    [`run_point_loop`][empirical.points.kind.run_point_loop] fills them in.
    ``seed`` decides every random draw: the real points of a named data set, training, fine-tunes, curation and
    sampler seeds (train.seed is set from it).
    """

    dataset: str | None = "mixture2d"
    n_samples: int = 8192
    K: int = 4
    lam: float = math.inf
    scheme: str = "replace"
    generations: int = 5
    train: TrainConfig = field(default_factory=lambda: TrainConfig(mlp=MLPConfig()))
    finetune_samples: int = 1_000_000
    finetune_lr: float = 1e-3
    finetune_ema: float = FINETUNE_EMA
    num_steps: int = 32
    n_eval: int = 2048
    sampler_ref_steps: int = 0
    n_sampler: int = 2048
    n_law: int = 262_144
    normalise: bool = True
    modes: tuple | None = None
    denoiser_sigmas: tuple = (0.01, 0.05, 0.2, 0.5, 2.0)
    n_denoiser: int = 4096
    mmd_bandwidth: float | None = None
    seed: int = 0
    sims: SimsSampling | None = None
    reward: str | None = None
    data_sha1: str | None = None

    def __post_init__(self):
        restore_parts(self)
        if self.train.arch != "mlp":
            raise ValueError(f"a point loop trains the MLP denoiser (train.mlp), got {self.train.arch}")
        if self.dataset is not None and self.dataset not in datasets.DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose from {sorted(datasets.DATASETS)}")
        if self.dataset == "atoms1d":
            raise ValueError("atoms1d holds atom indices (histogram family), not points")
        check_fold_config(self)
        object.__setattr__(self, "train", replace(self.train, seed=stream_seed(self.seed, "train")))
        for name in ("n_denoiser", "n_law"):
            validate.count(getattr(self, name), name, minimum=2)
        if self.n_eval < 3:
            raise ValueError(f"n_eval must be >= 3 (the MMD's standard error needs three points), got {self.n_eval}")
        sig = tuple(float(s) for s in self.denoiser_sigmas)
        if not all(math.isfinite(s) and s > 0 for s in sig):
            raise ValueError(f"denoiser_sigmas must be finite and > 0, got {self.denoiser_sigmas}")
        object.__setattr__(self, "denoiser_sigmas", sig)
        if self.mmd_bandwidth is not None and not (math.isfinite(self.mmd_bandwidth) and self.mmd_bandwidth > 0):
            raise ValueError(f"mmd_bandwidth must be finite and > 0, got {self.mmd_bandwidth}")
        if self.modes is not None:
            modes = tuple(tuple(float(v) for v in np.atleast_1d(c)) for c in self.modes)
            if not modes or len({len(c) for c in modes}) != 1:
                raise ValueError(f"modes must be one or more centres of one dimension, got {self.modes}")
            object.__setattr__(self, "modes", modes)

    @property
    def device(self) -> str:
        return self.train.device

    def to_dict(self) -> dict:
        """The compared config (config.json): every field but the device."""
        d = asdict(self)
        d["train"] = self.train.compared()
        if self.sims is None:
            del d["sims"]
        return {"kind": "point_loop", **d}


def _mlp(width: int, depth: int, emb: int = 32, features: int = 64) -> TrainConfig:
    return TrainConfig(mlp=MLPConfig(width=width, depth=depth, emb_features=emb, input_features=features))


POINT_PRESETS = {
    "tiny": PointLoopConfig(        # tests: seconds per generation
        n_samples=512, K=4, generations=2,
        train=replace(_mlp(32, 2, 16, 16), batch_size=128, lr=2e-3, total_samples=32_768, warmup_samples=2048,
                      ema_halflife_samples=2048, checkpoint_samples=8192),
        finetune_samples=8192, finetune_lr=1e-3, num_steps=32, n_eval=256, n_denoiser=512, sampler_ref_steps=128,
        n_sampler=256, n_law=32_768),
    # capacity ample for the 2-D laws (one generation's CPU time: docs/benchmarks.md, the point model); 64 Heun
    # steps: at 32 the sampler alone lowers E[r] of the rewarded modes of the 2-D mixture by more than a standard
    # error (docs/points/index.md gives the measurement)
    "cpu": PointLoopConfig(
        n_samples=8192, K=4, generations=5,
        train=replace(_mlp(128, 3), batch_size=512, lr=2e-3, total_samples=2_000_000, warmup_samples=100_000,
                      ema_halflife_samples=100_000, checkpoint_samples=500_000),
        finetune_samples=1_000_000, finetune_lr=1e-3, num_steps=64, n_eval=2048, sampler_ref_steps=256, n_sampler=2048),
}


def point_preset(name: str, **overrides) -> PointLoopConfig:
    """A named preset (``tiny`` for tests, ``cpu`` where capacity is ample) with fields replaced; ``device``
    goes to training, ``width`` and ``depth`` to the MLP, ``train_samples`` to train.total_samples (the old names
    ``train_images`` and ``finetune_images`` are read with a DeprecationWarning)."""
    if name not in POINT_PRESETS:
        raise ValueError(f"unknown point preset {name!r}; presets are {sorted(POINT_PRESETS)}")
    for old, new in (("train_images", "train_samples"), ("finetune_images", "finetune_samples")):
        if old in overrides:
            warnings.warn(f"point_preset's {old} is {new}", DeprecationWarning, stacklevel=2)
            overrides[new] = overrides.pop(old)
    cfg = POINT_PRESETS[name]
    tr = cfg.train
    device = overrides.pop("device", None)
    if device is not None:
        tr = replace(tr, device=device)
    net = {k: overrides.pop(k) for k in ("width", "depth") if k in overrides}
    if net:
        assert tr.mlp is not None, "a point preset trains the MLP"
        tr = replace(tr, mlp=replace(tr.mlp, **net))
    if "train_samples" in overrides:
        tr = replace(tr, total_samples=overrides.pop("train_samples"))
    return replace(cfg, train=tr, **overrides)
