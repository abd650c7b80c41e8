import math

import numpy as np
import pytest
import torch

from empirical import checkpoints
from empirical.edm import Denoiser, generate, heun_sample, precond_coefficients, sigma_steps
from empirical.train import ema_beta, ema_update
from empirical.unet import UNetConfig

from tolerances import N_SE

TINY = UNetConfig(img_resolution=8, channels=16, channel_mult=(1, 2), num_blocks=1, attn_resolutions=(4,), dropout=0.0)


def test_preconditioning_matches_doc():
    sigma = torch.tensor([0.002, 0.5, 1.0, 80.0], dtype=torch.float64)
    c_skip, c_out, c_in, c_noise = precond_coefficients(sigma)
    sd = 0.5
    for i, s in enumerate(sigma.tolist()):
        assert math.isclose(c_skip[i], sd**2 / (s**2 + sd**2), rel_tol=1e-12)
        assert math.isclose(c_out[i], s * sd / math.sqrt(s**2 + sd**2), rel_tol=1e-12)
        assert math.isclose(c_in[i], 1 / math.sqrt(s**2 + sd**2), rel_tol=1e-12)
        assert math.isclose(c_noise[i], math.log(s) / 4, rel_tol=1e-12)


def test_schedule_and_evaluation_count():
    t = sigma_steps(18)
    assert t.shape == (19,) and math.isclose(t[0], 80) and math.isclose(t[17], 0.002) and t[18] == 0
    assert torch.all(t[:-1] > t[1:])
    calls = []
    heun_sample(lambda x, s: calls.append(1) or x * 0, torch.zeros(2, 1, 1, 1), 18)
    assert len(calls) == 35


def test_unet_shapes_and_conditioning():
    for cfg in [TINY, UNetConfig(img_resolution=16, channels=16, channel_mult=(1, 2, 2), num_blocks=2,
                                 attn_resolutions=(8,), num_classes=3)]:
        D = Denoiser(cfg)
        x = torch.randn(2, 3, cfg.img_resolution, cfg.img_resolution)
        lab = torch.eye(3)[:2] if cfg.num_classes else None
        assert D(x, torch.tensor([0.5, 2.0]), lab).shape == x.shape
    with pytest.raises(ValueError, match="class_labels"):
        Denoiser(UNetConfig(img_resolution=8, channels=16, channel_mult=(1,), num_classes=3))(x[:, :, :8, :8], torch.ones(2))


def test_heun_on_exact_gaussian_denoiser_lands_on_the_data_law():
    mu, s, n = 0.3, 0.2, 4000
    D = lambda x, sigma: (s**2 * x + sigma.reshape(-1, 1, 1, 1) ** 2 * mu) / (s**2 + sigma.reshape(-1, 1, 1, 1) ** 2)
    lat = torch.randn(n, 1, 1, 1, generator=torch.Generator().manual_seed(0))
    x = heun_sample(D, lat, 40).flatten().numpy()
    assert abs(x.mean() - mu) <= N_SE * s / math.sqrt(n)
    assert abs(x.var(ddof=1) - s**2) <= N_SE * s**2 * math.sqrt(2 / (n - 1))


def test_heun_on_exact_denoiser_of_a_few_images_lands_on_them():
    data = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (5, 3, 4, 4))).float()

    def D(x, sigma):
        d2 = ((x[:, None] - data[None]) ** 2).sum(dim=(2, 3, 4))
        w = torch.softmax(-d2 / (2 * sigma.reshape(-1, 1).double() ** 2), dim=1)
        return torch.einsum("bk,kchw->bchw", w.float(), data)

    x = heun_sample(D, torch.randn(64, 3, 4, 4, generator=torch.Generator().manual_seed(1)), 40).float()
    dist = ((x[:, None] - data[None]) ** 2).sum(dim=(2, 3, 4)).sqrt().min(dim=1).values
    assert dist.max() < 1e-2


def test_ema_half_life_and_zero():
    assert ema_beta(128, 0) == 0.0
    assert math.isclose(ema_beta(100, 1000) ** 10, 0.5)
    a, b = Denoiser(TINY), Denoiser(TINY)
    ema_update(a, b, ema_beta(64, 0))
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
        torch.testing.assert_close(pa, pb, atol=0, rtol=0)


def test_same_seed_same_images_any_batch():
    torch.manual_seed(0)
    D = Denoiser(TINY).eval()
    a = generate(D, range(10), "cpu", 4, batch=10)
    b = generate(D, range(10), "cpu", 4, batch=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[5:], generate(D, range(5, 10), "cpu", 4))


def test_checkpoint_from_another_config_refused(tmp_path):
    D = Denoiser(TINY)
    checkpoints.save(tmp_path / "n.pt", D.state_dict(), {"unet": TINY.to_dict()})
    state, cfg = checkpoints.load(tmp_path / "n.pt", {"unet": TINY.to_dict()})
    assert set(state) == set(D.state_dict())
    other = {**TINY.to_dict(), "channels": 32}
    with pytest.raises(ValueError, match="channels: 16 -> 32"):
        checkpoints.load(tmp_path / "n.pt", {"unet": other})
    with pytest.raises(ValueError, match="no checkpoint"):
        checkpoints.load(tmp_path / "missing.pt")
