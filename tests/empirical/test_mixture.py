"""The mixture rung (empirical.mixture): the U-Net's float data mode, the exact law's rewards, trajectory weights and
Frechet distance against direct computations, the fold end to end with a network that is the law's exact denoiser
(fit and law hold) and one trained for one step (they fail), resume after a kill, and the command line."""
import json
import math

import numpy as np
import pytest
import torch

from empirical import mixture as mx
from empirical.mixture import inputs as mixture_inputs
from empirical.cli import main as cli
from simtheory import predict
from simtheory.diffusion import cifar_mixture, class_reward
from simtheory.runs import ConfigMismatch, read_metrics

from helpers import interrupt_on_call
from tolerances import N_SE


def _small(**kw):
    """The tiny preset, smaller still: one curated generation of 64 kept samples."""
    base = dict(n_samples=64, generations=1, n_eval=48, n_sampler=16, sampler_ref_steps=24, train_samples=1024,
                finetune_samples=256, n_law=4096, n_denoiser=16)
    return mx.mixture_preset("tiny", **{**base, **kw})


# ------------------------------------------------------------------------------------ the float data mode
def test_float_data_mode_passes_floats_through_and_round_trips_its_json(tmp_path):
    """A float-data U-Net encodes floats as they are (no uint8 quantisation), decodes float64 without clipping,
    records float_data in its JSON so load_network rebuilds it, and resumes a cut training run to the same weights;
    a uint8 U-Net's JSON is what it was before the option existed."""
    from empirical.networks.unet import Denoiser, UNetConfig
    from empirical.train import TrainConfig, load_network, train
    cfg = UNetConfig(img_resolution=8, channels=8, channel_mult=(1,), num_blocks=1, attn_resolutions=(), dropout=0.0,
                     float_data=True)
    assert "float_data" not in UNetConfig().to_dict() and cfg.to_dict()["float_data"] is True
    D = Denoiser(cfg)
    x = np.random.default_rng(0).normal(0, 0.7, (5, 3, 8, 8))
    np.testing.assert_array_equal(D.encode(x).numpy(), x.astype(np.float32))
    big = torch.tensor([[-3.0, 1.7]], dtype=torch.float64)
    out = D.decode(big)
    assert out.dtype == np.float64 and out.tolist() == [[-3.0, 1.7]]
    uint8 = Denoiser(UNetConfig(img_resolution=8, channels=8, channel_mult=(1,), num_blocks=1, attn_resolutions=()))
    assert uint8.decode(big).dtype == np.uint8                      # the negative: images are quantised
    tc = TrainConfig(cfg, batch_size=16, total_samples=128, warmup_samples=16, ema_halflife_samples=32,
                     checkpoint_samples=64)
    data = np.random.default_rng(1).normal(0, 0.5, (40, 3, 8, 8))
    full = train(tc, data, None, tmp_path / "full")
    assert json.loads((tmp_path / "full" / "network.json").read_text())["unet"]["float_data"] is True
    loaded = load_network(tmp_path / "full" / "network.pt")
    assert loaded.cfg.float_data
    import empirical.train as tr
    real = tr.ema_update
    tr_cut = interrupt_on_call(real, 6)                             # after the checkpoint at 64 samples (4 steps)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tr, "ema_update", tr_cut)
        with pytest.raises(KeyboardInterrupt):
            train(tc, data, None, tmp_path / "cut")
    resumed = train(tc, data, None, tmp_path / "cut")
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    y = torch.as_tensor(data[:4], dtype=torch.float32)
    s = torch.full((4,), 0.3)
    torch.testing.assert_close(loaded(y, s), full(y, s), rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------- rewards, weights, distance
def test_rewards_and_labels_are_the_laws_bayes_posterior():
    """The class reward equals simtheory's class_reward (any temperature), the confidence reward gamma max_c P(c|x),
    and the labels the posterior's argmax; the score of the kind is the same on chunks."""
    law = cifar_mixture(8)
    x = law.sample(300, np.random.default_rng(0))
    lp = mx.log_posteriors(law, x)
    for T in (1.0, 3.0):
        np.testing.assert_allclose(mx.reward_of_posterior(lp, "class", 2, 5.0, T), class_reward(law, 2, 5.0, T)(x),
                                   rtol=1e-12, atol=1e-12)
    post = law.posterior(x)
    np.testing.assert_allclose(mx.reward_of_posterior(lp, "confidence", 0, 2.0, 1.0), 2.0 * post.max(axis=1),
                               rtol=1e-12, atol=1e-12)
    cfg, law = mx.resolve(mx.mixture_preset("tiny"))
    kind = mx.MixtureData(cfg, law)
    old = mixture_inputs.CHUNK_BYTES
    r, y = kind.score(x.reshape(-1, 3, 8, 8))
    try:
        mixture_inputs.CHUNK_BYTES = 8 * law.d * 7                               # chunks of 7 rows
        r7, y7 = kind.score(x)
    finally:
        mixture_inputs.CHUNK_BYTES = old
    np.testing.assert_allclose(r7, r, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(y7, post.argmax(axis=1))


@pytest.mark.parametrize("K,lam,scheme", [(4, math.inf, "replace"), (4, 1.0, "replace"), (3, 0.5, "accumulate"),
                                          (1, math.inf, "replace"), (2, math.inf, "accumulate")])
def test_curated_weights_give_the_law_trajectory(K, lam, scheme):
    """The trajectory's weights on the atoms reproduce simtheory.predict.law_trajectory's E[r] and class shares (the
    same dynamics computed twice)."""
    rng = np.random.default_rng(1)
    r = rng.normal(size=500)
    y = rng.integers(0, 3, 500)
    W = mx.curated_weights(r, K, 3, lam, scheme)
    ref = predict.law_trajectory(r, y, K, 3, lam=lam, scheme=scheme, n_real=10, n_synthetic=10, n_classes=3)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(W @ r, ref["mean_reward"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(W @ np.eye(3)[y], ref["class_proportions"], rtol=0, atol=1e-10)


def test_frechet_distance_against_a_direct_computation():
    """frechet_to (reference root taken once, eigenvalues of a symmetric matrix) equals the FID's formula with
    scipy's sqrtm of the product; a sample whose moments are the reference's is at 0; a mean shift adds |shift|^2."""
    from empirical.fid import frechet_distance
    rng = np.random.default_rng(2)
    d = 12
    A = rng.normal(size=(d, d))
    ref = mx.frechet_reference(rng.normal(size=d), A @ A.T / d + 0.1 * np.eye(d))
    x = rng.normal(size=(50, d)) @ rng.normal(size=(d, d)) * 0.5
    direct = frechet_distance(x.mean(0), np.cov(x, rowvar=False), ref["mean"], ref["cov"])
    assert mx.frechet_to(x, ref) == pytest.approx(direct, rel=1e-9, abs=1e-9)
    own = mx.frechet_reference(x.mean(0), np.cov(x, rowvar=False))
    assert abs(mx.frechet_to(x, own)) < 1e-9
    shift = rng.normal(size=d)
    assert mx.frechet_to(x + shift, own) == pytest.approx(float(shift @ shift), rel=1e-9)
    law = cifar_mixture(8)                                           # the law's exact moments against many draws
    lref = mx.frechet_reference(law.mean(), law.covariance())
    big = mx.frechet_to(law.sample(20_000, np.random.default_rng(3)), lref)
    small = mx.frechet_to(law.sample(500, np.random.default_rng(4)), lref)
    assert 0 < big < small / 10                                      # the noise floor falls with n


# ----------------------------------------------------------------------------- the fold end to end
class ExactNet(torch.nn.Module):
    """The law's exact denoiser in the shape of a U-Net denoiser: the network that fits its data law perfectly."""

    def __init__(self, law):
        super().__init__()
        self.law = law
        self.sample_shape = tuple(law.shape)

    def forward(self, x, sigma, class_labels=None):
        s = sigma.double().reshape(-1)
        assert bool((s == s[0]).all())                              # the sampler's calls: one noise level
        return torch.as_tensor(self.law.denoiser(x.double().numpy(), float(s[0])), dtype=torch.float32)

    def encode(self, data, device="cpu"):
        return torch.as_tensor(np.asarray(data), dtype=torch.float32, device=device)

    def decode(self, x):
        return x.double().cpu().numpy()


def _checks(path):
    from empirical.compare import compare_run
    return {(c["generation"], c["check"]): c["holds"] for c in compare_run(path)["checks"] if c["scope"] == "model"}


def test_the_exact_denoiser_passes_fit_and_law(tmp_path, monkeypatch):
    """Without curation (K = 1) the law's exact denoiser is a network that fits every generation: its fit and law
    checks hold, its class shares match the exact ones within N_SE SE and its Frechet distance to the law sits at
    the noise floor (the negative control is the next test)."""
    import empirical.fold as fold
    law = cifar_mixture(8)
    monkeypatch.setattr(fold, "train", lambda *a, **k: ExactNet(law))
    cfg = _small(K=1, generations=2, n_eval=256, n_samples=128, num_steps=64)    # at 18 steps the FD sees the sampler
    rows = mx.run_mixture_loop(cfg, tmp_path / "exact", progress=False).metrics()
    checks = _checks(tmp_path / "exact")
    assert set(checks) == {(t, c) for t in range(3) for c in ("fit", "law")} and all(checks.values()), checks
    for r in rows:
        z = np.abs(np.array(r["class_share_error"])) / np.array(r["class_share_error_se"])
        assert z.max() <= N_SE, r["class_share_error"]
        assert r["fd_law"] <= r["fd_law_floor"] + N_SE * r["fd_law_floor_sd"]
        assert r["fd_curated"] <= r["fd_curated_floor"] + N_SE * r["fd_curated_floor_sd"]
    assert abs(rows[0]["exact_sampler_error"]) <= N_SE * rows[0]["exact_sampler_error_se"]
    assert max(rows[0]["denoiser_rmse"]) < 1e-4                     # the network is the exact denoiser


def test_a_network_trained_for_one_step_fails_fit_and_law(tmp_path):
    """The negative control of the test above: a U-Net trained for one optimiser step (base and fine-tunes) fails
    the fit and law checks of the base and the law check of the curated generation (whose training set is the
    base's own degenerate samples, which it does fit), and lies far above the Frechet distance's floor."""
    bad = _small(K=4, generations=1, n_eval=256, n_samples=512, train_samples=64, finetune_samples=64, num_steps=8,
                 sampler_ref_steps=0)
    rows = mx.run_mixture_loop(bad, tmp_path / "bad", progress=False).metrics()
    checks = _checks(tmp_path / "bad")
    # generation 1 fits its training set, the base's degenerate samples kept by curation: only the law sees it
    assert not checks[0, "fit"] and not checks[0, "law"] and not checks[1, "law"], checks
    assert all(r["fd_law"] > r["fd_law_floor"] + 10 * r["fd_law_floor_sd"] for r in rows)


def test_mixture_loop_keys_resume_and_refusal(tmp_path, monkeypatch):
    """A small loop writes the image loop's run folder (kind mixture_loop, float samples in synthetic.npz, the metrics
    keys of the image loop and the law's); a kill mid-run resumes to the same numbers; a changed config is refused;
    compare reads the folder."""
    cfg = _small()
    full = mx.run_mixture_loop(cfg, tmp_path / "full", progress=False).metrics()
    assert [r["generation"] for r in full] == [0, 1]
    keys = {"fit_error", "fit_error_se", "law_error", "law_error_se", "sampler_error", "sampler_error_se",
            "n_measured", "class_proportions", "law_class_proportions", "class_share_error", "class_share_error_se",
            "fd_law", "fd_law_floor", "fd_law_floor_sd", "fd_curated", "fd_curated_floor", "fd_curated_floor_sd"}
    assert keys <= set(full[0]) and keys | {"predicted_mean_reward", "multistep_predicted_mean_reward"} <= set(full[1])
    assert {"exact_sampler_error", "exact_sampler_class_share_error", "denoiser_rmse"} <= set(full[0])
    assert full[0]["classes"][0] == "airplane" and len(full[0]["class_proportions"]) == 10
    stored = json.loads((tmp_path / "full" / "config.json").read_text())
    assert stored["kind"] == "mixture_loop" and stored["train"]["unet"]["float_data"] and len(stored["law_sha1"]) == 40
    with np.load(tmp_path / "full" / "gen_001" / "synthetic.npz") as z:
        assert z["samples"].dtype == np.float64 and z["samples"].shape == (64, 3, 8, 8)
        assert z["candidate_rewards"].shape == (4 * 64,)
    import empirical.train as tr
    real = tr.ema_update
    monkeypatch.setattr(tr, "ema_update", interrupt_on_call(real, 16 + 2))     # base: 16 steps; gen 1's fine-tune
    with pytest.raises(KeyboardInterrupt):
        mx.run_mixture_loop(cfg, tmp_path / "cut", progress=False)
    assert len(read_metrics(tmp_path / "cut")) == 1
    monkeypatch.setattr(tr, "ema_update", real)
    assert mx.run_mixture_loop(cfg, tmp_path / "cut", progress=False).metrics() == full
    with pytest.raises(ConfigMismatch, match="K: 4 -> 3"):
        mx.run_mixture_loop(_small(K=3), tmp_path / "cut", progress=False)
    from empirical.compare import compare_run
    res = compare_run(tmp_path / "full")
    assert res["kind"] == "mixture_loop" and {c["check"] for c in res["checks"]} >= {"fit", "law", "selection"}


def test_bad_input_fails_before_the_folder_exists(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        mx.run_mixture_loop(_small(law=str(tmp_path / "missing.npz")), tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="not among the law's classes"):
        mx.run_mixture_loop(_small(target="cow"), tmp_path / "run", progress=False)
    from simtheory.diffusion import LowRankMixture
    other = LowRankMixture([0.5, 0.5], np.zeros((2, 12)), np.zeros((2, 12, 1)), [0.1, 0.2], shape=(3, 2, 2))
    other.save(tmp_path / "small.npz")
    with pytest.raises(ValueError, match="the run's U-Net makes"):
        mx.run_mixture_loop(_small(law=str(tmp_path / "small.npz"), target="0"), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    for kw, match in (({"reward": "bogus"}, "reward must be"), ({"temperature": 0.0}, "temperature"),
                      ({"n_moments": 10**9}, "n_moments"), ({"resolution": 12}, "resolution")):
        with pytest.raises(ValueError, match=match):
            _small(**kw)


def test_the_command_line(tmp_path, capsys):
    """--dry-run prints the resolved config and writes nothing; a bad option is one error line (exit 2); a small run
    writes its folder and compare reads it."""
    out = tmp_path / "run"
    assert cli(["mixture", "--config", "tiny", "--K", "2", "--dry-run", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["kind"] == "mixture_loop" and printed["K"] == 2 and not out.exists()
    assert cli(["mixture", "--config", "tiny", "--K", "0", "--out", str(out)]) == 2
    assert "K" in capsys.readouterr().err and not out.exists()
    args = ["mixture", "--config", "tiny", "--generations", "1", "--n-samples", "32", "--n-eval", "16",
            "--train-samples", "256", "--finetune-samples", "128", "--num-steps", "6", "--sampler-ref-steps", "0",
            "--reward", "confidence", "--out", str(out), "--threads", "1"]
    assert cli(args) == 0
    lines = [json.loads(v) for v in capsys.readouterr().out.splitlines()]
    assert [v["generation"] for v in lines] == [0, 1] and all(v["fd_law"] > 0 for v in lines)
    assert cli(["compare", str(out), "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "compare.md").exists()


def test_the_sampler_measure_sees_too_few_steps():
    """exact_sampler_steps: the exact denoiser at 8 Heun steps is far from the reference (E[r] and the target's share
    beyond N_SE SE: the negative control) and at 32 steps within N_SE SE of it; bad step counts are refused."""
    res = mx.exact_sampler_steps(mx.mixture_preset("tiny", n_law=4096), [8, 32], n=512, ref_steps=64)
    few, many = res["rows"]
    assert (few["steps"], many["steps"]) == (8, 32) and res["ref_steps"] == 64
    assert few["paired_error"] < -N_SE * few["paired_error_se"]
    assert abs(many["paired_error"]) <= N_SE * many["paired_error_se"]
    share = np.abs(few["paired_class_share_error"]) / np.maximum(few["paired_class_share_error_se"], 1e-12)
    assert share.max() > N_SE
    for steps, ref in (([1], 64), ([8], 1)):
        with pytest.raises(ValueError, match="steps"):
            mx.exact_sampler_steps(mx.mixture_preset("tiny"), steps, n=8, ref_steps=ref)


def test_a_loop_on_another_law_and_reward(tmp_path):
    """A law the project does not ship (three components of 3 x 4 x 4 samples, random means and factors) with the
    tempered confidence reward: the loop runs on it, names its classes by index, and measures against its own exact
    trajectory (class shares of three classes, a law error with its SE, the Frechet distance beside its floor)."""
    from simtheory.diffusion import LowRankMixture
    rng = np.random.default_rng(7)
    law = LowRankMixture([0.5, 0.3, 0.2], rng.normal(0, 0.5, (3, 48)), rng.normal(0, 0.2, (3, 48, 2)),
                         [0.05, 0.08, 0.1], shape=(3, 4, 4))
    law.save(tmp_path / "law.npz")
    cfg = _small(law=str(tmp_path / "law.npz"), resolution=4, reward="confidence", temperature=2.0, gamma=1.0)
    rows = mx.run_mixture_loop(cfg, tmp_path / "run", progress=False).metrics()
    assert rows[0]["classes"] == ["0", "1", "2"] and len(rows[1]["class_share_error"]) == 3
    for r in rows:
        assert math.isfinite(r["law_error"]) and r["law_error_se"] > 0 and r["fd_law"] > 0 and r["fd_law_floor"] > 0
        assert 1 / 3 <= r["mean_reward"] <= 1.0                     # gamma max_c softmax(log P / 2): in [1/3, 1]
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert stored["law_sha1"] == mx.law_sha1(law) and stored["resolution"] == 4


def test_exact_samples_on_a_cpu_match_the_torch_twins_sampler():
    """exact_samples on a CPU runs the numpy law's fused denoiser; the torch twin's float64 denoiser through the same
    Heun sampler gives the same samples to float32 rounding (identical here: the float32 boundary absorbs their
    float64 differences); a law with 0.1% larger floors (negative control) gives other samples."""
    import torch

    from empirical.edm import heun_sample, latents_for_seeds
    from empirical.lowrank import TorchLowRankMixture
    from empirical.mixture.measure import exact_samples
    from simtheory.diffusion import cifar_mixture
    from simtheory.diffusion.lowrank import LowRankMixture
    law = cifar_mixture(8)
    seeds = list(range(48))
    twin = heun_sample(TorchLowRankMixture(law).as_denoiser(torch.float64),
                       latents_for_seeds(seeds, law.shape, "cpu"), 18).numpy()
    bound = 64 * np.finfo(np.float32).eps * (1 + np.abs(twin).max())
    assert np.abs(exact_samples(law, seeds, 18, law.shape) - twin).max() <= bound
    other = LowRankMixture(law.weights, law.means, law.factors, law.floors * 1.001)
    assert np.abs(exact_samples(other, seeds, 18, law.shape) - twin).max() > 10 * bound
