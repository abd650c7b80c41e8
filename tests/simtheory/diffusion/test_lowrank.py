"""simtheory.diffusion.lowrank: the low-rank-plus-floor mixture against the dense-covariance reference, the
project's dense GMM functions, finite differences and its own moments; the fit; storage; the committed law."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simtheory.diffusion import (DenseMixture, LowRankMixture, bayes_facts, cifar_mixture, class_reward,
                                 fit_lowrank_mixture, gmm_denoiser_reference, gmm_score_reference, heun_sample,
                                 noised_logpdf)
from simtheory.diffusion.lowrank_fit import CIFAR_LAWS

from tolerances import N_SE

EPS = np.finfo(np.float64).eps
SIGMAS = [0.0, 1e-3, 0.05, 0.7, 5.0, 80.0]


def random_law(rng, K, d, r, spread=1.0, scale=0.6, floors=(0.02, 0.2)) -> LowRankMixture:
    return LowRankMixture(rng.dirichlet(np.ones(K)), rng.normal(0, spread, (K, d)), rng.normal(0, scale, (K, d, r)),
                          rng.uniform(*floors, K))


def near_law(law, rng, n, sigma):
    """Points where every component matters: draws of the law noised at sigma, and some between the means."""
    x = law.sample(n, rng) + sigma * rng.standard_normal((n, law.d))
    mid = 0.5 * (law.means[rng.integers(0, law.K, n)] + law.means[rng.integers(0, law.K, n)])
    return np.vstack([x, mid + 0.1 * rng.standard_normal((n, law.d))])


def rounding_scale(law, x, sigma) -> float:
    """What float64 rounding of the fast path is measured against: eps (|x|^2 + |mu|^2) / min c (the expanded
    |x - mu|^2, module docstring) times the largest value a result can take (|x| + |mu| + 1)."""
    c = law.floors.min() + sigma**2
    big = np.abs(x).max() + np.abs(law.means).max() + 1
    return EPS * (1 + big**2 / c) * big


laws = st.tuples(st.integers(0, 10**6), st.integers(1, 4), st.integers(1, 9), st.integers(0, 5))


# ---------------------------------------------------------------- against the dense reference
@given(laws, st.sampled_from(SIGMAS))
@settings(max_examples=40)
def test_fast_path_matches_the_dense_cholesky_reference(case, sigma):
    seed, K, d, r = case
    rng = np.random.default_rng(seed)
    law = random_law(rng, K, d, r)
    dense = law.to_dense()
    x = near_law(law, rng, 24, sigma)
    tol = 1e3 * rounding_scale(law, x, sigma)
    assert np.abs(law.denoiser(x, sigma) - dense.denoiser(x, sigma)).max() <= tol
    assert np.abs(law.posterior(x, sigma) - dense.posterior(x, sigma)).max() <= tol
    lp, lpd = law.logpdf(x, sigma), dense.logpdf(x, sigma)
    assert np.abs(lp - lpd).max() <= tol * (1 + np.abs(lpd).max())
    sd = dense.score(x, sigma)
    c = law.floors.min() + sigma**2
    assert np.abs(law.score(x, sigma) - sd).max() <= tol / c


@given(laws, st.sampled_from(SIGMAS))
@settings(max_examples=30)
def test_numba_kernel_matches_its_numpy_reference(case, sigma):
    seed, K, d, r = case
    rng = np.random.default_rng(seed)
    law = random_law(rng, K, d, r)
    x = near_law(law, rng, 16, sigma)
    tol = 1e3 * rounding_scale(law, x, sigma)
    c = law.floors.min() + sigma**2
    for meth, t in (("denoiser", tol), ("score", tol / c), ("posterior", tol), ("log_posterior", tol / c)):
        a, b = getattr(law, meth)(x, sigma), getattr(law, meth)(x, sigma, fast=False)
        assert np.abs(a - b).max() <= t, meth
    lp = law.logpdf(x, sigma, fast=False)
    assert np.abs(law.logpdf(x, sigma) - lp).max() <= tol * (1 + np.abs(lp).max())


def test_image_dimensions_match_the_dense_reference_and_the_project_gmm_functions():
    """d = 192, K = 10, r = 16 (the committed law's size): the fast path against DenseMixture and against the
    project's own dense GMM denoiser, score and log-density (simtheory.diffusion.denoiser)."""
    law = cifar_mixture(8)
    rng = np.random.default_rng(1)
    w, m, S = law.weights, law.means, law.component_covariances()
    dense = law.to_dense()
    for sigma in (0.002, 0.3, 80.0):
        x = law.sample(40, rng) + sigma * rng.standard_normal((40, law.d))
        D = law.denoiser(x, sigma)
        tol = 1e3 * rounding_scale(law, x, sigma)
        assert np.abs(D - dense.denoiser(x, sigma)).max() <= tol
        assert np.abs(D - gmm_denoiser_reference(x, sigma, w, m, S)).max() <= tol
        c = law.floors.min() + sigma**2
        assert np.abs(law.score(x, sigma) - gmm_score_reference(x, sigma, w, m, S)).max() <= tol / c
        ref = noised_logpdf(x, sigma, w, m, S)
        assert np.abs(law.logpdf(x, sigma) - ref).max() <= tol * np.abs(ref).max()


def test_negative_control_a_one_percent_floor_change_is_seen():
    """The comparison above can fail: the same law with floors 1% larger differs by far more than its tolerance."""
    rng = np.random.default_rng(2)
    law = random_law(rng, 3, 6, 2)
    other = LowRankMixture(law.weights, law.means, law.factors, law.floors * 1.01).to_dense()
    for sigma in (0.0, 0.05):
        x = near_law(law, rng, 24, sigma)
        tol = 1e3 * rounding_scale(law, x, sigma)
        assert np.abs(law.logpdf(x, sigma) - other.logpdf(x, sigma)).max() > 1e3 * tol
    x = near_law(law, rng, 24, 0.05)
    assert np.abs(law.denoiser(x, 0.05) - other.denoiser(x, 0.05)).max() > 1e3 * rounding_scale(law, x, 0.05)


def test_rank_above_dimension_and_rank_zero():
    """r > d (F F^T of full rank d) and r = 0 (isotropic components) are the same law as their dense form."""
    rng = np.random.default_rng(3)
    for r in (0, 7):
        law = random_law(rng, 3, 4, r)
        x = near_law(law, rng, 20, 0.3)
        tol = 1e3 * rounding_scale(law, x, 0.3)
        assert np.abs(law.denoiser(x, 0.3) - law.to_dense().denoiser(x, 0.3)).max() <= tol
        lp = law.to_dense().logpdf(x)
        assert np.abs(law.logpdf(x) - lp).max() <= tol * (1 + np.abs(lp).max())


# ---------------------------------------------------------------- identities of the exact law
def test_denoiser_is_the_identity_at_sigma_zero_and_tweedie_holds():
    rng = np.random.default_rng(4)
    law = random_law(rng, 4, 5, 2)
    x = near_law(law, rng, 30, 0.0)
    assert np.array_equal(law.denoiser(x, 0.0), x)
    for sigma in (0.3, 2.0, 80.0):          # D = x + sigma^2 score (Tweedie), two independently summed forms
        D, S = law.denoiser(x, sigma), law.score(x, sigma)
        tol = 1e3 * rounding_scale(law, x, sigma) * (1 + np.abs(x).max())
        assert np.abs(D - (x + sigma**2 * S)).max() <= tol


def test_score_is_the_gradient_of_logpdf():
    """Central differences of logpdf with step h: truncation h^2/6 |f'''| (estimated by Richardson, from the
    difference between steps h and 2h) plus rounding ~ eps |f| / h."""
    rng = np.random.default_rng(5)
    law = random_law(rng, 3, 4, 2, floors=(0.2, 0.5))
    x = near_law(law, rng, 10, 0.0)
    for sigma in (0.0, 0.4, 3.0):
        S = law.score(x, sigma)
        h = 1e-4
        fd, fd2 = np.empty_like(x), np.empty_like(x)
        for a in range(law.d):
            e = np.zeros(law.d)
            e[a] = 1
            fd[:, a] = (law.logpdf(x + h * e, sigma) - law.logpdf(x - h * e, sigma)) / (2 * h)
            fd2[:, a] = (law.logpdf(x + 2 * h * e, sigma) - law.logpdf(x - 2 * h * e, sigma)) / (4 * h)
        trunc = np.abs(fd2 - fd) / 3                  # fd2 - fd = 3 (h^2 / 6) f''' + O(h^4)
        rnd = 10 * EPS * (1 + np.abs(law.logpdf(x, sigma)).max()) / h
        assert np.all(np.abs(S - fd) <= 4 * trunc + rnd), sigma
        # negative control: the score of another law is far outside the same tolerance
        other = LowRankMixture(law.weights, law.means + 0.01, law.factors, law.floors)
        assert np.any(np.abs(other.score(x, sigma) - fd) > 100 * (4 * trunc + rnd))


def test_posterior_is_the_dense_bayes_rule_and_flattens_at_sigma_max():
    rng = np.random.default_rng(6)
    law = random_law(rng, 4, 6, 3, spread=2.0)
    w, m, S = law.weights, law.means, law.component_covariances()
    x = near_law(law, rng, 30, 0.0)
    for sigma in (0.0, 1.0):
        C = S + sigma**2 * np.eye(law.d)
        joint = np.stack([w[k] * np.exp(-0.5 * np.einsum("na,ab,nb->n", x - m[k], np.linalg.inv(C[k]), x - m[k]))
                          / np.sqrt(np.linalg.det(2 * np.pi * C[k])) for k in range(law.K)], axis=1)
        bayes = joint / joint.sum(axis=1, keepdims=True)
        assert np.abs(law.posterior(x, sigma) - bayes).max() <= 1e-12
    g = law.posterior(x, 80.0)               # noise swamps the components: the posterior is near the prior
    assert np.allclose(g.sum(axis=1), 1.0, atol=1e-14, rtol=0)
    assert np.abs(g - w).max() < 0.05


def test_image_shaped_input_is_flattened_and_keeps_its_shape():
    law = cifar_mixture(8)
    x = law.sample(5, np.random.default_rng(7)).reshape(5, *law.shape)
    D = law.denoiser(x, 0.5)
    assert D.shape == (5, 3, 8, 8)
    assert np.array_equal(D.reshape(5, -1), law.denoiser(x.reshape(5, -1), 0.5))
    assert law.posterior(x).shape == (5, 10) and law.logpdf(x).shape == (5,)


def test_heun_sampling_with_the_fast_denoiser_equals_the_dense_one():
    rng = np.random.default_rng(8)
    law = random_law(rng, 3, 5, 2)
    lat = rng.standard_normal((50, law.d))
    a = heun_sample(law.denoiser, lat, 12)
    b = heun_sample(law.to_dense().denoiser, lat, 12)
    assert np.abs(a - b).max() <= 1e-9 * (1 + np.abs(b).max())


# ---------------------------------------------------------------- draws and moments
def _moment_z(law, x, mean, cov) -> tuple[float, float]:
    """Largest |z| of the sample mean and of the sample covariance entries against (mean, cov)."""
    n = x.shape[0]
    zm = np.abs(x.mean(axis=0) - mean) / (x.std(axis=0, ddof=1) / math.sqrt(n))
    xc = x - x.mean(axis=0)
    prod = xc[:, :, None] * xc[:, None, :]
    zc = np.abs(prod.mean(axis=0) - cov) / (prod.std(axis=0, ddof=1) / math.sqrt(n))
    return float(zm.max()), float(zc.max())


def test_draws_have_the_law_moments_and_labels_have_the_weights():
    rng = np.random.default_rng(9)
    law = random_law(rng, 3, 3, 2, spread=1.5)
    x, y = law.sample(40_000, np.random.default_rng(10), return_labels=True)
    zm, zc = _moment_z(law, x, law.mean(), law.covariance())
    # d + d^2 = 12 statistics: N_SE + 0.5 keeps the family-wise false alarm rate small
    assert zm <= N_SE + 0.5 and zc <= N_SE + 0.5
    share = np.bincount(y, minlength=law.K) / y.size
    assert np.all(np.abs(share - law.weights) <= (N_SE + 0.5) * np.sqrt(law.weights * (1 - law.weights) / y.size))
    for k in range(law.K):                     # each component's draws: its own mean
        xk = x[y == k]
        se = np.sqrt(np.diag(law.component_covariances()[k]) / xk.shape[0])
        assert np.all(np.abs(xk.mean(axis=0) - law.means[k]) <= (N_SE + 0.5) * se)
    # negative control: the same draws against a law with floors doubled are rejected
    other = LowRankMixture(law.weights, law.means, law.factors, 2 * law.floors)
    assert _moment_z(other, x, other.mean(), other.covariance())[1] > N_SE + 0.5


def test_draws_are_reproducible_and_the_moments_are_exact_for_one_component():
    law = random_law(np.random.default_rng(11), 1, 4, 2)
    a = law.sample(7, np.random.default_rng(3))
    assert np.array_equal(a, law.sample(7, np.random.default_rng(3)))
    assert np.allclose(law.covariance(), law.component_covariances()[0], rtol=0, atol=1e-14)
    assert np.array_equal(law.mean(), law.means[0])


# ---------------------------------------------------------------- the fit
def test_fit_is_the_ppca_maximum_likelihood_per_class():
    rng = np.random.default_rng(12)
    truth = random_law(rng, 3, 6, 2, spread=2.0)
    x, y = truth.sample(3000, rng, return_labels=True)
    law = fit_lowrank_mixture(x, y, 2)
    assert np.allclose(law.weights, np.bincount(y) / y.size, rtol=0, atol=1e-15)
    S = law.component_covariances()
    for k in range(3):
        xk = x[y == k]
        assert np.allclose(law.means[k], xk.mean(axis=0), rtol=0, atol=1e-13)
        emp = np.cov(xk.T, bias=True)
        lam, vec = np.linalg.eigh(emp)
        assert math.isclose(law.floors[k], lam[:-2].mean(), rel_tol=1e-12)
        assert math.isclose(np.trace(S[k]), np.trace(emp), rel_tol=1e-12)       # the trace is kept
        top = vec[:, -2:]
        assert np.allclose(S[k] @ top, top * lam[-2:], rtol=0, atol=1e-12)      # the top eigenpairs are kept
    # rank d - 1 keeps every eigenvalue: the mixture's covariance is the data's (law of total covariance)
    full = fit_lowrank_mixture(x, y, 5)
    assert np.allclose(full.covariance(), np.cov(x.T, bias=True), rtol=0, atol=1e-12)
    # the recovered floors estimate the true ones (6 - 2 remaining directions per class, 1000 draws each)
    assert np.all(np.abs(law.floors / truth.floors - 1) < 0.35)


def test_fit_with_a_given_floor_and_image_shapes():
    rng = np.random.default_rng(13)
    x = rng.normal(size=(60, 2, 2, 2))
    y = np.repeat([0, 1], 30)
    law = fit_lowrank_mixture(x, y, 2, floor=0.5)
    assert law.shape == (2, 2, 2) and np.array_equal(law.floors, [0.5, 0.5])
    big = fit_lowrank_mixture(x, y, 2, floor=[100.0, 0.01])
    assert np.all(big.factors[0] == 0)           # a floor above every eigenvalue leaves no factor (the MLE)


def test_fit_refuses_bad_input():
    x = np.random.default_rng(14).normal(size=(20, 4))
    y = np.repeat([0, 1], 10)
    for kw, word in ((dict(rank=4), "rank"), (dict(rank=-1), "rank"), (dict(rank=1.5), "rank"),
                     (dict(rank=1, floor=0.0), "floor"), (dict(rank=1, floor=[1.0]), "floor")):
        with pytest.raises(ValueError, match=word):
            fit_lowrank_mixture(x, y, **kw)
    with pytest.raises(ValueError, match="labels"):
        fit_lowrank_mixture(x, np.repeat([0, 2], 10), 1)            # class 1 missing
    with pytest.raises(ValueError, match="labels"):
        fit_lowrank_mixture(x, y.astype(float), 1)
    with pytest.raises(ValueError, match="labels"):
        fit_lowrank_mixture(x, y[:-1], 1)
    with pytest.raises(ValueError, match="x"):
        fit_lowrank_mixture(np.full((20, 4), np.nan), y, 1)
    with pytest.raises(ValueError, match="lower rank or give floor"):
        fit_lowrank_mixture(np.random.default_rng(0).normal(size=(6, 8)), np.repeat([0, 1], 3), 3)


# ---------------------------------------------------------------- validation and storage
def test_constructor_and_methods_refuse_bad_input():
    rng = np.random.default_rng(15)
    w, m, F, f = np.array([0.5, 0.5]), rng.normal(size=(2, 3)), rng.normal(size=(2, 3, 1)), np.array([0.1, 0.2])
    bad = [((np.array([0.5, 0.6]), m, F, f), "weights"), ((np.array([[0.5, 0.5]]), m, F, f), "weights"),
           ((w, m[:1], F, f), "means"), ((w, m, F[:, :2], f), "factors"), ((w, m, F[..., 0], f), "factors"),
           ((w, m, F, np.array([0.1, 0.0])), "floors"), ((w, m, F, f[:1]), "floors"),
           ((w, m * np.nan, F, f), "means"), ((w, m, F * np.inf, f), "factors")]
    for args, word in bad:
        with pytest.raises(ValueError, match=word):
            LowRankMixture(*args)
    with pytest.raises(ValueError, match="shape"):
        LowRankMixture(w, m, F, f, shape=(2, 2))
    with pytest.raises(ValueError, match="covs"):            # the reference needs positive definite covariances
        DenseMixture(w, m, np.stack([np.eye(3), -np.eye(3)]))
    law = LowRankMixture(w, m, F, f)
    x = rng.normal(size=(4, 3))
    for meth in ("denoiser", "score", "posterior", "logpdf"):
        fn = getattr(law, meth)
        with pytest.raises(ValueError, match="x"):
            fn(x[:, :2], 0.5)
        with pytest.raises(ValueError, match="x"):
            fn(x[0], 0.5)
        with pytest.raises(ValueError, match="x"):
            fn(np.where(x > 0, np.nan, x), 0.5)
        for s in (-0.1, np.nan, np.inf, [0.1, 0.2], True):
            with pytest.raises(ValueError, match="sigma"):
                fn(x, s)
    with pytest.raises(ValueError, match="rng"):
        law.sample(3, 0)
    with pytest.raises(ValueError, match="n"):
        law.sample(0, np.random.default_rng(0))


def test_save_and_load(tmp_path):
    law = random_law(np.random.default_rng(16), 3, 4, 2)
    law = LowRankMixture(law.weights, law.means, law.factors, law.floors, shape=(1, 2, 2))
    back = LowRankMixture.load(law.save(tmp_path / "law.npz"))
    for k in ("weights", "means", "factors", "floors"):
        assert np.array_equal(getattr(back, k), getattr(law, k))
    assert back.shape == (1, 2, 2)
    small = LowRankMixture.load(law.save(tmp_path / "law32.npz", float32=True))
    assert small.means.dtype == np.float64
    assert np.array_equal(small.means, law.means.astype(np.float32).astype(np.float64))
    assert np.array_equal(small.factors, law.factors.astype(np.float32).astype(np.float64))
    assert np.array_equal(small.weights, law.weights) and np.array_equal(small.floors, law.floors)
    np.savez(tmp_path / "bad.npz", weights=law.weights)
    with pytest.raises(ValueError, match="lacks means"):
        LowRankMixture.load(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="no such file"):
        LowRankMixture.load(tmp_path / "none.npz")


# ---------------------------------------------------------------- the committed law and its rewards
def test_the_committed_cifar_law():
    law = cifar_mixture(8)
    assert (law.K, law.d, law.r, law.shape) == (10, 192, 16, (3, 8, 8))
    assert np.allclose(law.weights, 0.1, rtol=0, atol=1e-15)
    assert np.all((law.floors > 0.022) & (law.floors < 0.041))
    assert np.all(np.abs(law.means) <= 1)           # class means of data in [-1, 1]
    with pytest.raises(ValueError, match=str(sorted(CIFAR_LAWS))):
        cifar_mixture(16)


def test_class_reward_is_the_tempered_bayes_posterior():
    law = cifar_mixture(8)
    x = law.sample(200, np.random.default_rng(17))
    post = law.posterior(x)
    assert np.allclose(class_reward(law, 0)(x), 5 * post[:, 0], rtol=1e-12, atol=1e-300)
    for T in (0.5, 3.0):
        p = post ** (1 / T)
        want = 2.0 * p[:, 4] / p.sum(axis=1)
        assert np.allclose(class_reward(law, 4, 2.0, T)(x), want, rtol=1e-9, atol=1e-300)
    hot = class_reward(law, 0, 5.0, 1e6)(x)            # T -> inf: gamma / K
    assert np.allclose(hot, 0.5, rtol=1e-4)
    for kw, word in ((dict(target=10), "target"), (dict(target=0, temperature=0.0), "temperature"),
                     (dict(target=0, gamma=math.nan), "gamma")):
        with pytest.raises(ValueError, match=word):
            class_reward(law, **kw)


def test_bayes_facts_on_separated_and_identical_components():
    """Well separated: accuracy ~ 1, E[r] = gamma pi_target within SEs. Identical components (negative control):
    the posterior is the prior, so the classifier always says the heaviest class: accuracy = max pi."""
    rng = np.random.default_rng(18)
    w = np.array([0.2, 0.3, 0.5])
    sep = LowRankMixture(w, 30 * np.eye(3), np.zeros((3, 3, 1)), np.ones(3))
    f = bayes_facts(sep, 4000, rng, target=1)
    assert f["accuracy"] == 1.0 and f["confident_share"] == 1.0
    assert abs(f["mean_reward"] - 5 * 0.3) <= N_SE * f["mean_reward_se"]
    same = LowRankMixture(w, np.zeros((3, 3)), np.zeros((3, 3, 1)), np.ones(3))
    g = bayes_facts(same, 4000, rng, target=2)
    assert abs(g["accuracy"] - 0.5) <= N_SE * math.sqrt(0.25 / 4000)
    assert g["confident_share"] == 0.0 and abs(g["mean_reward"] - 2.5) < 1e-12
