import math

import numpy as np
import pytest

from simtheory import retrain, theorems
from simtheory.loops import LoopConfig, run_loop

from tolerances import N_SE


def _chains(M, T, n_chains, estimator, d=1):
    x = np.random.default_rng(123).normal(0, 2, (M + 10, d))
    cfg = LoopConfig("gaussian", n_samples=M, generations=T, estimator=estimator, n_eval=2, n_holdout=0)
    out = []
    for s in range(n_chains):
        recs = run_loop(cfg, x, seed=s)
        out.append([(r["mean"][0], r["cov"][0, 0]) for r in recs])
    a = np.array(out)
    return a[:, :, 0], a[:, :, 1]


def test_same_seed_same_numbers_and_seed_matters():
    x = np.random.default_rng(0).normal(size=(2000, 2))
    cfg = LoopConfig("gmm", n_samples=300, K=3, components=2, generations=2, n_eval=500)
    f = lambda y: y[:, 0]
    a, b, c = run_loop(cfg, x, f, seed=4), run_loop(cfg, x, f, seed=4), run_loop(cfg, x, f, seed=5)
    for ra, rb in zip(a, b):
        for k in ra:
            np.testing.assert_array_equal(ra[k], rb[k])
    assert a[-1]["mean_reward"] != c[-1]["mean_reward"]


def test_gaussian_mle_variance_decay_and_mean_walk():
    M, T, n = 10, 8, 400
    mu, var = _chains(M, T, n, "mle")
    ratio = var / var[:, :1]
    target = theorems.variance_mean(1.0, M, np.arange(T + 1), "mle")
    se = ratio.std(axis=0, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(ratio.mean(0) - target)[1:] <= N_SE * se[1:])
    msd = ((mu - mu[:, :1]) ** 2 / var[:, :1])
    for t in [1, 4, 8]:
        pred = theorems.mean_walk_msd(1.0, M, t, "mle")
        assert abs(msd[:, t].mean() - pred) <= N_SE * msd[:, t].std(ddof=1) / np.sqrt(n)


def test_gaussian_unbiased_log_variance_drift():
    M, T, n = 10, 8, 400
    _, var = _chains(M, T, n, "unbiased")
    logr = np.log(var / var[:, :1])
    for t in [2, 5, 8]:
        pred = theorems.log_variance_drift(M, t, "unbiased")
        assert pred < 0
        assert abs(logr[:, t].mean() - pred) <= N_SE * theorems.log_variance_sd(M, t) / np.sqrt(n)


@pytest.mark.parametrize("scheme", ["replace", "accumulate"])
def test_regression_replace_vs_accumulate(scheme):
    T, d, sigma, G, n = 30, 5, 1.0, 8, 3000
    rng = np.random.default_rng(7)
    errs = np.array([theorems.regression_loop(T, d, sigma, G, scheme, rng) for _ in range(n)])
    pred = theorems.expected_error(T, d, sigma, np.arange(1, G + 1), scheme)
    se = errs.std(axis=0, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(errs.mean(0) - pred) <= N_SE * se)


def test_histogram_loop_tends_to_exact_dynamics():
    p = np.array([0.4, 0.3, 0.2, 0.1])
    r = np.array([0.0, 0.5, 1.0, 1.0])
    exact = retrain(p, r, 3, 3)
    errs = {}
    for N in [1000, 100_000]:
        tv = []
        for seed in range(6):
            x = np.random.default_rng(seed).choice(4, size=(N, 1), p=p)
            cfg = LoopConfig("histogram", n_samples=N, K=3, generations=3, n_atoms=4, n_eval=2, n_holdout=0)
            rec = run_loop(cfg, x, r, seed=seed)
            tv.append(0.5 * np.abs(rec[-1]["probs"] - exact[-1]).sum())
        errs[N] = np.mean(tv)
    # the error shrinks like N^(-1/2): a factor 10 for 100x the samples (a biased loop would plateau)
    assert 3 < errs[1000] / errs[100_000] < 30


def test_bertrand_contraction_exact_map():
    mu_d, var_d = 1.0, 2.0
    for lam in [0.1, 0.3, 0.45]:
        rho = theorems.gaussian_contraction_factor(lam)
        # the exact one-step recursion of the errors, from far away
        mu, var = 3.0, 0.5
        mu1, var1 = theorems.gaussian_mixed_map(mu, var, mu_d, var_d, lam)
        assert abs((mu1 - mu_d) - rho * (mu - mu_d)) < 1e-12
        assert abs((var1 - var_d) - (rho * (var - var_d) + lam / (1 + lam) ** 2 * (mu - mu_d) ** 2)) < 1e-12
        # local contraction at rate rho near theta*
        mu, var = mu_d + 1e-5, var_d - 2e-5
        d0 = math.hypot(mu - mu_d, var - var_d)
        for t in range(1, 6):
            mu, var = theorems.gaussian_mixed_map(mu, var, mu_d, var_d, lam)
            assert math.hypot(mu - mu_d, var - var_d) <= rho**t * d0 * (1 + 1e-4)
        assert rho <= theorems.bertrand_rate(lam, 1.0, 1.0, 0.0)


BAD = [
    (dict(n_samples=0), "n_samples"), (dict(K=0), "K"), (dict(lam=-1.0), "lam"), (dict(lam=float("nan")), "lam"),
    (dict(family="vae"), "family"), (dict(scheme="mix"), "scheme"), (dict(K=math.inf), "K"),
    (dict(estimator="map"), "estimator"),
]


@pytest.mark.parametrize("kw,name", BAD)
def test_bad_config(kw, name):
    with pytest.raises(ValueError, match=name):
        LoopConfig(**kw)


def test_bad_data():
    cfg = LoopConfig("gaussian", n_samples=10, n_holdout=0)
    x = np.random.default_rng(0).normal(size=(20, 2))
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="real_data"):
        run_loop(cfg, x)
    with pytest.raises(ValueError, match="real_data"):
        run_loop(LoopConfig("gaussian", n_samples=10, n_holdout=0, scheme="fresh", generations=5), x[:30])


def test_start_covariance_must_be_positive_definite():
    x = np.random.default_rng(0).normal(size=(50, 2))
    cfg = LoopConfig("gaussian", n_samples=20, n_holdout=0, generations=1)
    with pytest.raises(ValueError, match="cov.*positive definite"):
        run_loop(cfg, x, start={"mean": [0.0, 0.0], "cov": [[1.0, 2.0], [2.0, 1.0]]})


# ---------------------------------------------------------------------- limits, closed forms and refusals
def _family_case(family):
    rng = np.random.default_rng(0)
    if family == "histogram":
        return rng.choice(5, size=(400, 1)), np.linspace(0.0, 1.0, 5), {"n_atoms": 5}
    return rng.normal(size=(400, 2)), (lambda y: y[:, 0]), {}


@pytest.mark.parametrize("family", ["gaussian", "gmm", "histogram", "kde"])
@pytest.mark.parametrize("scheme", ["replace", "accumulate"])
def test_lam_zero_with_curation_is_the_real_data_fit(family, scheme):
    # lam = 0: no synthetic points, so every generation refits the same N real points (whatever K is)
    x, reward, opts = _family_case(family)
    cfg = LoopConfig(family, n_samples=100, K=3, lam=0.0, generations=3, scheme=scheme, n_eval=50,
                     n_holdout=0, components=2, **opts)
    recs = run_loop(cfg, x, reward, seed=1)
    assert len(recs) == 4
    if family in ("gaussian", "histogram"):       # deterministic fits: identical parameters
        key = "mean" if family == "gaussian" else "probs"
        for r in recs[1:]:
            np.testing.assert_array_equal(r[key], recs[0][key])


def test_integer_options_are_stored_as_ints():
    cfg = LoopConfig("gmm", n_samples=10.0, generations=2.0, components=3.0, em_iter=5.0, n_eval=20.0,
                     n_holdout=0.0)
    for name in ("n_samples", "generations", "components", "em_iter", "n_eval", "n_holdout"):
        assert type(getattr(cfg, name)) is int, name
    x = np.random.default_rng(0).normal(size=(50, 2))
    assert len(run_loop(cfg, x, lambda y: y[:, 0])) == 3
    assert type(LoopConfig("histogram", n_atoms=7.0).n_atoms) is int


def test_gaussian_needs_more_points_than_dimensions():
    x = np.random.default_rng(0).normal(size=(100, 3))
    with pytest.raises(ValueError, match="n_samples"):
        run_loop(LoopConfig("gaussian", n_samples=3, generations=2, n_holdout=0), x)


def test_exp_reward_reported_relative_to_top_reward_at_any_scale():
    x = np.random.default_rng(0).normal(size=(400, 1))
    recs = run_loop(LoopConfig("gaussian", n_samples=100, K=2, generations=1, n_eval=500, n_holdout=0), x,
                    lambda y: 2000.0 * y[:, 0], seed=0)
    for r in recs:
        assert np.isfinite(r["mean_exp_reward_rel"]) and r["mean_exp_reward_rel"] > 0
        assert r["r_star"] == 2000.0 * x.max()       # the top reward over the real pool
    # at a small scale, E[e^r] = e^{r*} mean_exp_reward_rel against the lognormal mean e^{mu + var/2}
    n = 500
    m = run_loop(LoopConfig("gaussian", n_samples=100, generations=0, n_eval=n, n_holdout=0), x,
                 lambda y: y[:, 0], seed=0)[0]
    var = m["cov"][0, 0]
    target = np.exp(m["mean"][0] + var / 2)
    se = target * np.sqrt(np.expm1(var) / n)          # sd of e^X, X ~ N(mu, var), over sqrt(n)
    assert abs(m["mean_exp_reward_rel"] * np.exp(m["r_star"]) - target) <= N_SE * se


def _mean_chains(scheme, N, T, n):
    """mu_t, sigma^2_t of n Gaussian loop chains (lam = inf), chain i on its own N real points of N(0, 1)."""
    cfg = LoopConfig("gaussian", n_samples=N, generations=T, scheme=scheme, n_eval=2, n_holdout=0)
    a = np.array([[(r["mean"][0], r["cov"][0, 0]) for r in
                   run_loop(cfg, np.random.default_rng([5, i]).standard_normal((N, 1)), seed=i)] for i in range(n)])
    return a[..., 0], a[..., 1]


def test_accumulate_scheme_follows_gerstgrasser_closed_form():
    # accumulate: mu_t = sum_{j<=t} eps_j / (j + 1), eps_j the mean error of set j (variance E[sigma^2_{j-1}]/N):
    # N E[mu_t^2] = sum_{i<=t+1} E[sigma^2_{i-2}] / i^2 (Gerstgrasser et al.'s sum 1/i^2); replace has no damping
    N, T, n = 40, 5, 800
    for scheme, damp in (("accumulate", True), ("replace", False)):
        mu, var = _mean_chains(scheme, N, T, n)
        v = np.concatenate([[1.0], var.mean(0)[:-1]])
        w = 1.0 / (np.arange(T + 1) + 1) ** 2 if damp else np.ones(T + 1)
        pred = np.cumsum(v * w) / N
        m2 = mu**2
        se = m2.std(0, ddof=1) / np.sqrt(n)
        assert np.all(np.abs(m2.mean(0) - pred) <= N_SE * se), (scheme, m2.mean(0), pred)
    # the two schemes are told apart far beyond the tolerance at T
    assert float(np.sum(w)) - float(np.sum(1.0 / np.arange(1, T + 2) ** 2)) > 2 * N_SE * N * se[-1]


def test_bertrand_with_data_outside_the_family_follows_the_exact_map():
    # data 0.5 N(-1, .5^2) + 0.5 N(1, .5^2): no Gaussian fits it (eps > 0); theta* is its (mean, var) and the
    # loop follows the exact map there, within 4 SE of (mean, var) at N (sqrt 2 for the synthetic noise)
    N, lam = 20000, 0.3
    rng = np.random.default_rng(8)
    x = (np.where(rng.random(N) < 0.5, -1.0, 1.0) + 0.5 * rng.standard_normal(N))[:, None]
    m, v = float(x.mean()), float(x.var())
    recs = run_loop(LoopConfig("gaussian", n_samples=N, lam=lam, generations=6, n_eval=2, n_holdout=0), x, seed=2,
                    start={"mean": [m + 1.0], "cov": [[2.0 * v]]})
    mu, var = m + 1.0, 2.0 * v
    tol = N_SE * np.sqrt(2 * (1.25 + 1.125) / N)
    for r in recs[1:]:
        mu, var = theorems.gaussian_mixed_map(mu, var, m, v, lam)
        assert np.hypot(r["mean"][0] - mu, r["cov"][0, 0] - var) <= tol


# -------------------------------------------------------------------------- pool-wide work once per run
@pytest.mark.parametrize("scheme", ["replace", "fresh", "accumulate"])
def test_pool_wide_work_is_done_once_per_run(scheme, monkeypatch):
    """The real pool's finiteness check, its Gaussian fit (W2's reference) and r* are computed once per
    run_loop call, not once per generation; the records equal those of init/step/record on the raw array
    (which check and compute them at every call)."""
    from simtheory import loops
    from simtheory.families import gaussian as fam_gaussian
    N, T = 20, 6
    cfg = LoopConfig("gaussian", n_samples=N, generations=T, scheme=scheme, lam=1.0, n_eval=50, n_holdout=30)
    x = np.random.default_rng(3).normal(size=(cfg.real_needed() + 101, 2))   # no training set has as many rows
    pool_rows = x.shape[0] - cfg.n_holdout
    seen = {"reward": 0, "fit": 0, "finite": 0}

    def reward(y):
        seen["reward"] += y.shape[0] == pool_rows
        return y[:, 0]
    real_fit, real_finite = fam_gaussian.fit, loops.validate.finite_array

    def fit(y, *a, **k):
        seen["fit"] += y.shape[0] == pool_rows
        return real_fit(y, *a, **k)

    def finite(a, name):
        seen["finite"] += name == "real_data"
        return real_finite(a, name)
    monkeypatch.setattr(fam_gaussian, "fit", fit)
    monkeypatch.setattr(loops.validate, "finite_array", finite)
    recs = run_loop(cfg, x, reward, seed=2)
    assert seen == {"reward": 1, "fit": 1, "finite": 1}
    state = loops.init(cfg, x, 2)
    by_hand = [loops.record(cfg, state, x, reward, 2)]
    for _ in range(T):
        state = loops.step(cfg, state, x, reward, 2)
        by_hand.append(loops.record(cfg, state, x, reward, 2))
    assert seen["finite"] > 2 * T                   # the raw-array calls check every time
    for a, b in zip(recs, by_hand):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_a_pool_is_tied_to_its_config():
    from simtheory import loops
    x = np.random.default_rng(0).normal(size=(600, 1))
    pool = loops.RealPool(LoopConfig("gaussian", n_samples=20), x)
    with pytest.raises(ValueError, match="another LoopConfig"):
        loops.step(LoopConfig("gaussian", n_samples=30), loops.init(LoopConfig("gaussian", n_samples=30), x), pool)
    x[5, 0] = np.nan
    with pytest.raises(ValueError, match="real_data"):
        loops.RealPool(LoopConfig("gaussian", n_samples=20), x)
