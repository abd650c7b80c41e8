"""The image loop's config and its named presets (EDM2 style): 'tiny' (tests: two classes, 8x8), 'cpu' (8x8, all
ten classes, minutes per generation on one core), 'gpu' (32x32 CIFAR-10, one GPU). Each preset's Heun steps are
chosen from the measured sampler error (docs/empirical/index.md gives the measurement; its time per generation
too)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace


from simtheory import validate

from ..fold_spec import NeuralLoopWords, check_fold_config, restore_parts
from ..networks.classifier import ClassifierConfig
from ..networks.unet import UNetConfig
from ..seeds import BLOCK_SIZE, stream_seed
from ..sims.auxiliary import SimsSampling
from ..train import FINETUNE_EMA, TrainConfig
from .cifar10 import class_indices
from .score import KINDS


@dataclass(frozen=True)
class ImageLoopConfig(NeuralLoopWords):
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
    finetune_samples: int = 50_000
    finetune_lr: float = 2e-4
    finetune_ema: float = FINETUNE_EMA    # each fine-tune's EMA half-life as a fraction of finetune_samples
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    classifier_subset: int = 20_000       # training images of the reward classifier
    judge: ClassifierConfig = field(default_factory=lambda: ClassifierConfig(arch="resnet"))
    judge_subset: int = 20_000            # the judge's training images, disjoint from the reward classifier's
    num_steps: int = 18                   # Heun steps (2N - 1 evaluations)
    n_eval: int = 1000                    # evaluation images per generation (judge, FD, FID, grid)
    sampler_ref_steps: int = 0            # the sampler check: n_sampler evaluation images again at these steps
    n_sampler: int = 500
    fid_n: int = 0                        # 0: no FID; else >= 2 images
    seed: int = 0
    data: str | None = None               # CIFAR-10 source (archive or cifar-10-batches-py); None: default
    sims: SimsSampling | None = None      # SIMS: each generation samples with guidance from its own auxiliary

    def __post_init__(self):
        restore_parts(self, ("classifier", lambda d: ClassifierConfig(**d)), ("judge", lambda d: ClassifierConfig(**d)))
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))
        check_fold_config(self)
        object.__setattr__(self, "train", replace(self.train, seed=stream_seed(self.seed, "train")))
        object.__setattr__(self, "classifier", replace(self.classifier, seed=stream_seed(self.seed, "classifier")))
        object.__setattr__(self, "judge", replace(self.judge, seed=stream_seed(self.seed, "judge")))
        class_indices(self.classes)                       # unknown class names fail here
        if self.reward not in KINDS:
            raise ValueError(f"reward must be one of {KINDS}, got {self.reward!r}")
        if self.reward == "class" and self.target not in (self.classes or self.class_names):
            raise ValueError(f"target class {self.target!r} is not among the run's classes {self.class_names}")
        for name in ("fid_n", "classifier_subset", "judge_subset"):
            validate.count(getattr(self, name), name, minimum=0 if name == "fid_n" else 1)
        if self.n_eval < 2:
            raise ValueError(f"n_eval must be >= 2 (the reward's standard error needs two images), got {self.n_eval}")
        if self.fid_n == 1:
            raise ValueError("fid_n must be 0 (no FID) or >= 2 (a covariance needs two images), got 1")
        if self.fid_n > BLOCK_SIZE:
            raise ValueError(f"fid_n = {self.fid_n} exceeds the {BLOCK_SIZE} samples of one seed block")
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
        from .cifar10 import CLASSES
        return tuple(self.classes) if self.classes else CLASSES

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
        train=TrainConfig(_unet(8, 16, (1, 1), 1), batch_size=64, total_samples=16384, warmup_samples=512,
                          ema_halflife_samples=512, checkpoint_samples=2048),
        finetune_samples=1024, classifier=ClassifierConfig(resolution=8, num_classes=2, width=16, epochs=3),
        classifier_subset=2000, judge=ClassifierConfig("resnet", resolution=8, num_classes=2, width=16, epochs=3),
        judge_subset=2000, num_steps=18, n_eval=128, sampler_ref_steps=64, n_sampler=64),
    "cpu": ImageLoopConfig(
        resolution=8, n_samples=2500, K=4, generations=3,
        train=TrainConfig(_unet(8, 32, (1, 2), 1), batch_size=128, lr=1e-3, total_samples=250_000,
                          warmup_samples=20_000, ema_halflife_samples=10_000, checkpoint_samples=50_000),
        finetune_samples=50_000, classifier=ClassifierConfig(resolution=8, epochs=4),
        classifier_subset=20_000, judge=ClassifierConfig("resnet", resolution=8, epochs=4), judge_subset=20_000,
        num_steps=18, n_eval=1000, sampler_ref_steps=64, n_sampler=500),
    "gpu": ImageLoopConfig(
        resolution=32, n_samples=25_000, K=4, generations=3,
        train=TrainConfig(_unet(32, 64, (1, 2, 2), 2, (16,), 0.1), batch_size=256, lr=1e-3,
                          total_samples=5_000_000, warmup_samples=500_000, ema_halflife_samples=250_000,
                          checkpoint_samples=1_000_000, device="cuda", bf16=True, compile=True),
        finetune_samples=1_000_000, classifier=ClassifierConfig(resolution=32, epochs=15, device="cuda"),
        classifier_subset=25_000, judge=ClassifierConfig("resnet", resolution=32, epochs=15, device="cuda"),
        judge_subset=25_000, num_steps=18, n_eval=10_000, fid_n=10_000, sampler_ref_steps=72, n_sampler=2000),
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
