r"""The words every retraining loop shares: a loop is a fold over generations,

    model_t --sample--> candidates --curate(K, r)--> kept --mix(real, lam, scheme)--> training set --fit--> model_{t+1}

and every rung (the exact dynamics, the finite-sample families, the neural points, the image-shaped law and the
images) runs it with its own sample and fit.

Random streams (one convention for both halves). A run seeded ``seed`` draws generation t's randomness from the
numpy SeedSequence with entropy ``seed`` and spawn key (t,), and stream i of that generation from its i-th child,
spawn key (t, i) (:func:`seed_sequence`, :func:`generation_streams`, :func:`seed32`). The same rule seeds a training
run's step k (key (k,)) and each process's share of it (key (k, rank)). Streams with distinct keys are independent,
and a draw depends only on (seed, key), never on what was drawn before, so a resumed run draws what an
uninterrupted one draws.
"""
from __future__ import annotations

import numpy as np


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
