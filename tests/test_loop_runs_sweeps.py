import math

import pytest

from simtheory import loops
from simtheory.runs.loop import config_from_dataset, run_loop_folder
from simtheory.runs import read_metrics
from simtheory.runs.sweep import SweepConfig, run_sweep


def test_loop_folder_resume_after_crash(tmp_path, monkeypatch):
    cfg = config_from_dataset("mixture2d", family="gmm", n_samples=200, K=3, lam=1.0, generations=4,
                              scheme="accumulate")
    run_loop_folder(cfg, "mixture2d", 2000, tmp_path / "full", seed=3)
    real = loops.step
    n = {"c": 0}

    def crash(*a, **k):
        n["c"] += 1
        if n["c"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(loops, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        run_loop_folder(cfg, "mixture2d", 2000, tmp_path / "cut", seed=3)
    monkeypatch.setattr(loops, "step", real)
    run_loop_folder(cfg, "mixture2d", 2000, tmp_path / "cut", seed=3)
    assert read_metrics(tmp_path / "cut") == read_metrics(tmp_path / "full")
    assert len(read_metrics(tmp_path / "full")) == 5


def test_sweep_dask_equals_serial_and_resumes(tmp_path):
    cfg = SweepConfig("gauss2d", ("gaussian",), (1, 3), (math.inf, 1.0), (50,), ("replace", "fresh"), 1, 2, 1000)
    a = run_sweep(cfg, tmp_path / "serial", serial=True, progress=False).read_text()
    b = run_sweep(cfg, tmp_path / "dask", processes=False, progress=False).read_text()
    assert a == b and a.count("\n") == 1 + 8 * 3
    (tmp_path / "serial" / "jobs" / "00002.csv").unlink()
    assert run_sweep(cfg, tmp_path / "serial", serial=True, progress=False).read_text() == a
