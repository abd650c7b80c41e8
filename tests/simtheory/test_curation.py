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


# ------------------------------------------------------------------------------------ memory safety and scale
def _run_isolated(code: str, mem_gb: float = 4.0):
    """Run ``code`` in a fresh interpreter with its address space capped, so that a regression that
    corrupts the heap or allocates tens of GB fails this test instead of the test process."""
    import subprocess
    import sys
    pre = (f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({int(mem_gb * 2**30)}, "
           f"{int(mem_gb * 2**30)}))\n")
    return subprocess.run([sys.executable, "-c", pre + code], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("r0", [3.6e16, 1e18, -1e18, 1e300])
def test_single_atom_at_huge_reward(r0):
    res = _run_isolated(f"import simtheory\nprint(simtheory.curated([1.0], [{r0!r}], 3)[0])")
    assert res.returncode == 0, res.stderr[-800:]
    assert res.stdout.strip() == "1.0"


@given(small_case(max_n=5, max_k=7, scale=20.0),
       st.sampled_from([1e3, -1e6, 1e9, 1e12, -1e14, 1e15]))
def test_common_offset_changes_nothing(case, offset):
    p, r, K = case
    r = np.round(r * 8) / 8          # on a grid of 1/8: r + offset is exact in float64 for |offset| <= 1e15
    assert np.all((r + offset) - offset == r)
    np.testing.assert_array_equal(simtheory.curated(p, r + offset, K), simtheory.curated(p, r, K))


def test_grid_node_limit_is_sized_by_memory():
    from simtheory.curation import gumbel_grid
    with pytest.raises(ValueError, match="memory"):
        gumbel_grid(np.array([0.0, 1e7]), 2)          # 43 million nodes: ~50 GB of kernel buffers
    res = _run_isolated("import simtheory\nsimtheory.curated([0.5, 0.5], [0.0, 5e6], 4)")
    assert res.returncode == 1 and "ValueError" in res.stderr and "memory" in res.stderr, res.stderr[-800:]


def test_tilt_keeps_representable_masses():
    # p_1 e^{r_1} / Z = e^{-800} / 1e-300 ~ 4e-48: representable, yet e^{-800} alone underflows
    out = tilt(np.array([1e-300, 1.0 - 1e-300]), np.array([0.0, -800.0]))
    expect = math.exp(-800 - math.log(1e-300))
    assert out[1] > 0 and abs(out[1] / expect - 1) < 1e-12
    out = simtheory.curated(np.array([1e-300, 1.0 - 1e-300]), np.array([0.0, -800.0]), math.inf)
    assert abs(out[1] / expect - 1) < 1e-12


def test_K_beyond_float_range_is_a_value_error():
    with pytest.raises(ValueError, match="K"):
        simtheory.curated([0.5, 0.5], [0.0, 1.0], 10**309)


def _two_atom_mp(a, d, K):
    """Top-atom curated mass of {a at reward d, 1-a at 0}: the binomial sum in 50-digit arithmetic."""
    import mpmath as mp
    mp.mp.dps = 50
    a, e = mp.mpf(a), mp.exp(mp.mpf(d))
    return float(mp.fsum(mp.binomial(K, j) * a**j * (1 - a) ** (K - j) * j * e / (j * e + K - j)
                         for j in range(1, K + 1)))


@pytest.mark.parametrize("K", [2, 5, 64])
@pytest.mark.parametrize("a", [1e-300, 1e-120, 1e-20, 1e-6])
def test_tiny_masses_in_relative_error(K, a):
    for d, offset in [(-3.0, 0.0), (2.5, 1e12), (40.0, -1e15)]:
        got = simtheory.curated([1 - a, a], [offset, d + offset], K)[1]
        ref = _two_atom_mp(a, d, K)
        assert abs(got / ref - 1) < 1e-10, (a, d, K, got, ref)


def test_common_offset_at_1e18_isolated():
    # rewards that 1e18 + r represents exactly (multiples of 256): the old absolute-coordinate grid lost the
    # atoms' positions and wrote outside its buffers here
    code = ("import numpy as np, simtheory\n"
            "p = np.array([0.2, 0.5, 0.3]); r = np.array([0.0, 256.0, -512.0])\n"
            "a = simtheory.curated(p, r, 4)\n"
            "for c in (2.0**60, -(2.0**60), 1e18):\n"
            "    assert np.all((r + c) - c == r)\n"
            "    assert np.array_equal(simtheory.curated(p, r + c, 4), a), c\n"
            "print('ok')")
    res = _run_isolated(code)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-800:]
