r"""SIMS (Alemohammad et al. 2024) on infinite-capacity diffusion models: Gaussian and Gaussian-mixture refit
loops, with curation, and distribution shifting.

Generation t -> t+1 (the fold of [`simtheory.fold`][simtheory.fold], with SIMS at the sampling arrow):
    base   = fit (MLE / EM) to the current training set of M points;
    aux    = fit to n_s samples of the base diffusion model (EM warm-started from the base: SIMS fine-tunes a
             copy of the base on its own samples);
    sample = the guided diffusion D_w = (1 + w) D_base - w D_aux (K m candidates; K > 1 keeps one per group by
             softmax(r), the curation rule of the finite-sample loops);
    mix    = the mixing rule of [`simtheory.fold.training_set`][simtheory.fold.training_set]: 'replace' (real N points +
    synthetic; synthetic
             only when lam = inf), 'accumulate' (real + every synthetic set so far), 'fresh' (N new real points each
             generation).

Gaussian loop in the limit sigma_max -> inf, MLE, replace, lam = inf: the guided variance is
v_b (v_b / v_a)^w ([`gaussian`][simtheory.diffusion.gaussian]) and v_a = v_b chi^2_{n_s-1} / n_s, so

    v_{t+1} = v_t (chi^2_{M-1} / M) (n_s / chi^2_{n_s-1})^w      (independent factors),
    E[v_{t+1} / v_t] = (M-1)/M (n_s/2)^w Gamma((n_s-1)/2 - w) / Gamma((n_s-1)/2)   (w < (n_s-1)/2),
    E[log v_{t+1} / v_t] = psi((M-1)/2) + log(2/M) - w (psi((n_s-1)/2) + log(2/n_s)).

The w that keeps E[v_t] constant and the w that keeps E[log v_t] constant differ (Jensen): between them the
mean variance grows while the typical (median) variance still collapses.

A fit with a systematic error (``smoothing`` b adds b to every fitted variance, as a kernel density's bandwidth
h adds h^2; ``shift`` delta adds delta to every fitted mean; the GMM loop's ``reg`` adds reg I to every
component covariance, scikit-learn's reg_covar) gives the base data + b and the auxiliary, fitted the same way
to the base's samples, about data + 2b: the case SIMS corrects ([`systematic`][simtheory.diffusion.systematic] has its
closed forms).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from collections.abc import Callable

import numpy as np
from scipy import optimize, special

from .. import densities, fold, metrics, validate
from ..fold import LoopWords, generation_streams, seed_sequence
from ..metrics import mode_proportions  # noqa: F401  (public here: the SIMS experiments count modes)
from ..families import gmm
from ..families.gaussian import DDOF
from .gaussian import guided_gaussian_1d
from .shifting import (aux_weights_exact_1d, aux_weights_for_target, product_form_masses,  # noqa: F401  (sims.* as
                       shifted_masses, shifted_masses_1d)                                     # the docs use them)
from .sampler import check_w, guided_denoiser, heun_sample


# ---------------------------------------------------------------- Gaussian loop: closed forms

def _divisor(n: int, estimator: str) -> int:
    return n - DDOF[estimator]


def variance_factor_mean(w: float, M: int, n_s: int, estimator: str = "mle") -> float:
    r"""E[v_{t+1} / v_t] of the SIMS Gaussian loop (sigma_max = inf, replace, lam = inf; module docstring):
    (M-1)/c_M (c_s/2)^w Gamma((n_s-1)/2 - w) / Gamma((n_s-1)/2), c = n (MLE) or n - 1 (unbiased);
    inf for w >= (n_s - 1)/2 (E[chi^-2w] diverges)."""
    w = check_w(w)
    M, n_s = validate.count(M, "M", 2), validate.count(n_s, "n_s", 2)
    nu = 0.5 * (n_s - 1)
    if w >= nu:
        return math.inf
    log_aux = w * math.log(_divisor(n_s, estimator) / 2) + special.gammaln(nu - w) - special.gammaln(nu)
    return (M - 1) / _divisor(M, estimator) * math.exp(log_aux)


def log_variance_drift(w: float, M: int, n_s: int, estimator: str = "mle") -> float:
    """E[log v_{t+1} - log v_t] = psi((M-1)/2) + log(2/c_M) - w (psi((n_s-1)/2) + log(2/c_s))."""
    w = check_w(w)
    M, n_s = validate.count(M, "M", 2), validate.count(n_s, "n_s", 2)
    base = special.digamma(0.5 * (M - 1)) + math.log(2 / _divisor(M, estimator))
    aux = special.digamma(0.5 * (n_s - 1)) + math.log(2 / _divisor(n_s, estimator))
    return float(base - w * aux)


def critical_w(M: int, n_s: int, kind: str = "mean", estimator: str = "mle") -> float:
    """The w at which the SIMS Gaussian loop neither collapses nor explodes: E[v_{t+1}/v_t] = 1 (kind 'mean',
    by brentq on the log of the Gamma-ratio form) or E[log v_{t+1}/v_t] = 0 (kind 'log', a ratio of digammas)."""
    M, n_s = validate.count(M, "M", 2), validate.count(n_s, "n_s", 2)
    if kind == "log":
        base = special.digamma(0.5 * (M - 1)) + math.log(2 / _divisor(M, estimator))
        aux = special.digamma(0.5 * (n_s - 1)) + math.log(2 / _divisor(n_s, estimator))
        return float(base / aux)
    if kind != "mean":
        raise ValueError(f"kind must be 'mean' or 'log', got {kind!r}")
    nu = 0.5 * (n_s - 1)
    if variance_factor_mean(0.0, M, n_s, estimator) >= 1:
        return 0.0
    f = lambda w: math.log(variance_factor_mean(w, M, n_s, estimator))   # noqa: E731  increasing in w
    hi = nu - 1e-9
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-13, rtol=1e-13))


# ---------------------------------------------------------------- Gaussian loop: simulation

@dataclass(frozen=True)
class GaussianSimsConfig(LoopWords):
    """SIMS on the 1-D Gaussian refit loop; validated on construction (ValueError names the option)."""

    w: float = 1.0
    n_samples: int = 100          # M: real points, and synthetic ones when lam = inf
    n_s: int = 100                # the auxiliary's synthetic set
    generations: int = 20
    scheme: str = "replace"
    lam: float = math.inf
    estimator: str = "mle"
    sigma_max: float = 80.0       # inf: the sigma_max -> inf limit law
    smoothing: float = 0.0        # b: added to every fitted variance (systematic error; 0 = exact MLE fit)
    shift: float = 0.0            # delta: added to every fitted mean (systematic error)

    def __post_init__(self):
        object.__setattr__(self, "w", check_w(self.w))
        object.__setattr__(self, "smoothing", validate.ratio(self.smoothing, "smoothing"))
        if self.smoothing == math.inf:
            raise ValueError("smoothing must be finite")
        if isinstance(self.shift, bool) or not isinstance(self.shift, (int, float)) or not math.isfinite(self.shift):
            raise ValueError(f"shift must be a finite number, got {self.shift!r}")
        object.__setattr__(self, "shift", float(self.shift))
        for name, least in (("n_samples", 2), ("n_s", 2), ("generations", 0)):
            object.__setattr__(self, name, validate.count(getattr(self, name), name, least))
        fold.check_scheme(self.scheme)
        object.__setattr__(self, "lam", validate.ratio(self.lam, "lam"))
        if self.estimator not in DDOF:
            raise ValueError(f"estimator must be one of {sorted(DDOF)}, got {self.estimator!r}")
        if not (float(self.sigma_max) > 0):
            raise ValueError(f"sigma_max must be > 0 (or inf), got {self.sigma_max!r}")

    def to_dict(self) -> dict:
        return {"kind": "gaussian_sims", **asdict(self)}


def _stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, mean, sum of squared deviations) per row."""
    m = x.mean(axis=1)
    return np.full(x.shape[0], float(x.shape[1])), m, ((x - m[:, None]) ** 2).sum(axis=1)


def _combine(a, b):
    """Chan et al.'s pairwise update of (count, mean, M2)."""
    na, ma, sa = a
    nb, mb, sb = b
    n = na + nb
    delta = mb - ma
    return n, ma + delta * nb / n, sa + sb + delta**2 * na * nb / n


def run_gaussian_sims(config: GaussianSimsConfig, chains: int, seed: int = 0, mean0: float = 0.0,
                      var0: float = 1.0) -> dict[str, np.ndarray]:
    """``chains`` independent SIMS loops on real data N(mean0, var0), vectorised over chains; every draw is an
    actual sample (the fits use the samples' sufficient statistics, plus the config's systematic ``shift`` and
    ``smoothing``). Returns arrays (chains, T + 1): the base fit's 'mean' and 'var' per generation, and
    (chains, T): the auxiliary's 'aux_mean', 'aux_var' and the guided law's 'guided_mean', 'guided_var' used to
    make the next generation. Sizes that need more than half of the available memory are a ValueError naming
    ``chains`` or ``generations`` (simtheory.validate.fits_memory)."""
    chains = validate.count(chains, "chains")
    if not (math.isfinite(var0) and var0 > 0):
        raise ValueError(f"var0 must be finite and > 0, got {var0!r}")
    c, M, T = config, config.n_samples, config.generations
    # the six result arrays grow with the generations; each generation draws (chains, M or n_s) normals
    sizes = {"generations": 8 * chains * (6 * T + 2), "chains": 3 * 8 * chains * max(M, c.n_s, c.n_synthetic)}
    name = max(sizes, key=lambda k: sizes[k])
    validate.fits_memory(sum(sizes.values()), name, {"generations": T, "chains": chains}[name],
                         f"{chains} Gaussian SIMS chains of {T} generations")
    rng = [np.random.default_rng(seed_sequence(seed, t)) for t in range(T + 1)]   # generation t's sequence
    sd0 = math.sqrt(var0)

    def real(g):
        return _stats(mean0 + sd0 * g.standard_normal((chains, M)))

    def fit(st):
        n, m, s2 = st
        return m + c.shift, s2 / (n - DDOF[c.estimator]) + c.smoothing

    first = real(rng[0])
    mean, var = fit(first)
    out = {k: np.empty((chains, T + 1)) for k in ("mean", "var")}
    out.update({k: np.empty((chains, T)) for k in ("aux_mean", "aux_var", "guided_mean", "guided_var")})
    out["mean"][:, 0], out["var"][:, 0] = mean, var
    pool = None
    for t in range(1, T + 1):
        g = rng[t]
        bm, bv = guided_gaussian_1d(mean, var, mean, var, 0.0, c.sigma_max)        # the base model's law
        am, av = fit(_stats(bm[:, None] + np.sqrt(bv)[:, None] * g.standard_normal((chains, c.n_s))))
        gm, gv = guided_gaussian_1d(mean, var, am, av, c.w, c.sigma_max)
        mix = fold.training_set(c.scheme, c.lam, t)
        parts = []
        if c.n_synthetic:                                        # lam = 0: no kept set, real data only
            synth = _stats(gm[:, None] + np.sqrt(gv)[:, None] * g.standard_normal((chains, c.n_synthetic)))
            pool = synth if len(mix.kept) == 1 or pool is None else _combine(pool, synth)
            parts.append(pool)
        if mix.real is not None:                                 # 'fresh': block t, drawn from generation t's stream
            parts.insert(0, first if mix.real == 0 else real(g))
        mean, var = fit(parts[0] if len(parts) == 1 else _combine(*parts))
        out["aux_mean"][:, t - 1], out["aux_var"][:, t - 1] = am, av
        out["guided_mean"][:, t - 1], out["guided_var"][:, t - 1] = gm, gv
        out["mean"][:, t], out["var"][:, t] = mean, var
    return out


# ---------------------------------------------------------------- Gaussian-mixture loop

Reward = Callable[[np.ndarray], np.ndarray] | None


@dataclass(frozen=True)
class GmmSimsConfig(LoopWords):
    """SIMS (and curation) on a Gaussian-mixture refit loop with the exact GMM diffusion model."""

    w: float = 1.0
    n_samples: int = 1000         # M
    n_s: int = 1000
    components: int = 4
    K: int = 1                    # candidates per kept synthetic point (1 = no curation)
    lam: float = math.inf
    scheme: str = "replace"
    generations: int = 10
    num_steps: int = 18
    sigma_max: float = 80.0
    em_iter: int = 100
    warm_start: bool = True       # base EM from the previous generation's fit (the aux is always warm)
    restarts: int = 5             # EM starts for a fit from scratch; the highest log-likelihood is kept
    modes: tuple = field(default_factory=tuple)   # centres for the synthetic sets' mode proportions
    reg: float = 1e-6             # added to every fitted component covariance (reg I); large = systematic error

    def __post_init__(self):
        object.__setattr__(self, "w", check_w(self.w))
        object.__setattr__(self, "reg", validate.ratio(self.reg, "reg"))
        if not 0 < self.reg < math.inf:
            raise ValueError(f"reg must be finite and > 0, got {self.reg!r}")
        for name, least in (("n_samples", 1), ("n_s", 1), ("components", 1), ("num_steps", 2), ("em_iter", 1),
                            ("restarts", 1), ("generations", 0)):
            object.__setattr__(self, name, validate.count(getattr(self, name), name, least))
        k, lam = fold.check_words(self.K, self.lam, self.scheme)
        object.__setattr__(self, "K", k)
        object.__setattr__(self, "lam", lam)
        if self.n_s < self.components or self.n_samples < self.components:
            raise ValueError(f"n_s ({self.n_s}) and n_samples ({self.n_samples}) must be >= components "
                             f"({self.components})")
        object.__setattr__(self, "modes", tuple(tuple(float(v) for v in np.atleast_1d(m)) for m in self.modes))

    def to_dict(self) -> dict:
        return {"kind": "gmm_sims", **asdict(self)}


def _gen_streams(seed: int, t: int) -> list[np.random.Generator]:
    """Independent generators for generation t: aux latents, synthetic latents, selection, fits
    ([`simtheory.fold`][simtheory.fold])."""
    return generation_streams(seed, t, 4)


def _params(p: dict) -> dict:
    return {k: np.asarray(p[k], float) for k in ("weights", "means", "covs")}


def fit_gmm(x: np.ndarray, rng: np.random.Generator, warm: dict | None, components: int, n_iter: int,
            restarts: int = 1, reg: float = 1e-6) -> dict:
    """EM (simtheory.families.gmm, covariance regularisation ``reg``) from ``warm``, or the best of
    ``restarts`` seeded starts by log-likelihood (one start often lands in a local optimum with a component on a
    handful of points)."""
    if warm is not None:
        return _params(gmm.fit(x, rng, warm, components=components, n_iter=n_iter, reg=reg))
    fits = [gmm.fit(x, rng, None, components=components, n_iter=n_iter, reg=reg) for _ in range(restarts)]
    return _params(max(fits, key=lambda f: float(f["loglik"])))


def sims_generation(config: GmmSimsConfig, base: dict, reward: Reward, rngs) -> tuple[dict, np.ndarray]:
    """One SIMS sampling arrow: the auxiliary (EM warm-started from the base on n_s Heun samples of the base)
    and the kept synthetic points (K m guided Heun samples, one kept per group by softmax(reward))."""
    ra, rs, rc, rf = rngs
    d = base["means"].shape[1]
    steps, smax = config.num_steps, config.sigma_max
    aux_x = heun_sample(guided_denoiser(base), ra.standard_normal((config.n_s, d)), steps, sigma_max=smax)
    aux = fit_gmm(aux_x, rf, base, config.components, config.em_iter, reg=config.reg)
    m, K = config.n_synthetic, config.K
    cand = heun_sample(guided_denoiser(base, aux, config.w), rs.standard_normal((m * K, d)), steps, sigma_max=smax)
    if K == 1:
        return aux, cand
    if reward is None:
        raise ValueError("K > 1 curates by a reward: pass reward=")
    r = validate.finite_array(np.asarray(reward(cand), float).reshape(-1), "reward(x)")
    if r.size != m * K:
        raise ValueError("reward(x) must return one value per point")
    return aux, cand[fold.keep_one_of_k(r, K, rc)]


def run_gmm_sims(config: GmmSimsConfig, real_data, reward: Reward = None, seed: int = 0,
                 start: dict | None = None) -> list[dict]:
    """The SIMS GMM loop; one record per generation: the base fit (weights, means, covs), and from generation 1
    on the auxiliary that made its data ('aux_*') and the synthetic set's mode proportions (if modes given).
    Generation 0 is the EM fit to the first N real points (or ``start``). Sizes that need more than half of the
    available memory are a ValueError naming ``K`` or ``generations`` (simtheory.validate.fits_memory)."""
    x = validate.finite_array(real_data, "real_data")
    if x.ndim != 2 or x.shape[0] < config.n_real:
        raise ValueError(f"real_data must be (n, d) with n >= {config.n_real}, got {x.shape}")
    N = config.n_samples
    # a generation's K m candidates (and Heun temporaries), and what grows with the run: the records and, under
    # 'accumulate', the synthetic pool
    m, d, T = config.n_synthetic, x.shape[1], config.generations
    per_record = 8 * config.components * (1 + d + d * d) * 2 + 4096
    parts = {"K": 4 * 8 * (m * config.K + config.n_s) * (d + 2),
             "generations": (T + 1) * per_record + (2 * 8 * m * T * d if config.scheme == "accumulate" else 0)}
    name = max(parts, key=lambda k: parts[k])
    validate.fits_memory(sum(parts.values()), name, getattr(config, name), f"a SIMS GMM loop of {T} generations")
    def fit(data, rng, warm):      # the module's fit_gmm, looked up at each call (tests wrap it)
        return fit_gmm(data, rng, warm, config.components, config.em_iter, restarts=config.restarts, reg=config.reg)
    base = _params(start) if start is not None else fit(fold.real_block(x, N, 0, config.scheme),
                                                         _gen_streams(seed, 0)[3], None)
    recs = [{"generation": 0, **base}]
    pool = None
    for t in range(1, config.generations + 1):
        rngs = _gen_streams(seed, t)
        aux, synth = sims_generation(config, base, reward, rngs)
        mix = fold.training_set(config.scheme, config.lam, t)
        pool = synth if len(mix.kept) == 1 or pool is None else np.concatenate([pool, synth])
        real = [] if mix.real is None else [fold.real_block(x, N, t, config.scheme)]
        train = np.concatenate(real + [pool])
        base = fit(train, rngs[3], base if config.warm_start else None)
        rec = {"generation": t, **base, **{f"aux_{k}": v for k, v in aux.items()}}
        if config.modes:
            rec["mode_proportions"] = mode_proportions(synth, config.modes)
        recs.append(rec)
    return recs


def grid_divergences(params: dict, points: np.ndarray, data_probs: np.ndarray) -> tuple[float, float]:
    """(KL(data || model), TV(data, model)) of a fitted mixture against the data law, both discretised on the
    grid ``points`` (..., d) with [`simtheory.densities.to_probabilities`][simtheory.densities.to_probabilities]."""
    flat = points.reshape(-1, points.shape[-1])
    lp = gmm.logpdf(_params(params), flat)
    model = densities.to_probabilities(np.exp(lp - lp.max()).reshape(points.shape[:-1]))
    return metrics.kl(data_probs, model), metrics.total_variation(data_probs, model)


def two_moons(n: int, rng: np.random.Generator, noise: float = 0.1) -> np.ndarray:
    """n points of scikit-learn's two moons (the law of simtheory.densities.two_moons_pdf): theta ~ U[0, pi],
    the arc (cos t, sin t) or (1 - cos t, 1/2 - sin t) with probability 1/2 each, plus N(0, noise^2 I)."""
    n = validate.count(n, "n")
    th = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    pts = np.where(upper[:, None], np.stack([np.cos(th), np.sin(th)], -1),
                   np.stack([1 - np.cos(th), 0.5 - np.sin(th)], -1))
    return pts + noise * rng.standard_normal((n, 2))
