"""Issue 12's audit: seeds reach every draw, no thread side effects, corrupt files and bad inputs give clear
errors, the network is written before the training state, runs resume on another device."""
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from empirical import checkpoints
from helpers import interrupt_on_call
from empirical.images.config import preset
from empirical.edm import generate, sigma_steps
from empirical.networks.unet import Denoiser
from empirical.images import run_image_loop
from empirical.train import TrainConfig, load_network, train
from empirical.networks.unet import UNetConfig
from simtheory.runs import RunFolder

ROOT = Path(__file__).resolve().parents[2]
SMALL_NET = UNetConfig(img_resolution=8, channels=16, channel_mult=(1, 1), num_blocks=1, attn_resolutions=(),
                       dropout=0.0)


def _small(**kw):
    """The tiny preset cut to a base model only (generation 0), for checks of seeds and inputs."""
    cfg = preset("tiny", generations=0, n_eval=32, **kw)
    return replace(cfg, train=replace(cfg.train, total_samples=512, checkpoint_samples=512))


def _env(**kw) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(kw)
    return env


# ------------------------------------------------------------------------------------------------ seeds
@pytest.mark.cifar
def test_seed_reaches_generation_zero(tmp_path):
    """Replicates differ from generation 0 on (base training, classifier, data, evaluation seeds); the same
    seed repeats every number."""
    a = run_image_loop(_small(seed=0), tmp_path / "a", progress=False).metrics()[0]
    b = run_image_loop(_small(seed=1), tmp_path / "b", progress=False).metrics()[0]
    c = run_image_loop(_small(seed=0), tmp_path / "c", progress=False).metrics()[0]
    assert a == c
    assert a["mean_reward"] != b["mean_reward"] and a["classifier_accuracy"] != b["classifier_accuracy"]
    na = torch.load(tmp_path / "a" / "gen_000" / "network.pt", weights_only=True)
    nb = torch.load(tmp_path / "b" / "gen_000" / "network.pt", weights_only=True)
    assert any(not torch.equal(na[k], nb[k]) for k in na)


# ---------------------------------------------------------------------------------------------- threads
THREADS_SCRIPT = """
import numpy as np, torch
from simtheory.fold import keep_one_of_k
import simtheory
before = torch.get_num_threads()
keep_one_of_k(np.linspace(0, 1, 40), 4, np.random.default_rng(0))
simtheory.curated(np.full(5, 0.2), np.arange(5.0), 3)
print(before, torch.get_num_threads())
"""


def test_curation_leaves_torch_threads_alone():
    """Numba's OpenMP start-up used to set torch's thread count to NUMBA_NUM_THREADS (fresh process: the
    start happens once)."""
    out = subprocess.run([sys.executable, "-c", THREADS_SCRIPT], capture_output=True, text=True, check=True,
                         env=_env(OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="2"), cwd=ROOT).stdout.split()
    assert out == ["1", "1"]


@pytest.mark.cifar
def test_threads_option_sets_both_and_is_logged(tmp_path):
    script = ("import numba, torch\nfrom empirical.cli import set_threads\nset_threads(1)\n"
              "print(torch.get_num_threads(), numba.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env=_env(OMP_NUM_THREADS="2", NUMBA_NUM_THREADS="2"), cwd=ROOT).stdout.split()
    assert out == ["1", "1"]
    from empirical.cli import set_threads
    with pytest.raises(ValueError, match="NUMBA_NUM_THREADS"):
        set_threads(10**4)
    cfg = _small()
    run_image_loop(cfg, tmp_path / "r", progress=False)
    log = [json.loads(s) for s in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    assert log[0]["torch_threads"] == torch.get_num_threads() and log[0]["device"] == "cpu"
    assert "threads" not in json.dumps(RunFolder(tmp_path / "r").config)


# ----------------------------------------------------------------------------------------- sampler input
@pytest.mark.parametrize("kw,match", [({"num_steps": 1}, "num_steps"), ({"lam": 1e-4}, "round"),
                                      ({"lam": 0.0}, "round"), ({"fid_n": -1}, "fid_n"), ({"fid_n": 1}, "fid_n"),
                                      ({"n_eval": 1}, "n_eval"), ({"seed": -1}, "seed")])
def test_bad_sampler_inputs_rejected(kw, match):
    with pytest.raises(ValueError, match=match):
        preset("tiny", **kw)


def test_one_step_sampler_rejected():
    with pytest.raises(ValueError, match="num_steps"):
        sigma_steps(1)
    with pytest.raises(ValueError, match="num_steps"):
        generate(Denoiser(SMALL_NET), range(2), "cpu", 1)


def test_fid_command_rejects_one_image(tmp_path, capsys):
    from empirical.cli import main
    np.savez(tmp_path / "x.npz", images=np.zeros((4, 3, 8, 8), np.uint8))
    assert main(["fid", "--images", str(tmp_path / "x.npz"), "--n", "1"]) == 2
    assert "--n" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ files and folders
def _train_small(out, **kw):
    x = np.random.default_rng(0).integers(0, 256, (32, 3, 8, 8), dtype=np.uint8)
    cfg = TrainConfig(SMALL_NET, batch_size=16, total_samples=64, warmup_samples=16, ema_halflife_samples=32,
                      checkpoint_samples=32, seed=1, **kw)
    return train(cfg, x, None, out), cfg, x


def test_damaged_checkpoints_name_the_file(tmp_path):
    _train_small(tmp_path / "a")
    net = tmp_path / "a" / "network.pt"
    blob = net.read_bytes()
    net.write_bytes(blob[: len(blob) // 2])                       # truncated
    with pytest.raises(ValueError, match=r"network\.pt is unreadable.*Delete the folder"):
        load_network(net)
    net.write_bytes(b"garbage" * 100)
    with pytest.raises(ValueError, match=r"network\.pt is unreadable"):
        load_network(net)
    net.write_bytes(blob)
    net.with_suffix(".json").unlink()                             # a checkpoint without its JSON
    with pytest.raises(ValueError, match=r"network\.json is unreadable \(missing\)"):
        load_network(net)
    state = tmp_path / "a" / "training-state.pt"
    state.write_bytes(state.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"training-state\.pt is unreadable"):
        _train_small(tmp_path / "a")


def test_kill_between_network_and_state_writes_leaves_no_stale_network(tmp_path, monkeypatch):
    """The last checkpoint writes two files; a kill after the first must not leave an old network.pt."""
    D_full, _, _ = _train_small(tmp_path / "full")
    real = checkpoints.save
    calls = {"n": 0}

    def save_then_die(*a, **k):
        real(*a, **k)
        calls["n"] += 1
        if calls["n"] == 3:                   # checkpoints at 32 and 64 images: the 3rd file is the last's first
            raise KeyboardInterrupt
    monkeypatch.setattr(checkpoints, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        _train_small(tmp_path / "cut")
    monkeypatch.setattr(checkpoints, "save", real)
    _train_small(tmp_path / "cut")
    a = torch.load(tmp_path / "full" / "network.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "network.pt", weights_only=True)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=0, rtol=0)


def test_training_resumes_on_another_device_name(tmp_path, monkeypatch):
    import empirical.train as tr
    real = tr.ema_update
    monkeypatch.setattr(tr, "ema_update", interrupt_on_call(real, 3))
    with pytest.raises(KeyboardInterrupt):
        _train_small(tmp_path / "cut")
    monkeypatch.setattr(tr, "ema_update", real)
    _train_small(tmp_path / "cut", device="cpu:0")                # another device string: resumes
    _train_small(tmp_path / "full")
    a = torch.load(tmp_path / "full" / "network.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "network.pt", weights_only=True)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=0, rtol=0)
    assert preset("tiny", device="cpu").to_dict() == preset("tiny", device="cuda").to_dict()


def test_bad_inputs_fail_before_the_run_folder_exists(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        run_image_loop(_small(data=str(tmp_path / "missing.tar.gz")), tmp_path / "r1", progress=False)
    assert not (tmp_path / "r1").exists()
    with pytest.raises(ValueError, match="cuda:99"):
        run_image_loop(_small(device="cuda:99"), tmp_path / "r2", progress=False)
    assert not (tmp_path / "r2").exists()


@pytest.mark.cifar
def test_corrupt_run_files_name_the_file(tmp_path):
    cfg = replace(_small(), generations=1, finetune_samples=64)
    run = tmp_path / "r"
    run_image_loop(cfg, run, progress=False)
    lines = (run / "metrics.jsonl").read_text()
    syn = run / "gen_001" / "synthetic.npz"
    syn.write_bytes(syn.read_bytes()[:200])
    (run / "metrics.jsonl").write_text(lines.splitlines(keepends=True)[0])     # generation 1 to redo
    with pytest.raises(ValueError, match=r"gen_001/synthetic\.npz is unreadable.*Delete the folder .*gen_001"):
        run_image_loop(cfg, run, progress=False)
    import shutil
    shutil.rmtree(run / "gen_001")                                             # as the message says
    assert run_image_loop(cfg, run, progress=False).metrics() == [json.loads(s) for s in lines.splitlines()]
    (run / "config.json").write_text('{"kind": "image_lo')
    with pytest.raises(ValueError, match=r"config\.json is unreadable"):
        run_image_loop(cfg, run, progress=False)


def test_keep_metrics_checks_generation_numbers(tmp_path):
    """Two writers used to leave 0, 0, 1, 1, 2, 2; a rerun kept the first three lines as generations 0-2."""
    rf = RunFolder.open(tmp_path, {"kind": "x"})
    for g in (0, 0, 1, 1, 2, 2):
        rf.append({"generation": g})
    assert rf.keep_metrics(3) == 1
    assert rf.metrics() == [{"generation": 0}]


# ------------------------------------------------------------------------------------ the loop's branches
def test_training_set_of_each_scheme(tmp_path):
    """replace / lam = inf: synthetic only; finite lam: the first N real images + round(lam N) synthetic;
    fresh: real block t; accumulate: the first N real images and every generation's synthetic images so far (an
    older folder's kept set, stored under 'images', read too)."""
    from empirical.fold import SAMPLES_KEY, training_set
    x = np.arange(40 * 1 * 1 * 1, dtype=np.uint8).reshape(40, 1, 1, 1)
    syn = {SAMPLES_KEY: np.full((5, 1, 1, 1), 200, np.uint8)}
    old = np.full((5, 1, 1, 1), 100, np.uint8)
    (tmp_path / "gen_001").mkdir()
    np.savez(tmp_path / "gen_001" / "synthetic.npz", images=old, rewards=np.zeros(5), candidate_rewards=np.zeros(20))
    flat = lambda a: a.ravel().tolist()
    cfg = lambda **kw: preset("tiny", n_samples=10, generations=3, **kw)
    assert flat(training_set(cfg(), 2, syn, x, tmp_path)) == [200] * 5
    assert flat(training_set(cfg(lam=0.5), 2, syn, x, tmp_path)) == list(range(10)) + [200] * 5
    assert flat(training_set(cfg(lam=0.5, scheme="fresh"), 2, syn, x, tmp_path)) == list(range(20, 30)) + [200] * 5
    assert flat(training_set(cfg(scheme="accumulate"), 2, syn, x, tmp_path)) == list(range(10)) + [100] * 5 + [200] * 5
    assert preset("tiny", lam=0.5).n_synthetic == 128


@pytest.mark.cifar
@pytest.mark.parametrize("kw", [{"scheme": "accumulate"}, {"scheme": "fresh", "lam": 0.5}, {"lam": 0.5}])
def test_loop_branches_run_and_resume(tmp_path, kw):
    cfg = replace(_small(**kw), generations=2, finetune_samples=64, n_samples=64)
    rows = run_image_loop(cfg, tmp_path / "r", progress=False).metrics()
    assert [r["generation"] for r in rows] == [0, 1, 2]
    with np.load(tmp_path / "r" / "gen_002" / "synthetic.npz") as z:
        assert len(z["samples"]) == cfg.n_synthetic and len(z["candidate_rewards"]) == cfg.n_synthetic * cfg.K
    assert run_image_loop(cfg, tmp_path / "r", progress=False).metrics() == rows


@pytest.mark.cifar
def test_loop_cli_bf16_compile_and_threads_options():
    out = subprocess.run([sys.executable, "-m", "empirical", "loop", "--config", "tiny", "--bf16", "--compile",
                          "--threads", "1", "--dry-run"], capture_output=True, text=True, check=True, cwd=ROOT,
                         env=_env()).stdout
    d = json.loads(out)
    assert d["train"]["bf16"] is True and d["train"]["compile"] is True and "threads" not in d
