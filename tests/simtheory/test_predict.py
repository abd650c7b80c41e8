"""simtheory.predict: the exact one- and multi-step predictions of a sampled loop and their standard errors,
against brute-force enumeration, simtheory.retrain, the Monte Carlo selection of simtheory.selection, finite
differences of the trajectory and the spread of repeated draws."""
import itertools
import math

import numpy as np
import pytest
from scipy import stats
from hypothesis import given
from hypothesis import strategies as st

import simtheory
from simtheory import fold, predict
from simtheory.predict import derivative, multistep

from tolerances import EXACT, N_SE


def enum_curated_and_grad(p, r, K, v):
    """c(p) and grad_p [v . c(p)] by enumerating all n^K ordered draws: c is a degree-K polynomial in p,
    sum over tuples of prod_k p_{i_k} softmax(r_tuple); its derivative in p_z drops one factor p_z per
    occurrence of z in the tuple."""
    n = p.size
    c = np.zeros(n)
    grad = np.zeros(n)
    for tup in itertools.product(range(n), repeat=K):
        idx = list(tup)
        w = np.exp(r[idx] - r[idx].max())
        s = w / w.sum()
        np.add.at(c, idx, np.prod(p[idx]) * s)
        val = float(v[idx] @ s)
        for j in range(K):
            others = idx[:j] + idx[j + 1:]
            grad[idx[j]] += np.prod(p[others]) * val
    return c, grad


@st.composite
def small_case(draw, max_n=5, max_k=4):
    n = draw(st.integers(1, max_n))
    K = draw(st.integers(1, max_k))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(n) * draw(st.sampled_from([0.3, 1.0, 3.0])))
    r = rng.normal(0, draw(st.sampled_from([0.1, 1.0, 4.0])), n)
    v = rng.normal(0, 1, n)
    return p, r, K, v


@given(small_case())
def test_quadrature_and_vjp_match_enumeration(case):
    p, r, K, v = case
    c, grad = enum_curated_and_grad(p, r, K, v)
    np.testing.assert_allclose(simtheory.curated(p, r, K), c, atol=EXACT)
    if K > 1:
        np.testing.assert_allclose(derivative._Quadrature(r, K).curated(p), c, atol=EXACT)
    np.testing.assert_allclose(predict.curated_vjp(p, r, K, v), grad, atol=EXACT * max(1, np.abs(v).max()))


def test_vjp_zero_mass_atoms_and_k_inf():
    rng = np.random.default_rng(3)
    p = np.array([0.5, 0.0, 0.3, 0.2, 0.0])
    r = rng.normal(0, 1, 5)
    v = rng.normal(0, 1, (5, 3))
    _, g = enum_curated_and_grad(p, r, 3, v[:, 0])
    np.testing.assert_allclose(predict.curated_vjp(p, r, 3, v)[:, 0], g, atol=EXACT)
    # K = inf: c = p e^r / E_p[e^r]; the degree-0 extension's gradient by central differences (smooth, 1e-9)
    eps = 1e-6
    tilt = lambda q: q * np.exp(r) / (q @ np.exp(r))   # noqa: E731
    fd = np.array([(v[:, 1] @ tilt(p + eps * e) - v[:, 1] @ tilt(p - eps * e)) / (2 * eps) for e in np.eye(5)])
    np.testing.assert_allclose(predict.curated_vjp(p, r, math.inf, v)[:, 1], fd, atol=1e-8)


def test_one_step_matches_enumeration_on_candidate_atoms():
    """Tiny n and K: the predicted kept law is the enumerated curated law of the n candidates (mass 1/n each)."""
    r = np.array([0.0, 2.0, 0.5, 0.5, 1.0])
    y = np.array([0, 1, 0, 2, 1])
    for K in (1, 2, 3):
        c, _ = enum_curated_and_grad(np.full(5, 0.2), r, K, r)
        out = predict.one_step(r, y, K)
        np.testing.assert_allclose(out["predicted_kept_class_proportions"], np.bincount(y, c, minlength=3), atol=EXACT)
        np.testing.assert_allclose(out["predicted_kept_mean_reward"], c @ r, atol=EXACT)
        np.testing.assert_allclose(out["predicted_kept_mean_exp_reward"], c @ np.exp(r), atol=EXACT)
        assert out["predicted_class_proportions"] == out["predicted_kept_class_proportions"]   # lam = inf


def test_one_step_agrees_with_selection_monte_carlo():
    """The prediction is the law the loop's selection draws from: simtheory.sample_curated on the candidates'
    empirical law, and the loop's own rule (softmax in consecutive groups of K, select_softmax), each within
    N_SE binomial standard errors of the kept-set frequencies."""
    rng = np.random.default_rng(5)
    n, K, C = 400, 4, 3
    r = rng.uniform(0, 3, n)
    y = rng.integers(0, C, n)
    out = predict.one_step(r, y, K, n_classes=C)
    pred = np.array(out["predicted_kept_class_proportions"])
    M = 200_000
    idx = simtheory.sample_curated(np.full(n, 1 / n), r, K, M, rng)
    freq = np.bincount(y[idx], minlength=C) / M
    assert np.all(np.abs(freq - pred) <= N_SE * np.sqrt(pred * (1 - pred) / M))
    mean_r = r[idx].mean()
    assert abs(mean_r - out["predicted_kept_mean_reward"]) <= N_SE * r[idx].std() / math.sqrt(M)
    # the loop's grouping: a fresh random partition of the same candidates each time (groups drawn without
    # replacement differ from i.i.d. draws by O(1/n): the test's allowance is N_SE binomial SEs + 1/n)
    reps = 500
    kept = np.zeros(C)
    for _ in range(reps):
        perm = rng.permutation(n)
        keep = simtheory.select_softmax(r[perm].reshape(-1, K), rng)
        kept += np.bincount(y[perm.reshape(-1, K)[np.arange(n // K), keep]], minlength=C)
    freq = kept / (reps * n // K)
    assert np.all(np.abs(freq - pred) <= N_SE * np.sqrt(pred * (1 - pred) / (reps * n // K)) + 1.0 / n)


def test_trajectory_is_retrain_on_the_atoms():
    rng = np.random.default_rng(7)
    n, N, C = 60, 40, 4
    r, y = rng.uniform(0, 2, n), rng.integers(0, C, n)
    rr, ry = rng.uniform(0, 2, N), rng.integers(0, C, N)
    for K, lam in ((4, math.inf), (3, 1.0), (2, 0.25), (math.inf, 2.0)):
        kw = {} if lam == math.inf else {"real_rewards": rr, "real_labels": ry}
        tr = predict.trajectory(r, y, K, 5, lam=lam, n_classes=C, **kw)
        r_all = np.concatenate([r, rr])
        p0 = np.r_[np.full(n, 1 / n), np.zeros(N)]
        pd = np.r_[np.zeros(n), np.full(N, 1 / N)]
        P = simtheory.retrain(p0, r_all, K, 5, lam=lam, p_data=pd)
        np.testing.assert_allclose(tr["mean_reward"], P @ r_all, atol=1e-12)
        np.testing.assert_allclose(tr["class_proportions"], P @ np.eye(C)[np.r_[y, ry]], atol=1e-12)
        one = predict.one_step(r, y, K, lam=lam, n_classes=C, **kw)
        np.testing.assert_allclose(one["predicted_class_proportions"], tr["class_proportions"][1], atol=1e-14)
        np.testing.assert_allclose(one["predicted_mean_reward_se"], tr["mean_reward_se"][1], atol=1e-14)


def test_accumulate_dynamics_by_hand():
    """accumulate: p_{t+1} = (P_real + lam sum_{s<=t} c(p_s)) / (1 + lam (t + 1)), written out directly."""
    rng = np.random.default_rng(8)
    n, N = 30, 20
    r, rr = rng.uniform(0, 2, n), rng.uniform(0, 2, N)
    r_all = np.concatenate([r, rr])
    tr = predict.trajectory(r, None, 3, 4, lam=0.5, real_rewards=rr, scheme="accumulate")
    p = [np.r_[np.full(n, 1 / n), np.zeros(N)]]
    pd = np.r_[np.zeros(n), np.full(N, 1 / N)]
    cs = []
    for t in range(4):
        cs.append(simtheory.curated(p[-1], r_all, 3))
        p.append((pd + 0.5 * sum(cs)) / (1 + 0.5 * (t + 1)))
    np.testing.assert_allclose(tr["mean_reward"], np.array(p) @ r_all, atol=1e-12)


@pytest.mark.parametrize("K,lam,scheme", [(3, math.inf, "replace"), (2, 0.5, "replace"), (4, 1.0, "accumulate"),
                                          (math.inf, math.inf, "replace"), (1, 2.0, "fresh")])
def test_multistep_influence_is_the_directional_derivative(K, lam, scheme):
    """Reverse mode through the fold against central differences of the forward fold in directions
    delta_z - p_0 (the influence function's definition)."""
    rng = np.random.default_rng(11)
    n, N, steps = 12, 8, 3
    r_all = rng.uniform(0, 2, n + N)
    f = np.stack([r_all, np.exp(r_all - r_all.max())], axis=1)
    cand = np.r_[np.ones(n, bool), np.zeros(N, bool)]
    p0 = np.where(cand, 1 / n, 0.0)
    pd = np.where(cand, 0.0, 1 / N)
    W, d = fold.mixing_weights(scheme, lam, steps)
    P = multistep._fold(p0, pd, r_all, K, W, d)
    IF = multistep._influence(P, r_all, K, W, f, cand)
    eps = 1e-6
    for z in (0, 5, 11):
        e = np.zeros(n + N)
        e[z] = 1.0
        hi = multistep._fold(p0 + eps * (e - p0), pd, r_all, K, W, d) @ f
        lo = multistep._fold(p0 - eps * (e - p0), pd, r_all, K, W, d) @ f
        np.testing.assert_allclose(IF[z], (hi - lo) / (2 * eps), atol=1e-7)


@pytest.mark.parametrize("K,steps", [(4, 1), (2, 3), (math.inf, 2), (1, 1)])
def test_standard_errors_match_the_spread_of_repeated_draws(K, steps):
    """Draw n candidates R times from a fixed discrete law: the SD of the R predictions must match the mean
    predicted SE. The SD of R normal draws has relative SE 1/sqrt(2(R-1)); allowance N_SE of those plus the
    SE estimate's own spread over the R draws (its SD / sqrt(R), relative)."""
    rng = np.random.default_rng(13)
    A, n, R, C = 10, 300, 200, 3
    pa, ra, cls = rng.dirichlet(np.ones(A)), rng.uniform(0, 3, A), rng.integers(0, C, A)
    preds, ses = [], []
    for _ in range(R):
        idx = rng.choice(A, n, p=pa)
        tr = predict.trajectory(ra[idx], cls[idx], K, steps, n_classes=C)
        preds.append(np.r_[tr["mean_reward"][-1], tr["mean_exp_reward"][-1], tr["class_proportions"][-1]])
        ses.append(np.r_[tr["mean_reward_se"][-1], tr["mean_exp_reward_se"][-1], tr["class_proportions_se"][-1]])
    preds, ses = np.array(preds), np.array(ses)
    sd, se = preds.std(0, ddof=1), ses.mean(0)
    tol = N_SE * (1 / math.sqrt(2 * (R - 1)) + ses.std(0) / se / math.sqrt(R))
    assert np.all(np.abs(se / sd - 1) <= tol), (se / sd, tol)
    # and the predictions centre on the exact dynamics of the law they were drawn from (bias O(1/n))
    truth = simtheory.retrain(pa, ra, K, steps)[-1]
    tv = np.r_[truth @ ra, truth @ np.exp(ra), np.bincount(cls, truth, minlength=C)]
    assert np.all(np.abs(preds.mean(0) - tv) <= N_SE * sd / math.sqrt(R) + 2.0 * np.abs(tv) / n)


@given(small_case(max_n=6, max_k=6))
def test_lemma22_exact_gain_is_above_the_bound(case):
    _, r, K, _ = case
    out = predict.lemma22(r, K)
    assert out["predicted_kept_exp_gain"] >= out["lemma22_gain_bound"] - 1e-12 * math.exp(r.max())
    if K == 1:
        tol = 1e-12 * math.exp(r.max())
        assert abs(out["lemma22_gain_bound"]) < tol and abs(out["predicted_kept_exp_gain"]) < tol


def test_lemma22_matches_theorems_on_the_empirical_law():
    rng = np.random.default_rng(2)
    r = rng.normal(0, 1, 50)
    out = predict.lemma22(r, 4)
    w = np.exp(r)
    assert math.isclose(out["lemma22_gain_bound"], 0.75 * w.var() / w.max(), rel_tol=1e-12)
    c = simtheory.curated(np.full(50, 0.02), r, 4)
    assert math.isclose(out["predicted_kept_exp_gain"], c @ w - w.mean(), rel_tol=1e-10)


def test_sample_means_and_zscore():
    m = predict.sample_means([0.0, 1.0, 2.0, 3.0], [0, 1, 1, 1], 3)
    assert m["mean_reward"] == 1.5 and m["class_proportions"] == [0.25, 0.75, 0.0]
    assert math.isclose(m["mean_reward_se"], np.std([0, 1, 2, 3], ddof=1) / 2)
    np.testing.assert_allclose(m["class_proportions_se"], np.sqrt(np.array([0.25 * 0.75, 0.75 * 0.25, 0.0]) / 4))
    np.testing.assert_allclose(predict.zscore([1.0, 2.0, 0.0], [0.3, 0.0, 0.0], [0.6, 1.0, 0.0], [0.4, 0.0, 0.0]),
                               [0.8, np.inf, 0.0])
    # without noise, one number computed two ways agrees to rounding (the only class's share: 1 counted, and 1 less
    # an ulp through the exact map); a difference beyond rounding is still infinitely many SEs
    one = np.nextafter(1.0, 0.0)
    np.testing.assert_array_equal(predict.zscore([1.0, 1.0], [0.0, 0.0], [one, 1.0 - 1e-9], [0.0, 0.0]), [0.0, np.inf])


@pytest.mark.parametrize("kw,match", [
    ({"candidate_rewards": [0.0, np.nan]}, "candidate_rewards"),
    ({"candidate_rewards": []}, "empty"),
    ({"K": 0}, "K"),
    ({"K": 2.5}, "K"),
    ({"lam": -1.0}, "lam"),
    ({"lam": float("nan")}, "lam"),
    ({"lam": 1.0}, "real_rewards"),
    ({"candidate_labels": [0, 1, 5], "n_classes": 3}, r"\[0, 3\)"),
    ({"candidate_labels": [0.0, 1.0, 1.0]}, "integers"),
    ({"candidate_labels": [0, 1]}, "shaped like"),
])
def test_bad_input_names_the_argument(kw, match):
    args = {"candidate_rewards": [0.0, 1.0, 2.0], "candidate_labels": [0, 1, 1], "K": 2, **kw}
    with pytest.raises(ValueError, match=match):
        predict.one_step(**args)


def test_bad_trajectory_input():
    with pytest.raises(ValueError, match="scheme"):
        predict.trajectory([0.0, 1.0], None, 2, 2, scheme="swap")
    with pytest.raises(ValueError, match="real_rewards"):
        predict.trajectory([0.0, 1.0], None, 2, 2, scheme="accumulate")
    with pytest.raises(ValueError, match="real_labels"):
        predict.trajectory([0.0, 1.0], [0, 1], 2, 2, lam=1.0, real_rewards=[0.5])
    with pytest.raises(ValueError, match="v must have shape"):
        predict.curated_vjp([0.5, 0.5], [0.0, 1.0], 2, [1.0, 2.0, 3.0])


def test_one_step_without_labels_predicts_rewards_only():
    r = np.random.default_rng(3).normal(size=50)
    out = predict.one_step(r, None, K=4)
    assert "predicted_class_proportions" not in out
    with_labels = predict.one_step(r, np.zeros(50, np.int64), K=4)
    assert out["predicted_mean_reward"] == pytest.approx(with_labels["predicted_mean_reward"], rel=EXACT)


def test_exponential_moments_beyond_the_float_range_are_refused():
    r = np.random.default_rng(4).normal(size=20)
    with pytest.raises(ValueError, match="float range"):
        predict.one_step(r + 1e3, None, K=2)
    with pytest.raises(ValueError, match="float range"):
        predict.sample_means(r + 800)
    # inside the range the moments are plain floats
    assert predict.sample_means(r + 300)["mean_exp_reward"] > 0


@pytest.mark.parametrize("K", [2, 4, math.inf])
def test_lemma22_bound_se_matches_the_spread_of_fresh_draws(K):
    """lemma22_gain_bound_se against the SD of the bound over R fresh candidate sets from a fixed 10-atom law
    (top atom with mass 0.1, so r* is the same atom in every draw: the SE takes r* as fixed). Allowance as in
    the trajectory test: N_SE relative SEs of an SD of R draws plus the SE estimate's own spread."""
    rng = np.random.default_rng(21)
    A, n, R = 10, 300, 400
    ra = np.linspace(0.0, 2.5, A)
    pa = np.r_[rng.dirichlet(np.ones(A - 1)) * 0.9, 0.1]
    bound, se = np.empty(R), np.empty(R)
    for i in range(R):
        out = predict.lemma22(ra[rng.choice(A, n, p=pa)], K)
        bound[i], se[i] = out["lemma22_gain_bound"], out["lemma22_gain_bound_se"]
    sd = bound.std(ddof=1)
    tol = N_SE * (1 / math.sqrt(2 * (R - 1)) + se.std() / se.mean() / math.sqrt(R))
    assert abs(se.mean() / sd - 1) <= tol, (se.mean() / sd, tol)


# ------------------------------------------------------------------------- prediction intervals and loop checks
def _law(kind: str, A: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """A population of A atoms (rewards, 3 class labels): 'bounded' r ~ U(0, 3); 'unbounded' r ~ N(0, 0.5^2);
    'tilted' a 5% group at N(2, 0.5^2) beside N(0, 0.5^2), which curation lifts from 5% to most of the mass.
    Labels follow the reward with noise, plus a class drawn at random."""
    if kind == "bounded":
        r = rng.uniform(0, 3, A)
    elif kind == "unbounded":
        r = rng.normal(0, 0.5, A)
    else:
        rare = rng.random(A) < 0.05
        r = np.where(rare, rng.normal(2, 0.5, A), rng.normal(0, 0.5, A))
    y = np.minimum(np.where(r + rng.normal(0, 0.5, A) > np.median(r), 1, 0) + 2 * (rng.random(A) < 0.2), 2)
    return r, y


def _coverage(kind: str, K, n: int, R: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Coverage over R fresh candidate sets of n draws from a 20,000-atom population: the exact dynamics of the
    population (simtheory.retrain, independent of predict) inside the predicted interval, per generation
    t = 1..3 (rows) and quantity (E[r], E[e^r], the 3 class shares); also for theta-hat +- 1.96 SE."""
    rng = np.random.default_rng(seed)
    r, y = _law(kind, 20_000, rng)
    P = simtheory.retrain(np.full(r.size, 1 / r.size), r, K, 3)
    truth = np.c_[P @ r, P @ np.exp(r), P @ np.eye(3)[y]][1:]
    keys = ("mean_reward", "mean_exp_reward", "class_proportions")
    hit, hit_delta = np.zeros((3, 5)), np.zeros((3, 5))
    for _ in range(R):
        idx = rng.integers(0, r.size, n)
        out = predict.trajectory(r[idx], y[idx], K, 3, n_classes=3)
        get = lambda suf: np.c_[tuple(out[k + suf] for k in keys)][1:]     # noqa: E731
        hit += (get("_lo") <= truth) & (truth <= get("_hi"))
        hit_delta += np.abs(get("") - truth) <= 1.959964 * get("_se")
    return hit / R, hit_delta / R


@pytest.mark.parametrize("kind,K,R", [("bounded", math.inf, 400), ("unbounded", math.inf, 400),
                                      ("tilted", math.inf, 400), ("tilted", 4, 150)])
def test_prediction_intervals_cover(kind, K, R):
    """95% intervals of E[r], E[e^r] and the class shares at t = 1..3 from n = 2,000 candidates cover the exact
    value within N_SE binomial SEs of 95% over R fresh candidate sets (the slow test holds every cell to 93%
    over 1,000 sets). K = inf with a tilted law is where theta-hat +- 1.96 SE fails: it is held below 90% there."""
    cov, cov_delta = _coverage(kind, K, 2000, R, seed=7)
    assert cov.min() >= 0.95 - N_SE * math.sqrt(0.95 * 0.05 / R), np.round(cov, 3)
    if kind == "tilted" and K == math.inf:
        assert cov_delta[2, 1] < 0.9, np.round(cov_delta, 3)


@pytest.mark.slow
@pytest.mark.parametrize("K", [2, 4, math.inf])
@pytest.mark.parametrize("kind", ["bounded", "unbounded", "tilted"])
def test_prediction_intervals_cover_93_percent(kind, K):
    """The issue's requirement: measured 95% coverage >= 93% in every cell (t = 1..3; E[r], E[e^r], 3 class
    shares) over 1,000 fresh candidate sets of n = 2,000 (binomial SE of a 95% coverage: 0.7 points)."""
    cov, cov_delta = _coverage(kind, K, 2000, 1000, seed=11)
    print(f"\n{kind} K={K}: interval {np.round(cov, 3).tolist()}; delta {np.round(cov_delta, 3).tolist()}")
    assert cov.min() >= 0.93, np.round(cov, 3)


def test_interval_is_exact_for_symmetric_influence_and_refuses_bad_levels():
    """IF with zero skewness and equal magnitudes: the interval is theta +- t_{n-2} SE; all-zero IF: a point."""
    from scipy import stats
    IF = np.r_[np.ones(50), -np.ones(50)][:, None]
    lo, hi = predict.interval(np.array([2.0]), IF)
    se = math.sqrt(100.0) / 100
    q = stats.t.ppf(0.975, 100 - 1)
    np.testing.assert_allclose([lo[0], hi[0]], [2.0 - q * se, 2.0 + q * se], rtol=1e-12)
    lo, hi = predict.interval(np.array([0.3]), np.zeros((10, 1)))
    assert lo[0] == hi[0] == 0.3
    # right-skewed IF: the interval reaches further above the estimate than below it
    IF = np.r_[np.full(95, -1.0), np.full(5, 19.0)][:, None]
    lo, hi = predict.interval(np.array([0.0]), IF)
    assert hi[0] > -lo[0] > 0
    with pytest.raises(ValueError, match="level"):
        predict.interval(np.array([0.0]), IF, level=1.0)


def test_fold_checks_the_mass_instead_of_renormalising(monkeypatch):
    """A curated step that loses mass beyond NORM_TOL is an error naming the step, not a silent division; within
    it the correction stays at rounding level on real cases."""
    rng = np.random.default_rng(1)
    r = rng.normal(0, 1, 40)
    sums = []
    real = multistep.curated

    def recording(p, rr, K):
        c = real(p, rr, K)
        sums.append(abs(float(c.sum()) - 1.0))
        return c
    monkeypatch.setattr(multistep, "curated", recording)
    for K in (2, 4, math.inf):
        predict.trajectory(r, None, K, 6)
    assert max(sums) < 1e-13
    monkeypatch.setattr(multistep, "curated", lambda p, rr, K: 1.001 * real(p, rr, K))
    with pytest.raises(FloatingPointError, match="step 1 of the predicted trajectory has mass"):
        predict.trajectory(r, None, 2, 3)


def test_interval_se_takes_the_measured_side_of_the_interval():
    pred = {"predicted_x": 1.0, "predicted_x_lo": 0.8, "predicted_x_hi": 1.5, "predicted_x_se": 0.2}
    z = 1.959963984540054
    assert float(predict.interval_se(pred, "predicted_x", 2.0)) == pytest.approx(0.5 / z, rel=1e-12)
    assert float(predict.interval_se(pred, "predicted_x", 0.0)) == pytest.approx(0.2 / z, rel=1e-12)
    np.testing.assert_allclose(predict.interval_se({"q": [0.2, 0.5], "q_lo": [0.1, 0.4], "q_hi": [0.4, 0.55]},
                                                   "q", [0.3, 0.3]), np.array([0.2, 0.1]) / z, rtol=1e-12)
    assert float(predict.interval_se({"y": 1.0, "y_se": 0.3}, "y", 5.0)) == 0.3     # no interval: the SE
    # one_step carries intervals for every prediction, and compare_generation combines them on the right side
    r = np.random.default_rng(0).normal(0, 1, 400)
    out = predict.one_step(r, None, 4)
    assert out["predicted_mean_reward_lo"] < out["predicted_mean_reward"] < out["predicted_mean_reward_hi"]
    model = {"mean_reward": out["predicted_mean_reward"] + 1.0, "mean_reward_se": 0.0}
    c = predict.compare_generation(out, None, model)
    assert c["onestep_error_mean_reward_se"] == pytest.approx(
        (out["predicted_mean_reward_hi"] - out["predicted_mean_reward"]) / z, rel=1e-12)


def _gen(pred_shift=0.0, n=400, seed=0):
    """One generation's records for loop_checks from a 3-class toy: candidates, kept set, model samples."""
    rng = np.random.default_rng(seed)
    r, y = rng.normal(0, 1, n), rng.integers(0, 3, n)
    pred = predict.one_step(r, y, 2, n_classes=3)
    keep = np.arange(0, n, 2)
    model_r = r[rng.permutation(n)] + pred_shift
    return {"prediction": pred, "kept": predict.sample_means(r[keep], y[keep], 3),
            "train": predict.sample_means(r[keep], y[keep], 3), "model": predict.sample_means(model_r, y, 3),
            "previous": predict.sample_means(r, y, 3)}


def test_loop_checks_choose_their_rows_by_K_and_lam():
    """exp_reward_no_fall only at lam = inf; k1_no_drift only at K = 1 and lam = inf; the k1 allowance uses the
    binomial SE of two samples at their pooled proportion, written out here."""
    g = _gen()
    names = lambda rows: {r["check"] for r in rows}            # noqa: E731
    assert "exp_reward_no_fall" in names(predict.loop_checks([g], 2, math.inf))
    assert "exp_reward_no_fall" not in names(predict.loop_checks([g], 2, 1.0))
    rows = predict.loop_checks([g], 1, math.inf, n_se=4.0)
    k1 = next(r for r in rows if r["check"] == "k1_no_drift")
    c = np.asarray(g["prediction"]["candidate_class_proportions"])
    pp = np.asarray(g["previous"]["class_proportions"])
    nc, npv = g["prediction"]["n_candidates"], g["previous"]["n"]
    pi = (c * nc + pp * npv) / (nc + npv)
    noise = np.sqrt(pi * (1 - pi) * (1 / nc + 1 / npv))
    m = np.asarray(g["model"]["class_proportions"])
    fit = np.abs(m - np.asarray(g["train"]["class_proportions"]))
    assert k1["value"] == pytest.approx(float((np.abs(m - pp) - 4.0 * noise - fit).max()), rel=1e-12)
    assert "k1_no_drift" not in names(predict.loop_checks([g], 2, math.inf))


def test_real_data_allowance_adds_the_measured_fit_error():
    """real_data_distance (lam finite): the allowance is the selection noise plus TV(model_t, train_t); moving
    only the model's class shares moves the allowance by exactly the change of that TV."""
    rng = np.random.default_rng(3)
    r, y = rng.normal(0, 1, 600), rng.integers(0, 3, 600)
    rr, ry = rng.normal(0, 1, 300), rng.integers(0, 3, 300)
    pred = predict.one_step(r, y, 2, lam=1.0, real_rewards=rr, real_labels=ry, n_classes=3)
    kept = predict.sample_means(r[::2], y[::2], 3)
    train = predict.sample_means(np.r_[r[::2], rr], np.r_[y[::2], ry], 3)
    tv = lambda a, b: 0.5 * float(np.abs(np.asarray(a) - np.asarray(b)).sum())   # noqa: E731

    def allowance(shares):
        model = dict(predict.sample_means(r, y, 3), class_proportions=shares)
        g = {"prediction": pred, "kept": kept, "train": train, "model": model}
        row = next(x for x in predict.loop_checks([g], 2, 1.0) if x["check"] == "real_data_distance")
        return row["allowance"], tv(shares, train["class_proportions"])
    (a1, t1), (a2, t2) = allowance([0.3, 0.3, 0.4]), allowance([0.6, 0.2, 0.2])
    assert t2 - t1 > 0.1 and a2 - a1 == pytest.approx(t2 - t1, rel=1e-12)


# ------------------------------------------------------------------------ the exact law and a loop's finite sets
def _finite_loop(rng, atoms, pl, K, lam, scheme, N, T):
    """Generation means of a finite loop whose model is the empirical law of its training set: the null under which
    law_trajectory's path SE is the spread of a model's mean about the exact trajectory."""
    from simtheory.selection import select_softmax
    m = N if lam == math.inf else int(round(lam * N))
    real_all = rng.choice(atoms.size, size=N * (T + 1), p=pl)
    train, pools, out = real_all[:N], [], [atoms[real_all[:N]].mean()]
    for s in range(1, T + 1):
        cand = rng.choice(train, size=K * m)
        keep = select_softmax(atoms[cand].reshape(m, K), rng)
        kept = cand.reshape(m, K)[np.arange(m), keep]
        blk = real_all[s * N:(s + 1) * N] if scheme == "fresh" else real_all[:N]
        if scheme == "accumulate":
            pools.append(kept)
            train = np.concatenate([blk] + pools)
        else:
            train = kept if lam == math.inf else np.concatenate([blk, kept])
        out.append(atoms[train].mean())
    return out


@pytest.mark.parametrize("K,lam,scheme", [(4, math.inf, "replace"), (2, 1.0, "fresh"), (4, 1.0, "accumulate")])
def test_law_trajectory_path_se_is_the_spread_of_a_finite_loop(K, lam, scheme):
    """The exact trajectory of a 7-atom law is the mean of finite loops (model = empirical law of its training set),
    and the path SE their spread: the sample SD of R replicate loops lies within a chi-square interval of it."""
    rng = np.random.default_rng(1)
    atoms = np.linspace(-1.0, 1.0, 7)
    pl = np.array([0.2, 0.1, 0.15, 0.05, 0.2, 0.1, 0.2])
    N, T, R = 150, 2, 400
    m = N if lam == math.inf else int(round(lam * N))
    draws = rng.choice(7, size=200_000, p=pl)
    pred = predict.law_trajectory(atoms[draws], draws, K, T, lam=lam, scheme=scheme, n_real=N, n_synthetic=m,
                                  n_classes=7)
    sims = np.array([_finite_loop(rng, atoms, pl, K, lam, scheme, N, T) for _ in range(R)])
    sd = sims.std(axis=0, ddof=1)
    ratio = sd / pred["mean_reward_path_se"]
    lo, hi = (np.sqrt(stats.chi2.ppf(q, R - 1) / (R - 1)) for q in (0.0005, 0.9995))
    assert np.all((ratio > lo - 0.03) & (ratio < hi + 0.03)), ratio     # 0.03: the delta method's O(1/N)
    z = (sims.mean(axis=0) - pred["mean_reward"]) / np.hypot(sd / math.sqrt(R), pred["mean_reward_se"])
    assert np.all(np.abs(z) < N_SE), z
    if lam == math.inf:      # a path SE without the kept sets' noise (real set only) is too small: the test can tell
        only_real = predict.law_trajectory(atoms[draws], draws, K, T, lam=lam, scheme=scheme, n_real=N,
                                           n_synthetic=10**9, n_classes=7)["mean_reward_path_se"]
        assert sd[-1] / only_real[-1] > hi + 0.03


def test_law_trajectory_at_generation_zero_and_its_inputs():
    r = np.random.default_rng(0).normal(size=5000)
    out = predict.law_trajectory(r, None, 4, 2, n_real=100, n_synthetic=100)
    assert out["mean_reward"][0] == pytest.approx(r.mean(), rel=1e-12)
    assert out["mean_reward_path_se"][0] == pytest.approx(r.std() / 10, rel=1e-9)
    assert out["mean_reward_se"][0] == pytest.approx(r.std() / math.sqrt(5000), rel=1e-9)
    np.testing.assert_allclose(out["mean_reward"], predict.trajectory(r, None, 4, 2)["mean_reward"], rtol=1e-12)
    with pytest.raises(ValueError, match="n_real"):
        predict.law_trajectory(r, None, 4, 2, n_real=0, n_synthetic=100)
    with pytest.raises(ValueError, match="law_rewards"):
        predict.law_trajectory(np.array([1.0, np.nan]), None, 4, 2, n_real=10, n_synthetic=10)


def test_model_checks_hold_within_their_allowance_and_fail_beyond_it():
    rows = [{"generation": 0, "fit_error": 0.39, "fit_error_se": 0.1},
            {"generation": 1, "fit_error": -0.41, "fit_error_se": 0.1, "law_error": 0.0, "law_error_se": 0.2},
            {"generation": 2}]
    out = predict.model_checks(rows, 4.0)
    assert [(c["generation"], c["check"], c["holds"], c["scope"]) for c in out] == [
        (0, "fit", True, "model"), (1, "fit", False, "model"), (1, "law", True, "model")]
    assert out[1]["value"] == pytest.approx(0.41) and out[1]["allowance"] == pytest.approx(0.4)
