"""Named presets (EDM2 style) for the image loop: 'tiny' (tests: two classes, 8x8, ~30 s), 'cpu' (~5 min on
one core, 8x8, all ten classes), 'gpu' (32x32 CIFAR-10, minutes on one H100)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from simtheory import validate
from simtheory.loops import SCHEMES

from .classifier import ClassifierConfig
from .data import class_indices
from .reward import KINDS
from .sims import SimsSampling
from .train import TrainConfig
from .unet import UNetConfig


STREAMS = {"data": 1, "classifier": 2, "train": 3, "finetune": 4, "curation": 5, "judge": 6, "split": 7, "sims": 8}
MAX_SEED = 10**6                          # image seeds are seed * 10^12 + generation * 10^9 + i (< 2^63)


def stream_seed(seed: int, stream: str, t: int = 0) -> int:
    """The 32-bit seed of one random stream of a run (``stream`` in STREAMS, generation t), from the run's
    seed: independent streams, and two runs' streams differ when their seeds do."""
    return int(np.random.SeedSequence([int(seed), STREAMS[stream], int(t)]).generate_state(1)[0])


def image_seeds(seed: int, t: int, n: int) -> np.ndarray:
    """Per-image sampler seeds: block t = 0 holds the evaluation images (the same every generation, for
    paired comparisons), block t >= 1 generation t's candidates; disjoint across blocks and runs."""
    if n > 10**9:
        raise ValueError(f"at most 10^9 images per generation, got {n}")
    return int(seed) * 10**12 + int(t) * 10**9 + np.arange(n, dtype=np.int64)


def check_loop_words(cfg) -> None:
    """K, lam and scheme of a loop config (frozen dataclass), as every loop reads them: K an integer >= 1 (sampled
    curation keeps one of K drawn samples, so K = inf is refused), lam >= 0 or inf, scheme one of SCHEMES."""
    k, lam = validate.sampled_loop(cfg.K, cfg.lam, cfg.scheme, SCHEMES)
    object.__setattr__(cfg, "K", k)
    object.__setattr__(cfg, "lam", lam)

@dataclass(frozen=True)
class ImageLoopConfig:
    """The curated retraining loop on images; the same words as simtheory.LoopConfig (K, lam, scheme).

    ``seed`` decides every random draw of a run (stream_seed): the real-image subset, the classifier's data and
    training, the base model's training, each fine-tune, curation and the sampler seeds; the nested
    ``train.seed`` and ``classifier.seed`` are set from it. The device is recorded in the run's log, not here,
    so a run can resume on another device.
    """

    resolution: int = 8
    classes: tuple | None = None          # None: all ten
    n_samples: int = 2500                 # N real images per generation (synthetic: N if lam = inf, else lam N)
    K: int = 4
    lam: float = math.inf
    scheme: str = "replace"
    generations: int = 3
    reward: str = "class"                 # 'class' (gamma P(target|x)) or 'confidence' (gamma max_c P(c|x))
    target: str = "airplane"
    gamma: float = 5.0
    train: TrainConfig = field(default_factory=TrainConfig)
    finetune_images: int = 50_000
    finetune_lr: float = 2e-4
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    classifier_subset: int = 20_000       # training images of the reward classifier
    judge: ClassifierConfig = field(default_factory=lambda: ClassifierConfig(arch="resnet"))
    judge_subset: int = 20_000            # the judge's training images, disjoint from the reward classifier's
    num_steps: int = 8                    # Heun steps (2N - 1 evaluations)
    n_eval: int = 1000                    # images per generation for mean reward and class proportions
    fid_n: int = 0                        # 0: no FID; else >= 2 images
    seed: int = 0
    data: str | None = None               # CIFAR-10 source (archive or cifar-10-batches-py); None: default
    sims: SimsSampling | None = None      # SIMS: each generation samples with guidance from its own auxiliary

    def __post_init__(self):
        if isinstance(self.train, dict):
            object.__setattr__(self, "train", TrainConfig(**self.train))
        if isinstance(self.classifier, dict):
            object.__setattr__(self, "classifier", ClassifierConfig(**self.classifier))
        if isinstance(self.judge, dict):
            object.__setattr__(self, "judge", ClassifierConfig(**self.judge))
        if isinstance(self.sims, dict):
            object.__setattr__(self, "sims", SimsSampling(**self.sims))
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))
        validate.count(self.seed, "seed", minimum=0)
        if self.seed >= MAX_SEED:
            raise ValueError(f"seed must be below {MAX_SEED}, got {self.seed}")
        object.__setattr__(self, "train", replace(self.train, seed=stream_seed(self.seed, "train")))
        object.__setattr__(self, "classifier", replace(self.classifier, seed=stream_seed(self.seed, "classifier")))
        object.__setattr__(self, "judge", replace(self.judge, seed=stream_seed(self.seed, "judge")))
        class_indices(self.classes)                       # unknown class names fail here
        check_loop_words(self)
        if self.reward not in KINDS:
            raise ValueError(f"reward must be one of {KINDS}, got {self.reward!r}")
        if self.reward == "class" and self.target not in (self.classes or self.class_names):
            raise ValueError(f"target class {self.target!r} is not among the run's classes {self.class_names}")
        for name in ("n_samples", "generations", "n_eval", "num_steps", "fid_n", "finetune_images",
                     "classifier_subset", "judge_subset"):
            validate.count(getattr(self, name), name, minimum=0 if name in ("generations", "fid_n") else 1)
        if self.num_steps < 2:
            raise ValueError(f"num_steps must be >= 2 (the Heun schedule needs two noise levels), got {self.num_steps}")
        if self.n_eval < 2:
            raise ValueError(f"n_eval must be >= 2 (the reward's standard error needs two images), got {self.n_eval}")
        if self.fid_n == 1:
            raise ValueError("fid_n must be 0 (no FID) or >= 2 (a covariance needs two images), got 1")
        if self.n_synthetic < 1:
            raise ValueError(f"lam = {self.lam:g} with n_samples = {self.n_samples} rounds to {self.n_synthetic} "
                             "synthetic images per generation; raise lam or n_samples (round(lam N) >= 1)")
        if self.train.unet.img_resolution != self.resolution or any(
                c.resolution != self.resolution for c in (self.classifier, self.judge)):
            raise ValueError("train.unet.img_resolution, classifier.resolution and judge.resolution must equal "
                             "resolution")
        for c in (self.classifier, self.judge):
            if c.num_classes != len(self.class_names):
                raise ValueError(f"a classifier has num_classes = {c.num_classes}, the run has "
                                 f"{len(self.class_names)} classes")
        available = 5000 * len(self.class_names)
        if self.classifier_subset + self.judge_subset > available:
            raise ValueError(f"classifier_subset + judge_subset = {self.classifier_subset + self.judge_subset} "
                             f"exceeds the {available} training images of the run's classes (the two are disjoint)")

    @property
    def class_names(self) -> tuple:
        from .data import CLASSES
        return tuple(self.classes) if self.classes else CLASSES

    @property
    def n_synthetic(self) -> int:
        return self.n_samples if self.lam == math.inf else int(round(self.lam * self.n_samples))

    def to_dict(self) -> dict:
        """The compared config (config.json): every field but the devices."""
        d = asdict(self)
        d["train"] = self.train.compared()
        del d["classifier"]["device"], d["judge"]["device"]
        if self.sims is None:
            del d["sims"]                 # run folders made before the SIMS option stay resumable
        return {"kind": "image_loop", **d}

    @property
    def device(self) -> str:
        return self.train.device


def _unet(res, ch, mult, blocks, attn=(), dropout=0.0):
    return UNetConfig(img_resolution=res, channels=ch, channel_mult=mult, num_blocks=blocks,
                      attn_resolutions=attn, dropout=dropout)


PRESETS = {
    "tiny": ImageLoopConfig(      # two classes an 8x8 classifier tells apart (~90%), so curation shows
        resolution=8, classes=("airplane", "frog"), n_samples=256, K=4, generations=2,
        train=TrainConfig(_unet(8, 16, (1, 1), 1), batch_size=64, total_images=16384, warmup_images=512,
                          ema_halflife_images=512, checkpoint_images=2048),
        finetune_images=1024, classifier=ClassifierConfig(resolution=8, num_classes=2, width=16, epochs=3),
        classifier_subset=2000, judge=ClassifierConfig("resnet", resolution=8, num_classes=2, width=16, epochs=3),
        judge_subset=2000, num_steps=18, n_eval=128),    # 18 Heun steps: the classifier's airplane share of the
                                                          # base's samples is 0.98 at 4 steps, 0.61 at 8, 0.54 at 18,
                                                          # 0.53 at 32 and 64 (docs/empirical/sims.md)
    "cpu": ImageLoopConfig(
        resolution=8, n_samples=2500, K=4, generations=3,
        train=TrainConfig(_unet(8, 32, (1, 2), 1), batch_size=128, lr=1e-3, total_images=250_000,
                          warmup_images=20_000, ema_halflife_images=10_000, checkpoint_images=50_000),
        finetune_images=50_000, classifier=ClassifierConfig(resolution=8, epochs=4),
        classifier_subset=20_000, judge=ClassifierConfig("resnet", resolution=8, epochs=4), judge_subset=20_000,
        num_steps=8, n_eval=1000),
    "gpu": ImageLoopConfig(
        resolution=32, n_samples=25_000, K=4, generations=3,
        train=TrainConfig(_unet(32, 64, (1, 2, 2), 2, (16,), 0.1), batch_size=256, lr=1e-3,
                          total_images=5_000_000, warmup_images=500_000, ema_halflife_images=250_000,
                          checkpoint_images=1_000_000, device="cuda", bf16=True, compile=True),
        finetune_images=1_000_000, classifier=ClassifierConfig(resolution=32, epochs=15, device="cuda"),
        classifier_subset=25_000, judge=ClassifierConfig("resnet", resolution=32, epochs=15, device="cuda"),
        judge_subset=25_000, num_steps=18, n_eval=10_000, fid_n=10_000),
}


def preset(name: str, **overrides) -> ImageLoopConfig:
    """A named preset with fields replaced (device propagates to training and classifier)."""
    if name not in PRESETS:
        raise ValueError(f"unknown config {name!r}; presets are {sorted(PRESETS)}")
    cfg = PRESETS[name]
    dev = overrides.pop("device", None)
    if dev is not None:
        cfg = replace(cfg, train=replace(cfg.train, device=dev), classifier=replace(cfg.classifier, device=dev),
                      judge=replace(cfg.judge, device=dev))
    return replace(cfg, **overrides) if overrides else cfg
