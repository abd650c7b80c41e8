import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

import simtheory
from simtheory.curation import curated_finite, tilt
from simtheory.symbolic import two_atom_curated_numeric

from helpers import enumerate_curated, laplace_quad, two_atom_binomial
from tolerances import EXACT, N_SE, ROUNDING


@st.composite
def small_case(draw, max_n=4, max_k=5, scale=5.0):
    n = draw(st.integers(1, max_n))
    w = draw(arrays(float, n, elements=st.floats(0.0, 1.0)))
    if w.sum() == 0:
        w[0] = 1.0
    p = w / w.sum()
    r = draw(arrays(float, n, elements=st.floats(-scale, scale)))
    K = draw(st.integers(1, max_k))
    return p, r, K


@given(small_case())
def test_matches_enumeration(case):
    p, r, K = case
    np.testing.assert_allclose(simtheory.curated(p, r, K), enumerate_curated(p, r, K), atol=EXACT, rtol=0)


@given(small_case(max_n=3, max_k=4, scale=1e4))
def test_matches_enumeration_at_reward_scale_1e4(case):
    p, r, K = case
    np.testing.assert_allclose(simtheory.curated(p, r, K), enumerate_curated(p, r, K), atol=EXACT, rtol=0)


@given(small_case(max_n=6, max_k=12))
def test_normalised_nonnegative_and_k1_identity(case):
    p, r, K = case
    c = simtheory.curated(p, r, K)
    assert c.min() >= 0 and abs(c.sum() - 1) < ROUNDING
    assert np.all(c[p == 0] == 0)
    np.testing.assert_allclose(simtheory.curated(p, r, 1), p, atol=1e-15, rtol=0)


def test_doc_example_values():
    p, r = [0.4, 0.3, 0.2, 0.1], [0, 0.5, 1, 1]
    expect = {2: [.3152, .3073, .2517, .1258], 4: [.2721, .3018, .2841, .1420],
              8: [.2521, .2963, .3011, .1505], math.inf: [.2339, .2892, .3179, .1590]}
    for K, v in expect.items():
        np.testing.assert_allclose(simtheory.curated(p, r, K), v, atol=5e-5)


@pytest.mark.parametrize("K", [2, 3, 5, 9, 12])
def test_two_atoms_against_sympy(K):
    f = two_atom_curated_numeric(K)
    for a in [1e-3, 0.1, 0.5, 0.93]:
        for d in [-30.0, -2.0, 0.0, 0.7, 5.0, 40.0]:
            got = simtheory.curated([1 - a, a], [0.0, d], K)[1]
            assert abs(got - f(a, d)) < EXACT, (a, d)


@pytest.mark.parametrize("K", [50, 10**3, 10**6])
def test_large_K_two_atoms_against_binomial_sum(K):
    for a, d in [(0.3, 1.3), (1e-4, 2.0), (0.9, -0.5)]:
        got = simtheory.curated([1 - a, a], [0.0, d], K)[1]
        assert abs(got - two_atom_binomial(a, d, K)) < EXACT


def test_against_scipy_quad_on_laplace_form():
    rng = np.random.default_rng(3)
    for K in [2, 3, 7]:
        p = rng.dirichlet(np.ones(6))
        r = rng.normal(0, 2, 6)
        np.testing.assert_allclose(simtheory.curated(p, r, K), laplace_quad(p, r, K), atol=1e-9, rtol=0)


def test_against_monte_carlo_selection():
    rng = np.random.default_rng(11)
    p = rng.dirichlet(np.ones(6))
    r = rng.normal(0, 1, 6)
    n = 200_000
    for K in [2, 5]:
        freq = simtheory.curated_frequencies(p, r, K, n, rng)
        exact = simtheory.curated(p, r, K)
        se = np.sqrt(exact * (1 - exact) / n)
        assert np.all(np.abs(freq - exact) <= N_SE * se + 1e-12), (freq, exact)


def test_shift_invariance_and_zero_atoms_and_ties():
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(8))
    p[[1, 4]] = 0
    p /= p.sum()
    r = rng.normal(0, 1, 8)
    r[[2, 6]] = r.max() + 1       # a tie at the top
    c = simtheory.curated(p, r, 4)
    np.testing.assert_allclose(simtheory.curated(p, r + 1e4, 4), c, atol=ROUNDING)
    np.testing.assert_allclose(simtheory.curated(p, r - 1e4, 4), c, atol=ROUNDING)
    assert np.all(c[[1, 4]] == 0)
    live = p > 0
    np.testing.assert_allclose(c[live], simtheory.curated(p[live] / p[live].sum(), r[live], 4), atol=ROUNDING)
    # tied atoms keep their ratio
    assert abs(c[2] / c[6] - p[2] / p[6]) < 1e-10


def test_large_K_tends_to_tilt():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(10))
    r = rng.normal(0, 1, 10)
    target = tilt(p, r)
    errs = [np.abs(simtheory.curated(p, r, K) - target).sum() for K in [2, 8, 64, 1024, 10**6]]
    assert all(b < a for a, b in zip(errs, errs[1:])), errs
    assert errs[-1] < 1e-4


def test_grid_shape_kept():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(12)).reshape(3, 4)
    r = rng.normal(size=(3, 4))
    c = simtheory.curated(p, r, 3)
    assert c.shape == (3, 4)
    np.testing.assert_allclose(c.ravel(), simtheory.curated(p.ravel(), r.ravel(), 3), atol=0)


def test_million_atoms_fast_path_matches_reference_on_grid():
    rng = np.random.default_rng(9)
    n = 1_000_000
    p = rng.dirichlet(np.ones(n))
    r = rng.normal(0, 1, n)
    fast = simtheory.curated(p, r, 8)
    assert abs(fast.sum() - 1) < ROUNDING
    idx = rng.choice(n, 2000, replace=False)
    # the reference on the full atom set but evaluated for a subset of atoms
    from simtheory import kernels
    from simtheory.curation import gumbel_grid
    g = gumbel_grid(r, 8)
    phi = np.exp(7 * kernels.log_cdf_reference(p, r, g.z))
    ref = 8 * p[idx] * kernels.atom_integrals_reference(r[idx], phi, g.z, g.h)
    np.testing.assert_allclose(fast[idx], ref / ref.sum() * ref.sum(), rtol=1e-9, atol=1e-18)


def test_reference_and_kernel_agree_wide_rewards():
    rng = np.random.default_rng(4)
    p = rng.dirichlet(np.ones(40))
    r = rng.normal(0, 3e3, 40)
    for K in [2, 17, 10**6]:
        np.testing.assert_allclose(curated_finite(p, r, K), curated_finite(p, r, K, fast=False), atol=ROUNDING)
