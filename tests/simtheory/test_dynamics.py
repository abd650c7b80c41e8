import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

import simtheory
from simtheory import dynamics, theorems
from simtheory.metrics import kl

from tolerances import ROUNDING


@st.composite
def case(draw, max_n=8):
    n = draw(st.integers(2, max_n))
    w = draw(arrays(float, n, elements=st.floats(0.01, 1.0)))
    p = w / w.sum()
    r = draw(arrays(float, n, elements=st.floats(-3, 3)))
    K = draw(st.sampled_from([2, 3, 4, 8, 50, math.inf]))
    return p, r, K


@given(case())
def test_exp_reward_nondecreasing_and_lemma22_bound(c):
    p, r, K = c
    traj = simtheory.retrain(p, r, K, 6)
    rs = r.max()
    w = np.exp(r - rs)
    ew = traj @ w
    assert np.all(np.diff(ew) >= -ROUNDING)
    for t in range(6):
        assert ew[t + 1] >= theorems.lemma22_bound(traj[t], r, K) - ROUNDING


@given(case())
def test_trajectory_shape_start_and_mass(c):
    p, r, K = c
    traj = simtheory.retrain(p, r, K, 4)
    assert traj.shape == (5, p.size)
    np.testing.assert_array_equal(traj[0], p / p.sum())
    np.testing.assert_allclose(traj.sum(axis=1), 1, atol=ROUNDING)


def test_kinf_matches_closed_form():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(30))
    r = rng.normal(0, 1, 30)
    traj = simtheory.retrain(p, r, math.inf, 20)
    for t in [0, 1, 7, 20]:
        np.testing.assert_allclose(traj[t], theorems.kinf_closed_form(p, r, t), atol=1e-13)
        assert abs(kl(theorems.limit_distribution(p, r), traj[t]) - theorems.kinf_kl_to_limit(p, r, t)) < 1e-12


def test_converges_to_top_level_set():
    p, r = [0.4, 0.3, 0.2, 0.1], [0, 0.5, 1, 1]
    traj = simtheory.retrain(p, r, 4, 30)
    np.testing.assert_allclose(traj[-1], [0, 0, 2 / 3, 1 / 3], atol=2e-3)
    outside = traj[:, :2].sum(axis=1)
    assert np.all(np.diff(outside) < 0)
    kls = [kl(theorems.limit_distribution(p, r), q) for q in traj]
    assert np.all(np.diff(kls) < 0) and kls[-1] < 1e-3


@pytest.mark.parametrize("lam,q,er,kld", [
    (0.5, [.3397, .2939, .2443, .1221], .5134, .0117),
    (1.0, [.2884, .2768, .2899, .1449], .5732, .0447),
    (4.0, [.1362, .1607, .4687, .2344], .7834, .3518),
])
def test_fixed_points_of_doc(lam, q, er, kld):
    p, r = np.array([0.4, 0.3, 0.2, 0.1]), np.array([0, 0.5, 1, 1.0])
    fp = theorems.mixed_fixed_point(p, r, 4, lam)
    np.testing.assert_allclose(fp["q"], q, atol=6e-5)
    assert abs(fp["mean_reward"] - er) < 6e-5 and abs(fp["kl_to_data"] - kld) < 6e-5


@given(case(max_n=6), st.floats(0.05, 5.0))
def test_fixed_point_interior_attracting_and_rewarding(c, lam):
    p, r, K = c
    q = simtheory.fixed_point(p, r, K, lam)
    assert np.all(q > 0)
    assert np.sum(q * r) >= np.sum(p * r) - 1e-12
    # attracting: the loop started elsewhere (the curated limit, perturbed) comes back to q
    start = 0.5 * theorems.limit_distribution(p, r) + 0.5 * np.full(p.size, 1 / p.size)
    traj = simtheory.retrain(start, r, K, 400, lam=lam, p_data=p)
    assert np.abs(traj[-1] - q).sum() < 1e-6


def test_renormalisation_guard_fires(monkeypatch):
    p, r = np.array([0.5, 0.5]), np.array([0.0, 1.0])
    monkeypatch.setattr(dynamics, "curate", lambda p, r, K: p * (1 + 1e-9))
    with pytest.raises(FloatingPointError):
        simtheory.retrain(p, r, 4, 1)


def test_long_run_stays_normalised():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(500))
    r = rng.normal(size=500)
    traj = simtheory.retrain(p, r, 4, 200)      # raises if a step needs more than rounding
    np.testing.assert_allclose(traj.sum(axis=1), 1, atol=ROUNDING)


def test_lam_zero_is_data_and_lam_inf_ignores_data():
    p, r = np.array([0.2, 0.8]), np.array([1.0, 0.0])
    pd = np.array([0.6, 0.4])
    np.testing.assert_allclose(simtheory.retrain(p, r, 3, 2, lam=0, p_data=pd)[1:], [pd, pd], atol=1e-15)
    np.testing.assert_allclose(simtheory.retrain(p, r, 3, 2, lam=math.inf, p_data=pd),
                               simtheory.retrain(p, r, 3, 2), atol=0)


# ---------------------------------------------------------------------------------- along the trajectory
@given(case(max_n=7), st.sampled_from([0.25, 1.0, 4.0]), st.integers(0, 2**31 - 1))
def test_real_data_bounds_along_the_trajectory(c, lam, seed):
    p, r, K = c
    # from p_data: p_t / p_data is nondecreasing in r at every t (likelihood-ratio dominance), so E_t[r] >= E_data[r]
    traj = simtheory.retrain(p, r, K, 25, lam=lam, p_data=p)
    order = np.argsort(r, kind="stable")
    for q in traj:
        ratio, rs = (q / p)[order], r[order]
        for i in range(1, ratio.size):
            lower = ratio[:i][rs[:i] < rs[i]]
            if lower.size:
                assert lower.max() <= ratio[i] * (1 + 1e-12) + 1e-15
    assert np.all(traj @ r >= p @ r - 1e-12)
    # from any start: p_t >= p_data / (1 + lam) for t >= 1, hence KL(p_data || p_t) <= log(1 + lam)
    start = np.random.default_rng(seed).dirichlet(np.ones(p.size))
    for q in simtheory.retrain(start, r, K, 25, lam=lam, p_data=p)[1:]:
        assert np.all(q >= p / (1 + lam) * (1 - 1e-12))
        assert kl(p, q) <= math.log1p(lam) * (1 + 1e-12)


def test_reward_need_not_rise_monotonically_from_a_random_start():
    # what the stability theorems do not give: E_t[r] can fall along the way from a start away from p_data
    p, r = np.array([0.05, 0.9, 0.05]), np.array([0.0, 1.0, 3.0])
    start = np.array([0.0, 0.02, 0.98])
    er = simtheory.retrain(start, r, 4, 5, lam=1.0, p_data=p) @ r
    assert np.any(np.diff(er) < -1e-3)
    assert np.all(np.diff(simtheory.retrain(p, r, 4, 5, lam=1.0, p_data=p) @ r) >= -1e-12)


def test_bias_amplification_ties_kept_advantage_takes_all():
    # two features at the top reward keep p_0's split; give one an advantage delta and the other one vanishes:
    # at K = inf exactly as (p_B / p_A) e^{-t delta}, at K = 4 monotonically
    p = np.array([0.5, 0.3, 0.2])       # an unrewarded region, feature A, feature B
    r = np.array([-2.0, 1.0, 1.0])
    tied = simtheory.retrain(p, r, 4, 60)
    np.testing.assert_allclose(tied[:, 2] / tied[:, 1], 0.2 / 0.3, rtol=1e-12)
    delta = 0.1
    ra = r + np.array([0.0, delta, 0.0])
    kinf = simtheory.retrain(p, ra, math.inf, 60)
    np.testing.assert_allclose(kinf[:, 2] / kinf[:, 1], 0.2 / 0.3 * np.exp(-delta * np.arange(61)), rtol=1e-12)
    k4 = simtheory.retrain(p, ra, 4, 300)
    split = k4[:, 2] / k4[:, 1]
    assert np.all(np.diff(split) < 0) and split[-1] < 0.01 * split[0]
