"""The mixture loop's config and its named presets: the image loop's words and U-Net on a low-rank Gaussian mixture
([`simtheory.diffusion.LowRankMixture`][simtheory.diffusion.lowrank.LowRankMixture]), the network in its float data
mode."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from simtheory import validate

from ..fold_spec import NeuralLoopWords, check_fold_config, restore_parts
from ..networks.unet import UNetConfig
from ..seeds import stream_seed
from ..sims.auxiliary import SimsSampling
from ..train import FINETUNE_EMA, TrainConfig

REWARDS = ("class", "confidence")
"""gamma P(target | x) or gamma max_c P(c | x) under the law's Bayes posterior."""
RESOLUTIONS = (4, 8, 16, 32)
"""Image sides a CIFAR-10 law is fitted at (area downsampling of 32 x 32)."""


def _unet(res: int, ch: int, mult: tuple, blocks: int, attn: tuple = (), dropout: float = 0.0) -> UNetConfig:
    return UNetConfig(img_resolution=res, channels=ch, channel_mult=mult, num_blocks=blocks, attn_resolutions=attn,
                      dropout=dropout, float_data=True)


@dataclass(frozen=True)
class MixtureLoopConfig(NeuralLoopWords):
    """The curated retraining loop on a low-rank Gaussian mixture; the image loop's words (n_samples = N, K, lam,
    scheme, generations, reward, target, gamma, train, finetune_samples, finetune_lr, num_steps, n_eval, seed, sims).

    ``law``: a .npz of [`LowRankMixture.save`][simtheory.diffusion.lowrank.LowRankMixture.save] (None: the CIFAR-10 law
    at ``resolution`` and ``rank``,
    `empirical.mixture.inputs.cifar_law`); ``data``: the CIFAR-10 source of a fitted law (not compared on
    resume: ``law_sha1`` pins the law itself); ``temperature``: the reward's T; ``n_law``: exact draws of the law's
    curated trajectory; ``n_moments``: the first so many of them give p_t's moments (None: all); ``fd_floor_reps``:
    replicates of the Frechet distance's noise floor; ``denoiser_sigmas`` and ``n_denoiser``: generation 0's error
    against the exact denoiser. ``classes`` and ``law_sha1`` are filled in by
    `empirical.mixture.inputs.resolve`. ``train.unet`` takes float data (``float_data`` is set here) and
    ``train.seed`` is set from ``seed``.
    """

    resolution: int = 8
    law: str | None = None
    rank: int = 16
    n_samples: int = 2500
    K: int = 4
    lam: float = math.inf
    scheme: str = "replace"
    generations: int = 3
    reward: str = "class"
    target: str = "airplane"
    gamma: float = 5.0
    temperature: float = 1.0
    train: TrainConfig = field(default_factory=lambda: TrainConfig(_unet(8, 32, (1, 2), 1)))
    finetune_samples: int = 50_000
    finetune_lr: float = 2e-4
    finetune_ema: float = FINETUNE_EMA
    num_steps: int = 18
    n_eval: int = 1000
    sampler_ref_steps: int = 0
    n_sampler: int = 500
    n_law: int = 131_072
    n_moments: int | None = None
    fd_floor_reps: int = 5
    denoiser_sigmas: tuple = (0.02, 0.1, 0.5, 2.0)
    n_denoiser: int = 512
    seed: int = 0
    sims: SimsSampling | None = None
    data: str | None = None
    classes: tuple | None = None
    law_sha1: str | None = None

    def __post_init__(self):
        restore_parts(self)
        if self.train.arch != "unet":
            raise ValueError(f"a mixture loop trains the U-Net (train.unet), got {self.train.arch}")
        if self.resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {self.resolution!r}")
        if self.train.unet.img_resolution != self.resolution:
            raise ValueError(f"train.unet.img_resolution ({self.train.unet.img_resolution}) must equal resolution "
                             f"({self.resolution})")
        if self.train.conditional:
            raise ValueError("a mixture loop trains an unconditional U-Net (train.conditional must be False)")
        check_fold_config(self)
        unet = replace(self.train.unet, float_data=True)
        object.__setattr__(self, "train", replace(self.train, unet=unet, seed=stream_seed(self.seed, "train")))
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {self.reward!r}")
        for name in ("gamma", "temperature"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        validate.count(self.rank, "rank", minimum=0)
        for name in ("n_law", "n_denoiser"):
            validate.count(getattr(self, name), name, minimum=2)
        if self.n_moments is not None:
            validate.count(self.n_moments, "n_moments", minimum=2)
            if self.n_moments > self.n_law:
                raise ValueError(f"n_moments ({self.n_moments}) must be at most n_law ({self.n_law})")
        validate.count(self.fd_floor_reps, "fd_floor_reps", minimum=2)
        if self.n_eval < 3:
            raise ValueError(f"n_eval must be >= 3 (a covariance and its floor), got {self.n_eval}")
        sig = tuple(float(s) for s in self.denoiser_sigmas)
        if not sig or not all(math.isfinite(s) and s > 0 for s in sig):
            raise ValueError(f"denoiser_sigmas must be finite numbers > 0, got {self.denoiser_sigmas}")
        object.__setattr__(self, "denoiser_sigmas", sig)
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
            if self.reward == "class" and self.target not in self.classes:
                raise ValueError(f"target {self.target!r} is not among the law's classes {list(self.classes)}")

    @property
    def device(self) -> str:
        return self.train.device

    def to_dict(self) -> dict:
        """The compared config (config.json): every field but the device and the CIFAR-10 source."""
        d = asdict(self)
        d["train"] = self.train.compared()
        del d["data"]
        if self.sims is None:
            del d["sims"]
        return {"kind": "mixture_loop", **d}


MIXTURE_PRESETS = {
    "tiny": MixtureLoopConfig(          # tests: seconds per generation
        n_samples=128, K=4, generations=2,
        train=TrainConfig(_unet(8, 16, (1, 1), 1), batch_size=64, total_samples=8192, warmup_samples=512,
                          ema_halflife_samples=512, checkpoint_samples=2048),
        finetune_samples=1024, finetune_lr=1e-3, num_steps=18, n_eval=64, sampler_ref_steps=32, n_sampler=32,
        n_law=16_384, fd_floor_reps=4, n_denoiser=64),
    # the image loop's cpu U-Net and budgets on the 8 x 8 law, N smaller so that one curated generation fits the
    # rung's time on one thread; the Heun steps are the fewest at which the exact denoiser's own sampler error stays
    # below one SE of this preset's law check (results/mixture-sampler-steps, docs/empirical/mixture.md)
    "cpu": MixtureLoopConfig(
        n_samples=1000, K=4, generations=3,
        train=TrainConfig(_unet(8, 32, (1, 2), 1), batch_size=128, lr=1e-3, total_samples=250_000,
                          warmup_samples=20_000, ema_halflife_samples=10_000, checkpoint_samples=50_000),
        finetune_samples=50_000, num_steps=24, n_eval=1000, sampler_ref_steps=96, n_sampler=250, n_law=131_072,
        n_moments=32_768),
    # the image loop's gpu U-Net and budgets on the 32 x 32 law (fitted from CIFAR-10 and cached on first use)
    "gpu": MixtureLoopConfig(
        resolution=32, n_samples=25_000, K=4, generations=3,
        train=TrainConfig(_unet(32, 64, (1, 2, 2), 2, (16,), 0.1), batch_size=256, lr=1e-3, total_samples=5_000_000,
                          warmup_samples=500_000, ema_halflife_samples=250_000, checkpoint_samples=1_000_000,
                          device="cuda", bf16=True, compile=True),
        finetune_samples=1_000_000, num_steps=24, n_eval=10_000, sampler_ref_steps=96, n_sampler=2000,
        n_law=131_072, n_moments=16_384, fd_floor_reps=4, n_denoiser=2048),
}


def mixture_preset(name: str, **overrides) -> MixtureLoopConfig:
    """A named preset with fields replaced; ``device`` goes to training, ``channels`` to the U-Net's base width,
    ``train_samples`` to train.total_samples, ``resolution`` to the U-Net's image side too."""
    if name not in MIXTURE_PRESETS:
        raise ValueError(f"unknown mixture preset {name!r}; presets are {sorted(MIXTURE_PRESETS)}")
    cfg = MIXTURE_PRESETS[name]
    tr = cfg.train
    device = overrides.pop("device", None)
    if device is not None:
        tr = replace(tr, device=device)
    if "channels" in overrides:
        assert tr.unet is not None                # a MixtureLoopConfig trains the U-Net (checked when it is made)
        tr = replace(tr, unet=replace(tr.unet, channels=overrides.pop("channels")))
    if "train_samples" in overrides:
        tr = replace(tr, total_samples=overrides.pop("train_samples"))
    if "resolution" in overrides:
        assert tr.unet is not None
        tr = replace(tr, unet=replace(tr.unet, img_resolution=overrides["resolution"]))
    return replace(cfg, train=tr, **overrides)
