import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from empirical import fid
from empirical.images import cifar10 as data
from simtheory.families.gaussian import w2


def test_frechet_closed_forms():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 2, 6), rng.uniform(0.5, 2, 6)
    m1, m2 = rng.normal(size=6), rng.normal(size=6)
    expect = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert abs(fid.frechet_distance(m1, np.diag(a), m2, np.diag(b)) - expect) < 1e-10
    U = ortho_group.rvs(6, random_state=1)                          # commuting covariances: same eigenvectors
    assert abs(fid.frechet_distance(m1, U @ np.diag(a) @ U.T, m2, U @ np.diag(b) @ U.T) - expect) < 1e-9
    A = rng.normal(size=(6, 6))                                      # general: FID = W2^2 of the Gaussians
    S1 = A @ A.T + np.eye(6)
    B = rng.normal(size=(6, 6))
    S2 = B @ B.T + np.eye(6)
    assert abs(fid.frechet_distance(m1, S1, m2, S2) - w2(m1, S1, m2, S2) ** 2) < 1e-8


def test_inception_input_checks_and_detector_hash():
    with pytest.raises(ValueError, match="uint8"):
        fid.inception_features(np.zeros((2, 3, 8, 8), np.float32))
    f = fid.inception_features(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    assert f.shape == (2, 2048) and f.dtype == np.float64
    assert fid._sha1(fid.detector_path()) == fid.DETECTOR_SHA1


@pytest.mark.cifar
def test_fid_real_against_noise_above_real_against_real():
    """Fast version of the slow check below (16 images per set; measured 304 real-real vs 570 real-noise at
    seed 0): noise is farther from real images than real images are from each other."""
    x, _ = data.load_cifar10("test")
    perm = np.random.default_rng(0).permutation(len(x))
    noise = np.random.default_rng(1).integers(0, 256, (16, 3, 32, 32), dtype=np.uint8)
    f = fid.inception_features(np.concatenate([x[perm[:16]], x[perm[48:64]], noise]))
    fa, fb, fn = f[:16], f[16:32], f[32:]

    def F(f1, f2):
        return fid.frechet_distance(*fid.statistics(f1), *fid.statistics(f2))

    assert F(fa, fn) > F(fa, fb) > 0


@pytest.mark.cifar
def test_fid_command(tmp_path, monkeypatch, capsys):
    """``python -m empirical fid --images``: the FID of the file's first n images against the reference split."""
    import json

    from empirical.cli import main
    rng = np.random.default_rng(2)
    ref = rng.integers(0, 256, (8, 3, 8, 8), dtype=np.uint8)
    imgs = rng.integers(0, 256, (6, 3, 8, 8), dtype=np.uint8)
    monkeypatch.setattr(data, "dataset", lambda split, res, *a: (ref, np.zeros(len(ref), np.int64)))
    monkeypatch.setattr(data, "CACHE", tmp_path)
    np.savez(tmp_path / "imgs.npz", images=imgs)
    assert main(["fid", "--images", str(tmp_path / "imgs.npz"), "--n", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    f = fid.inception_features(np.concatenate([imgs[:5], ref]))
    expect = fid.frechet_distance(*fid.statistics(f[:5]), *fid.statistics(f[5:]))
    assert out["fid_n"] == 5 and out["fid_ref_n"] == 8 and abs(out["fid"] - expect) < 1e-6 * max(1, expect)
    assert main(["fid", "--images", str(tmp_path / "missing.npz")]) == 2


@pytest.mark.cifar
@pytest.mark.slow
def test_fid_on_real_images_small_for_halves_falls_with_n_large_for_noise():
    x, _ = data.load_cifar10("test")
    perm = np.random.default_rng(0).permutation(len(x))
    A, B = x[perm[:200]], x[perm[200:400]]
    fa, fb = fid.inception_features(A), fid.inception_features(B)
    noise = np.random.default_rng(1).integers(0, 256, (100, 3, 32, 32), dtype=np.uint8)
    fn = fid.inception_features(noise)

    def F(f1, f2):
        return fid.frechet_distance(*fid.statistics(f1), *fid.statistics(f2))

    small, large_n = F(fa[:100], fb[:100]), F(fa, fb)
    assert large_n < small                        # FID's bias falls as n grows
    assert F(fa[:100], fn) > 3 * small            # real against noise is far larger
