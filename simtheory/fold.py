r"""The words every retraining loop shares: a loop is a fold over generations,

    model_t --sample--> candidates --curate(K, r)--> kept --mix(real, lam, scheme)--> training set --fit--> model_{t+1}

and every rung (the exact dynamics, the finite-sample families, the neural points, the image-shaped law and the
images) runs it with its own sample and fit. This module holds what the rungs share, so that each says it once:

- **The loop's words** ([`LoopWords`][simtheory.fold.LoopWords], [`check_words`][simtheory.fold.check_words]): N real
samples per generation (``n_samples``),
  K candidates per kept sample, the synthetic-to-real ratio lam (inf: fully synthetic), the scheme and the number
  of generations; the synthetic count [`n_synthetic`][simtheory.fold.n_synthetic] = N (lam = inf) or round(lam N), and
  the real samples a run needs, [`real_needed`][simtheory.fold.real_needed].
- **The mixing rule** in both of its forms. In sample space ([`training_set`][simtheory.fold.training_set]): which real
block and which
  generations' kept sets make generation t's training set ([`SCHEMES`][simtheory.fold.SCHEMES]). In law space
  ([`mixing_weights`][simtheory.fold.mixing_weights]): the weights of
  $p_{t+1} = d_{t+1} P_{real} + \sum_{s \le t} W_{t+1,s}\, c(p_s)$
  (Ferbach et al. 2024, Sec. 3), the same rule with each set weighted by its size.
- **The real block** of a generation ([`real_block`][simtheory.fold.real_block]) and **keep-one-of-K**
([`keep_one_of_k`][simtheory.fold.keep_one_of_k]: candidates
  in consecutive groups of K, one kept per group by softmax of the reward,
  [`simtheory.selection.select_softmax`][simtheory.selection.select_softmax]).
- **Random streams** (one convention for both halves). A run seeded ``seed`` draws generation t's randomness from
  the numpy SeedSequence with entropy ``seed`` and spawn key (t,), and stream i of that generation from its i-th
  child, spawn key (t, i) ([`seed_sequence`][simtheory.fold.seed_sequence],
  [`generation_streams`][simtheory.fold.generation_streams], [`seed32`][simtheory.fold.seed32]). The same rule seeds a
  training run's step k (key (k,)) and each process's share of it (key (k, rank)). Streams with distinct keys are
  independent, and a draw depends only on (seed, key), never on what was drawn before, so a resumed run draws what
  an uninterrupted one draws.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import validate
from .selection import select_softmax

SCHEMES = ("replace", "accumulate", "fresh")
"""What generation t >= 1 trains on besides its own kept set (Alemohammad et al. 2024; Gerstgrasser et al. 2024):
``replace``, the N real samples of block 0 and generation t's kept set (the kept set only when lam = inf);
``accumulate``, block 0 and every kept set so far (1..t); ``fresh``, as replace with a new real block t each
generation. Generation 0 trains on real block 0 alone."""


# ------------------------------------------------------------------------------------------------ the words
def check_scheme(scheme) -> str:
    """``scheme`` if it is one of [`SCHEMES`][simtheory.fold.SCHEMES]; else a ValueError naming it."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    return scheme


def check_words(K, lam, scheme) -> tuple[int, float]:
    """(K, lam) of a loop that curates by sampling, checked with its scheme: K an integer >= 1 (one kept sample of
    K drawn, so K = inf is refused: it is the exact tilt), lam >= 0 or inf, scheme one of
    [`SCHEMES`][simtheory.fold.SCHEMES]."""
    k = validate.group_size(K, "K")
    if k == math.inf:
        raise ValueError("K must be finite in a sampled loop (one kept sample of K drawn; K = inf is the exact tilt)")
    check_scheme(scheme)
    return int(k), validate.ratio(lam, "lam")


def n_synthetic(n_samples: int, lam: float) -> int:
    """Kept (synthetic) samples per generation of a loop with N = ``n_samples`` real ones: N when lam = inf (the
    fully synthetic loop keeps the size of its training set), else round(lam N)."""
    return int(n_samples) if lam == math.inf else int(round(lam * n_samples))


def real_needed(n_samples: int, generations: int, scheme: str) -> int:
    """Real samples a loop trains on: N, or N per generation (generations + 1 blocks) under 'fresh'."""
    return int(n_samples) * ((int(generations) + 1) if scheme == "fresh" else 1)


class LoopWords:
    """The words a loop config shares (a mixin of frozen dataclasses with the fields ``n_samples`` (N), ``lam``,
    ``scheme`` and ``generations``): the synthetic count and the real samples the run needs."""

    n_samples: int
    lam: float
    scheme: str
    generations: int

    @property
    def n_synthetic(self) -> int:
        """Kept (synthetic) samples per generation: N when lam = inf, else round(lam N) ([`n_synthetic`][simtheory.fold.LoopWords.n_synthetic])."""
        return n_synthetic(self.n_samples, self.lam)

    @property
    def n_real(self) -> int:
        """Real samples the run trains on: N, or N per generation under 'fresh' ([`real_needed`][simtheory.fold.real_needed])."""
        return real_needed(self.n_samples, self.generations, self.scheme)


# ------------------------------------------------------------------------------------------- the mixing rule
@dataclass(frozen=True)
class TrainingSet:
    """What one generation trains on: the real block ``real`` (None: no real data) and the kept sets of the
    generations ``kept`` (kept set s: samples of model s - 1 kept by curation), in this order."""

    real: int | None
    kept: tuple[int, ...]


def training_set(scheme: str, lam: float, t: int) -> TrainingSet:
    """The mixing rule in sample space: generation t's training set ([`SCHEMES`][simtheory.fold.SCHEMES]). Generation 0 trains on real
    block 0; generation t >= 1 on real block 0 (block t under 'fresh') and its kept set t, on the kept set alone
    when lam = inf (but 'accumulate', which always keeps the real block), and under 'accumulate' on every kept set
    1..t. At lam = 0 the kept sets are empty ([`n_synthetic`][simtheory.fold.n_synthetic]) and the real block is all."""
    check_scheme(scheme)
    t = validate.count(t, "t", minimum=0)
    if t == 0:
        return TrainingSet(0, ())
    if scheme == "accumulate":
        return TrainingSet(0, tuple(range(1, t + 1)))
    if lam == math.inf:
        return TrainingSet(None, (t,))
    return TrainingSet(real_block_index(t, scheme), (t,))


def mixes_real(scheme: str, lam: float) -> bool:
    """Whether generations t >= 1 train on real samples: lam finite, or the 'accumulate' scheme."""
    return training_set(scheme, lam, 1).real is not None


def mixing_weights(scheme: str, lam: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The mixing rule in law space: the weights of
    $p_{t+1} = d_{t+1} P_{real} + \sum_{s \le t} W_{t+1,s}\, c(p_s)$
    for t < ``steps`` (Ferbach et al. 2024, Sec. 3), each set of
    [`training_set`][simtheory.fold.training_set] weighted
    by its size in units of N: the real block 1, a kept set lam (1 when lam = inf: N kept samples).

    replace / fresh: $(P_{real} + \lambda c(p_t)) / (1 + \lambda)$, $c(p_t)$ alone at lam = inf (fresh
    draws new real samples of the same law: the same map at infinite samples). accumulate:
    $(P_{real} + \lambda \sum_{s \le t} c(p_s)) / (1 + \lambda (t + 1))$.

    Returns
    -------
    (W, d)
        W of shape (steps + 1, steps + 1), row t + 1 the weights of c(p_0) .. c(p_t); d of shape (steps + 1,);
        row 0 of both is zero (generation 0 is the start).
    """
    check_scheme(scheme)
    lam = validate.ratio(lam, "lam")
    steps = validate.count(steps, "steps", minimum=0)
    size = 1.0 if lam == math.inf else lam
    W = np.zeros((steps + 1, steps + 1))
    d = np.zeros(steps + 1)
    for t in range(1, steps + 1):
        mix = training_set(scheme, lam, t)
        total = 1.0 + size * len(mix.kept) if mix.real is not None else size * len(mix.kept)
        if mix.real is not None:
            d[t] = 1.0 / total
        for s in mix.kept:                      # kept set s: the curated law of model s - 1
            W[t, s - 1] = size / total
    return W, d


def real_block_index(t: int, scheme: str) -> int:
    """The real block generation t draws its real samples from: t under 'fresh' (a new block each generation),
    else 0 (one real set for the whole run)."""
    return int(t) if scheme == "fresh" else 0


def real_block(real, n_samples: int, t: int, scheme: str):
    """The N = ``n_samples`` real samples generation t trains on when it mixes real data: rows 0 .. N - 1, or
    block t (rows N t .. N (t + 1) - 1) under 'fresh' ([`real_block_index`][simtheory.fold.real_block_index]; ``real``
    in the run's order)."""
    start = int(n_samples) * real_block_index(t, scheme)
    return real[start:start + int(n_samples)]


# ------------------------------------------------------------------------------------------------ curation
def keep_one_of_k(rewards, K: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of the kept candidates: the rewards of m K candidates (n,) in consecutive groups of K
    (candidate j of group i at i K + j), one kept per group by softmax of the reward (Eq. 6's selection,
    [`simtheory.selection.select_softmax`][simtheory.selection.select_softmax], with Gumbel noise from ``rng``). K = 1
    keeps every candidate and draws nothing. Returns the m indices, increasing."""
    r = np.asarray(rewards)
    k = validate.count(K, "K")
    if r.ndim != 1 or r.size % k:
        raise ValueError(f"rewards must be a vector of m K = m x {k} candidates' rewards, got shape {r.shape}")
    m = r.size // k
    if k == 1 or m == 0:
        return np.arange(m)
    return np.arange(m) * k + select_softmax(r.reshape(m, k), rng)


# ------------------------------------------------------------------------------------------------- streams
def seed_sequence(seed: int, *key: int) -> np.random.SeedSequence:
    """SeedSequence(entropy=seed, spawn_key=key): the stream ``key`` (e.g. (t,) for generation t, (t, i) for its
    stream i) of a run seeded ``seed``; equal to the matching child of SeedSequence(seed).spawn."""
    return np.random.SeedSequence(entropy=int(seed), spawn_key=tuple(int(k) for k in key))


def generation_streams(seed: int, t: int, n: int) -> list[np.random.Generator]:
    """Generators for streams 0..n-1 of generation t of a run seeded ``seed``: independent of each other and of
    every other generation's."""
    return [np.random.default_rng(seed_sequence(seed, t, i)) for i in range(int(n))]


def seed32(seed: int, *key: int) -> int:
    """A 32-bit integer seed for stream ``key`` of a run seeded ``seed`` (for generators that take an integer, such
    as torch's)."""
    return int(seed_sequence(seed, *key).generate_state(1)[0])
