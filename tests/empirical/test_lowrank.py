"""empirical.lowrank: the torch twin of the low-rank mixture against the numpy law (float64 to rounding, float32
to a bound from float32's unit roundoff), the adapter for the torch Heun sampler, and the fit-mixture command."""
from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from empirical import edm  # noqa: E402
from empirical.images import cifar10 as data  # noqa: E402
from empirical.cli import main  # noqa: E402
from empirical.lowrank import TorchLowRankMixture, fit_cifar  # noqa: E402
from simtheory.diffusion import LowRankMixture, cifar_mixture, fit_lowrank_mixture, heun_sample  # noqa: E402

EPS32 = 2.0**-24      # unit roundoff of float32
SIGMAS = [0.0, 0.002, 0.1, 1.0, 10.0, 80.0]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def random_law(rng, K=4, d=12, r=3) -> LowRankMixture:
    return LowRankMixture(rng.dirichlet(np.ones(K)), rng.normal(0, 1, (K, d)), rng.normal(0, 0.6, (K, d, r)),
                          rng.uniform(0.02, 0.2, K))


def points(law, rng, n, sigma) -> np.ndarray:
    return law.sample(n, rng) + sigma * rng.standard_normal((n, law.d))


@pytest.mark.parametrize("device", DEVICES)
def test_float64_twin_equals_the_numpy_law(device):
    """Different arithmetic (explicit residuals in torch, the expanded |x - mu|^2 in numpy), the same values to
    float64 rounding of the quadratic forms."""
    rng = np.random.default_rng(0)
    for law in (random_law(rng), cifar_mixture(8)):
        tw = TorchLowRankMixture(law)
        for s in SIGMAS:
            x = points(law, rng, 64, s)
            xt = torch.from_numpy(x).to(device)
            c = law.floors.min() + s * s
            big = np.abs(x).max() + np.abs(law.means).max() + 1
            tol = 1e3 * np.finfo(np.float64).eps * (1 + big**2 / c) * big
            for meth, t in (("denoiser", tol), ("posterior", tol), ("score", tol / c)):
                a = getattr(tw, meth)(xt, s).cpu().numpy()
                assert np.abs(a - getattr(law, meth)(x, s)).max() <= t, (meth, s)
            lp = law.logpdf(x, s)
            assert np.abs(tw.logpdf(xt, s).cpu().numpy() - lp).max() <= tol * (1 + np.abs(lp).max())


def float32_bounds(law: LowRankMixture, x: np.ndarray, s: float, A: float) -> tuple[np.ndarray, np.ndarray]:
    """First-order bounds (per row) on float32's effect on the posterior and on the denoiser, from float64 values.

    Each log-joint lj_k = log pi_k - (Q_k + log det C_k) / 2 is a few pairwise sums of d positive terms: float32
    changes it by at most A eps32 (Q_k + |log det_k - log det_ref| + 1) (the per-row reference cancels in the
    posterior), plus the rounding of mu_k, which moves Q_k by <= 2 sqrt(Q_k) eps32 |mu_k| / sqrt(c_k). So
    |d gamma_k| <= gamma_k (|d lj_k| + sum_j gamma_j |d lj_j|). The denoiser D = sum_k gamma_k D_k moves by
    sum_k |d gamma_k| |D_k - D| (the d gamma_k sum to 0) plus sum_k gamma_k |d D_k|, where D_k = mu_k
    + (f_k / c_k) e_k + U_k (w_k * p_k), w = (lambda + f) / (lambda + c) <= 1, rounds by at most
    A eps32 (|mu_k| + (2 f_k / c_k + max w_k) |x - mu_k|_2) (|e_k|, |U_k p_k| <= |x - mu_k|_2)."""
    c = law.floors + s * s
    lam = law._lam
    ld = (law.d - law._m) * np.log(c) + np.log(lam + c[:, None]).sum(axis=1)
    ld_rel = ld - law.d * np.log(law.floors.mean() + s * s)
    lj = law.log_posterior(x, s) + law.logpdf(x, s)[:, None]
    Q = np.maximum(-2 * (lj - np.log(law.weights)) - ld - law.d * math.log(2 * math.pi), 0.0)
    mu_norm = np.linalg.norm(law.means, axis=1)
    dlj = A * EPS32 * (Q + np.abs(ld_rel) + 1 + 2 * np.sqrt(Q) * mu_norm / np.sqrt(c))
    g = law.posterior(x, s)
    dg = g * (dlj + (g * dlj).sum(axis=1, keepdims=True))
    D = law.denoiser(x, s)
    Dk = np.stack([LowRankMixture([1.0], law.means[k:k + 1], law.factors[k:k + 1], law.floors[k:k + 1])
                   .denoiser(x, s) for k in range(law.K)], axis=1)
    spread = np.abs(Dk - D[:, None, :]).max(axis=2)
    wmax = ((lam + law.floors[:, None]) / (lam + c[:, None])).max(axis=1, initial=0.0)
    r2 = np.linalg.norm(x[:, None, :] - law.means[None], axis=2)
    dDk = A * EPS32 * (np.abs(law.means).max(axis=1) + (2 * law.floors / c + wmax) * r2)
    return dg.max(axis=1), (dg * spread + g * dDk).sum(axis=1)


@pytest.mark.parametrize("device", DEVICES)
def test_float32_twin_agrees_to_float32_rounding(device):
    """The float32 twin on float32 inputs against the float64 law on the same (rounded) inputs: within the
    first-order bound with A = 2 (log2 d + 2) (pairwise summation of d terms, a few operations around it); a
    law with 0.1% larger floors (negative control) is outside it."""
    rng = np.random.default_rng(1)
    for law in (random_law(rng), cifar_mixture(8)):
        A = 2 * (math.log2(law.d) + 2)
        tw = TorchLowRankMixture(law)
        other = TorchLowRankMixture(LowRankMixture(law.weights, law.means, law.factors, law.floors * 1.001))
        seen = False
        for s in SIGMAS:
            s32 = float(np.float32(s))
            x = points(law, rng, 200, s).astype(np.float32).astype(np.float64)
            xt = torch.from_numpy(x).float().to(device)
            bg, bD = float32_bounds(law, x, s32, A)
            g = tw.posterior(xt, s32).double().cpu().numpy()
            D = tw.denoiser(xt, s32).double().cpu().numpy()
            assert np.all(np.abs(g - law.posterior(x, s32)).max(axis=1) <= bg), s
            assert np.all(np.abs(D - law.denoiser(x, s32)).max(axis=1) <= bD), s
            Do = other.denoiser(xt, s32).double().cpu().numpy()
            seen |= bool(np.any(np.abs(Do - law.denoiser(x, s32)).max(axis=1) > bD))
        assert seen


def test_per_row_sigma_and_image_shapes():
    law = cifar_mixture(8)
    tw = TorchLowRankMixture(law)
    rng = np.random.default_rng(2)
    x = law.sample(6, rng).reshape(6, 3, 8, 8)
    sig = np.array([0.0, 0.002, 0.3, 1.0, 20.0, 80.0])
    D = tw.denoiser(torch.from_numpy(x), torch.from_numpy(sig))
    assert D.shape == (6, 3, 8, 8) and D.dtype == torch.float64
    for i, s in enumerate(sig):
        one = law.denoiser(x[i:i + 1], s)
        assert np.abs(D[i].numpy() - one[0]).max() <= 1e-12
    S = tw.score(torch.from_numpy(x), 0.5)
    assert np.abs(S.numpy() - law.score(x, 0.5)).max() <= 1e-9


def test_torch_heun_samples_the_law_like_the_numpy_heun():
    """empirical.edm.heun_sample with the adapter computing in float64 does the numpy sampler's arithmetic once
    the float32 boundary (x, sigma and D rounded) is reproduced: equal to rounding. The float32 adapter differs
    from the float64 one by at most its per-evaluation bound (:func:`float32_bounds`) times the step factor
    |sigma_{i+1} - sigma_i| / sigma_i, summed over the 2N - 1 evaluations, with a margin of 2 for the flow's
    expansion between components."""
    law = cifar_mixture(8)
    tw = TorchLowRankMixture(law)
    lat = torch.randn(64, 3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    steps = 8
    seen = []
    f64 = tw.as_denoiser(torch.float64)

    def recording(x, s):
        seen.append((x.double().reshape(x.shape[0], -1).numpy(), float(s[0])))
        return f64(x, s)
    a = edm.heun_sample(recording, lat, steps).numpy()

    def at_float32(x, s):
        return law.denoiser(x.astype(np.float32).astype(np.float64), float(np.float32(s))) \
            .astype(np.float32).astype(np.float64)
    b = heun_sample(at_float32, lat.numpy(), steps)
    assert a.shape == (64, 3, 8, 8)
    assert np.abs(a - b).max() <= 1e-10 * (1 + np.abs(b).max())
    c = edm.heun_sample(tw.as_denoiser(), lat, steps).numpy()
    t = edm.sigma_steps(steps).numpy()
    A = 2 * (math.log2(law.d) + 2)
    bound = 0.0
    for x, s in seen:
        i = int(np.argmin(np.abs(t[:-1] - s)))
        bound += abs(t[i + 1] - t[i]) / t[i] * float32_bounds(law, x, s, A)[1].max()
    diff = np.abs(c - a).max()
    assert 0 < diff <= 2 * bound, (diff, bound)


def test_torch_twin_refuses_bad_input():
    tw = TorchLowRankMixture(cifar_mixture(8))
    x = torch.zeros(3, 192)
    with pytest.raises(ValueError, match="x"):
        tw.denoiser(x.long(), 0.5)
    with pytest.raises(ValueError, match="x"):
        tw.denoiser(x[:, :10], 0.5)
    with pytest.raises(ValueError, match="x"):
        tw.denoiser(x.numpy(), 0.5)
    with pytest.raises(ValueError, match="x"):
        tw.denoiser(torch.full((3, 192), math.nan), 0.5)
    for s in (-1.0, math.nan, torch.ones(2), True):
        with pytest.raises(ValueError, match="sigma"):
            tw.denoiser(x, s)
    with pytest.raises(ValueError, match="law"):
        TorchLowRankMixture("law")
    with pytest.raises(ValueError, match="dtype"):
        tw.as_denoiser(torch.float16)


# ---------------------------------------------------------------- the fit-mixture command
def _fake_cifar(root, n=40):
    """A cifar-10-batches-py folder with n random images per batch, every class present."""
    folder = root / data.BATCHES
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in data.BATCH_FILES:
        obj = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": [i % 10 for i in range(n)]}
        (folder / name).write_bytes(pickle.dumps(obj))
    return folder


def test_fit_mixture_command_writes_the_fit_and_prints_its_facts(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(data, "CACHE", tmp_path / "cache")
    folder = _fake_cifar(tmp_path)
    out = tmp_path / "law.npz"
    assert main(["fit-mixture", "--resolution", "4", "--rank", "3", "--data", str(folder), "--out", str(out),
                 "--check-n", "500"]) == 0
    printed = json.loads(capsys.readouterr().out)
    law = LowRankMixture.load(out)
    x, y = data.load_cifar10("train", folder, cache_dir=None)
    want = fit_lowrank_mixture(data.downsample(x, 4).astype(np.float64) / 127.5 - 1, y, 3)
    assert law.shape == (3, 4, 4) and law.r == 3
    assert np.array_equal(law.factors, want.factors) and np.array_equal(law.floors, want.floors)
    assert printed["floors"] == [round(float(v), 6) for v in want.floors]
    assert set(printed["facts"]) >= {"mean_reward", "mean_reward_se", "accuracy", "confident_share"}
    # --float32 stores float32 means and factors; a second run may overwrite the file
    assert main(["fit-mixture", "--resolution", "4", "--rank", "3", "--data", str(folder), "--out", str(out),
                 "--check-n", "0", "--float32"]) == 0
    assert np.array_equal(LowRankMixture.load(out).factors, want.factors.astype(np.float32).astype(np.float64))


def test_fit_mixture_command_refuses_bad_options_before_writing(tmp_path, capsys):
    out = tmp_path / "law.npz"
    for argv in (["--resolution", "5"], ["--rank", "192"], ["--floor", "0"], ["--check-n", "1"],
                 ["--target", "plane"]):
        assert main(["fit-mixture", "--out", str(out), *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert main(["fit-mixture", "--out", str(tmp_path / "no" / "law.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.cifar
def test_the_committed_law_is_the_fit_of_cifar10():
    """The command's fit at 8 x 8, rank 16, reproduces the committed file to its float32 storage (slow: reading
    and downsampling the 50,000 training images takes most of ten seconds)."""
    law = fit_cifar(8, 16)
    stored = cifar_mixture(8)
    assert np.array_equal(stored.weights, law.weights)
    assert np.allclose(stored.floors, law.floors, rtol=1e-10, atol=0)     # eigenvalues: LAPACK rounding
    assert np.array_equal(stored.means, law.means.astype(np.float32).astype(np.float64))
    # eigenvectors carry a sign (and LAPACK's rounding): compare the factors through F F^T
    S, T = law.component_covariances(), stored.component_covariances()
    assert np.abs(S - T).max() <= 1e-6 * np.abs(S).max()
