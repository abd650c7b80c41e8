"""SIMS on exact diffusion models: Gaussian loop closed forms against simulation, GMM loops, shifting."""
import math

import numpy as np
import pytest
from scipy import stats

from simtheory.diffusion import sims
from simtheory.families import gaussian, gmm

from tolerances import N_SE


def test_critical_w_closed_forms():
    for M in (10, 50, 400):
        assert sims.critical_w(M, M, "log") == pytest.approx(1.0, abs=1e-12)     # same chi^2 on both sides
        assert sims.variance_factor_mean(0.0, M, 30) == pytest.approx((M - 1) / M)
    w = sims.critical_w(50, 80, "mean")
    assert sims.variance_factor_mean(w, 50, 80) == pytest.approx(1.0, abs=1e-12)
    assert 0 < w < sims.critical_w(50, 80, "log")                                 # Jensen
    # the Gamma-ratio mean against a direct chi^2 expectation by quadrature
    M, n_s, w = 20, 15, 0.7
    ref = (M - 1) / M * stats.chi2(n_s - 1).expect(lambda q: (n_s / q) ** w)
    assert sims.variance_factor_mean(w, M, n_s) == pytest.approx(ref, rel=1e-9)
    assert sims.variance_factor_mean(7.0, M, n_s) == math.inf                    # w >= (n_s - 1)/2
    assert sims.log_variance_drift(0.0, M, n_s, "unbiased") == pytest.approx(
        stats.chi2(M - 1).expect(lambda q: math.log(q / (M - 1))), rel=1e-9)


@pytest.mark.parametrize("kind", ["mean", "log", "zero"])
def test_gaussian_sims_loop_matches_closed_forms(kind):
    """sigma_max = inf, replace, lam = inf: E[v_T / v_0] = g^T and E[log v_T / v_0] = T drift, checked on
    2,000 simulated chains (every point sampled) within N_SE standard errors of the chain mean."""
    M, n_s, T, n = 30, 40, 8, 2000
    w = {"mean": sims.critical_w(M, n_s, "mean"), "log": sims.critical_w(M, n_s, "log"), "zero": 0.0}[kind]
    out = sims.run_gaussian_sims(sims.GaussianSimsConfig(w=w, n_samples=M, n_s=n_s, generations=T,
                                                         sigma_max=math.inf), n, seed=7)
    r = out["var"][:, T] / out["var"][:, 0]
    assert abs(r.mean() - sims.variance_factor_mean(w, M, n_s) ** T) <= N_SE * r.std(ddof=1) / math.sqrt(n)
    lr = np.log(r)
    assert abs(lr.mean() - T * sims.log_variance_drift(w, M, n_s)) <= N_SE * lr.std(ddof=1) / math.sqrt(n)


def test_gaussian_sims_loop_guided_law_and_determinism():
    cfg = sims.GaussianSimsConfig(w=1.3, n_samples=20, n_s=25, generations=3, sigma_max=80.0)
    a = sims.run_gaussian_sims(cfg, 50, seed=3)
    b = sims.run_gaussian_sims(cfg, 50, seed=3)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    from simtheory.diffusion import guided_gaussian
    gm, gv = guided_gaussian(a["mean"][0, 1], a["var"][0, 1], a["aux_mean"][0, 1], a["aux_var"][0, 1], 1.3)
    assert a["guided_mean"][0, 1] == pytest.approx(gm[0], rel=1e-10)
    assert a["guided_var"][0, 1] == pytest.approx(gv[0, 0], rel=1e-10)


@pytest.mark.parametrize("scheme,lam", [("replace", 1.0), ("accumulate", math.inf), ("fresh", 0.5), ("fresh", 0.0)])
def test_gaussian_sims_schemes_with_real_data_do_not_collapse(scheme, lam):
    """With real data in every training set the refit loop stays near the data law (no collapse at w = 0)."""
    cfg = sims.GaussianSimsConfig(w=0.0, n_samples=40, n_s=40, generations=30, scheme=scheme, lam=lam,
                                  sigma_max=math.inf)
    out = sims.run_gaussian_sims(cfg, 400, seed=1)
    v = out["var"][:, -1]
    assert np.all(np.isfinite(v)) and 0.7 < np.median(v) < 1.3


def test_bad_config_is_named():
    with pytest.raises(ValueError, match="w must be"):
        sims.GaussianSimsConfig(w=-1)
    with pytest.raises(ValueError, match="scheme"):
        sims.GaussianSimsConfig(scheme="mix")
    with pytest.raises(ValueError, match="lam"):
        sims.GmmSimsConfig(lam=-0.5)
    with pytest.raises(ValueError, match="K must be"):
        sims.GmmSimsConfig(K=0)
    with pytest.raises(ValueError, match="n_s .* must be >= components"):
        sims.GmmSimsConfig(n_s=2, components=4)
    with pytest.raises(ValueError, match="target"):
        sims.aux_weights_for_target([0.5, 0.5], [0.2, 0.9], 1.0)
    with pytest.raises(ValueError, match="w must be > 0"):
        sims.aux_weights_for_target([0.5, 0.5], [0.2, 0.8], 0.0)


TRUE = {"weights": np.full(4, 0.25), "means": np.array([[-2.0, -2], [-2, 2], [2, -2], [2, 2]]),
        "covs": np.repeat(0.3 * np.eye(2)[None], 4, 0)}


def test_gmm_sims_loop_runs_deterministically_with_curation():
    x = gmm.sample(TRUE, 400, np.random.default_rng(0))
    cfg = sims.GmmSimsConfig(w=1.0, n_samples=200, n_s=200, components=4, K=3, generations=2, num_steps=12,
                             modes=tuple(map(tuple, TRUE["means"])))
    reward = lambda p: -np.abs(p[:, 0] - 2)   # noqa: E731  favours the right-hand modes
    a = sims.run_gmm_sims(cfg, x, reward, seed=5)
    b = sims.run_gmm_sims(cfg, x, reward, seed=5)
    assert len(a) == 3
    for ra, rb in zip(a, b):
        for k in ra:
            np.testing.assert_array_equal(ra[k], rb[k])
    props = a[1]["mode_proportions"]
    assert props.sum() == pytest.approx(1.0) and props[2] + props[3] > 0.5      # curation moved mass right
    with pytest.raises(ValueError, match="K > 1 curates by a reward"):
        sims.run_gmm_sims(cfg, x, None, seed=5)
    with pytest.raises(ValueError, match="real_data"):
        sims.run_gmm_sims(cfg, x[:10], reward)


def test_recipe_inverts_the_product_form():
    pi = np.array([0.2, 0.5, 0.3])
    q = np.array([0.4, 0.3, 0.3])
    for w in (0.5, 1.0, 3.0):
        rho = sims.aux_weights_for_target(pi, q, w)
        np.testing.assert_allclose(sims.product_form_masses(pi, rho, w), q, rtol=1e-12)
    np.testing.assert_allclose(sims.product_form_masses(pi, pi, 2.0), pi, rtol=1e-12)


def test_shifted_masses_exact_1d_against_monte_carlo():
    """The 1-D interval computation against Heun Monte Carlo (40,000 latents, N_SE standard errors), and the
    no-shift case (aux = base weights) giving the base weights back (components 8 sd apart). That needs a large
    sigma_max: latents N(0, sigma_max^2) instead of the noised law (mean 0.6 here) shift the masses by about
    phi(z*) 0.6 / sigma_max (3e-3 at sigma_max = 80; 2e-5 at 1e4)."""
    mu, var = [-2.0, 2.0], [0.25, 0.25]
    exact = sims.shifted_masses_1d(mu, var, [0.5, 0.5], [0.3, 0.7], 1.0, num_steps=64, grid=401)
    n = 40000
    mc = sims.shifted_masses(np.array(mu)[:, None], np.array(var).reshape(2, 1, 1), [0.5, 0.5], [0.3, 0.7], 1.0,
                             np.random.default_rng(0).standard_normal((n, 1)), num_steps=64)
    assert np.all(np.abs(mc - exact) <= N_SE * np.sqrt(exact * (1 - exact) / n))
    same = sims.shifted_masses_1d(mu, var, [0.35, 0.65], [0.35, 0.65], 2.0, num_steps=256, grid=101, sigma_max=1e4)
    np.testing.assert_allclose(same, [0.35, 0.65], atol=2e-4)     # Heun error here: 4e-4 at 64, 6e-5 at 256 steps
    at80 = sims.shifted_masses_1d(mu, var, [0.35, 0.65], [0.35, 0.65], 2.0, num_steps=64, grid=401)
    assert 1e-3 < 0.65 - at80[1] < 5e-3          # latents centred at 0, left of the mixture mean 0.6


def test_exact_correction_beats_the_product_form_recipe():
    """The recipe's auxiliary weights miss the target under the exact ODE; the fixed-point correction against
    the exact masses gets at least 3x closer in 3 steps."""
    opts = dict(num_steps=32, grid=101)
    target = np.array([0.5, 0.3, 0.2])
    _, q0 = sims.aux_weights_exact_1d([-3.0, 0.0, 3.0], [0.25] * 3, [1 / 3] * 3, target, 1.0, iterations=0, **opts)
    rho, q3 = sims.aux_weights_exact_1d([-3.0, 0.0, 3.0], [0.25] * 3, [1 / 3] * 3, target, 1.0, iterations=3, **opts)
    tv0, tv3 = 0.5 * np.abs(q0 - target).sum(), 0.5 * np.abs(q3 - target).sum()
    assert tv0 > 0.01 and tv3 < tv0 / 3
    np.testing.assert_allclose(q3, sims.shifted_masses_1d([-3.0, 0.0, 3.0], [0.25] * 3, [1 / 3] * 3, rho, 1.0, **opts))


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
@pytest.mark.parametrize("which", ["zero", "mean", "log", "above"])
def test_gaussian_sims_closed_forms_at_scale(estimator, which):
    """20,000 chains, n_s != M, both estimators: E[v_T/v_0] = g^T and E[log v_T/v_0] = T drift (N_SE SE)."""
    M, n_s, T, n = 40, 25, 15, 20000
    w = {"zero": 0.0, "mean": sims.critical_w(M, n_s, "mean", estimator),
         "log": sims.critical_w(M, n_s, "log", estimator), "above": 1.0}[which]
    cfg = sims.GaussianSimsConfig(w=w, n_samples=M, n_s=n_s, generations=T, sigma_max=math.inf, estimator=estimator)
    r = sims.run_gaussian_sims(cfg, n, seed=99)["var"]
    r = r[:, T] / r[:, 0]
    g = sims.variance_factor_mean(w, M, n_s, estimator)
    assert abs(r.mean() - g**T) <= N_SE * r.std(ddof=1) / math.sqrt(n)
    lr = np.log(r)
    assert abs(lr.mean() - T * sims.log_variance_drift(w, M, n_s, estimator)) <= N_SE * lr.std(ddof=1) / math.sqrt(n)


def test_configs_store_integral_floats_as_ints_and_refuse_one_step():
    g = sims.GaussianSimsConfig(n_samples=10.0, n_s=20.0, generations=3.0)
    assert type(g.n_samples) is int and type(g.n_s) is int and type(g.generations) is int
    with pytest.raises(ValueError, match="num_steps"):
        sims.GmmSimsConfig(num_steps=1)


def test_critical_w_checks_sizes_for_both_kinds():
    for kind in ("mean", "log"):
        with pytest.raises(ValueError, match="M"):
            sims.critical_w(1, 10, kind)


# ------------------------------------------------- tests written for mutants that survived (docs/testing.md)

def _chi2_log_mean(n: int, divisor: int) -> float:
    """E[log(chi^2_{n-1} / divisor)] by quadrature of the chi^2 density (independent of the digamma form)."""
    return stats.chi2(n - 1).expect(lambda q: math.log(q / divisor))


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
@pytest.mark.parametrize("M,n_s", [(20, 60), (60, 20), (12, 13), (400, 30)])
def test_critical_w_at_unequal_sizes(estimator, M, n_s):
    """M != n_s, both kinds, both estimators: w* (log) zeroes E[log v_{t+1}/v_t] = E log(chi^2_{M-1}/c_M)
    - w E log(chi^2_{n_s-1}/c_s) (quadrature), w* (mean) makes E[v_{t+1}/v_t] = E[chi^2_{M-1}/c_M]
    E[(c_s/chi^2_{n_s-1})^w] = 1 (quadrature), and each is where the loop's own closed forms say."""
    ddof = gaussian.DDOF[estimator]
    base, aux = _chi2_log_mean(M, M - ddof), _chi2_log_mean(n_s, n_s - ddof)
    w_log = sims.critical_w(M, n_s, "log", estimator)
    assert w_log == pytest.approx(base / aux, rel=1e-9)
    assert abs(sims.log_variance_drift(w_log, M, n_s, estimator)) < 1e-12
    w_mean = sims.critical_w(M, n_s, "mean", estimator)

    def factor(w):
        return (M - 1) / (M - ddof) * stats.chi2(n_s - 1).expect(lambda q: ((n_s - ddof) / q) ** w)
    if estimator == "unbiased":                # E[v] is already constant at w = 0; any w > 0 makes it grow
        assert w_mean == 0.0 and factor(0.0) == pytest.approx(1.0, rel=1e-12) and factor(0.2) > 1
    else:
        assert 0 < w_mean < w_log              # Jensen
        assert factor(w_mean) == pytest.approx(1.0, rel=1e-9)
        assert factor(0.95 * w_mean) < 1 < factor(1.05 * w_mean)


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
@pytest.mark.parametrize("M,n_s,w", [(20, 15, 0.7), (8, 40, 1.5), (50, 9, 0.3)])
def test_variance_factor_mean_uses_the_estimators_divisor(estimator, M, n_s, w):
    """E[v_{t+1}/v_t] = E[chi^2_{M-1}/c_M] E[(c_s/chi^2_{n_s-1})^w], c = n - ddof, by quadrature."""
    ddof = gaussian.DDOF[estimator]
    ref = (M - 1) / (M - ddof) * stats.chi2(n_s - 1).expect(lambda q: ((n_s - ddof) / q) ** w)
    assert sims.variance_factor_mean(w, M, n_s, estimator) == pytest.approx(ref, rel=1e-9)


def test_unbiased_loop_matches_its_closed_forms():
    """The fast-suite twin of the slow scale test, estimator 'unbiased', n_s != M: 3,000 chains, T = 6."""
    M, n_s, T, n, w = 10, 40, 6, 3000, 0.5
    cfg = sims.GaussianSimsConfig(w=w, n_samples=M, n_s=n_s, generations=T, sigma_max=math.inf,
                                  estimator="unbiased")
    v = sims.run_gaussian_sims(cfg, n, seed=5)["var"]
    r = v[:, T] / v[:, 0]
    g = sims.variance_factor_mean(w, M, n_s, "unbiased")
    assert abs(r.mean() - g**T) <= N_SE * r.std(ddof=1) / math.sqrt(n)
    # the MLE factor differs by ((M-1)/M (n_s/(n_s-1))^w)^T = 0.57: far outside the allowance here
    assert abs(sims.variance_factor_mean(w, M, n_s, "mle") ** T - g**T) > 3 * N_SE * r.std(ddof=1) / math.sqrt(n)
    lr = np.log(r)
    assert abs(lr.mean() - T * sims.log_variance_drift(w, M, n_s, "unbiased")) <= N_SE * lr.std(ddof=1) / math.sqrt(n)


@pytest.mark.parametrize("w", [0.0, 1.0])
def test_gaussian_fresh_draws_new_real_data_and_replace_does_not(w):
    """lam = 0: 'replace' refits generation 0's real points (the same fit every generation); 'fresh' fits N new
    ones, so its generation-T fit is independent of generation 0's. lam = 0.5: generation 0's points stay in
    every 'replace' training set (the means stay correlated); under 'fresh' their weight decays as
    (lam/(1+lam))^T = 3^-8, so the correlation is zero within N_SE / sqrt(chains)."""
    n, T = 2000, 8
    out = {}
    for scheme in ("replace", "fresh"):
        for lam in (0.0, 0.5):
            cfg = sims.GaussianSimsConfig(w=w, n_samples=30, n_s=30, generations=T, scheme=scheme, lam=lam,
                                          sigma_max=math.inf)
            out[scheme, lam] = sims.run_gaussian_sims(cfg, n, seed=4)
    rep0, fr0 = out["replace", 0.0], out["fresh", 0.0]
    np.testing.assert_array_equal(rep0["mean"][:, T], rep0["mean"][:, 0])
    np.testing.assert_array_equal(rep0["var"][:, T], rep0["var"][:, 0])
    for o in (fr0, out["fresh", 0.5]):
        assert abs(np.corrcoef(o["mean"][:, T], o["mean"][:, 0])[0, 1]) <= N_SE / math.sqrt(n)
        assert abs(np.corrcoef(np.log(o["var"][:, T]), np.log(o["var"][:, 0]))[0, 1]) <= N_SE / math.sqrt(n)
    # fresh at lam = 0: every generation is a fit to M new N(0, 1) points, E[mean^2] = 1/M
    m2 = fr0["mean"][:, T] ** 2
    assert abs(m2.mean() - 1 / 30) <= N_SE * m2.std(ddof=1) / math.sqrt(n)
    assert np.corrcoef(out["replace", 0.5]["mean"][:, T], out["replace", 0.5]["mean"][:, 0])[0, 1] > 0.5


@pytest.mark.parametrize("scheme", ["replace", "fresh"])
def test_gmm_sims_training_sets_hold_the_right_real_block(scheme, monkeypatch):
    """Each generation's base is fitted to the real block the scheme names ('fresh': rows N t .. N (t+1) at
    generation t; 'replace': the first N rows) followed by that generation's synthetic points."""
    calls = []
    real_fit = sims.fit_gmm

    def spy(x, *a, **k):
        calls.append(np.array(x))
        return real_fit(x, *a, **k)
    monkeypatch.setattr(sims, "fit_gmm", spy)
    N, T = 20, 3
    cfg = sims.GmmSimsConfig(w=1.0, n_samples=N, n_s=20, components=1, lam=0.5, scheme=scheme, generations=T,
                             num_steps=4, em_iter=3, restarts=1)
    x = np.random.default_rng(0).normal(size=(cfg.n_real, 2))
    sims.run_gmm_sims(cfg, x, seed=1)
    trains = [c for c in calls if c.shape[0] == N + cfg.n_synthetic]
    assert len(trains) == T
    for t, train in enumerate(trains, start=1):
        block = x[N * t:N * (t + 1)] if scheme == "fresh" else x[:N]
        np.testing.assert_array_equal(train[:N], block)


def test_product_form_masses_survive_extreme_weights():
    """lq = (1+w) log pi - w log rho reaches ~2000 for rho = 1e-300: the largest is subtracted before exp."""
    q = sims.product_form_masses([0.5, 0.5], [1e-300, 1.0 - 1e-300], 3.0)
    assert np.all(np.isfinite(q)) and q[0] == pytest.approx(1.0) and q.sum() == pytest.approx(1.0)


def test_config_size_minimums():
    assert sims.GaussianSimsConfig(n_samples=2, n_s=2).n_samples == 2
    with pytest.raises(ValueError, match="n_samples"):
        sims.GaussianSimsConfig(n_samples=1)
    with pytest.raises(ValueError, match="n_s"):
        sims.GaussianSimsConfig(n_s=1)


def test_experiment_helpers_return_what_they_document():
    """The figure helpers: guided_vs_product is guided_gaussian / product_gaussian per w; augmentation_chains
    is run_gaussian_sims summarised; optimal_w_map holds n_s b^2 / 4; the data sets are the ones named."""
    from simtheory.diffusion import experiments as ex
    from simtheory.diffusion import guided_gaussian, product_gaussian, systematic
    d = ex.guided_vs_product(1.0, 0.5, 0.0, 0.5, np.array([0.5, 2.0]))
    m, v = guided_gaussian(0.0, 1.0, 0.5, 0.5, 2.0)
    assert d["ode_mean"][1] == m[0] and d["ode_var"][1] == v[0, 0]
    pm, pv = product_gaussian(0.0, 1.0, 0.5, 0.5, 0.5)
    assert d["prod_mean"][0] == pm[0] and d["prod_var"][0] == pv[0, 0] and np.isnan(d["prod_var"][1])
    a = ex.augmentation_chains(1.0, 0.3, 20, 20, 0.6, 3, 50, 4)
    o = sims.run_gaussian_sims(sims.GaussianSimsConfig(w=1.0, n_samples=20, n_s=20, generations=3, lam=0.6,
                                                       sigma_max=math.inf, smoothing=0.3), 50, seed=4)
    w2 = o["guided_mean"] ** 2 + (np.sqrt(o["guided_var"]) - 1) ** 2
    np.testing.assert_allclose(a["w2sq"], w2.mean(0), rtol=1e-14)
    np.testing.assert_allclose(a["mean_sq"], (o["mean"] ** 2).mean(0), rtol=1e-14)
    np.testing.assert_allclose(a["mean_sq_se"], (o["mean"] ** 2).std(0, ddof=1) / math.sqrt(50), rtol=1e-12)
    g = ex.optimal_w_map(20, [0.3], [30])
    assert g["nsB"][0, 0] == pytest.approx(30 * 0.09 / 4) and g["w_opt"][0, 0] == systematic.optimal_w(20, 30, 0.3)
    x = ex.dataset("mixture", 4000, np.random.default_rng(0))
    np.testing.assert_allclose(np.sort(sims.mode_proportions(x, ex.SQUARE["means"])), 0.25, atol=0.03)
    assert np.all(np.abs(np.abs(ex.SQUARE["means"]) - 2.0) == 0)
    pts, law = ex.data_law("moons", 31)
    assert law.sum() == pytest.approx(1.0) and pts.shape == (31, 31, 2)
    r = ex.gmm_sims_runs("mixture", 0.0, [0], M=40, n_s=40, T=1, num_steps=4, n_grid=21)
    assert r["density"].shape == (2, 21, 21) and np.all(r["density"] >= 0)
    with pytest.raises(ValueError, match="dataset"):
        ex.dataset("rings", 10, np.random.default_rng(0))


def test_data_law_draws_each_named_law():
    """The gridded data laws are the ones named: the square mixture puts 1 - exp(-1.5^2 / (2 * 0.3)) = 0.976 of its
    mass within 1.5 of its means (up to the grid's discretisation) and is centred; the two moons are centred at
    (1/2, 1/4) (the arcs' means (0, 2/pi) and (1, 1/2 - 2/pi)) and lie away from the square's means."""
    from simtheory.diffusion import experiments as ex
    for name, centre in (("mixture", (0.0, 0.0)), ("moons", (0.5, 0.25))):
        pts, law = ex.data_law(name, 61)
        np.testing.assert_allclose((law[..., None] * pts).reshape(-1, 2).sum(0), centre, atol=1e-3)
        near = np.min(np.linalg.norm(pts[..., None, :] - ex.SQUARE["means"], axis=-1), axis=-1) < 1.5
        if name == "mixture":
            assert law[near].sum() == pytest.approx(1 - math.exp(-1.5**2 / 0.6), abs=0.01)
        else:
            assert law[near].sum() < 0.05


def test_two_moons_arcs_modes_and_mixture_spread():
    """Noise-free two moons lie on their arcs (upper: the unit circle, y >= 0; lower: centred at (1, 1/2),
    y <= 1/2); the mode centres are the named ones; the square mixture's points spread about their nearest mean
    with variance 0.3 per coordinate (within N_SE SEs, SE = 0.3 sqrt(2 / n))."""
    from simtheory.diffusion import experiments as ex
    p = sims.two_moons(4000, np.random.default_rng(0), noise=0.0)
    up = p[:, 1] > 0.5 + 1e-12
    low = np.hypot(p[:, 0] - 1.0, p[:, 1] - 0.5)
    on_upper = np.isclose(np.hypot(p[:, 0], p[:, 1]), 1.0) & (p[:, 1] >= 0)
    on_lower = np.isclose(low, 1.0) & (p[:, 1] <= 0.5)
    assert np.all(on_upper | on_lower) and np.all(on_upper[up]) and 0.45 < on_upper.mean() < 0.55
    assert ex.modes("mixture") == tuple(map(tuple, ex.SQUARE["means"]))
    assert ex.modes("moons") == ((0.0, 1.0), (1.0, -0.5))
    x = ex.dataset("mixture", 20000, np.random.default_rng(1))
    near = ex.SQUARE["means"][np.argmin(((x[:, None] - ex.SQUARE["means"][None]) ** 2).sum(-1), axis=1)]
    resid = (x - near).ravel()
    assert abs(resid.var() - 0.3) <= N_SE * 0.3 * math.sqrt(2 / resid.size)   # crossing to another mode: p ~ 1e-4


def test_gaussian_sims_chains_are_the_loop_normalised():
    """The figure helper's ratio is sigma^2_t / sigma^2_0 of run_gaussian_sims's chains (1 at t = 0), its mean the
    loop's mean."""
    from simtheory.diffusion import experiments as ex
    c = ex.gaussian_sims_chains(0.5, 20, 20, 3, 8, seed=2)
    o = sims.run_gaussian_sims(sims.GaussianSimsConfig(w=0.5, n_samples=20, n_s=20, generations=3, sigma_max=math.inf),
                               8, seed=2)
    np.testing.assert_array_equal(c["ratio"][:, 0], 1.0)
    np.testing.assert_allclose(c["ratio"], o["var"] / o["var"][:, :1], rtol=1e-15)
    np.testing.assert_array_equal(c["mean"], o["mean"])
