import json
import math
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from empirical.edm import generate, heun_sample, latents_for_seeds
from empirical.edm.guidance import PairedDenoiser, guided_denoiser, guided_generate, one_hot, seed_labels
from empirical.networks.unet import Denoiser, UNetConfig, to_uint8
from empirical.sims.auxiliary import SimsSampling, class_quotas, compose_by_class, finetune_auxiliary, load_auxiliary
from empirical.train import TrainConfig, load_network, train
from simtheory.diffusion.sampler import check_w
from simtheory.diffusion.shifting import aux_weights_for_target, product_form_masses
from simtheory.runs import ConfigMismatch, read_metrics

TINY = UNetConfig(img_resolution=8, channels=16, channel_mult=(1, 2), num_blocks=1, attn_resolutions=(4,), dropout=0.0)


def _net(seed, cfg=TINY):
    """A denoiser whose zero-initialised output layers are perturbed, so that two seeds give different outputs."""
    torch.manual_seed(seed)
    D = Denoiser(cfg).eval()
    with torch.no_grad():
        for p in D.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return D


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("base")
    imgs = np.random.default_rng(0).integers(0, 256, (64, 3, 8, 8), dtype=np.uint8)
    tc = TrainConfig(TINY, batch_size=16, total_samples=64, warmup_samples=16, ema_halflife_samples=32,
                     checkpoint_samples=64)
    train(tc, imgs, None, out)
    return out


@pytest.fixture(scope="module")
def tiny_loop(tmp_path_factory):
    """A tiny loop's generation 0 (base, reward classifier beside it), made by the CLI."""
    from empirical.cli import main
    out = tmp_path_factory.mktemp("loop") / "loop"
    assert main(["loop", "--config", "tiny", "--generations", "0", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def tiny_train(tmp_path_factory):
    """A tiny `train` run (no loop folder around it), made by the CLI."""
    from empirical.cli import main
    out = tmp_path_factory.mktemp("train") / "train"
    assert main(["train", "--config", "tiny", "--out", str(out)]) == 0
    return out


def _cli(args, capsys):
    from empirical.cli import main
    capsys.readouterr()
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


# --------------------------------------------------------------------------------------------------- guidance
def test_w0_reproduces_the_base_sampler_bit_for_bit():
    D, A = _net(0), _net(1)
    seeds = range(5, 15)
    ref = generate(D, seeds, "cpu", 4, batch=4)
    for aux in (A, None):
        np.testing.assert_array_equal(guided_generate(D, aux, 0, seeds, "cpu", 4, batch=4), ref)
    assert not np.array_equal(guided_generate(D, A, 1.0, seeds, "cpu", 4, batch=4), ref)


def test_batched_pair_equals_two_calls():
    D, A = _net(0), _net(1)
    x, s = torch.randn(6, 3, 8, 8, generator=torch.Generator().manual_seed(0)), torch.tensor([0.01, 0.3, 1, 2, 10, 80.])
    with torch.no_grad():
        b, a = PairedDenoiser(D, A)(x, s)
        torch.testing.assert_close(b, D(x, s), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(a, A(x, s), rtol=1e-5, atol=1e-5)
        assert (a - b).abs().max() > 1e-3                     # the two networks really differ
        for w in (0.5, 2.0):
            one, two = guided_denoiser(D, A, w, batched=True)(x, s), guided_denoiser(D, A, w, batched=False)(x, s)
            torch.testing.assert_close(one, two, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(two, b + w * (b - a), rtol=1e-5, atol=1e-5)
    lat = latents_for_seeds(range(4), (3, 8, 8), "cpu")
    x1 = heun_sample(guided_denoiser(D, A, 1.5, batched=True), lat, 4)
    x2 = heun_sample(guided_denoiser(D, A, 1.5, batched=False), lat, 4)
    torch.testing.assert_close(x1, x2, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("w", [-0.1, float("nan"), float("inf"), "x", 5e-324, 1e-40])
def test_bad_w(w):
    """Negative, non-finite, non-numeric and (float32-)subnormal w are refused by name."""
    with pytest.raises(ValueError, match="w"):
        guided_generate(_net(0), _net(1), w, range(2), "cpu", 2)


def test_tiny_w_in_the_product_form_is_refused_not_nan():
    """A subnormal w used to give NaN proportions; the smallest accepted w gives the limit, finite proportions."""
    with pytest.raises(ValueError, match="smallest normal"):
        aux_weights_for_target([0.5, 0.5], [0.7, 0.3], 5e-324)
    assert check_w(2e-38) == 2e-38
    a = aux_weights_for_target([0.5, 0.5], [0.7, 0.3], 2e-38)
    assert np.all(np.isfinite(a)) and a.sum() == pytest.approx(1) and a[1] == pytest.approx(1)


def _reference_guided(D, A, w, seeds, steps, interval=None, labels=None):
    """An independent Heun loop with guidance D + w (D - A) applied where lo <= sigma <= hi (plain formula)."""
    lo, hi = interval or (0.0, math.inf)
    lat = latents_for_seeds(seeds, (3, 8, 8), "cpu")

    def f(x, sigma):
        base = D(x, sigma, labels)
        s = float(sigma[0])
        return base + w * (base - A(x, sigma, labels)) if lo <= s <= hi else base
    return to_uint8(heun_sample(f, lat, steps))


def test_guidance_interval_against_a_reference_loop():
    D, A = _net(0), _net(1)
    seeds = list(range(6))
    for iv in [(0.5, 5.0), (0.0, 0.3), (10.0, math.inf)]:
        got = guided_generate(D, A, 1.5, seeds, "cpu", 6, batched=False, interval=iv)
        ref = _reference_guided(D, A, 1.5, seeds, 6, iv)
        assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1
    plain = generate(D, seeds, "cpu", 6)
    full = guided_generate(D, A, 1.5, seeds, "cpu", 6, batched=False)
    np.testing.assert_array_equal(guided_generate(D, A, 1.5, seeds, "cpu", 6, batched=False, interval=(0, math.inf)),
                                  full)
    np.testing.assert_array_equal(guided_generate(D, A, 1.5, seeds, "cpu", 6, interval=(100.0, 200.0)), plain)
    assert not np.array_equal(guided_generate(D, A, 1.5, seeds, "cpu", 6, interval=(0.5, 5.0)), full)
    for bad in [(1.0, 1.0), (2.0, 1.0), (-1.0, 1.0), (float("nan"), 1.0), (1.0,)]:
        with pytest.raises(ValueError, match="interval"):
            guided_generate(D, A, 1.0, seeds, "cpu", 4, interval=bad)


def test_guide_of_another_architecture():
    """The guide needs the base's signature and output shape, not its architecture; one vmapped call needs both."""
    other = UNetConfig(img_resolution=8, channels=24, channel_mult=(1, 1), num_blocks=2, attn_resolutions=(),
                       dropout=0.0)
    D, A = _net(0), _net(1, other)
    seeds = list(range(4))
    got = guided_generate(D, A, 1.0, seeds, "cpu", 4)
    ref = _reference_guided(D, A, 1.0, seeds, 4)
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1 and not np.array_equal(got, generate(D, seeds, "cpu", 4))
    with pytest.raises(ValueError, match="different architectures.*channels"):
        guided_generate(D, A, 1.0, seeds, "cpu", 2, batched=True)

    class Shrink(nn.Module):          # any module with the signature D(x, sigma, class_labels)
        def forward(self, x, sigma, class_labels=None):
            return 0.9 * D(x, sigma, class_labels)
    g = guided_generate(D, Shrink(), 1.0, seeds, "cpu", 4)
    assert np.abs(g.astype(int) - _reference_guided(D, Shrink(), 1.0, seeds, 4).astype(int)).max() <= 1

    class Wrong(nn.Module):
        def forward(self, x, sigma, class_labels=None):
            return x[:, :1]
    with pytest.raises(ValueError, match="output has shape"):
        guided_generate(D, Wrong(), 1.0, seeds, "cpu", 2)


def test_class_conditional_guidance():
    """A conditional base and guide get the same labels (default seed mod C); w = 0 is generate with those labels."""
    cond = UNetConfig(img_resolution=8, channels=16, channel_mult=(1, 1), num_blocks=1, attn_resolutions=(),
                      dropout=0.0, num_classes=3)
    D, A = _net(0, cond), _net(1, cond)
    seeds = list(range(7))
    lab = seed_labels(seeds, 3)
    assert lab.tolist() == [0, 1, 2, 0, 1, 2, 0]
    np.testing.assert_array_equal(guided_generate(D, A, 0.0, seeds, "cpu", 4),
                                  generate(D, seeds, "cpu", 4, class_labels=one_hot(lab, 3)))
    got = guided_generate(D, A, 1.0, seeds, "cpu", 4, labels=[2] * 7)
    ref = _reference_guided(D, A, 1.0, seeds, 4, labels=one_hot([2] * 7, 3))
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1
    assert not np.array_equal(got, guided_generate(D, A, 1.0, seeds, "cpu", 4))
    with pytest.raises(ValueError, match="unconditional"):
        guided_generate(_net(0), None, 0.0, seeds, "cpu", 4, labels=[0] * 7)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        guided_generate(D, A, 1.0, seeds, "cpu", 4, labels=[3] * 7)


def test_conditional_base_auxiliary(tmp_path):
    """A conditional base's auxiliary fine-tunes on its own samples with the labels they were drawn for."""
    cond = UNetConfig(img_resolution=8, channels=16, channel_mult=(1, 1), num_blocks=1, attn_resolutions=(),
                      dropout=0.0, num_classes=2)
    imgs = np.random.default_rng(0).integers(0, 256, (32, 3, 8, 8), dtype=np.uint8)
    tc = TrainConfig(cond, batch_size=16, total_samples=32, warmup_samples=16, ema_halflife_samples=32,
                     checkpoint_samples=32, conditional=True)
    train(tc, imgs, np.arange(32) % 2, tmp_path / "base")
    aux = finetune_auxiliary(tmp_path / "base", tmp_path / "aux", n_s=6, images=32, num_steps=2)
    with np.load(tmp_path / "aux" / "synthetic.npz") as z:
        np.testing.assert_array_equal(z["labels"], seed_labels(z["seeds"], 2))
        base = load_network(tmp_path / "base" / "network.pt")
        np.testing.assert_array_equal(z["samples"], guided_generate(base, None, 0, z["seeds"], "cpu", 2))
    assert aux.cfg.num_classes == 2
    guided_generate(base, aux, 1.0, range(4), "cpu", 2)


# ------------------------------------------------------------------------------------------------ auxiliary
def test_auxiliary_starts_from_base_and_moves(base_run, tmp_path, monkeypatch):
    base = load_network(base_run / "network.pt")
    first = {}
    real_step = torch.optim.Adam.step

    def spy(self, *a, **k):
        if not first:
            first["params"] = [p.detach().clone() for g in self.param_groups for p in g["params"]]
        return real_step(self, *a, **k)
    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    aux = finetune_auxiliary(base_run, tmp_path / "aux", n_s=16, images=64, lr=1e-3, seed=3, num_steps=2)
    for p0, pb in zip(first["params"], base.parameters()):
        assert torch.equal(p0, pb)                                    # the optimised copy begins at the base weights
    moved = max((pa - pb).abs().max().item() for pa, pb in zip(aux.parameters(), base.parameters()))
    assert moved > 1e-6
    rows = (tmp_path / "aux" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 1 and '"n_s": 16' in rows[0] and '"lr": 0.001' in rows[0]
    with np.load(tmp_path / "aux" / "synthetic.npz") as z:
        assert z["samples"].shape == (16, 3, 8, 8)
        from empirical.seeds import block_start
        assert z["seeds"][0] == block_start("sims_aux", 3)
        np.testing.assert_array_equal(z["samples"], generate(base, z["seeds"], "cpu", 2))
    # rerun: resumes without training again, same network; another config is refused naming the key
    again = finetune_auxiliary(base_run, tmp_path / "aux", n_s=16, images=64, lr=1e-3, seed=3, num_steps=2)
    for pa, pb in zip(aux.parameters(), again.parameters()):
        assert torch.equal(pa, pb)
    assert len((tmp_path / "aux" / "metrics.jsonl").read_text().splitlines()) == 1
    with pytest.raises(ConfigMismatch, match="lr"):
        finetune_auxiliary(base_run, tmp_path / "aux", n_s=16, images=64, lr=2e-3, seed=3, num_steps=2)
    # the base's lr when none is given
    finetune_auxiliary(base_run, tmp_path / "aux2", n_s=4, images=16, num_steps=2)
    assert '"lr": 0.001' in (tmp_path / "aux2" / "metrics.jsonl").read_text()
    load_auxiliary(tmp_path / "aux2", base)


def test_auxiliary_weights_raw_or_ema(base_run, tmp_path):
    """ema = 0: the raw fine-tuned weights (distance ratio 1); ema = f: an EMA with half-life f B started at the base,
    which moves part of the way. config.json records the ratio and the folder still resumes."""
    base = load_network(base_run / "network.pt")
    out = {}
    for name, ema in (("raw", 0.0), ("ema", 0.5)):
        aux = finetune_auxiliary(base_run, tmp_path / name, n_s=8, images=64, num_steps=2, ema=ema)
        st = torch.load(tmp_path / name / "training-state.pt", weights_only=True)
        want = st["net"] if ema == 0 else st["ema"]
        for k, v in aux.state_dict().items():
            assert torch.equal(v, want[k])
        cfg = json.loads((tmp_path / name / "config.json").read_text())
        out[name] = cfg["measured"]["weight_distance"]
        assert cfg["ema"] == ema and cfg["train"]["ema_halflife_samples"] == ema * 64
        finetune_auxiliary(base_run, tmp_path / name, n_s=8, images=64, num_steps=2, ema=ema)     # resumes
    assert out["raw"]["relative"] == pytest.approx(1.0)
    assert 0 < out["ema"]["relative"] < 1
    assert out["ema"]["raw_to_base"] == pytest.approx(out["raw"]["raw_to_base"])    # the same raw fine-tune
    # in float64 like weight_distances: a float32 sum of squares differs from it by float32 rounding (~1e-8)
    d = math.sqrt(sum(float(((v.double() - base.state_dict()[k].double()) ** 2).sum()) for k, v in load_network(
        tmp_path / "ema" / "network.pt").state_dict().items()))
    assert out["ema"]["aux_to_base"] == pytest.approx(d, rel=1e-9)
    with pytest.raises(ValueError, match="ema"):
        finetune_auxiliary(base_run, tmp_path / "bad", n_s=8, images=64, ema=-1)


def test_auxiliaries_share_a_synthetic_set(base_run, tmp_path):
    a = finetune_auxiliary(base_run, tmp_path / "a", n_s=8, images=32, num_steps=2)
    finetune_auxiliary(base_run, tmp_path / "b", n_s=8, images=48, num_steps=2, synthetic_from=tmp_path / "a")
    with np.load(tmp_path / "a" / "synthetic.npz") as za, np.load(tmp_path / "b" / "synthetic.npz") as zb:
        np.testing.assert_array_equal(za["samples"], zb["samples"])
    assert a is not None
    # another set (other steps) is drawn, not copied
    finetune_auxiliary(base_run, tmp_path / "c", n_s=8, images=32, num_steps=3, synthetic_from=tmp_path / "a")
    with np.load(tmp_path / "a" / "synthetic.npz") as za, np.load(tmp_path / "c" / "synthetic.npz") as zc:
        assert not np.array_equal(za["samples"], zc["samples"])


def test_bad_auxiliary_input(base_run, tmp_path):
    with pytest.raises(ValueError, match="n_s"):
        finetune_auxiliary(base_run, tmp_path / "a", n_s=0, images=16)
    with pytest.raises(ValueError, match="images"):
        finetune_auxiliary(base_run, tmp_path / "a", n_s=4, images=0)
    with pytest.raises(ValueError, match="base run not found"):
        finetune_auxiliary(tmp_path / "nowhere", tmp_path / "a", n_s=4, images=16)
    with pytest.raises(ValueError, match="lr"):
        finetune_auxiliary(base_run, tmp_path / "a", n_s=4, images=16, lr=-1.0)
    with pytest.raises(ValueError, match="the SIMS seed must be in"):
        finetune_auxiliary(base_run, tmp_path / "a", n_s=4, images=16, seed=10**6)
    with pytest.raises(ValueError, match="no auxiliary network"):
        load_auxiliary(tmp_path / "nowhere")


def test_the_image_shift_uses_the_product_form_of_the_theory_half():
    """One product form for both halves (simtheory.diffusion.shifting): its inverse reaches the target, an
    unshifted target gives the base, and the old empirical names are deprecated aliases of it."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        base, target = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
        w = rng.uniform(0.1, 3)
        aux = aux_weights_for_target(base, target, w)
        assert abs(aux.sum() - 1) < 1e-12
        np.testing.assert_allclose(product_form_masses(base, aux, w), target, rtol=1e-9)
        np.testing.assert_allclose(aux_weights_for_target(base, base, w), base, rtol=1e-9)
    # one class pushed up: the auxiliary under-represents it
    base = np.full(4, 0.25)
    aux = aux_weights_for_target(base, [0.4, 0.2, 0.2, 0.2], 1.0)
    assert aux[0] < 0.25 and math.isclose(aux[0] / aux[1], 0.5)
    for bad, match in [(([0.5, 0.5], [0.5, 0.6], 1), "sum to 1"), (([0.5, 0.5], [0.5, 0.5], 0), "w must be > 0"),
                       (([0.5, 0.5], [1.0, 0.0], 1), "> 0"), (([0.5, 0.5], [0.5, 0.5], -1), "w"),
                       (([0.5, 0.5], [0.2, 0.3, 0.5], 1), "classes")]:
        with pytest.raises(ValueError, match=match):
            aux_weights_for_target(*bad)
    import empirical.sims as es
    with pytest.warns(DeprecationWarning):
        np.testing.assert_array_equal(es.auxiliary_proportions([0.4, 0.6], [0.5, 0.5], 1.0),
                                      aux_weights_for_target([0.5, 0.5], [0.4, 0.6], 1.0))
    with pytest.warns(DeprecationWarning):
        np.testing.assert_array_equal(es.guided_class_proportions([0.4, 0.6], [0.5, 0.5], 1.0),
                                      product_form_masses([0.4, 0.6], [0.5, 0.5], 1.0))


def test_compose_by_class_meets_quotas():
    assert class_quotas(np.array([0.5, 0.3, 0.2]), 7).tolist() == [4, 2, 1]
    D = _net(0)
    label = lambda x: (x.reshape(len(x), -1).astype(int).sum(1) % 2)     # a deterministic stand-in labeller
    x, y, s = compose_by_class(D, label, [0.25, 0.75], 8, 100, "cpu", 2, chunk=8)
    assert np.bincount(y, minlength=2).tolist() == [2, 6]
    np.testing.assert_array_equal(label(x), y)
    # regenerated in one batch, each image at another batch position: equal up to one quantisation level (a
    # convolution kernel may sum in another order at another position on some CPUs)
    assert np.abs(generate(D, s, "cpu", 2).astype(int) - x.astype(int)).max() <= 1
    with pytest.raises(ValueError, match="quotas"):
        compose_by_class(D, lambda x: np.zeros(len(x), int), [0.5, 0.5], 4, 0, "cpu", 2, chunk=4, max_draws=8)


def test_pick_uses_seed_set_zero_only():
    from empirical.sims.sweep import pick_setting, sweep_verdict
    rows = []
    for j, (f0, f1) in enumerate([(5.0, 4.0), (5.2, 5.5), (5.1, 4.9)]):       # set 0 prefers w = 1; set 1 would not
        rows += [{"stage": "sweep", "n_s": None, "images": None, "w": 0.0, "set": j, "fd_classifier": f0},
                 {"stage": "sweep", "n_s": 8, "images": 16, "w": 1.0, "set": j, "fd_classifier": f1}]
    assert pick_setting(rows) == {"n_s": 8, "images": 16, "w": 1.0, "fd_classifier": 4.0}
    v = sweep_verdict(rows, 3)
    assert v["diffs"] == pytest.approx([0.3, -0.2]) and v["spread_w0"] == pytest.approx(0.2)


# ------------------------------------------------------------------------------------------------ the CLI
@pytest.mark.cifar
def test_tiny_sims_pipeline_cli(tiny_loop, tmp_path, monkeypatch):
    """The tiny path end to end with the real reward classifier: a loop's gen_000 as base, the sweep (rerun
    resumes), distribution shifting; the tiny preset's sampler gives the classifier a class mix near the real one."""
    from empirical.images import cifar10 as cifar
    from empirical.networks.classifier import load_classifier, predict_proba
    from empirical.cli import main
    base = str(tiny_loop / "gen_000")
    assert main(["sims-sweep", "--config", "tiny", "--base", base, "--out", str(tmp_path / "sweep")]) == 0
    rows = read_metrics(tmp_path / "sweep")
    assert sorted((r["w"], r["set"]) for r in rows) == [(0.0, 0), (0.0, 1), (0.0, 2), (1.0, 0), (1.0, 1), (1.0, 2)]
    assert all(r["n"] == 32 for r in rows) and (tmp_path / "sweep" / "sweep.png").exists()
    w0 = [r for r in rows if r["w"] == 0]
    assert len({r["images_sha1"] for r in w0}) == 3                  # three disjoint seed sets
    # 4 Heun steps made the classifier call 98% of the base's samples airplane; the preset's steps must give a
    # share within 4 standard errors (96 samples, and the classifier's share of the real test images) of the
    # share the same classifier gives the real images
    clf, _ = load_classifier(tiny_loop / "classifier" / "classifier.pt")
    xt, _ = cifar.dataset("test", 8, ("airplane", "frog"))
    real = float((predict_proba(clf, xt).argmax(1) == 0).mean())
    share = float(np.mean([r["class_proportions"][0] for r in w0]))
    se = math.sqrt(share * (1 - share) / 96 + real * (1 - real) / len(xt))
    assert abs(share - real) < 4 * se, (share, real, se)
    assert main(["sims-sweep", "--config", "tiny", "--base", base, "--out", str(tmp_path / "sweep")]) == 0
    assert read_metrics(tmp_path / "sweep") == rows                  # resumed: nothing recomputed
    assert main(["sims-sweep", "--config", "tiny", "--base", base, "--out", str(tmp_path / "sweep"),
                 "--w", "0,2"]) == 2                                 # another grid in the same folder is refused
    assert main(["sims", "--config", "tiny", "--base", str(tmp_path / "nope"), "--out", str(tmp_path / "a")]) == 2
    # distribution shifting composes the auxiliary's set by the real classifier's labels
    assert main(["sims", "--base", base, "--out", str(tmp_path / "shift"), "--shift", "airplane=0.7"]) == 0
    shift = read_metrics(tmp_path / "shift")
    assert {(r["stage"], r["set"]) for r in shift} == {("base", 0), ("base", 1), ("base", 2), ("sims", 1), ("sims", 2),
                                                        ("shift", 1), ("shift", 2)}
    with np.load(tmp_path / "shift" / "aux-shift-ns64-B256" / "synthetic.npz") as z:
        aux_p = np.array([r for r in shift if r["stage"] == "shift"][0]["aux_proportions"])
        np.testing.assert_array_equal(np.bincount(z["labels"], minlength=2), class_quotas(aux_p, 64))
        np.testing.assert_array_equal(predict_proba(clf, z["samples"]).argmax(1), z["labels"])
    # the paper-check rows compute their verdicts from these folders
    import paper_checks.c12_sims_edm as c12
    monkeypatch.setattr(c12, "RESULTS", tmp_path)
    checks = {c.id: c for c in c12.run()}
    assert checks["C12.5"].verdict in ("holds", "fails") and "n = 32" in checks["C12.5"].measured
    assert checks["C12.8"].verdict in ("holds", "fails") and checks["C12.7"].verdict == "not measurable here"


@pytest.mark.cifar
def test_sweep_and_shift_on_a_train_base(tiny_train, tmp_path, capsys):
    """A `train` run as the base used to crash (AttributeError data_seed): the classifier is now trained as the loop
    trains it, and the preset is read from the base's config.json."""
    rc, err = _cli(["sims-sweep", "--base", tiny_train, "--out", tmp_path / "sweep", "--n", "8"], capsys)
    assert rc == 0, err
    assert (tmp_path / "sweep" / "classifier" / "classifier.pt").exists()
    rc, err = _cli(["sims", "--base", tiny_train, "--out", tmp_path / "shift", "--n", "8", "--n-s", "16",
                    "--images", "64", "--shift", "airplane=0.6"], capsys)
    assert rc == 0, err
    assert {r["stage"] for r in read_metrics(tmp_path / "shift")} == {"base", "sims", "shift"}


@pytest.mark.cifar
def test_config_that_does_not_match_the_base_is_refused(tiny_loop, tiny_train, tmp_path, capsys):
    """The README's cpu commands on a tiny base used to run, call frog 'automobile' and measure ten classes."""
    rc, err = _cli(["sims-sweep", "--config", "cpu", "--base", tiny_loop / "gen_000", "--out", tmp_path / "s"], capsys)
    assert rc == 2 and "--config cpu measures 10 classes" in err and "2 classes (airplane, frog)" in err
    assert "--config tiny" in err and not (tmp_path / "s").exists()
    rc, err = _cli(["sims", "--config", "cpu", "--base", tiny_train, "--out", tmp_path / "a", "--shift",
                    "airplane=0.5"], capsys)
    assert rc == 2 and "10 classes" in err and "2 classes" in err
    # a train run from before its config was recorded: the networks differ, both are named
    legacy = tmp_path / "legacy"
    shutil.copytree(tiny_train, legacy)
    (legacy / "config.json").unlink()
    rc, err = _cli(["sims-sweep", "--config", "cpu", "--base", legacy, "--out", tmp_path / "s"], capsys)
    assert rc == 2 and "channels=32" in err and "channels=16" in err and "--config tiny" in err
    rc, err = _cli(["sims-sweep", "--base", legacy, "--out", tmp_path / "s", "--dry-run"], capsys)
    assert rc == 0


@pytest.mark.cifar
def test_damaged_files(tiny_loop, tmp_path, capsys):
    """A truncated auxiliary network.pt used to exit 0 on resume, a truncated synthetic.npz gave a traceback, and a
    damaged base was answered with 'delete the folder'."""
    base = tiny_loop / "gen_000"
    args = ["sims", "--base", base, "--out", tmp_path / "aux", "--n-s", "8", "--images", "64"]
    assert _cli(args, capsys)[0] == 0
    net, syn = tmp_path / "aux" / "network.pt", tmp_path / "aux" / "synthetic.npz"
    good_net, good_syn = net.read_bytes(), syn.read_bytes()
    net.write_bytes(good_net[: len(good_net) // 2])
    rc, err = _cli(args, capsys)
    assert rc == 2 and f"{net} is unreadable" in err
    net.write_bytes(good_net)
    syn.write_bytes(good_syn[:300])
    rc, err = _cli(args, capsys)
    assert rc == 2 and f"{syn} is unreadable" in err
    syn.write_bytes(good_syn)
    assert _cli(args, capsys)[0] == 0
    bad = tmp_path / "badbase"
    shutil.copytree(base, bad)
    blob = (bad / "network.pt").read_bytes()
    (bad / "network.pt").write_bytes(blob[:100])
    for cmd in (["sims", "--config", "tiny", "--base", bad, "--out", tmp_path / "a2"],
                ["sims-sweep", "--config", "tiny", "--base", bad, "--out", tmp_path / "s2"]):
        rc, err = _cli(cmd, capsys)
        assert rc == 2 and "Do not delete the base folder" in err and "Delete the folder" not in err
        assert str(bad / "network.pt") in err


@pytest.mark.parametrize("extra,match", [
    (["--shift-w", "-5"], "--shift-w only applies with --shift"),
    (["--n", "10"], "--n only applies with --shift"),
    (["--n-s", "16,32"], "--n-s takes one value"),
    (["--images", "16,32"], "--images takes one value"),
    (["--seed", "1000000"], "seed must be below 1000000"),
    (["--shift", "airplane=0.6", "--shift-w", "5e-324"], "smallest normal"),
    (["--shift", "airplane=0.6", "--shift-w", "1e-300"], "smallest normal"),
    (["--shift", "airplane=0.6", "--shift-w", "0"], "shift_w > 0"),
    (["--shift", "=0.6"], "CLASS=SHARE"),
    (["--shift", "truck=0.6"], "not among the base's classes"),
    (["--steps", "1"], "num_steps"),
])
@pytest.mark.cifar
def test_silently_accepted_inputs_are_refused(tiny_loop, tmp_path, capsys, extra, match):
    rc, err = _cli(["sims", "--base", tiny_loop / "gen_000", "--out", tmp_path / "x", *extra], capsys)
    assert rc == 2 and match in err, err


@pytest.mark.cifar
def test_sims_options_reach_the_auxiliary(tiny_loop, tmp_path, capsys):
    rc, err = _cli(["sims", "--base", tiny_loop / "gen_000", "--out", tmp_path / "a", "--n-s", "8", "--images", "32",
                    "--steps", "3", "--aux-ema", "0.25", "--seed", "99"], capsys)
    assert rc == 0, err
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    from empirical.seeds import block_start
    assert (cfg["num_steps"], cfg["ema"], cfg["seed0"]) == (3, 0.25, block_start("sims_aux", 99))
    assert cfg["train"]["ema_halflife_samples"] == 8.0
    from empirical.cli import main
    capsys.readouterr()
    assert main(["sims-sweep", "--base", str(tiny_loop / "gen_000"), "--out", "x", "--steps", "5",
                 "--guidance-interval", "0.1", "2", "--dry-run"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["num_steps"] == 5 and d["interval"] == [0.1, 2.0] and d["loop"] == "tiny"


@pytest.mark.cifar
def test_sims_explore_cli(tiny_loop, tmp_path, capsys):
    rc, err = _cli(["sims-explore", "--base", tiny_loop / "gen_000", "--out", tmp_path / "e", "--n", "8", "--n-s", "8",
                    "--images", "32,64", "--lr", "1e-3,2e-4", "--aux-ema", "0,0.25", "--w", "0,1"], capsys)
    assert rc == 0, err
    rows = read_metrics(tmp_path / "e")
    assert len(rows) == 1 + 2 * 2 * 2 and {r["set"] for r in rows} == {0}
    assert {(r["lr"], r["ema"], r["images"]) for r in rows if r["w"] > 0} == {
        (lr, e, b) for lr in (1e-3, 2e-4) for e in (0.0, 0.25) for b in (32, 64)}
    assert all(r["weight_distance"] == pytest.approx(1.0) for r in rows if r["ema"] == 0)
    seen = set()
    for f in (tmp_path / "e").glob("lr-*/aux-*/synthetic.npz"):
        with np.load(f) as z:
            seen.add(z["samples"].tobytes())
    assert len(seen) == 1                                           # one synthetic set, drawn once
    assert "Best w per auxiliary" in (tmp_path / "e" / "table.md").read_text()


@pytest.mark.cifar
def test_guided_sample_cli_equals_guided_generate(tiny_loop, tmp_path, capsys):
    base = tiny_loop / "gen_000"
    assert _cli(["sims", "--base", base, "--out", tmp_path / "aux", "--n-s", "8", "--images", "64"], capsys)[0] == 0
    rc, err = _cli(["sample", "--network", base / "network.pt", "--aux", tmp_path / "aux", "--w", "1.5",
                    "--guidance-interval", "0.2", "10", "--seeds", "3-12", "--steps", "6", "--out", tmp_path / "s"],
                   capsys)
    assert rc == 0, err
    D, A = load_network(base / "network.pt"), load_network(tmp_path / "aux" / "network.pt")
    ref = guided_generate(D, A, 1.5, range(3, 13), "cpu", 6, interval=(0.2, 10.0))
    with np.load(tmp_path / "s" / "images.npz") as z:
        np.testing.assert_array_equal(z["samples"], ref)
        np.testing.assert_array_equal(z["seeds"], np.arange(3, 13))
    for bad, match in ((["--w", "1"], "need --aux"), (["--aux", tmp_path / "aux"], "--aux needs --w"),
                       (["--class", "frog"], "unconditional"), (["--seeds", "5-2"], "0 <= A <= B")):
        rc, err = _cli(["sample", "--network", base / "network.pt", "--out", tmp_path / "t", *bad], capsys)
        assert rc == 2 and match in err, err


@pytest.mark.cifar
def test_fid_cli_samples_with_guidance(tiny_loop, tmp_path, capsys, monkeypatch):
    """`fid --network --aux --w` measures exactly the guided samples (the Inception statistics are stubbed: the
    real ones take minutes on a CPU)."""
    from empirical import fid as fidmod
    base = tiny_loop / "gen_000"
    assert _cli(["sims", "--base", base, "--out", tmp_path / "aux", "--n-s", "8", "--images", "64"], capsys)[0] == 0
    seen = {}
    monkeypatch.setattr(fidmod, "reference_statistics", lambda *a, **k: {"stub": True})
    monkeypatch.setattr(fidmod, "fid", lambda imgs, ref, seeds=None, **k: seen.update(imgs=imgs) or {"fid": 0.0})
    rc, err = _cli(["fid", "--network", base / "network.pt", "--aux", tmp_path / "aux", "--w", "2", "--n", "6",
                    "--steps", "4"], capsys)
    assert rc == 0, err
    D, A = load_network(base / "network.pt"), load_network(tmp_path / "aux" / "network.pt")
    np.testing.assert_array_equal(seen["imgs"], guided_generate(D, A, 2.0, range(6), "cpu", 4))


# ------------------------------------------------------------------------------------------------ the loop
@pytest.mark.cifar
def test_loop_generation_samples_with_its_own_auxiliary(tmp_path):
    """SIMS as a sampling option of the image loop: each generation's model is guided by an auxiliary fine-tuned
    from that model on its own samples, every generation at the same explicit lr; a rerun resumes without
    recomputing."""
    from dataclasses import replace
    from empirical.images.config import preset
    from empirical.images import run_image_loop
    from empirical.seeds import block_start, seed_coordinates, stream_seed
    cfg = preset("tiny", generations=1, K=1, lam=1.0, sims=SimsSampling(1.0, 16, 64, lr=5e-4, interval=(0.1, 20)))
    rows = run_image_loop(cfg, tmp_path / "sims", progress=False).metrics()
    assert [r["generation"] for r in rows] == [0, 1] and all(r["sims_w"] == 1.0 and "fd_classifier" in r for r in rows)
    lrs = set()
    for t in (0, 1):
        aux = tmp_path / "sims" / f"gen_{t:03d}" / "sims-aux"
        c = json.loads((aux / "config.json").read_text())
        assert c["n_s"] == 16 and c["seed"] == stream_seed(cfg.seed, "sims", t)
        assert c["seed0"] == block_start("sims_loop", cfg.seed, t)
        assert seed_coordinates(c["seed0"]) == ("sims_loop", cfg.seed, t, 0)
        lrs.add(c["lr"])
    assert lrs == {5e-4}                         # generation 0 used to take the base's lr, later ones the fine-tune's
    assert run_image_loop(cfg, tmp_path / "sims", progress=False).metrics() == rows
    plain = run_image_loop(replace(cfg, sims=None), tmp_path / "plain", progress=False).metrics()
    assert plain[0]["mean_reward"] != rows[0]["mean_reward"] and "sims_w" not in plain[0]
    assert "sims" not in replace(cfg, sims=None).to_dict()
    with pytest.raises(ValueError, match="w"):
        SimsSampling(w=-1.0)
    with pytest.raises(ValueError, match="lr must be given"):
        SimsSampling(lr=None)


def test_loop_cli_steps_and_sims_options(capsys):
    from empirical.cli import main
    assert main(["loop", "--config", "tiny", "--steps", "12", "--sims-w", "1", "--sims-lr", "3e-4", "--sims-ema", "0",
                 "--sims-interval", "0.1", "5", "--dry-run"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["num_steps"] == 12 and d["sims"] == {"w": 1.0, "n_s": 2500, "images": 10000, "lr": 3e-4, "ema": 0.0,
                                                  "interval": [0.1, 5.0]}
    assert main(["loop", "--config", "tiny", "--sims-ema", "5", "--dry-run"]) == 2


@pytest.mark.parametrize("command,n_s,budget", [("loop", 2500, 10_000), ("points", 2048, 200_000),
                                                ("mixture", 2500, 25_000)])
def test_every_loop_command_has_the_same_sims_options(command, n_s, budget, capsys):
    """One set of SIMS options (empirical.cli.common.sims_options) on the image, point and mixture loops: the budget
    by --sims-samples or its earlier name --sims-images, the auxiliary's EMA and guidance interval; each loop's own
    defaults for n_s and B."""
    from empirical.cli import main
    assert main([command, "--config", "tiny", "--sims-w", "1", "--dry-run"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["sims"]["n_s"], d["sims"]["images"]) == (n_s, budget)
    for name in ("--sims-samples", "--sims-images"):
        assert main([command, "--config", "tiny", "--sims-w", "0.5", name, "300", "--sims-ema", "0",
                     "--sims-interval", "0.2", "4", "--dry-run"]) == 0
        d = json.loads(capsys.readouterr().out)
        assert d["sims"] == {"w": 0.5, "n_s": n_s, "images": 300, "lr": 1e-3, "ema": 0.0, "interval": [0.2, 4.0]}
    assert main([command, "--config", "tiny", "--sims-interval", "0.2", "4", "--dry-run"]) == 2


def test_auxiliary_and_guidance_of_a_point_model(tmp_path):
    """sims.py is shape-generic: a point (n, d) base, its auxiliary and guided sampling go through the same code."""
    from empirical.networks.mlp import MLPConfig
    pts = np.random.default_rng(0).normal(size=(64, 2)) * [1.0, 3.0] + [2.0, -1.0]
    tc = TrainConfig(mlp=MLPConfig(dim=2, width=16, depth=1, shift=(2.0, -1.0), scale=(2.0, 6.0)), batch_size=16,
                     total_samples=64, warmup_samples=16, ema_halflife_samples=32, checkpoint_samples=64)
    train(tc, pts, None, tmp_path / "base")
    aux = finetune_auxiliary(tmp_path / "base", tmp_path / "aux", n_s=8, images=32, num_steps=3)
    base = load_network(tmp_path / "base" / "network.pt")
    with np.load(tmp_path / "aux" / "synthetic.npz") as z:
        assert z["samples"].shape == (8, 2) and z["samples"].dtype == np.float64
        np.testing.assert_array_equal(z["samples"], generate(base, z["seeds"], "cpu", 3))
    g = guided_generate(base, aux, 1.0, range(5), "cpu", 3, interval=(0.1, 10.0))
    assert g.shape == (5, 2) and np.all(np.isfinite(g))
    np.testing.assert_array_equal(guided_generate(base, aux, 0.0, range(5), "cpu", 3), generate(base, range(5), "cpu", 3))
    load_auxiliary(tmp_path / "aux", base)
    with pytest.raises(ValueError, match="shape"):
        load_auxiliary(tmp_path / "aux", _net(0))
