"""simtheory.diffusion.systematic: SIMS with a systematic fit error, closed forms against exact special cases,
quadrature, their noise-free limit and simulated loops."""
import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from simtheory.diffusion import mean_factor as mf
from simtheory.diffusion import sims
from simtheory.diffusion import systematic as sy

from tolerances import N_SE


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
@pytest.mark.parametrize("M,n_s", [(3, 40), (5, 10), (50, 30), (1000, 1000)])
def test_without_systematic_error_the_moments_are_the_loop_closed_forms(estimator, M, n_s):
    """b = delta = 0: E[V_w] / v and E[log V_w / v] are the Gamma and digamma forms of the fully synthetic loop
    (sims.variance_factor_mean, log_variance_drift), the mean is unbiased, and at w = 0 E[(m_w - mu)^2] = 1/M."""
    for w in (0.0, 0.4, 1.0, 1.7):
        if w >= (n_s - 1) / 4:
            continue
        m = sy.moments(w, M, n_s, estimator=estimator)
        assert m["var_mean"] == pytest.approx(sims.variance_factor_mean(w, M, n_s, estimator), rel=1e-11)
        assert m["logvar_bias"] == pytest.approx(sims.log_variance_drift(w, M, n_s, estimator), abs=1e-11)
        assert m["mean_bias"] == 0.0
        if w == 0:
            assert m["mean_mse"] == pytest.approx(1 / M, rel=1e-12)


def _chi2_power_moment(p, n, c):
    """E[Q^p], Q = chi^2_{n-1} / c: (2/c)^p Gamma(k + p) / Gamma(k), k = (n - 1)/2 (inf when k + p <= 0 or
    beyond the largest float)."""
    k = 0.5 * (n - 1)
    if k + p <= 0:
        return math.inf
    log_m = p * math.log(2 / c) + special.gammaln(k + p) - special.gammaln(k)
    return math.exp(log_m) if log_m < 709.0 else math.inf


def test_chi2_nodes_integrate_the_chi2_law():
    for n in (2, 3, 10, 101, 5001):
        lq, lw = sy.chi2_nodes(n, n - 1.0, left_power=0.4)
        wt = np.exp(lw)
        assert wt.sum() == pytest.approx(1.0, abs=1e-15)
        assert np.exp(lq) @ wt == pytest.approx(1.0, rel=1e-12)                  # E[chi^2_{n-1}] = n - 1
        assert (lq + math.log(n - 1)) @ wt == pytest.approx(stats.chi2(n - 1).expect(np.log), rel=1e-9, abs=1e-12)
    with pytest.raises(ValueError, match="diverges"):
        sy.chi2_nodes(5, 5.0, left_power=2.0)
    for bad, name in (((1, 1.0), "n"), ((5, 0.0), "divisor"), ((5, math.nan), "divisor")):
        for f in (sy.chi2_nodes, sy.chi2_expect):
            with pytest.raises(ValueError, match=name):
                f(*bad)
    # a floor below which the integrand is flat makes the range finite again
    lq, lw = sy.chi2_nodes(5, 5.0, left_power=2.0, left_floor=math.log(1e-12))
    assert lq.min() < math.log(1e-12) and np.exp(lw).sum() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("n", [2, 3, 5, 9, 21, 101, 5001])
def test_chi2_expect_matches_the_gamma_moments_up_to_the_divergence(n):
    """E[Q^p] = (2/c)^p Gamma(k + p) / Gamma(k) for p from far right to 10^-6 above the divergence at p = -k
    (where the left tail decays only like e^(10^-6 y) in y = log chi^2: the geometric tail sum carries it); inf at
    and below -k; E[Q^p f] for a bounded f against scipy's adaptive quadrature of the chi^2 density."""
    k, c = 0.5 * (n - 1), n - 1.0
    for p in (6.0, 2.0, 1.0, 0.5, 0.0, -0.3, -0.5 * k, -k + 0.2, -k + 0.08, -k + 1e-3, -k + 1e-6):
        assert sy.chi2_expect(n, c, p) == pytest.approx(_chi2_power_moment(p, n, c), rel=1e-11), p
    assert sy.chi2_expect(n, c, -k) == math.inf and sy.chi2_expect(n, c, -k - 0.5) == math.inf
    # a positive f tending to a constant as Q -> 0 (rate Q^1) and growing like Q at infinity; near the divergence
    # where E[Q^p] is a float (k <= 10)
    p = max(-k + 0.1, -10.0)
    got = sy.chi2_expect(n, c, p, log_f=lambda lq: np.log1p(np.exp(lq)), right_power=1.0)
    dens = stats.chi2(n - 1)
    ref = integrate.quad(lambda t: math.exp(p * (t - math.log(c)) + math.log1p(math.exp(t) / c) + t
                                            + dens.logpdf(math.exp(t))),
                         -700.0, math.log(20.0 * n), points=[math.log(2 * (k + p)) + u for u in (-0.5, 0.0, 0.5)],
                         limit=400, epsabs=0, epsrel=1e-12)[0]   # e^(-70) below -700
    assert got == pytest.approx(ref, rel=1e-8)


def test_log_helpers():
    x = np.array([-800.0, -1e-20, -0.5, 0.5, 1e-20, 800.0])
    np.testing.assert_allclose(mf._log_abs_1m_exp(x), [0.0, math.log(1e-20), math.log(-math.expm1(-0.5)),
                                                       math.log(math.expm1(0.5)), math.log(1e-20), 800.0],
                               rtol=1e-14)
    assert mf._log_abs_1m_exp(0.0) == -math.inf


def test_mean_factor_depends_on_the_variance_ratio_and_the_spline_matches_the_closed_form():
    vb = np.linspace(0.2, 5.0, 40)[:, None]
    va = vb * np.linspace(0.02, 6.0, 50)[None] + 0.1
    for w in (0.3, 1.0, 2.5, 4.9):
        np.testing.assert_allclose(mf._g_spline(vb, va, w), mf._g(vb, va, w), rtol=1e-11)
        np.testing.assert_allclose(np.exp(mf._log_g(np.log(va / vb), w)), mf._g(vb, va, w), rtol=1e-12)
        np.testing.assert_allclose(mf._g(3.0 * vb, 3.0 * va, w), mf._g(vb, va, w), rtol=1e-12)   # scale-free
        # a wide range of ratios (a smoothing b near 0): the spline in log G still agrees with the closed form
        lr = np.linspace(-60.0, 3.0, 700)
        np.testing.assert_allclose(mf._log_g_spline(lr, w), mf._log_g(lr, w), rtol=1e-12, atol=1e-11)
    assert float(mf._g(1.3, 1.3, 0.7)) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("w", [1e-3, 0.02, 0.3, 1.0, 2.0, 3.0, 4.9, 9.8])
def test_log_mean_factor_against_mpmath(w):
    """log G = log(g rho^(w/2)) against mpmath's 2F1 at a working precision that keeps 1 - rho exact, from
    rho = e^-700 (where g itself overflows for large w and 1 - rho rounds to 1 in doubles, so the approach of G
    to G(0) ~ rho^(w/2) must come from the connection formula) to rho = e^5; G(0) = B(w/2, 1/2) / 2."""
    import mpmath
    lrs = np.array([-700.0, -90.0, -30.0, -7.0, -6.9, -1.0, -1e-8, 0.0, 1e-8, 0.4, 5.0])
    got = mf._log_G(lrs, w)
    for lr, x in zip(lrs, got):
        with mpmath.workdps(int(30 + abs(lr) / 2.3)):
            rho = mpmath.exp(mpmath.mpf(lr))
            if lr <= 0:
                ref = mpmath.log(mpmath.hyp2f1(0.5, 1 - mpmath.mpf(w) / 2, 1.5, 1 - rho))
            else:
                ref = -mpmath.mpf(lr) / 2 + mpmath.log(mpmath.hyp2f1(0.5, (1 + mpmath.mpf(w)) / 2, 1.5, 1 - 1 / rho))
            assert float(x) == pytest.approx(float(ref), rel=1e-12, abs=1e-12), lr
    far = -max(700.0, 100.0 / w)                      # rho^(w/2) < e^-50 there
    assert float(mf._log_G(far, w)) == pytest.approx(math.log(0.5 * special.beta(0.5 * w, 0.5)), rel=1e-12)


CASES = [(1.0, 0.3, 0.2, 40, 150, "mle"), (0.5, 0.5, 0.0, 20, 30, "unbiased"), (2.0, 0.1, -0.3, 60, 60, "mle"),
         (0.0, 0.3, 0.2, 40, 150, "unbiased"), (1.0, 0.0, 0.0, 30, 30, "mle")]


@pytest.mark.parametrize("w,b,d,M,n_s,estimator", CASES)
def test_one_generation_moments_against_simulated_chains(w, b, d, M, n_s, estimator):
    """40,000 chains of sims.run_gaussian_sims (every point sampled; the base's, the auxiliary's and the guided
    law exactly as the loop computes them): each closed-form moment within N_SE standard errors, the SDs
    within N_SE SEs of an SD (relative 1/sqrt(2(n-1)) for near-normal laws, scaled by the kurtosis here)."""
    n = 40000
    m = sy.moments(w, M, n_s, b, d, estimator)
    cfg = sims.GaussianSimsConfig(w=w, n_samples=M, n_s=n_s, generations=1, sigma_max=math.inf, smoothing=b,
                                  shift=d, estimator=estimator)
    out = sims.run_gaussian_sims(cfg, n, seed=3)
    gm, gv = out["guided_mean"][:, 0], out["guided_var"][:, 0]
    for key, x in (("var_mean", gv), ("logvar_bias", np.log(gv)), ("mean_bias", gm), ("mean_mse", gm**2),
                   ("w2sq", gm**2 + (np.sqrt(gv) - 1) ** 2)):
        assert abs(x.mean() - m[key]) <= N_SE * x.std(ddof=1) / math.sqrt(n), key
    for key, x in (("var_sd", gv), ("mean_sd", gm), ("logvar_sd", np.log(gv))):
        rel = math.sqrt((stats.kurtosis(x, fisher=False) - 1) / (4 * n))   # SE of a sample SD, relative
        assert abs(x.std(ddof=1) / m[key] - 1) <= N_SE * rel, key


def test_noise_free_law_and_first_order_bias():
    """V*(w) = (v + b)^(1+w) (v + 2b)^(-w); w = 1 leaves b^2 / (v + 2b); w_0 zeroes it; the slope in beta at 0
    is 1 - w; the mean keeps delta (1 - w g*), g* -> 1 as b -> 0; the exact moments tend to the noise-free
    law as M = n_s grow."""
    v, b = 2.0, 0.4
    for w in (0.0, 0.5, 1.0, 2.0):
        _, V = sy.noise_free(w, b, 0.0, v)
        assert V == pytest.approx((v + b) ** (1 + w) * (v + 2 * b) ** (-w), rel=1e-13)
    assert sy.noise_free(1.0, b, 0.0, v)[1] - v == pytest.approx(b * b / (v + 2 * b), rel=1e-12)
    w0 = sy.bias_free_w(b, v)
    assert sy.noise_free(w0, b, 0.0, v)[1] == pytest.approx(v, rel=1e-12) and 1 < w0 < 1 + b / v + 1e-12
    for w in (0.0, 0.7, 1.0, 3.0):
        beta = 1e-4
        excess = sy.noise_free(w, beta, 0.0, 1.0)[1] - 1.0
        assert excess / beta == pytest.approx(1 - w, abs=1e-3)
        # second order: V*/v - 1 = beta (1 - w) + beta^2 w (1 + w) / 2 + O(beta^3)
        assert (excess - beta * (1 - w)) / beta**2 == pytest.approx(w * (1 + w) / 2, abs=1e-2)
        # the mean factor: g* = 1 - (1 + w) beta / 3 + O(beta^2), so m*(1) - mu = 2 delta beta / 3 to first order
        if w > 0:
            assert (float(mf._g(1.0 + beta, 1.0 + 2 * beta, w)) - 1) / beta == pytest.approx(-(1 + w) / 3, abs=1e-3)
    assert sy.noise_free(1.0, 1e-9, 0.3)[0] == pytest.approx(0.0, abs=1e-8)
    assert sy.noise_free(0.0, 0.3, 0.3)[0] == pytest.approx(0.3, rel=1e-14)
    big = sy.moments(1.0, 10**6, 10**6, b, 0.25, var=v)
    m_star, V_star = sy.noise_free(1.0, b, 0.25, v)
    assert big["var_mean"] == pytest.approx(V_star, rel=1e-4) and big["mean_bias"] == pytest.approx(m_star, rel=1e-4)


def test_optimal_w_moves_from_noise_to_bias():
    """Exact model: no w > 0 pays (up to the MLE's own O(1/M) bias); a large n_s B: the optimum is near w_0;
    the first-order formula orders the cases the same way; every optimum is a minimum on a grid."""
    assert sy.optimal_w(50, 50, 0.0) < 0.02
    assert sy.optimal_w(50, 50, 0.0, estimator="unbiased") < 0.02
    # M and n_s large: the optimum tends to w_0 (at M = 50 the fit's own -v/M bias and the 1/M noise terms
    # hold it near 1.09)
    assert abs(sy.optimal_w(5000, 100_000, 0.3) - sy.bias_free_w(0.3)) < 0.01
    cases = [(30, 0.3), (300, 0.3), (3000, 0.3)]
    exact = [sy.optimal_w(50, n_s, b) for n_s, b in cases]
    first = [sy.optimal_w_first_order(n_s, b) for n_s, b in cases]
    assert exact == sorted(exact) and first == sorted(first)
    for (n_s, b), w in zip(cases, exact):
        f = sy.moments(w, 50, n_s, b)["w2sq"]
        assert all(f <= sy.moments(g, 50, n_s, b)["w2sq"] + 1e-12 for g in np.linspace(0, 2.5, 26))


def test_augmentation_fixed_point():
    """w = 0, delta = 0: the smoothing compounds to v + b (1 + lam); lam = 0: the base is the fit of the real
    data, v + b; w = 1 keeps v + b + O(b^2); large-M loops sit at the fixed point (N_SE SE + 3/M)."""
    v, b, lam = 1.5, 0.2, 0.6
    assert sy.augmentation_fixed_point(0.0, lam, b, 0.0, v)["base_var"] == pytest.approx(v + b * (1 + lam), rel=1e-12)
    assert sy.augmentation_fixed_point(1.0, 0.0, b, 0.0, v)["base_var"] == pytest.approx(v + b, rel=1e-12)
    one = sy.augmentation_fixed_point(1.0, lam, b, 0.0, v)
    assert abs(one["base_var"] - (v + b)) < 2 * b * b / v
    M, n = 4000, 40
    for w in (0.0, 1.0):
        fp = sy.augmentation_fixed_point(w, lam, 0.3, 0.1)
        cfg = sims.GaussianSimsConfig(w=w, n_samples=M, n_s=M, generations=25, lam=lam, sigma_max=math.inf,
                                      smoothing=0.3, shift=0.1)
        o = sims.run_gaussian_sims(cfg, n, seed=8)
        for key, x in (("base_var", o["var"][:, -1]), ("base_mean", o["mean"][:, -1])):
            assert abs(x.mean() - fp[key]) <= N_SE * x.std(ddof=1) / math.sqrt(n) + 3 / M, (w, key)
    with pytest.raises(ValueError, match="lam must be finite"):
        sy.augmentation_fixed_point(1.0, math.inf, 0.3)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="smoothing"):
        sy.moments(1.0, 10, 10, smoothing=-0.1)
    with pytest.raises(ValueError, match="shift"):
        sy.moments(1.0, 10, 10, shift=math.nan)
    with pytest.raises(ValueError, match="var"):
        sy.moments(1.0, 10, 10, var=0.0)
    with pytest.raises(ValueError, match="estimator"):
        sy.moments(1.0, 10, 10, estimator="map")
    with pytest.raises(ValueError, match="w must be"):
        sy.moments(-1.0, 10, 10)
    beyond = sy.moments(5.0, 10, 10)                                   # b = 0, w >= (n_s - 1)/2
    assert beyond["var_mean"] == math.inf and math.isfinite(beyond["logvar_bias"]) and beyond["mean_bias"] == 0.0
    assert math.isnan(sy.moments(9.0, 10, 10, shift=0.1)["mean_bias"])  # w >= n_s - 1: E|m_w| = inf
    with pytest.raises(ValueError, match="smoothing"):
        sims.GaussianSimsConfig(smoothing=-1.0)
    with pytest.raises(ValueError, match="shift"):
        sims.GaussianSimsConfig(shift=math.inf)
    with pytest.raises(ValueError, match="reg"):
        sims.GmmSimsConfig(reg=0.0)


def test_biased_gmm_fit_adds_reg_to_every_component():
    from simtheory.families import gmm
    true = {"weights": np.full(2, 0.5), "means": np.array([[-3.0, 0.0], [3.0, 0.0]]),
            "covs": np.repeat(0.2 * np.eye(2)[None], 2, 0)}
    x = gmm.sample(true, 400, np.random.default_rng(0))
    cfg = sims.GmmSimsConfig(w=0.0, n_samples=200, n_s=200, components=2, generations=1, num_steps=8, reg=0.5,
                             restarts=2)
    recs = sims.run_gmm_sims(cfg, x, seed=0)
    for rec in recs:
        for c in np.concatenate([rec["covs"], rec.get("aux_covs", rec["covs"])]):
            assert np.linalg.eigvalsh(c).min() >= 0.5 - 1e-12
    # the base fit to the real data: about the components' 0.2 plus reg 0.5
    assert np.allclose(np.linalg.eigvalsh(recs[0]["covs"]).mean(), 0.7, atol=0.1)


def test_first_order_forms_match_the_exact_moments_at_large_sizes():
    """At M = n_s = 10^5 and small b, delta the first-order SDs and W2^2 agree with the exact moments (the
    neglected terms are O(1/M^2) and O(beta^3))."""
    M = n_s = 10**5
    for w, b, d in ((0.0, 0.02, 0.01), (1.0, 0.02, 0.01), (2.0, 0.005, 0.0)):
        ex, fo = sy.moments(w, M, n_s, b, d), sy.first_order(w, M, n_s, b, d)
        assert fo["logvar_sd"] == pytest.approx(ex["logvar_sd"], rel=2e-3)
        assert fo["mean_sd"] == pytest.approx(ex["mean_sd"], rel=2e-3)
        assert fo["mean_bias"] == pytest.approx(ex["mean_bias"], rel=5e-3, abs=1e-9)   # E[g] - g* = O(1/n_s)
        assert fo["var_bias"] == pytest.approx(ex["var_bias"], rel=1e-2, abs=1e-4)
        assert fo["w2sq"] == pytest.approx(ex["w2sq"], rel=0.1)


def test_augmentation_fixed_point_satisfies_the_map():
    """The returned point solves the fixed-point equations written out with the guided law of
    guided_gaussian_1d (sigma_max -> inf), independently of the iteration."""
    from simtheory.diffusion.gaussian import guided_gaussian_1d
    v, b, d, lam = 1.2, 0.3, 0.15, 0.6
    for w in (0.0, 0.7, 1.0):
        fp = sy.augmentation_fixed_point(w, lam, b, d, v)
        m, u = fp["base_mean"], fp["base_var"]
        mg, V = (float(a) for a in guided_gaussian_1d(m, u, m + d, u + b, w, math.inf))
        assert mg == pytest.approx(fp["guided_mean"], rel=1e-10) and V == pytest.approx(fp["guided_var"], rel=1e-10)
        assert m == pytest.approx(lam * mg / (1 + lam) + d, rel=1e-10)
        assert u == pytest.approx((v + lam * V) / (1 + lam) + lam * mg**2 / (1 + lam) ** 2 + b, rel=1e-10)


def test_optimum_is_exactly_zero_where_guidance_cannot_help():
    """M = 50, b = 0.05, n_s = 100 (n_s B = 0.06 << 1.5): the exact E[W2^2] is smallest at w = 0, and optimal_w
    returns 0.0 itself (the bounded search only approaches its end), not the search's last interior point."""
    assert sy.optimal_w(50, 100, 0.05) == 0.0
    assert sy.optimal_w(50, 1000, 0.3) > 0.9


def test_first_order_optimum_counts_the_shift():
    """w* = B / (B + 3 / (2 n_s)) with B = (b/v)^2 / 4 + delta^2 / v: a mean shift alone, and both errors."""
    n_s, v = 40, 1.5
    for b, d in ((0.0, 0.2), (0.3, 0.2), (0.3, 0.0)):
        B = (b / v) ** 2 / 4 + d * d / v
        assert sy.optimal_w_first_order(n_s, b, d, v) == pytest.approx(B / (B + 1.5 / n_s), rel=1e-12)


def test_augmentation_fixed_point_with_a_mean_shift_only():
    """b = 0, delta != 0: base and auxiliary share their variance, so the guided law is the base moved by -w delta
    (the product form; guided_gaussian_1d with sigma_max -> inf), at the map's fixed point."""
    from simtheory.diffusion.gaussian import guided_gaussian_1d
    v, d, lam = 1.2, 0.15, 0.6
    for w in (0.5, 1.0):
        fp = sy.augmentation_fixed_point(w, lam, 0.0, d, v)
        m, u = fp["base_mean"], fp["base_var"]
        mg, V = (float(a) for a in guided_gaussian_1d(m, u, m + d, u, w, math.inf))
        assert fp["guided_mean"] == pytest.approx(m - w * d, rel=1e-12) == pytest.approx(mg, rel=1e-10)
        assert fp["guided_var"] == pytest.approx(u, rel=1e-12) == pytest.approx(V, rel=1e-10)


def test_systematic_curves_simulate_the_closed_forms():
    """The figure helper's simulated W2^2 and variance bias (one generation, 4,000 chains) lie within N_SE SEs of
    the exact moments it returns beside them, at every w."""
    from simtheory.diffusion import experiments as ex
    c = ex.systematic_curves([0.0, 1.0], 50, 200, 0.3, 0.2, chains=4000, seed=3)
    assert np.all(np.abs(c["sim_w2sq"] - c["exact_w2sq"]) <= N_SE * c["sim_w2sq_se"])
    assert np.all(np.abs(c["sim_var_bias"] - c["exact_var_bias"]) <= N_SE * c["sim_var_bias_se"])
    assert c["w_opt"] == sy.optimal_w(50, 200, 0.3, 0.2)
    # the SEs are those of 4,000 chains: the guided variance's SD (about 0.2-0.3 here) over sqrt(4000)
    assert np.all(c["sim_var_bias_se"] < 0.01) and np.all(c["sim_w2sq_se"] < 0.01)


def _exact_fit_closed_forms(w, M, n_s, v=1.0):
    """b = delta = 0: V_w = v Q_M Q_s^-w with Q_M, Q_s independent scaled chi^2 (MLE divisors), so E[V_w^a] =
    v^a E[Q_M^a] E[Q_s^-aw] (Gamma functions), E[log V_w / v] = psi(k_M) + log(2/M) - w (psi(k_s) + log(2/n_s))
    and Var log V_w = psi'(k_M) + w^2 psi'(k_s)."""
    km, ks = 0.5 * (M - 1), 0.5 * (n_s - 1)
    ev = v * _chi2_power_moment(1.0, M, M) * _chi2_power_moment(-w, n_s, n_s)
    ev2 = v * v * _chi2_power_moment(2.0, M, M) * _chi2_power_moment(-2 * w, n_s, n_s)
    esq = math.sqrt(v) * _chi2_power_moment(0.5, M, M) * _chi2_power_moment(-0.5 * w, n_s, n_s)
    return {"var_mean": ev, "var_sd": math.sqrt(ev2 - ev * ev) if ev2 < math.inf else math.inf, "esq": esq,
            "logvar_bias": special.digamma(km) + math.log(2 / M) - w * (special.digamma(ks) + math.log(2 / n_s)),
            "logvar_sd": math.sqrt(special.polygamma(1, km) + w * w * special.polygamma(1, ks))}


def _g_reference(q, w):
    """g(1, q): the guided ODE's closed form (_g, through gaussian.guided_gaussian_1d) where 1 - q is exact
    enough in doubles, else mpmath's 2F1 at a working precision that keeps 1 - q exact."""
    if q >= 1e-6:
        return float(mf._g(1.0, q, w))
    import mpmath
    with mpmath.workdps(30 + int(-math.log10(q))):
        q_ = mpmath.mpf(q)
        return float(q_ ** (-mpmath.mpf(w) / 2) * mpmath.hyp2f1(0.5, 1 - mpmath.mpf(w) / 2, 1.5, 1 - q_))


def _mean_factor_moment(w, n_s, power):
    """E[g(Q_s)^power] (b = 0: v_a / v_b = Q_s) by scipy's adaptive quadrature of the chi^2 density in log Q_s,
    with the reference g above: independent of the module's quadrature and of its log form of g."""
    dens = stats.chi2(n_s - 1)

    def f(t):
        return _g_reference(math.exp(t) / n_s, w) ** power * math.exp(t + dens.logpdf(math.exp(t)))

    k = 0.5 * (n_s - 1)
    # the integrand decays like e^((k - power w / 2) t) as t -> -inf: 60 nats below
    lo = math.log(2 * k) - 60.0 / (k - 0.5 * power * w)
    return integrate.quad(f, lo, math.log(40.0 * n_s), points=[math.log(max(2 * k - power * w, 0.5))],
                          limit=400, epsabs=0, epsrel=1e-11)[0]


# b = 0 near the divergences: 2w close to (n_s - 1)/2 (E[V_w^2] about to diverge), w close to (n_s - 1)/2
NEAR = [(0.96, 20, 5), (4.9, 20, 21), (1.95, 20, 9), (0.9995, 30, 5), (1.999, 30, 5), (0.2499, 10, 2)]


@pytest.mark.parametrize("w,M,n_s", NEAR)
def test_exact_fit_moments_near_their_divergences(w, M, n_s):
    """Every moment finite and equal to its Gamma / digamma closed form (E[sqrt V_w] through w2sq), and the
    mean factor's moments (mean_bias, mean_mse with a shift) equal to an independent quadrature of g. Negative
    control: under the former single 2-D rule, whose Q_s nodes reached out to where Q_s^-2w overflowed, every
    case here raised, returned NaN or asked for a grid of several GiB."""
    d = 0.3
    m = sy.moments(w, M, n_s, 0.0, d)
    c = _exact_fit_closed_forms(w, M, n_s)
    assert all(math.isfinite(x) for x in m.values()) or 2 * w >= 0.5 * (n_s - 1)
    for key in ("var_mean", "var_sd", "logvar_bias", "logvar_sd"):
        if c[key] == math.inf:
            assert m[key] == math.inf, key
        else:
            assert m[key] == pytest.approx(c[key], rel=1e-10, abs=1e-13), key
    if 0.5 * (n_s - 1) - w < 0.2:
        return               # E[g^2] too near its own divergence for the reference quadrature's range
    eg, eg2 = _mean_factor_moment(w, n_s, 1), _mean_factor_moment(w, n_s, 2)
    assert m["mean_bias"] == pytest.approx(d * (1 - w * eg), rel=1e-9, abs=1e-12)
    mse = d * d * (1 - 2 * w * eg + w * w * eg2) + 1 / M + w * w * (M - 1) / M * eg2 / n_s
    assert m["mean_mse"] == pytest.approx(mse, rel=1e-9)
    assert m["w2sq"] == pytest.approx(mse + c["var_mean"] - 2 * c["esq"] + 1, rel=1e-9)


@pytest.mark.parametrize("w,M,n_s,d", [(3.0, 30, 7, 0.2), (2.0, 20, 5, 0.3), (5.5, 20, 9, 0.1), (9.0, 20, 9, 0.1)])
def test_exact_fit_moments_beyond_a_divergence(w, M, n_s, d):
    """w >= k_s = (n_s - 1)/2 at b = 0: E[V_w], E[(m_w - mu)^2] and E[W2^2] are infinite, but E[log V_w] and its
    SD are finite (closed forms; moments(3, 30, 7, 0, 0.2) has E[log V_w / v] = 0.9212), and so is E[m_w] while
    w < 2 k_s (independent quadrature of E[g]); from w = 2 k_s on E|m_w| = inf and mean_bias is nan."""
    m = sy.moments(w, M, n_s, 0.0, d)
    c = _exact_fit_closed_forms(w, M, n_s)
    assert m["logvar_bias"] == pytest.approx(c["logvar_bias"], rel=1e-12)
    assert m["logvar_sd"] == pytest.approx(c["logvar_sd"], rel=1e-12)
    for key in ("var_mean", "var_bias", "var_sd", "mean_mse", "mean_sd", "w2sq"):
        assert m[key] == math.inf, key
    if w < n_s - 1:
        assert m["mean_bias"] == pytest.approx(d * (1 - w * _mean_factor_moment(w, n_s, 1)), rel=1e-9)
    else:
        assert math.isnan(m["mean_bias"])
    if (w, M, n_s) == (3.0, 30, 7):
        assert round(m["logvar_bias"], 4) == 0.9212


def test_exact_fit_moments_near_a_divergence_against_simulated_chains():
    """b = 0, 2w = 3.9 against (n_s - 1)/2 = 4 (E[V_w^2] finite, so every simulated mean below has a finite
    variance and an SE): 400,000 one-generation chains of sims.run_gaussian_sims within N_SE SEs."""
    w, M, n_s, d, n = 1.95, 20, 9, 0.3, 400_000
    m = sy.moments(w, M, n_s, 0.0, d)
    cfg = sims.GaussianSimsConfig(w=w, n_samples=M, n_s=n_s, generations=1, sigma_max=math.inf, shift=d)
    out = sims.run_gaussian_sims(cfg, n, seed=11)
    gm, gv = out["guided_mean"][:, 0], out["guided_var"][:, 0]
    for key, x in (("var_mean", gv), ("logvar_bias", np.log(gv)), ("mean_bias", gm), ("mean_mse", gm**2),
                   ("w2sq", gm**2 + (np.sqrt(gv) - 1) ** 2)):
        assert abs(x.mean() - m[key]) <= N_SE * x.std(ddof=1) / math.sqrt(n), key


@pytest.mark.parametrize("w,M,n_s,d", [(1.0, 30, 30, 0.2), (0.5, 20, 9, 0.0), (2.0, 50, 40, -0.3), (0.0, 10, 5, 0.1)])
def test_smoothing_to_zero_joins_the_exact_fit(w, M, n_s, d):
    """The 2-D rule (b > 0) and the factorised 1-D rule (b = 0) are separate code: at b = 1e-12, with 2w well
    below k_s (so every moment is continuous in b at 0, with an O(b) change), they agree."""
    a, z = sy.moments(w, M, n_s, 1e-12, d), sy.moments(w, M, n_s, 0.0, d)
    for key in z:
        assert a[key] == pytest.approx(z[key], rel=1e-8, abs=1e-10), key


def test_small_smoothing_keeps_a_moment_finite_beyond_the_exact_fits_divergence():
    """b = 1e-9 and 2w = 4.4 > k_s = 4: E[V_w^2] is finite only through b, with its mass near Q_s ~ b / v_b (far
    below where the chi^2 law itself has mass); the 2-D rule's Q_s range reaches there. Against nested adaptive
    quadrature of E[V_w] and E[V_w^2] = E[v_b^2 (Q_s + b/v_b)^(-2w)] (negative control: the rule with the
    range of the chi^2 law alone misses that mass)."""
    w, M, n_s, b = 2.2, 20, 9, 1e-9
    ds = stats.chi2(n_s - 1)
    # outer expectation over chi^2_{M-1}: generalised Gauss-Laguerre (the integrand is smooth in Q_M)
    x, wt = special.roots_genlaguerre(24, 0.5 * (M - 1) - 1)
    qm, wt = 2 * x / M, wt / special.gamma(0.5 * (M - 1))

    def inner(vb, a):
        eps = b / vb
        f = lambda t: math.exp(math.log(vb) * a - a * w * math.log(math.exp(t) / n_s + eps) + t   # noqa: E731
                               + ds.logpdf(math.exp(t)))
        return integrate.quad(f, -100.0, math.log(40.0 * n_s), points=[math.log(n_s * eps), math.log(2.0)],
                              limit=200, epsabs=0, epsrel=1e-10)[0]

    ev, ev2 = (sum(c * inner(q + b, a) for q, c in zip(qm, wt)) for a in (1.0, 2.0))
    m = sy.moments(w, M, n_s, b)
    assert m["var_mean"] == pytest.approx(ev, rel=1e-8)
    assert m["var_sd"] == pytest.approx(math.sqrt(ev2 - ev * ev), rel=1e-7)
    assert m["var_sd"] > 10 * sy.moments(w, M, n_s, 1e-3)["var_sd"]       # the mass near Q_s ~ b / v_b counts


def test_noise_coefficient():
    """At b = delta = 0 and large n_s the auxiliary's noise adds 3/2 w^2 / n_s to E[W2^2] (the first-order
    coefficient); with a systematic error it does not (docs/derivations/sims-systematic-error.md)."""
    for w in (0.5, 1.0, 2.0):
        assert sy.noise_coefficient(w, 10**4) == pytest.approx(1.5, abs=0.005)
    assert abs(sy.noise_coefficient(0.5, 10**4, 0.3) - 1.5) > 0.2
    with pytest.raises(ValueError, match="w must be > 0"):
        sy.noise_coefficient(0.0, 100)


def test_first_order_optimum_error_reports_both_optima():
    """The row is optimal_w and optimal_w_first_order at n_s = round(nsB / B); B = 0 and a bad nsB are refused."""
    r = sy.first_order_optimum_error(50, 22.5, 0.3)
    assert r["n_s"] == 1000 and r["nsB"] == pytest.approx(22.5)
    assert r["exact"] == sy.optimal_w(50, 1000, 0.3) and r["first_order"] == sy.optimal_w_first_order(1000, 0.3)
    assert r["rel_error"] == pytest.approx(r["first_order"] / r["exact"] - 1, rel=1e-14)
    assert sy.first_order_optimum_error(50, 0.09, 0.3)["rel_error"] == math.inf      # exact optimum 0 (n_s = 4)
    with pytest.raises(ValueError, match="smoothing or shift"):
        sy.first_order_optimum_error(50, 1.0)
    with pytest.raises(ValueError, match="nsB"):
        sy.first_order_optimum_error(50, -1.0, 0.3)
