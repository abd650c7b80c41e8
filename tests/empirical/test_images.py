import json
import math
import pickle

import numpy as np
import pytest

import simtheory
from empirical.images import cifar10 as data
from empirical.images.config import preset
from empirical.images import run_image_loop
from simtheory.fold import keep_one_of_k
from simtheory.runs import ConfigMismatch, read_metrics

from tolerances import N_SE
from helpers import interrupt_on_call


def test_missing_and_corrupt_sources(tmp_path):
    with pytest.raises(ValueError, match="not found at .*--data"):
        data.load_cifar10("test", tmp_path / "nope.tar.gz", cache_dir=None)
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="corrupt"):
        data.load_cifar10("test", bad, cache_dir=None)
    with pytest.raises(ValueError, match="unknown class name 'cow'"):
        data.class_indices(["cow"])


def test_batches_folder_and_downsampling(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": imgs, b"labels": [0, 3, 3, 9]}, f)
    x, y = data.load_cifar10("test", folder, cache_dir=None)
    assert x.shape == (4, 3, 32, 32) and y.tolist() == [0, 3, 3, 9]
    small = data.downsample(x, 8)
    np.testing.assert_array_equal(small[1, 2, 3, 5], np.rint(x[1, 2, 12:16, 20:24].mean()).astype(np.uint8))
    xs, ys = data.prepare(x, y, 16, classes=["cat", "truck"])
    assert ys.tolist() == [0, 0, 1] and xs.shape == (3, 3, 16, 16)


def test_torch_side_curation_matches_simtheory():
    rng = np.random.default_rng(0)
    pool_r = rng.normal(0, 1, 6)
    K, m = 3, 60_000
    cand = rng.integers(0, 6, m * K)
    kept = cand[keep_one_of_k(pool_r[cand], K, np.random.default_rng(1))]
    freq = np.bincount(kept, minlength=6) / m
    target = simtheory.curated(np.full(6, 1 / 6), pool_r, K)
    assert np.all(np.abs(freq - target) <= N_SE * np.sqrt(target * (1 - target) / m))


@pytest.mark.parametrize("kw,name", [({"K": 0}, "K"), ({"lam": -1.0}, "lam"), ({"target": "cat"}, "target"),
                                      ({"classes": ("cow",)}, "cow"), ({"scheme": "x"}, "scheme")])
def test_bad_loop_config(kw, name):
    with pytest.raises(ValueError, match=name):
        preset("tiny", **kw)


@pytest.mark.cifar
def test_loop_resume_after_kill_equals_uninterrupted(tmp_path, monkeypatch):
    """Killed twice (mid base training, mid fine-tune) and resumed, the loop ends with an uninterrupted run's metrics,
    with dropout on (per-step, per-process dropout seeds)."""
    from dataclasses import replace
    cfg = preset("tiny")
    cfg = replace(cfg, train=replace(cfg.train, unet=replace(cfg.train.unet, dropout=0.1)))
    full = run_image_loop(cfg, tmp_path / "full", progress=False).metrics()
    assert [r["generation"] for r in full] == [0, 1, 2]
    for r in full:
        assert abs(sum(r["class_proportions"]) - 1) < 1e-12 and r["reward_se"] > 0
        assert abs(sum(r["judge_class_proportions"]) - 1) < 1e-12 and r["judge_reward_se"] > 0
    # the tiny preset is meaningful: both classifiers beat chance on the 2,000 test images by N_SE binomial
    # standard errors, and curation keeps images of higher reward than the candidates it chose from
    chance_se = math.sqrt(0.25 / 2000)
    assert full[0]["classifier_accuracy"] > 0.5 + N_SE * chance_se
    assert full[0]["judge_accuracy"] > 0.5 + N_SE * chance_se
    for r in full[1:]:
        gain = r["kept_mean_reward"] - r["candidate_mean_reward"]
        assert gain > N_SE * math.hypot(r["kept_reward_se"], r["candidate_reward_se"]), r
    import empirical.train as tr
    real = tr.ema_update

    def kill_at(n):
        return interrupt_on_call(real, n)

    # base: 256 steps of 64 images, checkpointed every 2048 images (32 steps); each fine-tune: 16 steps
    monkeypatch.setattr(tr, "ema_update", kill_at(40))          # mid base training, after its first checkpoint
    with pytest.raises(KeyboardInterrupt):
        run_image_loop(cfg, tmp_path / "cut", progress=False)
    assert read_metrics(tmp_path / "cut") == []
    monkeypatch.setattr(tr, "ema_update", kill_at(224 + 8))     # resumed: 224 base steps, then gen 1's fine-tune
    with pytest.raises(KeyboardInterrupt):
        run_image_loop(cfg, tmp_path / "cut", progress=False)
    assert len(read_metrics(tmp_path / "cut")) == 1
    monkeypatch.setattr(tr, "ema_update", real)
    assert run_image_loop(cfg, tmp_path / "cut", progress=False).metrics() == full
    with pytest.raises(ConfigMismatch, match="K: 4 -> 3"):
        run_image_loop(replace(cfg, K=3), tmp_path / "cut", progress=False)


def test_cli_dry_run():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "empirical", "loop", "--config", "tiny", "--lam", "inf", "--dry-run"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["lam"] == math.inf
