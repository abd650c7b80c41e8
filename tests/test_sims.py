import math

import numpy as np
import pytest
import torch

from empirical.edm import Denoiser, generate, heun_sample, latents_for_seeds
from empirical.sims import (PairedDenoiser, auxiliary_proportions, class_quotas, compose_by_class, finetune_auxiliary,
                            guided_class_proportions, guided_denoiser, guided_generate, load_auxiliary)
from empirical.train import TrainConfig, load_network, train
from empirical.unet import UNetConfig
from simtheory.runs import ConfigMismatch

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
    tc = TrainConfig(TINY, batch_size=16, total_images=64, warmup_images=16, ema_halflife_images=32,
                     checkpoint_images=64)
    train(tc, imgs, None, out)
    return out


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


@pytest.mark.parametrize("w", [-0.1, float("nan"), float("inf"), "x"])
def test_bad_w(w):
    with pytest.raises(ValueError, match="w"):
        guided_generate(_net(0), _net(1), w, range(2), "cpu", 2)


def test_different_architectures_refused():
    other = UNetConfig(img_resolution=8, channels=24, channel_mult=(1, 2), num_blocks=1, attn_resolutions=(4,),
                       dropout=0.0)
    with pytest.raises(ValueError, match="different architectures.*channels"):
        guided_generate(_net(0), _net(1, other), 1.0, range(2), "cpu", 2)


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
        assert z["images"].shape == (16, 3, 8, 8)
        np.testing.assert_array_equal(z["images"], generate(base, z["seeds"], "cpu", 2))
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


def test_bad_auxiliary_input(base_run, tmp_path):
    with pytest.raises(ValueError, match="n_s"):
        finetune_auxiliary(base_run, tmp_path / "a", n_s=0, images=16)
    with pytest.raises(ValueError, match="images"):
        finetune_auxiliary(base_run, tmp_path / "a", n_s=4, images=0)
    with pytest.raises(ValueError, match="base run not found"):
        finetune_auxiliary(tmp_path / "nowhere", tmp_path / "a", n_s=4, images=16)
    with pytest.raises(ValueError, match="lr"):
        finetune_auxiliary(base_run, tmp_path / "a", n_s=4, images=16, lr=-1.0)
    with pytest.raises(ValueError, match="no auxiliary network"):
        load_auxiliary(tmp_path / "nowhere")


def test_auxiliary_proportions_invert_the_product_form():
    rng = np.random.default_rng(0)
    for _ in range(20):
        base, target = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
        w = rng.uniform(0.1, 3)
        aux = auxiliary_proportions(target, base, w)
        assert abs(aux.sum() - 1) < 1e-12
        np.testing.assert_allclose(guided_class_proportions(base, aux, w), target, rtol=1e-9)
        np.testing.assert_allclose(auxiliary_proportions(base, base, w), base, rtol=1e-9)
    # one class pushed up: the auxiliary under-represents it
    base = np.full(4, 0.25)
    aux = auxiliary_proportions([0.4, 0.2, 0.2, 0.2], base, 1.0)
    assert aux[0] < 0.25 and math.isclose(aux[0] / aux[1], 0.5)
    for bad, match in [(([0.5, 0.6], [0.5, 0.5], 1), "sum to 1"), (([0.5, 0.5], [0.5, 0.5], 0), "w > 0"),
                       (([1.0, 0.0], [0.5, 0.5], 1), "> 0"), (([0.5, 0.5], [0.5, 0.5], -1), "w")]:
        with pytest.raises(ValueError, match=match):
            auxiliary_proportions(*bad)


def test_compose_by_class_meets_quotas():
    assert class_quotas(np.array([0.5, 0.3, 0.2]), 7).tolist() == [4, 2, 1]
    D = _net(0)
    label = lambda x: (x.reshape(len(x), -1).astype(int).sum(1) % 2)     # a deterministic stand-in labeller
    x, y, s = compose_by_class(D, label, [0.25, 0.75], 8, 100, "cpu", 2, chunk=8)
    assert np.bincount(y, minlength=2).tolist() == [2, 6]
    np.testing.assert_array_equal(label(x), y)
    np.testing.assert_array_equal(generate(D, s, "cpu", 2), x)
    with pytest.raises(ValueError, match="quotas"):
        compose_by_class(D, lambda x: np.zeros(len(x), int), [0.5, 0.5], 4, 0, "cpu", 2, chunk=4, max_draws=8)


def test_pick_uses_seed_set_zero_only():
    from empirical.sims_sweep import pick_setting, sweep_verdict
    rows = []
    for j, (f0, f1) in enumerate([(5.0, 4.0), (5.2, 5.5), (5.1, 4.9)]):       # set 0 prefers w = 1; set 1 would not
        rows += [{"stage": "sweep", "n_s": None, "images": None, "w": 0.0, "set": j, "fd_classifier": f0},
                 {"stage": "sweep", "n_s": 8, "images": 16, "w": 1.0, "set": j, "fd_classifier": f1}]
    assert pick_setting(rows) == {"n_s": 8, "images": 16, "w": 1.0, "fd_classifier": 4.0}
    v = sweep_verdict(rows, 3)
    assert v["diffs"] == pytest.approx([0.3, -0.2]) and v["spread_w0"] == pytest.approx(0.2)


@pytest.mark.cifar
def test_tiny_sims_pipeline_cli(tmp_path, monkeypatch):
    """The tiny path end to end: a loop's gen_000 as base, the sweep (rerun resumes), distribution shifting."""
    from empirical.cli import main
    from empirical import sims_sweep
    from simtheory.runs import read_metrics
    assert main(["loop", "--config", "tiny", "--generations", "0", "--out", str(tmp_path / "loop")]) == 0
    base = str(tmp_path / "loop" / "gen_000")
    assert main(["sims-sweep", "--config", "tiny", "--base", base, "--out", str(tmp_path / "sweep")]) == 0
    rows = read_metrics(tmp_path / "sweep")
    assert sorted((r["w"], r["set"]) for r in rows) == [(0.0, 0), (0.0, 1), (0.0, 2), (1.0, 0), (1.0, 1), (1.0, 2)]
    assert all(r["n"] == 32 for r in rows) and (tmp_path / "sweep" / "sweep.png").exists()
    w0 = [r for r in rows if r["w"] == 0]
    assert len({r["images_sha1"] for r in w0}) == 3                  # three disjoint seed sets
    assert main(["sims-sweep", "--config", "tiny", "--base", base, "--out", str(tmp_path / "sweep")]) == 0
    assert read_metrics(tmp_path / "sweep") == rows                  # resumed: nothing recomputed
    assert main(["sims-sweep", "--config", "tiny", "--base", base, "--out", str(tmp_path / "sweep"),
                 "--w", "0,2"]) == 2                                 # another grid in the same folder is refused
    assert main(["sims", "--config", "tiny", "--base", str(tmp_path / "nope"), "--out", str(tmp_path / "a")]) == 2
    # the tiny classifier labels nearly everything one class, so the shift's set is composed by a stand-in labeller
    monkeypatch.setattr(sims_sweep.Context, "label_fn", lambda self, x: (x.reshape(len(x), -1).astype(int).sum(1) % 2))
    assert main(["sims", "--config", "tiny", "--base", base, "--out", str(tmp_path / "shift"),
                 "--shift", "airplane=0.7"]) == 0
    shift = read_metrics(tmp_path / "shift")
    assert {(r["stage"], r["set"]) for r in shift} == {("base", 0), ("base", 1), ("base", 2), ("sims", 1), ("sims", 2),
                                                        ("shift", 1), ("shift", 2)}
    with np.load(tmp_path / "shift" / "aux-shift-ns64-B256" / "synthetic.npz") as z:
        aux_p = np.array([r for r in shift if r["stage"] == "shift"][0]["aux_proportions"])
        np.testing.assert_array_equal(np.bincount(z["labels"], minlength=2), class_quotas(aux_p, 64))
    # the paper-check rows compute their verdicts from these folders
    import paper_checks.c12_sims_edm as c12
    monkeypatch.setattr(c12, "RESULTS", tmp_path)
    checks = {c.id: c for c in c12.run()}
    assert checks["C12.5"].verdict in ("holds", "fails") and "n = 32" in checks["C12.5"].measured
    assert checks["C12.8"].verdict in ("holds", "fails") and checks["C12.7"].verdict == "not measurable here"


@pytest.mark.cifar
def test_loop_generation_samples_with_its_own_auxiliary(tmp_path):
    """SIMS as a sampling option of the image loop: each generation's model is guided by an auxiliary fine-tuned
    from that model on its own samples; a rerun resumes without recomputing."""
    from dataclasses import replace
    import json
    from empirical.configs import preset, stream_seed
    from empirical.loop import run_image_loop
    from empirical.sims import SimsSampling
    cfg = preset("tiny", generations=1, K=1, lam=1.0, sims=SimsSampling(1.0, 16, 64))
    rows = run_image_loop(cfg, tmp_path / "sims", progress=False).metrics()
    assert [r["generation"] for r in rows] == [0, 1] and all(r["sims_w"] == 1.0 and "fd_classifier" in r for r in rows)
    for t in (0, 1):
        aux = tmp_path / "sims" / f"gen_{t:03d}" / "sims-aux"
        assert '"n_s": 16' in (aux / "metrics.jsonl").read_text()
        assert json.loads((aux / "config.json").read_text())["seed"] == stream_seed(cfg.seed, "sims", t)
    assert run_image_loop(cfg, tmp_path / "sims", progress=False).metrics() == rows
    plain = run_image_loop(replace(cfg, sims=None), tmp_path / "plain", progress=False).metrics()
    assert plain[0]["mean_reward"] != rows[0]["mean_reward"] and "sims_w" not in plain[0]
    assert "sims" not in replace(cfg, sims=None).to_dict()
    with pytest.raises(ValueError, match="w"):
        SimsSampling(w=-1.0)
