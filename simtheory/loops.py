r"""The finite-sample retraining loop: one engine for every model family.

Generation t+1 is a fold step over an explicit state (house style: init / step), with the words, the mixing rule
and the streams of [`simtheory.fold`][simtheory.fold]:

    sample K m points from the model -> curate: keep one per group of K by softmax(r) -> mix with real data
    (N real points; m = N synthetic if lam = inf else round(lam N)) by ``scheme`` -> fit (from scratch, or
    warm-started from generation t).

Generation 0 is the fit to the first N real points. Every random draw comes from SeedSequence(seed), spawned
per generation, so a generation depends only on (seed, t, state).

What depends on the whole real pool -- its finiteness check, the Gaussian fit W2 is measured against, the top
reward r*, the histogram's data law -- is computed once per run ([`RealPool`][simtheory.loops.RealPool]), not once per
generation: with a large pool that work would otherwise dominate a chain (benchmarks/bench_loops.py).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from collections.abc import Callable

import numpy as np
from scipy.special import logsumexp

from . import fold, validate
from .fold import SCHEMES, LoopWords, generation_streams
from .families import FAMILIES, gaussian
from .metrics import kl, mode_proportions, total_variation

__all__ = ["LoopConfig", "LoopState", "RealPool", "SCHEMES", "as_pool", "biased", "curate_samples", "init", "record",
           "run_loop", "step"]


@dataclass(frozen=True)
class LoopConfig(LoopWords):
    """A finite-sample loop; validated on construction (ValueError names the option).

    ``n_samples`` (N) is the number of real points each generation trains on; the real data must hold more:
    N (or N per generation, N (generations + 1), under the 'fresh' scheme) plus the last ``n_holdout`` rows (500
    by default), which are held out for the held-out log-likelihood and never trained on
    ([`real_needed`][simtheory.loops.LoopConfig.real_needed];
    e.g. N = 400 needs 900 rows). Set ``n_holdout=0`` to train on every row and skip that metric.
    """

    family: str = "gaussian"
    n_samples: int = 100          # N: real points per generation (and synthetic ones when lam = inf)
    K: int = 1                    # candidates per kept synthetic point; 1 = no curation
    lam: float = math.inf         # synthetic-to-real ratio
    scheme: str = "replace"
    generations: int = 10
    warm_start: bool = False      # fit from the previous generation's parameters (EM) or from scratch
    estimator: str = "mle"        # gaussian: 'mle' or 'unbiased'
    components: int = 2           # gmm
    covariance: str = "full"      # gmm: 'full' or 'diag'
    em_iter: int = 100            # gmm
    bandwidth: float | None = None  # kde (None: Scott's rule)
    n_atoms: int | None = None    # histogram: number of atoms
    n_eval: int = 4000            # model samples for the reward metrics
    n_holdout: int = 500          # real points held out (the last ones) for the held-out log-likelihood
    modes: tuple = field(default_factory=tuple)   # centres for mode proportions (nearest centre)
    sampling_bias: float = 1.0    # lambda_s: synthetic points drawn with covariances scaled by it (MAD loops)

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {self.family!r}")
        k, lam = fold.check_words(self.K, self.lam, self.scheme)
        object.__setattr__(self, "K", k)
        object.__setattr__(self, "lam", lam)
        for name, minimum in (("n_samples", 1), ("generations", 0), ("n_eval", 2), ("n_holdout", 0),
                              ("components", 1), ("em_iter", 1)):
            object.__setattr__(self, name, validate.count(getattr(self, name), name, minimum))
        if self.estimator not in gaussian.ESTIMATORS:
            raise ValueError(f"estimator must be one of {gaussian.ESTIMATORS}, got {self.estimator!r}")
        if self.covariance not in ("full", "diag"):
            raise ValueError(f"covariance must be 'full' or 'diag', got {self.covariance!r}")
        if self.family == "histogram" or self.n_atoms is not None:
            object.__setattr__(self, "n_atoms", validate.count(self.n_atoms, "n_atoms"))
        if not (isinstance(self.sampling_bias, (int, float)) and 0 < self.sampling_bias < math.inf):
            raise ValueError(f"sampling_bias must be a number > 0, got {self.sampling_bias!r}")
        object.__setattr__(self, "sampling_bias", float(self.sampling_bias))
        if self.family == "histogram" and self.sampling_bias != 1.0:
            raise ValueError("sampling_bias scales covariances: the histogram family has none (use 1)")
        if self.bandwidth is not None:
            object.__setattr__(self, "bandwidth", validate.ratio(self.bandwidth, "bandwidth"))
        object.__setattr__(self, "modes", tuple(tuple(float(v) for v in np.atleast_1d(c)) for c in self.modes))

    def real_needed(self) -> int:
        """Real points the loop uses (N, or N per generation under 'fresh': [`n_real`][simtheory.fold.LoopWords.n_real]) plus the held-out
        ones."""
        return self.n_real + self.n_holdout

    def check_data_shape(self, n_points: int, dim: int) -> None:
        """ValueError naming the option when real data of n_points points in ``dim`` dimensions cannot run
        this config: too few points, or (Gaussian family) N <= d, where every fitted covariance is singular."""
        if n_points < self.real_needed():
            raise ValueError(f"real_data has {n_points} points; this config needs {self.real_needed()} "
                             f"(N={self.n_samples}, scheme={self.scheme}, n_holdout={self.n_holdout})")
        if self.family == "gaussian" and self.n_samples <= dim:
            raise ValueError(f"n_samples = {self.n_samples} must exceed the data dimension d = {dim} for the "
                             "gaussian family: a covariance fitted to N <= d points is singular")

    def memory_bytes(self, dim: int, keep_records: bool = True) -> dict[str, int]:
        """An upper estimate of the loop's peak memory on data of dimension ``dim``, by the option that drives
        each part: a generation's candidates (K, or n_samples when K = 1), its training set and fit (n_samples),
        its evaluation draws (n_eval), and what grows with the run (generations): the 'accumulate' pool and, with
        ``keep_records`` ([`run_loop`][simtheory.loops.run_loop]), one record per generation."""
        m, d, f = self.n_synthetic, int(dim), 8
        pool = m * self.generations if self.scheme == "accumulate" else m
        train = self.n_samples + pool
        fit = 2 * f * train * d + (2 * f * 2048 * train if self.family == "kde" else 0)
        if self.family == "gmm":
            fit += 4 * f * train * self.components
        params = {"gaussian": d + d * d, "gmm": self.components * (1 + d + d * d), "kde": 1,
                  "histogram": self.n_atoms or 0}[self.family]
        grows = (self.generations + 1) * (f * params + 4096) if keep_records else 0
        if self.scheme == "accumulate":
            grows += 2 * f * m * self.generations * d
        return {"K" if self.K > 1 else "n_samples": 2 * f * m * self.K * (d + 2), "n_samples": fit,
                "n_eval": 2 * f * self.n_eval * (d + 1), "generations": grows}

    def check_memory(self, dim: int, keep_records: bool = True) -> None:
        """ValueError naming the option that drives most of the memory when [`memory_bytes`][simtheory.loops.LoopConfig.memory_bytes] exceeds half of
        the memory available (simtheory.validate.fits_memory)."""
        parts = self.memory_bytes(dim, keep_records)
        name = max(parts, key=lambda k: parts[k])
        validate.fits_memory(sum(parts.values()), name, getattr(self, name),
                             f"a {self.family} loop on {dim}-dimensional data")

    def fit_options(self) -> dict:
        """The family's fit keyword arguments from this config."""
        options: dict[str, dict] = {"gaussian": {"estimator": self.estimator},
                                    "gmm": {"components": self.components, "covariance": self.covariance,
                                            "n_iter": self.em_iter},
                                    "kde": {"bandwidth": self.bandwidth},
                                    "histogram": {"n_atoms": self.n_atoms}}
        return options[self.family]

    def to_dict(self) -> dict:
        return {"kind": "loop", **asdict(self)}


@dataclass(frozen=True)
class LoopState:
    """What generation t hands to t+1: the fitted parameters and, under 'accumulate', the synthetic pool."""

    generation: int
    params: dict
    synthetic: np.ndarray | None


Reward = Callable[[np.ndarray], np.ndarray] | np.ndarray | None


def _rewards(reward: Reward, x: np.ndarray) -> np.ndarray:
    if reward is None:
        raise ValueError("a reward is needed here: pass reward=")
    if isinstance(reward, np.ndarray):                      # rewards on atoms (histogram family)
        return reward[np.asarray(x).reshape(-1).astype(np.int64)]
    r = np.asarray(reward(x), float).reshape(-1)
    if r.shape[0] != x.shape[0] or not np.all(np.isfinite(r)):
        raise ValueError("reward(x) must return one finite value per point")
    return r


def _check_data(config: LoopConfig, real_data) -> np.ndarray:
    x = np.asarray(real_data)
    if x.ndim == 1:
        x = x[:, None]
    if config.family != "histogram":
        x = validate.finite_array(x, "real_data")
    config.check_data_shape(x.shape[0], x.shape[1])
    return x


class RealPool:
    """A run's real data, checked once (finite, enough rows for the config), with what the records compute
    from the whole pool -- the pool without its held-out rows -- cached on first use: the top reward r*, the
    Gaussian MLE fit W2 is measured against, the histogram's data law. Build it once per run
    ([`run_loop`][simtheory.loops.run_loop] does) and pass it to [`init`][simtheory.loops.init],
    [`step`][simtheory.loops.step] and [`record`][simtheory.loops.record] in place of the array.
    """

    def __init__(self, config: LoopConfig, real_data):
        self.config = config
        self.x = _check_data(config, real_data)
        self.train_pool = self.x[:-config.n_holdout] if config.n_holdout else self.x
        self._cache: dict = {}

    def r_star(self, reward: Reward) -> float:
        """max of the reward over the pool (held-out rows excluded), computed once per reward."""
        key = ("r_star", id(reward))
        if key not in self._cache:
            self._cache[key] = (reward, float(_rewards(reward, self.train_pool).max()))   # keeps reward alive
        return self._cache[key][1]

    def gaussian_reference(self) -> dict:
        """The Gaussian MLE fit of the pool (the data law W2 is measured against)."""
        if "gaussian" not in self._cache:
            self._cache["gaussian"] = gaussian.fit(self.train_pool, estimator="mle")
        return self._cache["gaussian"]

    def atom_law(self) -> np.ndarray:
        """The pool's frequencies on the histogram's atoms."""
        if "atoms" not in self._cache:
            idx = self.train_pool.reshape(-1).astype(np.int64)
            atoms = validate.count(self.config.n_atoms, "n_atoms")     # set for the histogram family
            self._cache["atoms"] = np.bincount(idx, minlength=atoms) / self.train_pool.shape[0]
        return self._cache["atoms"]


def as_pool(config: LoopConfig, real_data) -> RealPool:
    """``real_data`` as a [`RealPool`][simtheory.loops.RealPool] for ``config`` (checked now), or the pool itself if it is one."""
    if isinstance(real_data, RealPool):
        if real_data.config != config:
            raise ValueError("this RealPool was built for another LoopConfig")
        return real_data
    return RealPool(config, real_data)


def _streams(seed: int, t: int) -> list[np.random.Generator]:
    """Independent generators for generation t: sampling, curation, fitting, evaluation ([`simtheory.fold`][simtheory.fold])."""
    return generation_streams(seed, t, 4)


def init(config: LoopConfig, real_data, seed: int = 0, start: dict | None = None) -> LoopState:
    """Generation 0: the family fitted to the first N real points, or the given ``start`` parameters (e.g. a
    model away from the data, to watch the loop contract back)."""
    x = as_pool(config, real_data).x
    fam = FAMILIES[config.family]
    if start is not None:
        params = {k: np.asarray(v, float) for k, v in start.items()}
        if "cov" in params:
            gaussian.check_cov(params["cov"], "start['cov']")
        return LoopState(0, params, None)
    params = fam.fit(fold.real_block(x, config.n_samples, 0, config.scheme), _streams(seed, 0)[2], None,
                     **config.fit_options())
    return LoopState(0, params, None)


def biased(params: dict, lam_s: float) -> dict:
    """The parameters the synthetic points are drawn from under sampling bias lam_s (Alemohammad et al.
    2024): every covariance scaled by lam_s (a KDE's bandwidth by sqrt(lam_s)); lam_s = 1 changes nothing."""
    if lam_s == 1.0:
        return params
    out = dict(params)
    for k in ("cov", "covs"):
        if k in out:
            out[k] = lam_s * np.asarray(out[k])
    if "bandwidth" in out:
        out["bandwidth"] = np.sqrt(lam_s) * np.asarray(out["bandwidth"])
    return out


def curate_samples(config: LoopConfig, params: dict, m: int, reward: Reward,
                   rng_sample: np.random.Generator, rng_select: np.random.Generator) -> np.ndarray:
    """m synthetic points, each the softmax(r) choice among K fresh model draws (K = 1: plain draws), drawn
    with the config's sampling bias."""
    fam = FAMILIES[config.family]
    cand = fam.sample(biased(params, config.sampling_bias), m * config.K, rng_sample)
    if config.K == 1 or m == 0:        # m = 0 (lam = 0): no synthetic points, nothing to curate
        return cand[:m]
    if reward is None:
        raise ValueError("K > 1 curates by a reward: pass reward=")
    return cand[fold.keep_one_of_k(_rewards(reward, cand), config.K, rng_select)]


def step(config: LoopConfig, state: LoopState, real_data, reward: Reward = None, seed: int = 0) -> LoopState:
    """Generation t -> t+1: sample, curate, mix ([`simtheory.fold.training_set`][simtheory.fold.training_set]), fit. ``real_data``: the
    array, or its [`RealPool`][simtheory.loops.RealPool]. Under 'accumulate' the state carries the kept sets 1..t as one
    pool."""
    x = as_pool(config, real_data).x
    t = state.generation + 1
    rs, rc, rf, _ = _streams(seed, t)
    fam = FAMILIES[config.family]
    synth = curate_samples(config, state.params, config.n_synthetic, reward, rs, rc)
    mix = fold.training_set(config.scheme, config.lam, t)
    pool = synth if len(mix.kept) == 1 or state.synthetic is None else np.concatenate([state.synthetic, synth])
    real = [] if mix.real is None else [fold.real_block(x, config.n_samples, t, config.scheme)]
    train = np.concatenate(real + [pool])
    warm = state.params if config.warm_start and config.family == "gmm" else None
    params = fam.fit(train, rf, warm, **config.fit_options())
    return LoopState(t, params, pool if config.scheme == "accumulate" else None)


def record(config: LoopConfig, state: LoopState, real_data, reward: Reward = None, seed: int = 0) -> dict:
    """Metrics of generation t: the fitted parameters, E[r] (+ its standard error), E[e^{r - r*}] with r* the
    top reward over the real pool (as the exact runs report it: no overflow at any reward scale), held-out
    log-likelihood, mode proportions, and the distance to the data law (W2 for Gaussians, TV/KL on atoms).
    ``real_data``: the array, or its [`RealPool`][simtheory.loops.RealPool] (whose pool-wide quantities are then
    computed once)."""
    pool = as_pool(config, real_data)
    x = pool.x
    fam = FAMILIES[config.family]
    rng_eval = _streams(seed, state.generation)[3]
    rec: dict = {"generation": state.generation}
    rec.update({k: np.asarray(v) for k, v in state.params.items() if k != "points"})
    ev = fam.sample(state.params, config.n_eval, rng_eval)
    if reward is not None:
        r = _rewards(reward, ev)
        r_star = pool.r_star(reward)
        rec["mean_reward"] = float(r.mean())
        rec["reward_se"] = float(r.std(ddof=1) / math.sqrt(r.size))
        rec["r_star"] = r_star
        rec["mean_exp_reward_rel"] = float(np.exp(logsumexp(r - r_star) - math.log(r.size)))
    if config.n_holdout:
        rec["heldout_loglik"] = float(np.mean(fam.logpdf(state.params, x[-config.n_holdout:])))
    if config.modes:
        rec["mode_proportions"] = mode_proportions(ev, config.modes).tolist()
    if config.family == "gaussian":
        ref = pool.gaussian_reference()
        rec["w2_to_data"] = gaussian.w2(state.params["mean"], state.params["cov"], ref["mean"], ref["cov"])
    if config.family == "histogram":
        data = pool.atom_law()
        rec["tv_to_data"] = total_variation(state.params["probs"], data)
        rec["kl_to_data"] = kl(state.params["probs"], data)
    return rec


def run_loop(config: LoopConfig, real_data, reward: Reward = None, seed: int = 0,
             start: dict | None = None) -> list[dict]:
    """Run the loop; one record per generation, generation 0 being the fit to the real data (or ``start``).

    ``real_data``: (M, d) points (histogram: atom indices), M >= ``config.real_needed()``: the N training rows
    plus the last ``n_holdout`` rows (500 by default), held out; ``reward``: a function of points (n, d) -> (n,),
    or for the histogram family an array of rewards per atom. A config whose sizes need more than half of the
    available memory ([`LoopConfig.check_memory`][simtheory.loops.LoopConfig.check_memory]) is a ValueError naming the
    option, before any work.
    """
    pool = as_pool(config, real_data)              # checked, and the pool-wide quantities cached, once per run
    config.check_memory(pool.x.shape[1])           # before any generation: sizes that cannot fit name their option
    state = init(config, pool, seed, start)
    out = [record(config, state, pool, reward, seed)]
    for _ in range(config.generations):
        state = step(config, state, pool, reward, seed)
        out.append(record(config, state, pool, reward, seed))
    return out
