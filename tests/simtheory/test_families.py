import numpy as np
import pytest

from simtheory.families import gaussian, gmm, histogram, kde


def _data(n=3000, d=2, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (k, d))
    return np.concatenate([rng.normal(c, 0.6, (n // k, d)) for c in centres])


@pytest.mark.parametrize("d,k", [(1, 2), (2, 8), (3, 4)])
def test_em_pass_kernel_matches_reference_and_py_func(d, k):
    x = _data(2000 + 37, d, k)
    p0 = gmm.init_params(x, k, np.random.default_rng(1), 1e-6)
    P, ln = gmm._factors(p0)
    ref = gmm.em_pass_reference(x, p0["means"], P, ln)
    for f in (gmm.em_pass_numba, gmm.em_pass_numba.py_func):
        got = f(x, p0["means"], P, ln)
        for a, b in zip(got, ref):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-9)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_em_loglik_nondecreasing(cov):
    x = _data()
    p0 = gmm.init_params(x, 3, np.random.default_rng(2), 1e-6)
    _, hist = gmm.em(x, p0, 30, covariance=cov)
    assert np.all(np.diff(hist) >= -1e-10)


def test_em_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.mixture")
    x = _data(5000, 2, 4)
    p0 = gmm.init_params(x, 4, np.random.default_rng(3), 1e-6)
    ours, _ = gmm.em(x, p0, 15, reg=1e-6)
    g = sk.GaussianMixture(4, covariance_type="full", tol=0, max_iter=15, reg_covar=1e-6, init_params="random",
                           weights_init=p0["weights"], means_init=p0["means"],
                           precisions_init=np.linalg.inv(p0["covs"]))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g.fit(x)
    ll_ours = np.mean(gmm.logpdf(ours, x))
    assert abs(ll_ours - g.score(x)) <= 1e-8 * abs(g.score(x))


def test_histogram_inverse_cdf_kernel():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(50))
    p[[3, 7]] = 0
    cdf = np.cumsum(p / p.sum())
    u = rng.random(10000)
    ref = histogram.inverse_cdf_reference(cdf, u)
    np.testing.assert_array_equal(histogram.inverse_cdf_numba(cdf, u), ref)
    np.testing.assert_array_equal(histogram.inverse_cdf_numba.py_func(cdf, u), ref)
    assert not np.any(np.isin(ref, [3, 7]))


def test_gaussian_fit_estimators_and_w2():
    x = _data(500, 3, 1)
    np.testing.assert_allclose(gaussian.fit(x, estimator="unbiased")["cov"], np.cov(x.T), atol=1e-12)
    np.testing.assert_allclose(gaussian.fit(x, estimator="mle")["cov"], np.cov(x.T, bias=True), atol=1e-12)
    # 1-D: W2 = sqrt((m1-m2)^2 + (s1-s2)^2)
    assert abs(gaussian.w2([0.0], [[4.0]], [1.0], [[1.0]]) - np.sqrt(1 + 1)) < 1e-12
    with pytest.raises(ValueError, match="positive definite"):
        gaussian.check_cov([[1.0, 2.0], [2.0, 1.0]])


def test_kde_density_normalised_and_sample_variance():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (400, 1))
    params = kde.fit(x)
    grid = np.linspace(-8, 8, 4001)[:, None]
    assert abs(np.exp(kde.logpdf(params, grid)).sum() * (grid[1, 0] - grid[0, 0]) - 1) < 1e-6
    n = 40000
    s = kde.sample(params, n, rng)
    target = x.var() + float(params["bandwidth"]) ** 2
    se = target * np.sqrt(2 / (n - 1))       # sd of a Gaussian-ish sample variance
    assert abs(s.var() - target) < 4 * se + 0.02 * target   # + the kernel mixture's excess kurtosis
