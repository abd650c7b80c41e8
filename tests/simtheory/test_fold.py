"""simtheory.fold: the loop's words, the mixing rule in its two forms (which sets make a training set, and the
law-space weights), the real block of a generation and keep-one-of-K, each against a plain reference."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simtheory import fold
from simtheory.selection import select_softmax

LAMS = (0.0, 0.5, 1.0, 2.0, math.inf)


def test_words_are_checked_and_named():
    """K finite integer >= 1 (an integral float is K), lam >= 0 or inf, scheme among SCHEMES; each refusal names
    what was wrong."""
    assert fold.check_words(4.0, math.inf, "replace") == (4, math.inf)
    assert isinstance(fold.check_words(4.0, 1, "fresh")[0], int)
    for K, lam, scheme, match in ((math.inf, 1.0, "replace", "K must be finite"), (0, 1.0, "replace", "K must be"),
                                  (2, -1.0, "replace", "lam must be"), (2, math.nan, "replace", "lam is NaN"),
                                  (2, 1.0, "mix", "scheme must be one of")):
        with pytest.raises(ValueError, match=match):
            fold.check_words(K, lam, scheme)


def test_counts():
    assert fold.n_synthetic(100, math.inf) == 100
    assert fold.n_synthetic(100, 0.25) == 25 and fold.n_synthetic(100, 0.0) == 0 and fold.n_synthetic(3, 0.5) == 2
    assert fold.real_needed(10, 4, "fresh") == 50
    assert fold.real_needed(10, 4, "replace") == fold.real_needed(10, 4, "accumulate") == 10


def test_every_loop_config_counts_with_the_fold():
    """The configs of every theory rung take their synthetic and real counts from the fold (one rule)."""
    from simtheory.diffusion.sims import GaussianSimsConfig, GmmSimsConfig
    from simtheory.loops import LoopConfig
    for lam in (0.5, 2.0, math.inf):
        for scheme in fold.SCHEMES:
            for cfg in (LoopConfig(n_samples=10, lam=lam, scheme=scheme, generations=3),
                        GaussianSimsConfig(n_samples=10, lam=lam, scheme=scheme, generations=3),
                        GmmSimsConfig(n_samples=10, n_s=10, lam=lam, scheme=scheme, generations=3)):
                assert cfg.n_synthetic == fold.n_synthetic(10, lam)
                assert cfg.n_real == fold.real_needed(10, 3, scheme)


def test_training_set_rule():
    T = fold.training_set
    assert T("replace", 1.0, 0) == T("fresh", math.inf, 0) == T("accumulate", 2.0, 0) == fold.TrainingSet(0, ())
    assert T("replace", 1.0, 3) == fold.TrainingSet(0, (3,))
    assert T("fresh", 1.0, 3) == fold.TrainingSet(3, (3,))
    assert T("replace", math.inf, 3) == T("fresh", math.inf, 3) == fold.TrainingSet(None, (3,))
    assert T("accumulate", math.inf, 3) == T("accumulate", 0.5, 3) == fold.TrainingSet(0, (1, 2, 3))
    assert fold.mixes_real("replace", 1.0) and fold.mixes_real("accumulate", math.inf)
    assert not fold.mixes_real("replace", math.inf) and not fold.mixes_real("fresh", math.inf)
    with pytest.raises(ValueError, match="scheme"):
        T("mix", 1.0, 1)


def _shares(scheme: str, lam: float, t: int, N: int) -> tuple[float, dict[int, float]]:
    """The sample-space rule counted: the share of the real block and of each kept set in generation t's training
    set of N real samples per block and n_synthetic per kept set."""
    mix = fold.training_set(scheme, lam, t)
    m = fold.n_synthetic(N, lam)
    sizes = ({"real": N} if mix.real is not None else {}) | {s: m for s in mix.kept}
    total = sum(sizes.values())
    return sizes.pop("real", 0) / total, {s: v / total for s, v in sizes.items()}


@given(st.sampled_from(fold.SCHEMES), st.sampled_from(LAMS), st.integers(0, 6))
def test_law_weights_are_the_sample_shares(scheme, lam, steps):
    """The law-space weights are the shares of the sample-space training set (N = 1000: lam N integral), rows
    summing to 1: the two forms say one rule."""
    W, d = fold.mixing_weights(scheme, lam, steps)
    assert W.shape == (steps + 1, steps + 1) and d.shape == (steps + 1,)
    assert not W[0].any() and d[0] == 0
    for t in range(1, steps + 1):
        real, kept = _shares(scheme, lam, t, 1000)
        assert d[t] == pytest.approx(real, abs=1e-15)
        want = np.zeros(steps + 1)
        for s, v in kept.items():
            want[s - 1] = v                        # kept set s: the curated law of model s - 1
        np.testing.assert_allclose(W[t], want, rtol=0, atol=1e-15)
        assert d[t] + W[t].sum() == pytest.approx(1.0, abs=1e-14)


def test_law_weights_negative_control():
    """The check above tells the schemes apart: replace's weights are not accumulate's shares."""
    W, d = fold.mixing_weights("replace", 1.0, 3)
    real, kept = _shares("accumulate", 1.0, 3, 1000)
    assert d[3] != pytest.approx(real) and len(kept) == 3 and np.count_nonzero(W[3]) == 1


def test_real_block():
    x = np.arange(20)
    for t in range(4):
        np.testing.assert_array_equal(fold.real_block(x, 5, t, "fresh"), x[5 * t:5 * t + 5])
        for scheme in ("replace", "accumulate"):
            np.testing.assert_array_equal(fold.real_block(x, 5, t, scheme), x[:5])
    assert [fold.real_block_index(t, "fresh") for t in range(3)] == [0, 1, 2]


def test_keep_one_of_k_is_the_selection_of_consecutive_groups():
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    r = np.random.default_rng(0).normal(size=12)
    idx = fold.keep_one_of_k(r, 4, rng_a)
    ref = np.arange(3) * 4 + select_softmax(r.reshape(3, 4), rng_b)
    np.testing.assert_array_equal(idx, ref)
    assert np.all(idx // 4 == np.arange(3))           # one per group, from its own group


def test_keep_one_of_k_edges():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    np.testing.assert_array_equal(fold.keep_one_of_k(np.zeros(5), 1, rng), np.arange(5))
    assert rng.bit_generator.state == state            # K = 1 keeps all and draws nothing
    assert fold.keep_one_of_k(np.zeros(0), 3, rng).size == 0
    with pytest.raises(ValueError, match="m x 4"):
        fold.keep_one_of_k(np.zeros(6), 4, rng)
    with pytest.raises(ValueError, match="K must be"):
        fold.keep_one_of_k(np.zeros(6), 0, rng)


def test_keep_one_of_k_follows_the_softmax():
    """Statistical: the kept candidate's position in a group is softmax(r)-distributed (N_SE binomial SEs)."""
    from tolerances import N_SE
    r = np.array([0.0, 1.0, -0.5, 2.0])
    n = 20_000
    idx = fold.keep_one_of_k(np.tile(r, n), 4, np.random.default_rng(1))
    freq = np.bincount(idx % 4, minlength=4) / n
    p = np.exp(r) / np.exp(r).sum()
    assert np.all(np.abs(freq - p) <= N_SE * np.sqrt(p * (1 - p) / n))
