import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simtheory import densities, dynamics, scenarios
from simtheory.runs import exact
from simtheory.runs.exact import ExactConfig, run_exact
from simtheory.runs import ConfigMismatch, read_metrics
from helpers import interrupt_on_call


def test_run_folder_contents(tmp_path):
    rf = run_exact(ExactConfig("four_atoms", 4, math.inf, 5), tmp_path / "r")
    cfg = json.loads((rf.path / "config.json").read_text())
    assert cfg["K"] == 4 and cfg["seed"] == 0 and cfg["steps"] == 5
    rows = read_metrics(rf.path)
    assert [x["step"] for x in rows] == list(range(6))
    assert {"mean_reward", "mean_exp_reward_rel", "kl_to_limit", "kl_to_data", "entropy", "top_mass"} <= set(rows[0])
    assert (rf.path / "plot.png").stat().st_size > 1000
    with np.load(rf.path / "trajectory.npz") as z:
        assert z["p"].shape == (6, 4)


def test_resume_after_crash_equals_uninterrupted(tmp_path, monkeypatch):
    cfg = ExactConfig("mixture1d", 3, 1.0, 8, grid_size=61)
    full = run_exact(cfg, tmp_path / "full")
    real_step = exact.step
    monkeypatch.setattr(exact, "step", interrupt_on_call(real_step, 5))
    with pytest.raises(KeyboardInterrupt):
        run_exact(cfg, tmp_path / "cut")
    assert len(read_metrics(tmp_path / "cut")) == 5
    with open(tmp_path / "cut" / "metrics.jsonl", "a") as f:
        f.write('{"step": 5, "mean_rew')          # a line torn by the kill
    with open(tmp_path / "cut" / "trajectory.f64", "ab") as f:
        f.write(b"\x01" * 100)                        # a trajectory record torn by the kill
    monkeypatch.setattr(exact, "step", real_step)
    run_exact(cfg, tmp_path / "cut")
    assert read_metrics(tmp_path / "cut") == read_metrics(full.path)
    with np.load(tmp_path / "cut" / "trajectory.npz") as a, np.load(full.path / "trajectory.npz") as b:
        for k in ("p", "r", "p_star", "p_data"):
            np.testing.assert_array_equal(a[k], b[k])     # bit for bit


def _bytes_written() -> int:
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("wchar:")).split()[1])


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")
def test_exact_run_writes_each_step_once(tmp_path):
    # an exact run appends each step: the bytes it writes grow like steps x |p|, not steps^2 x |p| / 2
    steps, grid = 150, 201
    run_exact(ExactConfig("mixture1d", 2, math.inf, 2, grid), tmp_path / "warm")      # compile, import
    before = _bytes_written()
    rf = run_exact(ExactConfig("mixture1d", 2, math.inf, steps, grid), tmp_path / "r")
    written = _bytes_written() - before
    one = grid * 8
    plot = (rf.path / "plot.png").stat().st_size
    metrics = (rf.path / "metrics.jsonl").stat().st_size
    # each p_t once appended and once gathered into trajectory.npz, plus the other arrays, metrics and plot
    assert written <= 3 * (steps + 1) * one + 2 * metrics + 2 * plot + 100_000, written


def test_changed_config_refused(tmp_path):
    run_exact(ExactConfig("four_atoms", 4, math.inf, 2), tmp_path / "r")
    with pytest.raises(ConfigMismatch, match="K: 4 -> 8"):
        run_exact(ExactConfig("four_atoms", 8, math.inf, 2), tmp_path / "r")


def test_cli_dry_run_and_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "simtheory", "exact", "--scenario", "four_atoms", "--K", "inf",
                          "--dry-run"], capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["K"] == math.inf
    bad = subprocess.run([sys.executable, "-m", "simtheory", "exact", "--K", "0", "--out", str(tmp_path / "x")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "K must be >= 1" in bad.stderr


@pytest.mark.parametrize("name", sorted(scenarios.SCENARIOS))
def test_scenarios_are_valid(name):
    sc = scenarios.get(name, 21)
    assert abs(sc.p0.sum() - 1) < 1e-12 and sc.r.shape == sc.p0.shape
    nxt = dynamics.step(sc.p0, sc.r, 4, math.inf, None)
    assert np.sum(nxt * sc.r) > np.sum(sc.p0 * sc.r)


def test_densities_integrate_to_one():
    g = densities.grid(-6, 6, 241)
    x = g.points
    for dens in [densities.gaussian_mixture_pdf(x, [[0, 0], [1, 1]], [0.5, 0.7]),
                 densities.two_moons_pdf(x, 0.15)]:
        assert abs(dens.sum() * g.cell - 1) < 1e-6
    r = densities.reward_from_callable(lambda y: -np.sum(y**2, -1), x)
    assert r.shape == g.shape
    with pytest.raises(ValueError, match="reward"):
        densities.reward_from_callable(lambda y: np.full(y.shape[:-1], np.nan), x)
