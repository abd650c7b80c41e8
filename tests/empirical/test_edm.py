import json
import math

import numpy as np
import pytest
import torch

from empirical import checkpoints
from empirical.edm import edm_loss, generate, heun_sample, precond_coefficients, sigma_steps
from empirical.networks.unet import Denoiser
from empirical.train import TrainConfig, ema_beta, ema_update, train
from empirical.networks.unet import UNetConfig

from tolerances import N_SE

TINY = UNetConfig(img_resolution=8, channels=16, channel_mult=(1, 2), num_blocks=1, attn_resolutions=(4,), dropout=0.0)


# EDM (Karras et al. 2022) Table 1 preconditioning with sigma_data = 0.5, evaluated independently (decimal values)
TABLE1 = {  # sigma: (c_skip, c_out, c_in, c_noise), from the formulas in 30-digit arithmetic (mpmath)
    0.002: (0.9999840002559959, 0.0019999840001919974, 1.9999840001919974, -1.5536520246055479),
    0.5: (0.5, 0.35355339059327376, 1.414213562373095, -0.17328679513998633),
    1.0: (0.2, 0.44721359549995794, 0.89442719099991588, 0.0),
    80.0: (3.9060974180696067e-5, 0.49999023466109298, 0.012499755866527325, 1.0955066586684704),
}


def test_preconditioning_matches_edm_table1_values():
    sigma = torch.tensor(list(TABLE1), dtype=torch.float64)
    got = torch.stack(precond_coefficients(sigma), dim=1)
    torch.testing.assert_close(got, torch.tensor(list(TABLE1.values()), dtype=torch.float64), rtol=1e-12, atol=1e-15)


def test_denoiser_applies_the_preconditioning():
    """D(x; sigma) = c_skip x + c_out F(c_in x; c_noise) with the network's actual F."""
    torch.manual_seed(0)
    D = Denoiser(TINY)
    _perturb(D)
    x, sigma = torch.randn(2, 3, 8, 8), torch.tensor([0.5, 1.0])
    F = D.net(x * torch.tensor([TABLE1[0.5][2], TABLE1[1.0][2]]).reshape(-1, 1, 1, 1),
              torch.tensor([TABLE1[0.5][3], TABLE1[1.0][3]], dtype=torch.float32), None)
    expect = torch.stack([TABLE1[s][0] * x[i] + TABLE1[s][1] * F[i] for i, s in enumerate((0.5, 1.0))])
    torch.testing.assert_close(D(x, sigma), expect, rtol=1e-5, atol=1e-6)


def test_edm_loss_weighting():
    """weight(sigma) |D(y + sigma n) - y|^2: for D = 0 it is weight |y|^2, for D = identity weight sigma^2 |n|^2,
    weight = (sigma^2 + sd^2) / (sigma sd)^2 (EDM Table 1's lambda(sigma))."""
    g = torch.Generator().manual_seed(0)
    y, n = torch.randn(3, 3, 4, 4, generator=g), torch.randn(3, 3, 4, 4, generator=g)
    sigma = torch.tensor([0.1, 1.0, 10.0])
    w = (sigma**2 + 0.25) / (sigma * 0.5) ** 2
    zero = edm_loss(lambda x, s, l: torch.zeros_like(x), y, None, sigma, n)
    ident = edm_loss(lambda x, s, l: x, y, None, sigma, n)
    torch.testing.assert_close(zero, w * (y**2).mean(dim=(1, 2, 3)))
    torch.testing.assert_close(ident, w * sigma**2 * (n**2).mean(dim=(1, 2, 3)))
    assert edm_loss(lambda x, s, l: y, y, None, sigma, n).abs().max() == 0


def _perturb(D, scale: float = 0.2) -> None:
    """Random weights everywhere (the output layer starts at zero, so an untrained D is just c_skip x)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in D.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))


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


def _within_one_level(a: np.ndarray, b: np.ndarray) -> bool:
    """uint8 images equal up to one quantisation level: a convolution's kernel may sum in another order for
    another batch size or position in the batch (on some CPUs), which moves a value on a rounding boundary."""
    return a.shape == b.shape and int(np.abs(a.astype(int) - b.astype(int)).max()) <= 1


def test_same_seed_same_images_any_batch():
    torch.manual_seed(0)
    D = Denoiser(TINY).eval()
    _perturb(D)
    x = torch.randn(2, 3, 8, 8)
    c_skip = precond_coefficients(torch.tensor(1.0))[0]
    assert (D(x, torch.ones(2)) - c_skip * x).abs().max() > 0.1      # the network part is not zero
    a = generate(D, range(10), "cpu", 4, batch=10)
    np.testing.assert_array_equal(a, generate(D, range(10), "cpu", 4, batch=10))   # the same batches: bit for bit
    assert _within_one_level(a, generate(D, range(10), "cpu", 4, batch=3))
    assert _within_one_level(a[5:], generate(D, range(5, 10), "cpu", 4))
    assert len({im.tobytes() for im in a}) == 10                        # seeds give different images
    assert _within_one_level(a[:3], generate(D, [0, 1, 2], "cpu", 4))
    assert not _within_one_level(a[:3], generate(D, [0, 1, 3], "cpu", 4))   # another seed is another image


def _train_tiny(out, **kw):
    x = np.random.default_rng(0).integers(0, 256, (32, 3, 8, 8), dtype=np.uint8)
    cfg = TrainConfig(TINY, batch_size=16, total_samples=48, warmup_samples=16, ema_halflife_samples=0,
                      checkpoint_samples=48, seed=2, **kw)
    return train(cfg, x, None, out)


def test_bf16_training_runs_and_stays_near_float32(tmp_path):
    a = _train_tiny(tmp_path / "fp32").state_dict()
    b = _train_tiny(tmp_path / "bf16", bf16=True).state_dict()
    diffs = [float((a[k] - b[k]).abs().max()) for k in a if a[k].is_floating_point()]
    assert all(np.isfinite(diffs)) and 0 < max(diffs) < 0.05          # bf16 changes the numbers, a little


@pytest.mark.slow
def test_compiled_training_matches_eager(tmp_path):
    a = _train_tiny(tmp_path / "eager").state_dict()
    b = _train_tiny(tmp_path / "compiled", compile=True).state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-4, rtol=1e-3)


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


# ------------------------------------------------------------------------------ points: the same EDM core
from empirical.networks.mlp import MLPConfig, MLPDenoiser, normalisation  # noqa: E402
from empirical.train import build_network, load_network  # noqa: E402

POINT_NET = MLPConfig(dim=2, width=32, depth=2, emb_features=8, shift=(1.0, -2.0), scale=(3.0, 0.5))


def test_point_denoiser_applies_the_same_preconditioning():
    """On (n, d) batches D(x; sigma) = c_skip x + c_out F(c_in x; c_noise), the coefficients of EDM's Table 1
    broadcast per point."""
    torch.manual_seed(0)
    D = MLPDenoiser(POINT_NET)
    _perturb(D)
    x, sigma = torch.randn(2, 2), torch.tensor([0.5, 1.0])
    F = D.net(x * torch.tensor([[TABLE1[0.5][2]], [TABLE1[1.0][2]]]),
              torch.tensor([TABLE1[0.5][3], TABLE1[1.0][3]], dtype=torch.float32))
    expect = torch.stack([TABLE1[s][0] * x[i] + TABLE1[s][1] * F[i] for i, s in enumerate((0.5, 1.0))])
    torch.testing.assert_close(D(x, sigma), expect, rtol=1e-5, atol=1e-6)
    assert (F.abs().max() > 0.1) and D(x, sigma).shape == (2, 2)


def test_point_mlp_without_residual_blocks_is_allowed_and_runs():
    """depth = 0 (input layer, norm, output layer only) is a valid MLP; negative depths are refused."""
    D = MLPDenoiser(MLPConfig(dim=2, width=8, depth=0, emb_features=4))
    assert len(D.net.blocks) == 0
    assert D(torch.randn(3, 2), torch.tensor([0.5, 1.0, 2.0])).shape == (3, 2)
    with pytest.raises(ValueError, match="depth"):
        MLPConfig(depth=-1)


def test_edm_loss_on_points_averages_over_coordinates():
    g = torch.Generator().manual_seed(0)
    y, n = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    sigma = torch.tensor([0.1, 1.0, 10.0])
    w = (sigma**2 + 0.25) / (sigma * 0.5) ** 2
    zero = edm_loss(lambda x, s, l: torch.zeros_like(x), y, None, sigma, n)
    ident = edm_loss(lambda x, s, l: x, y, None, sigma, n)
    torch.testing.assert_close(zero, w * (y**2).mean(dim=1))
    torch.testing.assert_close(ident, w * sigma**2 * (n**2).mean(dim=1))


def test_point_normalisation_round_trip_and_checks():
    x = np.random.default_rng(0).normal([5.0, -3.0], [100.0, 0.01], (400, 2))
    shift, scale = normalisation(x)
    D = MLPDenoiser(MLPConfig(dim=2, shift=shift, scale=scale))
    z = D.encode(x)
    assert z.dtype == torch.float32
    np.testing.assert_allclose(z.double().std(0, unbiased=False).numpy(), [0.5, 0.5], rtol=1e-5)
    np.testing.assert_allclose(D.decode(z.double()), x, rtol=1e-6, atol=1e-6 * np.abs(x).max())
    with pytest.raises(ValueError, match="no spread"):
        normalisation(np.c_[x[:, 0], np.ones(len(x))])
    with pytest.raises(ValueError, match="scale"):
        MLPConfig(dim=2, scale=(1.0, 0.0))
    with pytest.raises(ValueError, match="dim = 3"):
        MLPConfig(dim=3, shift=(0.0, 0.0))


def test_generate_points_per_seed_in_data_units():
    """One code path: generate() on a point denoiser returns float64 (n, d) points in the data's units, each
    from its seed's latent: bit for bit the same for the same batches; across batch sizes equal to float32
    rounding (a linear layer's BLAS kernel may sum in another order for another batch size)."""
    torch.manual_seed(0)
    D = MLPDenoiser(POINT_NET).eval()
    _perturb(D)
    a = generate(D, range(10), "cpu", 4, batch=10)
    assert a.shape == (10, 2) and a.dtype == np.float64
    np.testing.assert_array_equal(a, generate(D, range(10), "cpu", 4, batch=10))
    np.testing.assert_allclose(a, generate(D, range(10), "cpu", 4, batch=3), rtol=0, atol=1e-4 * np.abs(a).max())
    np.testing.assert_allclose(a[5:], generate(D, range(5, 10), "cpu", 4), rtol=0, atol=1e-4 * np.abs(a).max())
    assert len({p.tobytes() for p in a}) == 10
    z = heun_sample(lambda x, s: D(x, s), torch.stack([torch.randn(2, generator=torch.Generator().manual_seed(i))
                                                       for i in range(10)]), 4)
    np.testing.assert_allclose(a, np.array(POINT_NET.shift) + np.array(POINT_NET.scale) * z.numpy(), rtol=1e-12)
    assert generate(D, [], "cpu", 4).shape == (0, 2)


def _point_cfg(**kw):
    return TrainConfig(batch_size=32, total_samples=320, warmup_samples=64, ema_halflife_samples=64,
                       checkpoint_samples=96, seed=5, mlp=POINT_NET, **kw)


def test_one_training_loop_trains_the_mlp_and_checkpoints_name_it(tmp_path, monkeypatch):
    """train() fits an MLP on float points (the same loop as the U-Net: EMA, per-step seeds, checkpoints); the
    checkpoint JSON names the architecture and load_network builds it; a kill mid-run resumes bit for bit."""
    x = np.random.default_rng(0).normal([1.0, -2.0], [3.0, 0.5], (200, 2))
    cfg = _point_cfg()
    assert "unet" not in cfg.to_dict() and cfg.to_dict()["mlp"]["width"] == 32 and cfg.arch == "mlp"
    assert "mlp" not in TrainConfig(TINY).to_dict()            # U-Net run folders keep their config
    D = train(cfg, x, None, tmp_path / "full")
    stored = json.loads((tmp_path / "full" / "network.json").read_text())
    assert list(stored) == ["mlp"] and stored["mlp"]["shift"] == [1.0, -2.0]
    L = load_network(tmp_path / "full" / "network.pt")
    assert isinstance(L, MLPDenoiser) and L.cfg == POINT_NET
    moved = 0
    for k, v in D.state_dict().items():
        torch.testing.assert_close(L.state_dict()[k], v, atol=0, rtol=0)
        moved += int(v.abs().sum() > 0)
    assert float(L.net.out.weight.detach().abs().max()) > 0                 # the zero-initialised output layer trained
    import empirical.train as tr
    from helpers import interrupt_on_call
    real = tr.ema_update
    monkeypatch.setattr(tr, "ema_update", interrupt_on_call(real, 6))    # after the first checkpoint (3 steps)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, x, None, tmp_path / "cut")
    monkeypatch.setattr(tr, "ema_update", real)
    R = train(cfg, x, None, tmp_path / "cut")
    for k, v in D.state_dict().items():
        torch.testing.assert_close(R.state_dict()[k], v, atol=0, rtol=0)


def test_network_configs_name_one_known_architecture(tmp_path):
    with pytest.raises(ValueError, match="exactly one architecture"):
        build_network({"resnet": {}})
    with pytest.raises(ValueError, match="exactly one architecture"):
        build_network({"unet": TINY.to_dict(), "mlp": POINT_NET.to_dict()})
    D = MLPDenoiser(POINT_NET)
    checkpoints.save(tmp_path / "n.pt", D.state_dict(), {"transformer": {}})
    with pytest.raises(ValueError, match="does not match its JSON"):
        load_network(tmp_path / "n.pt")
    checkpoints.save(tmp_path / "u.pt", D.state_dict(), {"unet": TINY.to_dict()})   # MLP weights, U-Net JSON
    with pytest.raises(ValueError, match="does not match its JSON"):
        load_network(tmp_path / "u.pt")
    with pytest.raises(ValueError, match="conditional"):
        TrainConfig(mlp=POINT_NET, conditional=True)


def test_a_run_with_dropout_resumes_bit_for_bit_and_leaves_the_global_generator_alone(tmp_path, monkeypatch):
    """Dropout masks come from per-step, per-process seeds: a U-Net with dropout 0.3 killed after its first
    checkpoint and resumed ends with the weights of an uninterrupted run, the caller's global torch generator is
    as it was, and dropout does act (a run without it ends elsewhere)."""
    from dataclasses import replace

    import empirical.train as tr
    from helpers import interrupt_on_call
    x = np.random.default_rng(0).integers(0, 256, (64, 3, 8, 8), dtype=np.uint8)
    cfg = TrainConfig(replace(TINY, dropout=0.3), batch_size=16, total_samples=96, warmup_samples=16,
                      ema_halflife_samples=32, checkpoint_samples=48)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    D = train(cfg, x, None, tmp_path / "full")
    assert torch.equal(torch.get_rng_state(), before)
    real = tr.ema_update
    monkeypatch.setattr(tr, "ema_update", interrupt_on_call(real, 5))    # after the first checkpoint (3 steps)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, x, None, tmp_path / "cut")
    monkeypatch.setattr(tr, "ema_update", real)
    torch.manual_seed(999)                                                # whatever the caller's generator holds
    R = train(cfg, x, None, tmp_path / "cut")
    for k, v in D.state_dict().items():
        torch.testing.assert_close(R.state_dict()[k], v, atol=0, rtol=0)
    plain = train(replace(cfg, unet=replace(TINY, dropout=0.0)), x, None, tmp_path / "plain")
    assert any(not torch.equal(plain.state_dict()[k], v) for k, v in D.state_dict().items())
