import numpy as np

import simtheory
from simtheory.selection import select_softmax

from tolerances import N_SE


def test_softmax_frequencies():
    rng = np.random.default_rng(0)
    r = np.array([0.0, 1.0, -0.5, 2.0])
    n = 100_000
    idx = select_softmax(np.tile(r, (n, 1)), rng)
    freq = np.bincount(idx, minlength=4) / n
    target = np.exp(r) / np.exp(r).sum()
    assert np.all(np.abs(freq - target) <= N_SE * np.sqrt(target * (1 - target) / n))


def test_same_seed_same_draws_fast_and_reference():
    rew = np.random.default_rng(1).normal(size=(500, 3))
    a = select_softmax(rew, np.random.default_rng(7))
    b = select_softmax(rew, np.random.default_rng(7), fast=False)
    np.testing.assert_array_equal(a, b)


def test_sample_curated_support_and_seed():
    p, r = np.array([0.5, 0.0, 0.5]), np.array([0.0, 9.0, 1.0])
    a = simtheory.sample_curated(p, r, 3, 1000, np.random.default_rng(3))
    assert not np.any(a == 1)
    np.testing.assert_array_equal(a, simtheory.sample_curated(p, r, 3, 1000, np.random.default_rng(3)))
