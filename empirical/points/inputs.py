"""The point kind's inputs: real points (a named data set drawn with the run's seed, or any (n, d) float array, from
Python or a .npy / .csv file), the reward (the data set's, a callable, or a name on the command line) and the labels
(the nearest of the data set's modes), checked before any folder exists
([`resolve_inputs`][empirical.points.inputs.resolve_inputs])."""
from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import cast

import numpy as np

from simtheory import datasets
from simtheory.metrics import mixture_law, nearest_centre

from ..networks.mlp import normalisation
from ..seeds import stream_seed
from .config import PointLoopConfig

Reward = Callable[[np.ndarray], np.ndarray]


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


def resolve_inputs(config: PointLoopConfig, data=None, reward: Reward | None = None, law: dict | None = None):
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
            reward, name = cast(Reward, ds.reward), f"dataset:{cfg.dataset}"
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
    assert net is not None, "a point loop trains the MLP"
    keep = not cfg.normalise and len(net.shift) == d      # a normalisation given for these points is kept
    mlp = replace(net, dim=d, shift=net.shift if keep else (), scale=net.scale if keep else ())
    if cfg.normalise:
        shift, scale = normalisation(x[: cfg.n_samples])
        mlp = replace(mlp, shift=shift, scale=scale)
    cfg = replace(cfg, train=replace(cfg.train, mlp=mlp), modes=None if modes is None else tuple(modes),
                  reward=name, data_sha1=_sha1(x))
    return cfg, x, reward, law


def nearest(x: np.ndarray, modes) -> np.ndarray:
    """Index of the nearest mode for each point (0 for every point without modes)."""
    if modes is None:
        return np.zeros(len(x), np.int64)
    return nearest_centre(x, modes)


def reward_from_spec(spec: str) -> Reward:
    """A reward named on the command line: a data set's name (its reward, on any points) or ``module:function``
    (imported)."""
    if spec in datasets.DATASETS:
        return cast(Reward, datasets.make(spec, 2, 0).reward)
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
