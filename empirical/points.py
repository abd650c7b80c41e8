r"""The curated retraining loop on low-dimensional points with a neural EDM model: the rung where the theorems'
exact predictions and a trained network meet.

The loop is the image loop's fold (:func:`empirical.loop.run_fold`) with points as its data kind
(:class:`PointData`): real points come from a named data set of :mod:`simtheory.datasets` (the laws the theory
half runs on) or from any (n, d) float array (Python, or a ``.npy`` / ``.csv`` file on the command line); the
reward is the data set's or any callable of points (n, d) -> (n,); labels, for the class proportions of the
image loop, are the nearest of the data set's modes (one class "all" without modes). The network is
:class:`empirical.mlp.MLPDenoiser`, trained by :func:`empirical.train.train` (EMA, per-step seeds, resume,
checkpoints, DDP, progress), with the points normalised per coordinate to std sigma_data = 0.5 from the run's
real training points (so a law of any scale meets EDM's noise schedule as an image does).

K, lam, scheme, seed, the run folder (config.json, log.jsonl, metrics.jsonl, gen_XXX/ with network.pt,
training-state.pt, synthetic.npz), resume, the refusal of a changed config and the metrics keys of the one- and
multi-step predictions are the image loop's. Each generation measures on ``n_eval`` fixed-seed samples: the mean
reward and E[e^r] with SEs, the mode proportions, and, where the data law is known (a Gaussian mixture), the
squared MMD to it with its SE (:func:`simtheory.metrics.mmd2`, the estimator of the theory half's loops too).
Generation 0 also records the denoiser's RMS error against the exact denoiser of the data law
(:func:`simtheory.diffusion.gmm_denoiser`) at a few noise levels. ``gen_XXX/samples.npz`` keeps the evaluation
points (figures read them).
"""
from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from collections.abc import Callable

import numpy as np
import torch

from simtheory import datasets, predict, validate
from simtheory.loops import SCHEMES
from simtheory.metrics import default_bandwidth, mixture_law, mmd2, nearest_centre
from simtheory.runs import RunFolder, atomic_write

from .configs import check_loop_words
from .seeds import stream_seed
from .loop import run_fold
from .networks.mlp import MLPConfig, MLPDenoiser, normalisation
from .sims.auxiliary import SimsSampling
from .train import FINETUNE_EMA, TrainConfig

__all__ = ["MLPConfig", "MLPDenoiser", "PointLoopConfig", "PointData", "point_preset", "run_point_loop",
           "load_points", "denoiser_error", "POINT_PRESETS"]

Reward = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PointLoopConfig:
    """The curated retraining loop on points; the image loop's words (n_samples = N, K, lam, scheme, generations,
    train, finetune_images, finetune_lr, num_steps, n_eval, seed, sims).

    ``dataset``: a name of :data:`simtheory.datasets.DATASETS` (None when the data are passed in);
    ``normalise``: set train.mlp's shift and scale from the real training points (per-coordinate mean and
    std / 0.5); ``modes``: centres whose nearest one labels a point (None: the data set's); ``denoiser_sigmas``:
    noise levels (in the network's units, data std 0.5) of generation 0's error against the exact denoiser;
    ``mmd_bandwidth``: the kernel bandwidth of the distance to the law (None: the law's default, in data units).
    ``reward`` and ``data_sha1`` name the reward and hash the real data; :func:`run_point_loop` fills them in.
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
    finetune_images: int = 1_000_000
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
        if isinstance(self.train, dict):
            object.__setattr__(self, "train", TrainConfig(**self.train))
        if isinstance(self.sims, dict):
            object.__setattr__(self, "sims", SimsSampling(**self.sims))
        if self.train.arch != "mlp":
            raise ValueError(f"a point loop trains the MLP denoiser (train.mlp), got {self.train.arch}")
        if self.dataset is not None and self.dataset not in datasets.DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose from {sorted(datasets.DATASETS)}")
        if self.dataset == "atoms1d":
            raise ValueError("atoms1d holds atom indices (histogram family), not points")
        check_loop_words(self)
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
    def n_synthetic(self) -> int:
        """Synthetic points per generation: N when lam = inf, else round(lam N)."""
        return self.n_samples if self.lam == math.inf else int(round(self.lam * self.n_samples))

    @property
    def n_real(self) -> int:
        """Real points the run uses: N, or N per generation under 'fresh'."""
        return self.n_samples * ((self.generations + 1) if self.scheme == "fresh" else 1)

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
        train=replace(_mlp(32, 2, 16, 16), batch_size=128, lr=2e-3, total_images=32_768, warmup_images=2048,
                      ema_halflife_images=2048, checkpoint_images=8192),
        finetune_images=8192, finetune_lr=1e-3, num_steps=32, n_eval=256, n_denoiser=512, sampler_ref_steps=128,
        n_sampler=256, n_law=32_768),
    # capacity ample for the 2-D laws; one generation in about a minute of CPU time on one thread; 64 Heun steps:
    # at 32 the sampler alone lowers E[r] of the rewarded modes of the 2-D mixture by 1.4 SE of 1,024 samples
    "cpu": PointLoopConfig(
        n_samples=8192, K=4, generations=5,
        train=replace(_mlp(128, 3), batch_size=512, lr=2e-3, total_images=2_000_000, warmup_images=100_000,
                      ema_halflife_images=100_000, checkpoint_images=500_000),
        finetune_images=1_000_000, finetune_lr=1e-3, num_steps=64, n_eval=2048, sampler_ref_steps=256, n_sampler=2048),
}


def point_preset(name: str, **overrides) -> PointLoopConfig:
    """A named preset (``tiny`` for tests, ``cpu`` where capacity is ample) with fields replaced; ``device``
    goes to training, ``width`` and ``depth`` to the MLP, ``train_images`` to train.total_images."""
    if name not in POINT_PRESETS:
        raise ValueError(f"unknown point preset {name!r}; presets are {sorted(POINT_PRESETS)}")
    cfg = POINT_PRESETS[name]
    tr = cfg.train
    device = overrides.pop("device", None)
    if device is not None:
        tr = replace(tr, device=device)
    net = {k: overrides.pop(k) for k in ("width", "depth") if k in overrides}
    if net:
        tr = replace(tr, mlp=replace(tr.mlp, **net))
    if "train_images" in overrides:
        tr = replace(tr, total_images=overrides.pop("train_images"))
    return replace(cfg, train=tr, **overrides)


# ------------------------------------------------------------------------------------------------ inputs
def load_points(path) -> np.ndarray:
    """An (n, d) float array from a ``.npy`` file or a ``.csv`` file (comma-separated numbers, optionally one header
    line); a missing or unreadable file is a ValueError naming it."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"no data file at {p}")
    if p.suffix not in (".npy", ".csv"):
        raise ValueError(f"data file {p} must end in .npy or .csv")
    try:
        if p.suffix == ".npy":
            x = np.load(p, allow_pickle=False)
        else:
            with open(p) as f:
                first = f.readline().split(",")
            try:
                [float(v) for v in first]
                skip = 0
            except ValueError:
                skip = 1                  # a header line
            with warnings.catch_warnings():
                warnings.simplefilter("error")          # numpy warns of an empty file: make it this error
                x = np.loadtxt(p, delimiter=",", skiprows=skip, ndmin=2)
    except Exception as e:        # numpy raises several kinds for a damaged file
        raise ValueError(f"data file {p} is unreadable: {type(e).__name__}: {e}") from None
    if np.size(x) == 0:
        raise ValueError(f"data file {p} holds no points")
    return np.asarray(x)


def check_points(x, name: str = "data") -> np.ndarray:
    """Points as a float64 (n, d) array; a 1-D array is n points in one dimension. NaN or infinite entries, another
    shape, or fewer than two points are a ValueError naming ``name``."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{name} must hold numbers, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or len(a) < 2 or a.shape[1] < 1:
        raise ValueError(f"{name} must be an (n, d) array of n >= 2 points, got shape {np.shape(x)}")
    bad = ~np.isfinite(a).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} holds NaN or infinite coordinates in {int(bad.sum())} points "
                         f"(first at row {int(np.flatnonzero(bad)[0])})")
    return a


def checked_reward(reward: Reward, x: np.ndarray) -> np.ndarray:
    """reward(x) as float64 (n,); another shape or NaN/infinite values are a ValueError naming the reward."""
    try:
        r = np.asarray(reward(x), dtype=np.float64)
    except Exception as e:            # a user's reward may raise anything: name it and what it raised
        raise ValueError(f"the reward {_reward_name(reward)} failed on {x.shape[0]} points of dimension "
                         f"{x.shape[1]}: {type(e).__name__}: {e}") from None
    if r.shape != (x.shape[0],):
        raise ValueError(f"reward must return one value per point, shape ({x.shape[0]},); got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError(f"reward returned NaN or infinite values for {int((~np.isfinite(r)).sum())} points")
    return r


def _reward_name(reward) -> str:
    return f"{getattr(reward, '__module__', '?')}.{getattr(reward, '__qualname__', type(reward).__name__)}"


def _sha1(x: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(x, dtype=np.float64).tobytes()).hexdigest()


def resolve(config: PointLoopConfig, data=None, reward: Reward | None = None, law: dict | None = None):
    """(config, real points, reward, law): the real points (a named data set drawn with the run's seed, or
    ``data``: an array or a .npy/.csv path, in an order permuted by the seed), checked with the reward; the config
    completed with the network's dimension and normalisation, the reward's name and the data's sha1. Every input
    error is raised here, before any folder exists."""
    cfg = config
    if data is None:
        if cfg.dataset is None:
            raise ValueError("no data: name a dataset in the config or pass data=")
        ds = datasets.make(cfg.dataset, cfg.n_real, stream_seed(cfg.seed, "data"))
        x = check_points(ds.x, f"dataset {cfg.dataset}")
        law = ds.law if law is None else law
        modes = cfg.modes if cfg.modes is not None else ds.options.get("modes")
        if reward is None:
            reward, name = ds.reward, f"dataset:{cfg.dataset}"
        else:
            name = _reward_name(reward)
    else:
        x = check_points(load_points(data) if isinstance(data, (str, Path)) else data)
        if len(x) < cfg.n_real:
            raise ValueError(f"data has {len(x)} points; this config needs {cfg.n_real} (N = {cfg.n_samples}, "
                             f"scheme = {cfg.scheme})")
        x = x[np.random.default_rng(stream_seed(cfg.seed, "data")).permutation(len(x))][: cfg.n_real]
        if reward is None:
            raise ValueError("data passed without a reward: pass reward= (a callable of points (n, d) -> (n,))")
        modes, name = cfg.modes, _reward_name(reward)
        cfg = replace(cfg, dataset=None)
    if not callable(reward):
        raise ValueError(f"reward must be a callable of points (n, d) -> (n,), got {type(reward).__name__}")
    checked_reward(reward, x[: min(len(x), 4096)])
    d = x.shape[1]
    if modes is not None and len(modes[0]) != d:
        raise ValueError(f"modes have dimension {len(modes[0])}, the points {d}")
    if law is not None:
        w, m, c = mixture_law(law)
        if m.shape[1] != d:
            raise ValueError(f"the law has dimension {m.shape[1]}, the points {d}")
        law = {"weights": w, "means": m, "covs": c}
    net = cfg.train.mlp
    keep = not cfg.normalise and len(net.shift) == d      # a normalisation given for these points is kept
    mlp = replace(net, dim=d, shift=net.shift if keep else (), scale=net.scale if keep else ())
    if cfg.normalise:
        shift, scale = normalisation(x[: cfg.n_samples])
        mlp = replace(mlp, shift=shift, scale=scale)
    cfg = replace(cfg, train=replace(cfg.train, mlp=mlp), modes=None if modes is None else tuple(modes),
                  reward=name, data_sha1=_sha1(x))
    return cfg, x, reward, law


# ---------------------------------------------------------------------------------------------- measures
def network_law(law: dict, mlp: MLPConfig) -> dict:
    """The data law in the network's space z = (x - shift) / scale (still a Gaussian mixture)."""
    s, sh = np.asarray(mlp.scale), np.asarray(mlp.shift)
    return {"weights": law["weights"], "means": (law["means"] - sh) / s, "covs": law["covs"] / np.outer(s, s)[None]}


@torch.no_grad()
def denoiser_error(D: MLPDenoiser, law: dict, sigmas, n: int, seed: int, device="cpu") -> dict:
    r"""RMS error of D against the exact denoiser D* of the data law (Tweedie, :func:`simtheory.diffusion.gmm_denoiser`)
    at each sigma, in the network's units (data std 0.5 per coordinate): x0 ~ law (n points, generator ``seed``),
    y = x0 + sigma n, error^2 = mean over points and coordinates of (D(y) - D*(y))^2; with its delta-method SE and,
    for scale, the exact denoiser's own RMS error to x0 (the least any denoiser can reach)."""
    from simtheory.diffusion import gmm_denoiser
    from simtheory.families import gmm
    nl = network_law(law, D.cfg)
    rng = np.random.default_rng(seed)
    x0 = gmm.sample(nl, n, rng)
    rmse, se, floor = [], [], []
    for s in sigmas:
        y = x0 + s * rng.standard_normal(x0.shape)
        exact = gmm_denoiser(y, s, nl["weights"], nl["means"], nl["covs"])
        net = D(torch.as_tensor(y, dtype=torch.float32, device=device),
                torch.full((n,), s, dtype=torch.float32, device=device)).double().cpu().numpy()
        e2 = ((net - exact) ** 2).mean(axis=1)
        m = math.sqrt(e2.mean())
        rmse.append(m)
        se.append(float(e2.std(ddof=1) / math.sqrt(n) / (2 * m)) if m > 0 else 0.0)
        floor.append(math.sqrt(((exact - x0) ** 2).mean()))
    return {"denoiser_sigmas": list(sigmas), "denoiser_rmse": rmse, "denoiser_rmse_se": se,
            "denoiser_mmse_rms": floor, "denoiser_n": n}


def nearest(x: np.ndarray, modes) -> np.ndarray:
    """Index of the nearest mode for each point (0 for every point without modes)."""
    if modes is None:
        return np.zeros(len(x), np.int64)
    return nearest_centre(x, modes)


class PointData:
    """The point kind of the fold (:func:`empirical.loop.run_fold`): real points, rewards from a callable, labels
    by the nearest mode, and the measures of the module docstring. Where the data law is known (``mixture``, a
    Gaussian mixture), :meth:`start` computes its exact curated trajectory (``law``) from ``n_law`` exact draws."""

    samples_key = "points"

    def __init__(self, cfg: PointLoopConfig, x: np.ndarray, reward: Reward, mixture: dict | None, progress: bool):
        self.cfg, self.x, self.reward, self.mixture, self.progress = cfg, x, reward, mixture, progress
        self.n_classes = 1 if cfg.modes is None else len(cfg.modes)
        self.classes = ["all"] if cfg.modes is None else [f"mode {i}" for i in range(len(cfg.modes))]
        self.devices = (cfg.device,)
        self.log_fields = {}
        self.bandwidth = None
        self.law: dict | None = None
        if mixture is not None:
            self.bandwidth = cfg.mmd_bandwidth or default_bandwidth(mixture)

    def real(self) -> tuple[np.ndarray, None]:
        """The run's real points (checked in :func:`resolve`) and no labels (the MLP is unconditional)."""
        return self.x, None

    def start(self, rf: RunFolder) -> None:
        """The exact curated trajectory of the data law, when it is known (:func:`law_reference`)."""
        if self.mixture is not None:
            self.law = law_reference(self.cfg, self.mixture, self.score)

    def score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rewards, labels) of points: the reward callable (checked) and the nearest mode."""
        return checked_reward(self.reward, x), nearest(x, self.cfg.modes)

    def measure(self, t: int, D, samples: np.ndarray, seeds: np.ndarray, folder: Path, sample) -> dict:
        """What the point kind measures beyond rewards on generation t's evaluation points: MMD^2 to the law (where
        known) and at t = 0 the denoiser's error against the exact one; the points go to <folder>/samples.npz."""
        cfg = self.cfg
        rec: dict = {}
        if self.mixture is not None:
            v, se = mmd2(samples, self.mixture, self.bandwidth)
            rec.update(mmd2_to_data=v, mmd2_to_data_se=se, mmd_bandwidth=self.bandwidth)
            if t == 0:
                rec.update(denoiser_error(D, self.mixture, cfg.denoiser_sigmas, cfg.n_denoiser,
                                          stream_seed(cfg.seed, "denoiser"), cfg.device))
        _save_npz(Path(folder) / "samples.npz", points=samples, seeds=seeds, rewards=self.score(samples)[0])
        return rec

    def exact_sampler(self) -> dict:
        """The sampler's own error on the data law: E[r] of the exact denoiser run through the loop's Heun sampler
        (in the network's space, the run's steps, n_sampler draws) minus the law's E[r] (from its exact draws)."""
        if self.mixture is None or self.law is None:
            return {}
        return exact_sampler_error(self.cfg, self.mixture, self.score, self.law)


def _save_npz(path: Path, **arrays) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(path, buf.getvalue())


def law_reference(cfg: PointLoopConfig, mixture: dict, score) -> dict:
    """:func:`simtheory.predict.law_trajectory` of the data law ``mixture``: n_law exact draws (stream 'law'),
    scored and labelled by ``score``, run through the exact curated dynamics of the run's K, lam, scheme and
    generations, with the noise of its N real and n_synthetic kept samples per generation."""
    from simtheory.families import gmm
    pts = gmm.sample(mixture, cfg.n_law, np.random.default_rng(stream_seed(cfg.seed, "law")))
    r, lab = score(pts)
    nc = 1 if cfg.modes is None else len(cfg.modes)
    return predict.law_trajectory(r, lab, cfg.K, cfg.generations, lam=cfg.lam, scheme=cfg.scheme,
                                  n_real=cfg.n_samples, n_synthetic=cfg.n_synthetic, n_classes=nc)


def exact_sampler_error(cfg: PointLoopConfig, mixture: dict, score, law: dict) -> dict:
    """``exact_sampler_error`` (with ``_se``): the exact denoiser of ``mixture`` (:func:`simtheory.diffusion.gmm_denoiser`)
    through the Heun sampler of :mod:`simtheory.diffusion` at the run's num_steps, in the network's space,
    on n_sampler draws (stream 'law', generation 1), against the law's exact E[r]."""
    from simtheory.diffusion import gmm_denoiser, heun_sample
    nl = network_law(mixture, cfg.train.mlp)
    n = min(cfg.n_sampler, cfg.n_eval)
    lat = np.random.default_rng(stream_seed(cfg.seed, "law", 1)).standard_normal((n, len(cfg.train.mlp.shift)))
    z = heun_sample(lambda x, s: gmm_denoiser(x, s, nl["weights"], nl["means"], nl["covs"]), lat, cfg.num_steps)
    pts = np.asarray(cfg.train.mlp.shift) + np.asarray(cfg.train.mlp.scale) * z
    r = score(pts)[0]
    se = math.hypot(float(r.std(ddof=1)) / math.sqrt(n), float(law["mean_reward_se"][0]))
    return {"exact_sampler_error": float(r.mean() - law["mean_reward"][0]), "exact_sampler_error_se": se,
            "exact_sampler_steps": cfg.num_steps, "n_exact_sampler": n}


def run_point_loop(config: PointLoopConfig, out, data=None, reward: Reward | None = None, law: dict | None = None,
                   progress: bool = True) -> RunFolder | None:
    """Run (or resume) the curated loop on points into ``out``; returns the run folder.

    ``data``: None (the config's named data set, drawn with its seed), an (n, d) float array or a .npy/.csv path
    (the config's data set is then ignored); ``reward``: None (the data set's) or a callable of points (n, d) ->
    (n,); ``law``: the data law as a Gaussian mixture {weights, means, covs} when ``data`` are passed and their law
    is known (a named data set brings its own). Bad data or a bad reward fail before the folder exists."""
    cfg, x, reward, mixture = resolve(config, data, reward, law)
    return run_fold(cfg, PointData(cfg, x, reward, mixture, progress), out, progress)


# ------------------------------------------------------------------------------------------ command line
def reward_from_spec(spec: str) -> Reward:
    """A reward named on the command line: a data set's name (its reward, on any points) or ``module:function``
    (imported)."""
    if spec in datasets.DATASETS:
        return datasets.make(spec, 2, 0).reward
    mod, sep, fn = spec.partition(":")
    if not sep or not mod or not fn:
        raise ValueError(f"--reward must be a data set name ({', '.join(sorted(datasets.DATASETS))}) or "
                         f"module:function, got {spec!r}")
    import importlib
    try:
        f = getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"--reward {spec}: {e}") from None
    if not callable(f):
        raise ValueError(f"--reward {spec} is not callable")
    return f


def add_parser(sub) -> None:
    """The ``points`` sub-command of ``python -m empirical``."""
    from simtheory.argfmt import HelpFormatter
    p = sub.add_parser("points", help="curated retraining loop on low-dimensional points (neural EDM on the theory "
                       "half's laws) into a run folder", formatter_class=HelpFormatter,
                       description=__doc__.split("\n\n")[0])
    opt = p.add_argument
    opt("--config", default="cpu", choices=sorted(POINT_PRESETS), help="preset (default: cpu)")
    opt("--dataset", default=None, choices=sorted(set(datasets.DATASETS) - {"atoms1d"}),
        help="named data set of simtheory.datasets (default: the preset's, mixture2d)")
    opt("--data", default=None, help="real points from a .npy or .csv file, (n, d) floats, instead of --dataset "
        "(needs --reward; default: none)")
    opt("--reward", default=None, help="a data set's name (its reward) or module:function, a callable of points "
        "(n, d) -> (n,) (default: the data set's own reward)")
    for name, typ, what in (("--K", int, "candidates per kept point"), ("--lam", None, "synthetic-to-real ratio "
                            "(inf: fully synthetic)"), ("--generations", int, "generations after the base model"),
                            ("--n-samples", int, "N, real points per generation"),
                            ("--width", int, "MLP hidden units"), ("--depth", int, "MLP residual blocks"),
                            ("--train-images", int, "base training budget in points seen"),
                            ("--finetune-images", int, "fine-tune budget per generation in points seen"),
                            ("--num-steps", int, "Heun steps of the sampler"),
                            ("--sampler-ref-steps", int, "Heun steps of the sampler check (0: none)"),
                            ("--n-eval", int, "evaluation samples per generation")):
        from simtheory.validate import parse_number
        opt(name, type=typ or parse_number, default=None, help=f"{what} (default: the preset's)")
    opt("--scheme", default=None, choices=list(SCHEMES), help="real-data scheme (default: the preset's, replace)")
    opt("--seed", type=int, default=None, help="decides every random draw of the run (default: 0)")
    opt("--sims-w", type=float, default=None, help="SIMS: every generation samples with guidance w from its own "
        "auxiliary (default: none, plain sampling)")
    opt("--sims-n-s", type=int, default=2048, help="SIMS auxiliary's synthetic-set size n_s (default: 2048)")
    opt("--sims-images", type=int, default=200_000, help="SIMS auxiliary's fine-tune budget B in points seen "
        "(default: 200000)")
    opt("--sims-lr", type=float, default=1e-3, help="SIMS auxiliary's fine-tune lr (default: 0.001)")
    opt("--device", default=None, help="cpu, cuda, mps ... (default: the preset's, cpu)")
    opt("--threads", type=int, default=None, help="CPU threads for torch and Numba (default: $CURATED_THREADS, else "
        "Numba 1 and torch as the environment sets them; these small networks run fastest with 1)")
    opt("--out", default=None, help="run folder (default: runs/points-<config>-<data>-K<K>-lam<lam>-seed<seed>)")
    opt("--dry-run", action="store_true", help="print the resolved config and stop (default: off)")


def config_from_args(args) -> PointLoopConfig:
    """The preset of ``args.config`` with the command line's overrides."""
    over = {k: getattr(args, a) for k, a in (("K", "K"), ("lam", "lam"), ("generations", "generations"),
                                             ("n_samples", "n_samples"), ("width", "width"), ("depth", "depth"),
                                             ("train_images", "train_images"), ("finetune_images", "finetune_images"),
                                             ("num_steps", "num_steps"), ("n_eval", "n_eval"), ("scheme", "scheme"),
                                             ("sampler_ref_steps", "sampler_ref_steps"),
                                             ("seed", "seed"), ("dataset", "dataset"), ("device", "device"))
            if getattr(args, a) is not None}
    for k in ("K", "generations", "n_samples", "width", "depth", "train_images", "finetune_images", "num_steps",
              "n_eval", "sampler_ref_steps"):
        if k in over:
            over[k] = int(over[k])
    if args.sims_w:
        over["sims"] = SimsSampling(args.sims_w, args.sims_n_s, args.sims_images, args.sims_lr)
    return point_preset(args.config, **over)


def main(args) -> int:
    """Run the ``points`` command (``args`` from :func:`add_parser`); errors are ValueErrors for the CLI."""
    import json
    cfg = config_from_args(args)
    reward = None if args.reward is None else reward_from_spec(args.reward)
    data = args.data
    cfg_r, _, _, _ = resolve(cfg, data, reward)
    name = Path(data).stem if data else cfg.dataset
    out = args.out or f"runs/points-{args.config}-{name}-K{cfg.K}-lam{cfg.lam:g}-seed{cfg.seed}"
    if args.dry_run:
        print(json.dumps({"out": out, **cfg_r.to_dict()}, indent=2, default=str))
        return 0
    rf = run_point_loop(cfg, out, data, reward)
    for r in rf.metrics():
        print(json.dumps({k: r.get(k) for k in ("generation", "mean_reward", "reward_se", "predicted_mean_reward",
                                                "predicted_mean_reward_se", "mmd2_to_data", "mmd2_to_data_se")}))
    return 0
