"""simtheory.diffusion: exact GMM denoiser, numpy Heun, exact guided Gaussian law, product form."""
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from simtheory.diffusion import (gmm_denoiser, gmm_denoiser_reference, gmm_score, gmm_score_reference,
                                 guided_denoiser, guided_gaussian, heun_sample, noised_logpdf, product_gaussian,
                                 sigma_steps)
from simtheory.diffusion.gaussian import guided_gaussian_1d, guided_law_1d_sympy, product_divergence_w

from tolerances import N_SE, ROUNDING


def random_gmm(rng, k, d, spread=2.0, min_eig=0.05):
    w = rng.dirichlet(np.ones(k))
    m = rng.normal(0, spread, (k, d))
    A = rng.normal(size=(k, d, d)) * 0.7
    c = A @ A.transpose(0, 2, 1) + min_eig * np.eye(d)
    return w, m, c


gmm_cases = st.tuples(st.integers(0, 10**6), st.integers(1, 4), st.integers(1, 3))


def affine_heun_law(denoise, d, num_steps, sigma_max=80.0, sigma_min=0.002):
    """Heun on an affine denoiser is an affine map of the latents: its exact output law from N(0, I) latents.

    The last step (sigma_min -> 0) is Euler whatever num_steps is: its error ~ sigma_min^2 |M x - beta| / 2 does
    not shrink with the steps, so convergence checks pass a small sigma_min."""
    lat = np.vstack([np.zeros(d), np.eye(d)])
    out = heun_sample(denoise, lat, num_steps, sigma_min=sigma_min, sigma_max=sigma_max)
    G = (out[1:] - out[0]).T
    return out[0], G @ G.T


def gaussian_denoiser(m, c):
    """Exact denoiser of a single Gaussian N(m, c), as a 1-component mixture."""
    return guided_denoiser({"weights": [1.0], "means": np.atleast_2d(m), "covs": np.atleast_3d(c).reshape(1, len(m), len(m))})


# ---------------------------------------------------------------- the denoiser

@given(gmm_cases, st.sampled_from([1e-3, 0.05, 0.7, 5.0, 80.0]))
@settings(max_examples=40)
def test_numba_kernel_matches_reference(case, sigma):
    seed, k, d = case
    rng = np.random.default_rng(seed)
    w, m, c = random_gmm(rng, k, d)
    x = rng.normal(0, 3, (64, d))
    fast = gmm_denoiser(x, sigma, w, m, c)
    ref = gmm_denoiser_reference(x, sigma, w, m, c)
    scale = 1 + np.abs(x).max() + np.abs(m).max()
    assert np.abs(fast - ref).max() <= 1e3 * ROUNDING * scale


@given(gmm_cases, st.sampled_from([0.05, 0.3, 1.0, 4.0]))
@settings(max_examples=30)
def test_denoiser_is_tweedie_of_numerical_gradient(case, sigma):
    """D = x + sigma^2 grad log p_sigma, the gradient by central differences of the noised log-density."""
    seed, k, d = case
    rng = np.random.default_rng(seed)
    w, m, c = random_gmm(rng, k, d)
    x = rng.normal(0, 2, (16, d))
    h = 1e-5 * max(1.0, sigma)
    grad = np.stack([(noised_logpdf(x + h * e, sigma, w, m, c) - noised_logpdf(x - h * e, sigma, w, m, c)) / (2 * h)
                     for e in np.eye(d)], axis=1)
    D = gmm_denoiser(x, sigma, w, m, c)
    # central difference error ~ h^2 |f'''| plus rounding eps |log p| / h; both well below 1e-5 here
    np.testing.assert_allclose(D, x + sigma**2 * grad, atol=2e-5 * max(1.0, sigma**2) * (1 + np.abs(x).max()))
    np.testing.assert_allclose(gmm_score(x, sigma, w, m, c), grad, atol=2e-5 * (1 + np.abs(x).max()))


def test_denoiser_against_quadrature_1d():
    """E[x0 | x] = int x0 p(x0) N(x; x0, sigma^2) dx0 / int p(x0) N(x; x0, sigma^2) dx0 by scipy quad."""
    w, m, c = np.array([0.3, 0.7]), np.array([[-1.5], [2.0]]), np.array([[[0.2]], [[0.6]]])
    p0 = lambda u: sum(w[j] * stats.norm.pdf(u, m[j, 0], math.sqrt(c[j, 0, 0])) for j in range(2))  # noqa: E731
    for sigma in (0.01, 0.5, 10.0):
        for x in (-3.0, 0.25, 2.2, 6.0):
            kern = lambda u: p0(u) * stats.norm.pdf(x, u, sigma)  # noqa: E731
            pts = sorted({x, -1.5, 2.0})
            num = integrate.quad(lambda u: u * kern(u), -30, 30, points=pts, limit=400, epsabs=0, epsrel=1e-12)[0]
            den = integrate.quad(kern, -30, 30, points=pts, limit=400, epsabs=0, epsrel=1e-12)[0]
            assert gmm_denoiser(np.array([[x]]), sigma, w, m, c)[0, 0] == pytest.approx(num / den, rel=1e-8, abs=1e-9)


def test_far_components_and_tiny_sigma_are_stable():
    """Components 1e4 apart and sigma = 1e-6: plain densities underflow to 0/0, log-sum-exp does not."""
    w, m, c = np.array([0.5, 0.5]), np.array([[-1e4, 0.0], [1e4, 0.0]]), np.repeat(np.eye(2)[None], 2, 0)
    x = np.array([[0.1, 0.2], [-1e4 + 1, 0.0], [3e4, 5.0]])
    for sigma in (1e-6, 1.0, 80.0):
        D = gmm_denoiser(x, sigma, w, m, c)
        assert np.all(np.isfinite(D))
        # between the components D averages +-1e4 (cancellation): rounding is relative to |mu| = 1e4
        np.testing.assert_allclose(D, gmm_denoiser_reference(x, sigma, w, m, c), rtol=1e-12, atol=1e4 * 1e-11)
    # at sigma -> 0 the denoiser is the identity (the posterior concentrates on x)
    np.testing.assert_allclose(gmm_denoiser(x, 1e-6, w, m, c), x, atol=1e-8)
    # x at +3e4 belongs to the right component: D = mu + S (S + s^2)^-1 (x - mu)
    np.testing.assert_allclose(gmm_denoiser(x[2:], 1.0, w, m, c)[0], m[1] + 0.5 * (x[2] - m[1]), rtol=1e-12)


def mp_score(x, sigma, w, m, c, digits=50):
    """grad log p_sigma at each row of x in mpmath with ``digits`` digits: -sum_k gamma_k C_k^{-1}(x - mu_k),
    C_k = S_k + sigma^2 I, from the float inputs taken as exact (LU solves and determinants in mpmath)."""
    import mpmath as mp
    with mp.workdps(digits):
        k, d = m.shape
        out = np.empty(x.shape)
        for i, xi in enumerate(x):
            logs, zs = [], []
            for j in range(k):
                C = mp.matrix(c[j].tolist()) + mp.mpf(sigma) ** 2 * mp.eye(d)
                r = mp.matrix([mp.mpf(float(xi[a])) - mp.mpf(float(m[j, a])) for a in range(d)])
                z = mp.lu_solve(C, r)
                logs.append(mp.log(mp.mpf(float(w[j]))) - sum(r[a] * z[a] for a in range(d)) / 2
                            - mp.log(mp.det(C)) / 2)
                zs.append(z)
            top = max(logs)
            g = [mp.e ** (lg - top) for lg in logs]
            tot = sum(g)
            out[i] = [float(-sum(g[j] * zs[j][a] for j in range(k)) / tot) for a in range(d)]
    return out


def _rel_err(got, ref):
    return float((np.linalg.norm(got - ref, axis=1) / np.linalg.norm(ref, axis=1)).max())


@pytest.mark.parametrize("sigma", [1e-7, 1e-6, 1e-3, 1.0, 30.0])
def test_score_against_a_50_digit_reference(sigma):
    """The direct score is accurate to 1e-10 (relative, per point) at every sigma down to 1e-7; Tweedie's
    (D - x) / sigma^2 is not (it cancels: 1e-3 and worse below sigma = 1e-6, shown as the contrast)."""
    rng = np.random.default_rng(17)
    w, m, c = random_gmm(rng, 3, 2, min_eig=0.1)
    x = np.concatenate([rng.normal(0, 2.5, (12, 2)), m + 0.3 * rng.normal(size=m.shape)])
    ref = mp_score(x, sigma, w, m, c)
    assert _rel_err(gmm_score(x, sigma, w, m, c), ref) <= 1e-10
    assert _rel_err(gmm_score(x, sigma, w, m, c, fast=False), ref) <= 1e-10
    np.testing.assert_allclose(gmm_score_reference(x, sigma, w, m, c), gmm_score(x, sigma, w, m, c),
                               rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    if sigma <= 1e-6:
        assert _rel_err((gmm_denoiser(x, sigma, w, m, c) - x) / sigma**2, ref) > 1e-6


def _singular_mixture():
    """Two components in 2-D: one on a rotated line (rank 1), one a point mass (covariance 0)."""
    u = np.array([math.cos(0.7), math.sin(0.7)])
    covs = np.stack([0.8 * np.outer(u, u), np.zeros((2, 2))])
    return np.array([0.6, 0.4]), np.array([[0.5, -1.0], [-1.5, 1.0]]), covs


@pytest.mark.parametrize("sigma", [1e-3, 0.1, 1.0, 10.0])
def test_positive_semidefinite_components_are_accepted_when_sigma_is_positive(sigma):
    """A rank-1 and a zero covariance: S + sigma^2 I is positive definite for sigma > 0, so the noised law is
    regular. Denoiser and score against the numpy reference, the 50-digit score, and Tweedie's identity with the
    central-difference gradient of noised_logpdf; sigma = 0 (no density) is refused by name."""
    w, m, c = _singular_mixture()
    rng = np.random.default_rng(4)
    x = np.concatenate([m + sigma * rng.normal(size=(2, 2)), rng.normal(0, 2, (6, 2))])
    ref = mp_score(x, sigma, w, m, c)
    # conditioning 1/sigma^2 of C_k in the null direction: the error bound grows as eps / sigma^2
    tol = 1e-10 if sigma >= 0.1 else 1e-8
    assert _rel_err(gmm_score(x, sigma, w, m, c), ref) <= tol
    D = gmm_denoiser(x, sigma, w, m, c)
    np.testing.assert_allclose(D, gmm_denoiser_reference(x, sigma, w, m, c), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(D, x + sigma**2 * ref, rtol=1e-9, atol=1e-9 * max(1.0, sigma**2))
    if sigma >= 0.1:
        h = 1e-5 * sigma
        grad = np.stack([(noised_logpdf(x + h * e, sigma, w, m, c) - noised_logpdf(x - h * e, sigma, w, m, c))
                         / (2 * h) for e in np.eye(2)], axis=1)
        np.testing.assert_allclose(grad, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    with pytest.raises(ValueError, match="covs.* is not positive definite"):
        noised_logpdf(x, 0.0, w, m, c)


def test_heun_runs_on_a_point_mass_and_a_line():
    """The guided sampler takes singular components (it never evaluates sigma = 0): a point mass is reached
    exactly up to the last Euler step, and the rank-1 component's samples lie on its line."""
    w, m, c = _singular_mixture()
    mix = {"weights": w, "means": m, "covs": c}
    x = heun_sample(guided_denoiser(mix), np.random.default_rng(2).standard_normal((2000, 2)), 64)
    d_point = np.linalg.norm(x - m[1], axis=1)
    u = np.array([math.cos(0.7), math.sin(0.7)])
    off_line = np.abs((x - m[0]) @ np.array([-u[1], u[0]]))
    near = np.minimum(d_point, off_line)
    assert near.max() < 1e-4            # sigma_min = 0.002: the last Euler step leaves O(sigma_min^2)
    share = np.mean(d_point < off_line)
    assert abs(share - 0.4) <= N_SE * math.sqrt(0.24 / 2000)


# ---------------------------------------------------------------- schedule and Heun

def test_schedule_matches_edm_formula():
    t = sigma_steps(18)
    i = np.arange(18)
    ref = (80 ** (1 / 7) + i / 17 * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7
    np.testing.assert_allclose(t[:-1], ref, rtol=1e-15)
    assert t[-1] == 0 and t[0] == pytest.approx(80) and t[17] == pytest.approx(0.002)
    calls = []
    heun_sample(lambda x, s: calls.append(s) or 0 * x, np.zeros((2, 1)), 18)
    assert len(calls) == 35 and 0.0 not in calls


def test_heun_single_gaussian_converges_to_its_law():
    """Deterministic part: the Heun map's exact law approaches the ODE law as steps grow (second order).
    Sampled part: 40,000 samples at 64 steps match the law within N_SE standard errors."""
    m, c = np.array([1.0, -2.0]), np.array([[0.5, 0.2], [0.2, 0.3]])
    den = gaussian_denoiser(m, c)
    exact_m, exact_c = guided_gaussian(m, c, m, c, 0.0)
    errs = []
    for n in (16, 32, 64, 128):
        hm, hc = affine_heun_law(den, 2, n)
        errs.append(max(np.abs(hm - exact_m).max(), np.abs(hc - exact_c).max()))
    assert all(e2 < e1 / 2.5 for e1, e2 in zip(errs, errs[1:])), errs          # ~4x per doubling
    n = 40000
    x = heun_sample(den, np.random.default_rng(0).standard_normal((n, 2)), 64)
    se_m = np.sqrt(np.diag(c) / n)
    assert np.all(np.abs(x.mean(0) - m) <= N_SE * se_m + errs[2])
    se_v = np.diag(c) * math.sqrt(2 / (n - 1))
    assert np.all(np.abs(x.var(0, ddof=1) - np.diag(c)) <= N_SE * se_v + errs[2])


# ---------------------------------------------------------------- guided Gaussian law

def test_w0_gives_the_base_law():
    m, c = np.array([0.3, -1.0]), np.array([[1.0, 0.4], [0.4, 0.8]])
    ma, ca = np.array([2.0, 0.0]), np.array([[0.3, 0.0], [0.0, 0.5]])
    gm, gc = guided_gaussian(m, c, m, c, 0.0, sigma_max=math.inf)
    np.testing.assert_allclose(gm, m, atol=1e-13)
    np.testing.assert_allclose(gc, c, atol=1e-13)
    # finite sigma_max: latents N(0, T I) instead of N(m, c + T I); the law is N(m (1 - ...), c T (c + T)^-1)
    T = 80.0**2
    gm, gc = guided_gaussian(m, c, ma, ca, 0.0)
    lam, U = np.linalg.eigh(c)
    np.testing.assert_allclose(gc, (U * (lam * T / (lam + T))) @ U.T, rtol=1e-10)
    np.testing.assert_allclose(gm, U @ ((1 - np.sqrt(lam / (lam + T))) * (U.T @ m)), rtol=1e-10)


@pytest.mark.parametrize("case", [(0.3, 1.0, -0.2, 0.7, 1.5), (0.3, 1.0, -0.2, 1.7, 2.5), (1.0, 2.0, 1.5, 2.0, 0.7),
                                  (0.0, 1.0, 0.1, 0.05, 3.0), (-2.0, 0.01, 3.0, 0.02, 0.4)])
def test_closed_form_against_ode_and_heun_1d(case):
    mb, vb, ma, va, w = case
    cm, cv = guided_gaussian(mb, vb, ma, va, w, method="closed")
    om, ov = guided_gaussian(mb, vb, ma, va, w, method="ode")
    assert cm[0] == pytest.approx(om[0], rel=1e-8, abs=1e-9) and cv[0, 0] == pytest.approx(ov[0, 0], rel=1e-8)
    den = lambda x, s: (1 + w) * (mb + vb / (vb + s * s) * (x - mb)) - w * (ma + va / (va + s * s) * (x - ma))  # noqa: E731
    errs = []
    for n in (256, 512, 1024):
        hm, hc = affine_heun_law(den, 1, n, sigma_min=1e-5)
        errs.append(max(abs(hm[0] - cm[0]) / math.sqrt(cv[0, 0]), abs(hc[0, 0] - cv[0, 0]) / cv[0, 0]))
    # second order: ~4x per doubling (3x allowed), and small at 1024 steps (variances up to 8000 here)
    assert errs[-1] < 3e-3 and errs[1] < errs[0] / 3 and errs[2] < errs[1] / 3, errs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ode_against_heun_non_commuting(seed):
    """General covariances: the scipy moment ODE against the Heun map's exact law at 256/512/1024 steps
    (second order: the error drops about 4x per doubling and is < 1e-3 at 1024)."""
    rng = np.random.default_rng(seed)
    _, m, c = random_gmm(rng, 2, 2, min_eig=0.1)
    w = [0.5, 1.0, 2.0][seed]
    gm, gc = guided_gaussian(m[0], c[0], m[1], c[1], w)
    den = guided_denoiser({"weights": [1.0], "means": m[:1], "covs": c[:1]},
                          {"weights": [1.0], "means": m[1:], "covs": c[1:]}, w)
    errs = []
    for n in (256, 512, 1024):
        hm, hc = affine_heun_law(den, 2, n, sigma_min=1e-5)
        errs.append(max(np.abs(hm - gm).max(), np.abs(hc - gc).max() / np.abs(gc).max()))
    assert errs[-1] < 1e-3 and errs[2] < errs[0] / 8, errs


def test_commuting_closed_form_in_2d_matches_ode():
    Q = np.linalg.qr(np.random.default_rng(3).normal(size=(2, 2)))[0]
    cb, ca = Q @ np.diag([1.0, 0.2]) @ Q.T, Q @ np.diag([0.6, 0.5]) @ Q.T
    for w in (0.0, 0.8, 3.0):
        a = guided_gaussian([0.5, -1.0], cb, [0.2, 0.3], ca, w, method="closed")
        b = guided_gaussian([0.5, -1.0], cb, [0.2, 0.3], ca, w, method="ode")
        np.testing.assert_allclose(a[0], b[0], rtol=1e-8, atol=1e-9)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-8, atol=1e-9)


def test_sympy_closed_form_matches_numeric():
    mean_w, var_w = guided_law_1d_sympy()
    vals = {"mb": 0.4, "vb": 1.3, "ma": -0.3, "va": 0.6, "T": 80.0**2}
    subs = {s: vals[s.name] for s in var_w.free_symbols if s.name in vals}
    for w in (0.0, 0.5, 2.0):
        v = float(var_w.subs(subs).subs(sp.Symbol("w", nonnegative=True), w))
        assert v == pytest.approx(float(guided_gaussian_1d(0.4, 1.3, -0.3, 0.6, w)[1]), rel=1e-12)
    for w in (1, 2):                                     # J is elementary for integer w: sympy evaluates it
        mean, _ = guided_law_1d_sympy(w)
        syms = {s: vals[s.name] for s in mean.free_symbols}
        ref = float(mean.subs(syms).doit().evalf(30))
        assert ref == pytest.approx(float(guided_gaussian_1d(0.4, 1.3, -0.3, 0.6, w)[0]), rel=1e-10)


def test_mean_formula_against_quadrature_both_orders():
    """J by the 2F1 form against scipy quad of its defining integral, for b > a, b < a, b = a, and T = inf."""
    for vb, va in ((1.0, 0.3), (0.3, 1.0), (0.7, 0.7), (2.0, 0.001), (0.001, 2.0)):
        for w in (0.3, 1.0, 2.7):
            for T in (6400.0, math.inf):
                p, q = (1 + w) / 2, w / 2
                J = integrate.quad(lambda t: (va + t) ** (q - 1) * (vb + t) ** (-p), 0, T, limit=500,
                                   epsabs=0, epsrel=1e-12)[0]
                ratio = 0.0 if math.isinf(T) else math.sqrt(vb ** (1 + w) * va ** (-w) / T * (1 + va / T) ** w
                                                            / (1 + vb / T) ** (1 + w))
                ref = 0.4 * (1 - ratio) - q * (-0.3 - 0.4) * math.sqrt(vb ** (1 + w) * va ** (-w)) * J
                got = float(guided_gaussian_1d(0.4, vb, -0.3, va, w, math.sqrt(T))[0])
                assert got == pytest.approx(ref, rel=1e-9), (vb, va, w, T)


def test_product_form_diverges_where_the_ode_does_not():
    vb, va = 1.0, 0.5                                   # aux narrower: the product form dies at w = a/(b - a) = 1
    assert product_divergence_w(vb, va) == pytest.approx(1.0, rel=1e-12)
    assert product_divergence_w(va, vb) == math.inf
    for w in (0.0, 0.5, 0.9):
        pm, pv = product_gaussian(0.0, vb, 0.0, va, w)
        assert pv[0, 0] == pytest.approx(1 / ((1 + w) / vb - w / va), rel=1e-12)
    with pytest.raises(ValueError, match="not normalisable"):
        product_gaussian(0.0, vb, 0.0, va, 1.0)
    for w in (1.0, 3.0, 10.0):                          # the ODE law: b (b/a)^w, finite for every w
        _, v = guided_gaussian(0.0, vb, 0.0, va, w, sigma_max=math.inf)
        assert v[0, 0] == pytest.approx(vb * (vb / va) ** w, rel=1e-12)
    # equal covariances: both give the mean m_b + w (m_b - m_a) and the base covariance
    c = np.array([[0.7, 0.1], [0.1, 0.4]])
    for w in (0.5, 2.0):
        gm, gc = guided_gaussian([1.0, 0.0], c, [0.0, 0.5], c, w, sigma_max=math.inf)
        pm, pc = product_gaussian([1.0, 0.0], c, [0.0, 0.5], c, w)
        np.testing.assert_allclose(gm, pm, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gc, pc, rtol=1e-10)


# ---------------------------------------------------------------- bad input

def test_bad_input_is_named():
    w, m, c = np.array([0.5, 0.5]), np.zeros((2, 2)), np.repeat(np.eye(2)[None], 2, 0)
    x = np.zeros((3, 2))
    bad_c = c.copy()
    bad_c[1] = [[1.0, 2.0], [2.0, 1.0]]
    with pytest.raises(ValueError, match=r"covs\[1\] is not positive semi-definite"):
        gmm_denoiser(x, 1.0, w, m, bad_c)
    with pytest.raises(ValueError, match=r"covs\[1\] is not positive semi-definite"):
        gmm_score(x, 1.0, w, m, bad_c)
    with pytest.raises(ValueError, match="weights must sum to 1"):
        gmm_denoiser(x, 1.0, [0.5, 0.6], m, c)
    with pytest.raises(ValueError, match="weights has negative"):
        gmm_denoiser(x, 1.0, [1.5, -0.5], m, c)
    for s in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="sigma must be finite and > 0"):
            gmm_denoiser(x, s, w, m, c)
    with pytest.raises(ValueError, match="sigma must be a scalar"):
        gmm_denoiser(x, np.array([1.0, 2.0]), w, m, c)
    with pytest.raises(ValueError, match="x holds NaN"):
        gmm_denoiser(np.full((1, 2), np.nan), 1.0, w, m, c)
    with pytest.raises(ValueError, match="x must have shape"):
        gmm_denoiser(np.zeros((3, 3)), 1.0, w, m, c)
    with pytest.raises(ValueError, match="means must have shape"):
        gmm_denoiser(x, 1.0, w, np.zeros((3, 2)), c)
    for bad_w in (-0.1, math.nan, math.inf):
        with pytest.raises(ValueError, match="w must be a finite number >= 0"):
            guided_gaussian(0.0, 1.0, 0.0, 1.0, bad_w)
        with pytest.raises(ValueError, match="w must be"):
            guided_denoiser({"weights": w, "means": m, "covs": c}, None, bad_w)
    with pytest.raises(ValueError, match="cov_aux is not positive definite"):
        guided_gaussian([0, 0], np.eye(2), [0, 0], [[1, 2], [2, 1]], 1.0)
    with pytest.raises(ValueError, match="sigma_max must be > 0"):
        guided_gaussian(0.0, 1.0, 0.0, 1.0, 1.0, sigma_max=0.0)
    with pytest.raises(ValueError, match="num_steps must be >= 2"):
        heun_sample(lambda x, s: x, np.zeros((1, 1)), 1)
    with pytest.raises(ValueError, match="sigma_max .* must exceed sigma_min"):
        heun_sample(lambda x, s: x, np.zeros((1, 1)), 4, sigma_min=1.0, sigma_max=0.5)


def test_heun_accepts_an_integral_float_step_count():
    from simtheory.diffusion import heun_sample
    lat = np.random.default_rng(0).normal(size=(5, 2))
    f = lambda x, s: 0.5 * x / (1 + s**2)
    np.testing.assert_array_equal(heun_sample(f, lat, num_steps=4.0), heun_sample(f, lat, num_steps=4))


def test_guided_denoiser_without_auxiliary_is_the_base_at_any_w():
    base = {"weights": [0.4, 0.6], "means": [[-1.0], [2.0]], "covs": [[[0.3]], [[0.5]]]}
    x = np.linspace(-3, 3, 7)[:, None]
    for w in (0.0, 2.0):
        np.testing.assert_array_equal(guided_denoiser(base, None, w)(x, 0.7), guided_denoiser(base)(x, 0.7))


def test_defaults_are_edms_and_the_base():
    """sigma_steps() is EDM's 18-step schedule (plus the final 0); guided_denoiser's default w = 0 is the base
    even when an auxiliary is given."""
    s = sigma_steps()
    assert s.size == 19 and s[0] == 80.0 and s[-2] == pytest.approx(0.002) and s[-1] == 0.0
    base = {"weights": [0.4, 0.6], "means": [[-1.0], [2.0]], "covs": [[[0.3]], [[0.5]]]}
    aux = {"weights": [0.5, 0.5], "means": [[0.0], [1.0]], "covs": [[[0.6]], [[0.2]]]}
    x = np.linspace(-3, 3, 7)[:, None]
    np.testing.assert_array_equal(guided_denoiser(base, aux)(x, 0.7), guided_denoiser(base)(x, 0.7))
