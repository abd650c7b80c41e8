"""Cross-half property: empirical.edm.heun_sample (torch; float64 state, denoiser called in float32) and
simtheory.diffusion.heun_sample (numpy, float64) give the same samples for the same exact GMM denoiser."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
edm = pytest.importorskip("empirical.edm")

from simtheory.diffusion import gmm_denoiser, heun_sample  # noqa: E402

EPS32 = 2.0**-24      # unit roundoff of float32


def random_gmm(rng, k, d, spread):
    w = rng.dirichlet(np.ones(k))
    m = rng.normal(0, spread, (k, d))
    A = rng.normal(size=(k, d, d)) * 0.5
    return w, m, A @ A.transpose(0, 2, 1) + 0.1 * np.eye(d)


def torch_denoiser(w, m, c):
    """The exact GMM denoiser wrapped for the torch sampler: float32 tensors in and out, as a network is."""
    def f(x, sigma):
        s = float(sigma.reshape(-1)[0])
        return torch.from_numpy(gmm_denoiser(x.double().numpy(), s, w, m, c)).float()
    return f


def numpy_denoiser_at_float32(w, m, c):
    """The same float32 boundary in numpy: x and sigma rounded to float32 on the way in, D on the way out."""
    def f(x, sigma):
        xs = x.astype(np.float32).astype(np.float64)
        s = float(np.float32(sigma))
        return gmm_denoiser(xs, s, w, m, c).astype(np.float32).astype(np.float64)
    return f


cases = st.tuples(st.integers(0, 10**6), st.integers(1, 4), st.integers(1, 3), st.sampled_from([8, 18, 32]),
                  st.sampled_from([0.5, 2.0, 4.0]))


@given(cases)
@settings(max_examples=25)
def test_torch_and_numpy_heun_agree_at_the_float32_boundary(case):
    """With the float32 rounding of the denoiser's inputs and output reproduced in numpy, the two samplers do
    the same float64 arithmetic; only the schedule's pow may differ by an ulp, so they agree to ~1e-12."""
    seed, k, d, steps, spread = case
    rng = np.random.default_rng(seed)
    w, m, c = random_gmm(rng, k, d, spread)
    lat = rng.standard_normal((32, d))
    t = edm.heun_sample(torch_denoiser(w, m, c), torch.from_numpy(lat), steps).numpy()
    n = heun_sample(numpy_denoiser_at_float32(w, m, c), lat, steps)
    assert np.abs(t - n).max() <= 1e-10 * (1 + np.abs(n).max())


def float32_bound(w, m, c, lat, steps, margin=2.0):
    """First-order bound on the float32 boundary's effect, along the float64 path. Evaluation i rounds x, sigma
    and D to float32 (relative error <= EPS32 each): at most 3 EPS32 (|x_i| + |D_i|) in x - D, scaled by the step
    factor |sigma_{i+1} - sigma_i| / sigma_i. The rest of the flow contracts a perturbation made at sigma by
    about min(1, r / sigma), r^2 the largest eigenvalue of the mixture's covariance (exactly sqrt(r^2 /
    (r^2 + sigma^2)) for one Gaussian); ``margin`` covers the mixture's expansion between components."""
    from simtheory.diffusion import sigma_steps
    t = sigma_steps(steps)
    mean = w @ m
    total = np.einsum("k,kab->ab", w, c) + np.einsum("k,ka,kb->ab", w, m - mean, m - mean)
    r = np.sqrt(np.linalg.eigvalsh(total).max())
    seen = []
    heun_sample(lambda x, s: seen.append((s, np.abs(x).max() + np.abs(D := gmm_denoiser(x, s, w, m, c)).max())) or D,
                lat, steps)
    per_sigma = {}
    for s, size in seen:
        per_sigma[s] = max(per_sigma.get(s, 0.0), size)
    bound = 0.0
    for i in range(steps):
        factor = abs(t[i + 1] - t[i]) / t[i]
        shrink = 1.0 if t[i + 1] == 0 else min(1.0, r / t[i + 1])
        bound += 3 * EPS32 * factor * per_sigma[t[i]] * shrink * (2 if i < steps - 1 else 1)
    return margin * bound


@pytest.mark.parametrize("seed", range(6))
def test_torch_float32_denoiser_against_numpy_float64(seed):
    """The float64 numpy sampler against the torch one whose denoiser sees float32: within
    :func:`float32_bound` (about 4e-5 here; the measured differences are 5e-7 to 1.4e-6)."""
    rng = np.random.default_rng(100 + seed)
    w, m, c = random_gmm(rng, 3, 2, 0.7)
    lat = rng.standard_normal((200, 2))
    steps = 18
    t = edm.heun_sample(torch_denoiser(w, m, c), torch.from_numpy(lat), steps).numpy()
    n = heun_sample(lambda x, s: gmm_denoiser(x, s, w, m, c), lat, steps)
    tol = float32_bound(w, m, c, lat, steps)
    diff = np.abs(t - n).max()
    assert diff <= tol, (diff, tol)
    assert diff > 0                                          # the float32 boundary is really there
