import math

import pytest
from helpers import interrupt_on_call

from simtheory import loops
from simtheory.runs.loop import config_from_dataset, run_loop_folder
from simtheory.runs import read_metrics
from simtheory.runs.sweep import SweepConfig, run_sweep


def test_loop_folder_resume_after_crash(tmp_path, monkeypatch):
    cfg = config_from_dataset("mixture2d", family="gmm", n_samples=200, K=3, lam=1.0, generations=4,
                              scheme="accumulate")
    run_loop_folder(cfg, "mixture2d", 2000, tmp_path / "full", seed=3)
    real = loops.step
    monkeypatch.setattr(loops, "step", interrupt_on_call(real, 3))
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


# ------------------------------------------------------------------------------------ the command line
import subprocess  # noqa: E402
import sys  # noqa: E402


def _cli(*args, env=None):
    import os
    return subprocess.run([sys.executable, "-m", "simtheory", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


@pytest.mark.parametrize("bad,name", [(["--family", "vae"], "family"), (["--scheme", "mix"], "scheme"),
                                      (["--n-real", "60"], "real"), (["--K", "0"], "K"),
                                      (["--n-samples", "2"], "n_samples")])
def test_sweep_validated_before_its_folder_exists(tmp_path, bad, name):
    out = tmp_path / "sweep"
    res = _cli("sweep", "--serial", "--out", str(out), "--generations", "1", "--replicates", "1", *bad)
    assert res.returncode == 2 and name in res.stderr, res.stderr[-600:]
    assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("error:"), res.stderr
    assert not out.exists()


def test_unwritable_out_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for cmd in (["exact", "--scenario", "four_atoms", "--steps", "1"], ["loop", "--generations", "1"],
                ["sweep", "--serial", "--generations", "1", "--replicates", "1", "--K", "1", "--lam", "inf"]):
        res = _cli(*cmd, "--out", str(blocker / "run"))
        assert res.returncode == 2, res.stderr[-600:]
        assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("error:"), res.stderr


def test_unreachable_scheduler_is_a_one_line_error(tmp_path):
    res = _cli("sweep", "--scheduler", "tcp://127.0.0.1:9", "--generations", "1", "--replicates", "1",
               "--K", "1", "--lam", "inf", "--out", str(tmp_path / "s"),
               env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
    assert res.returncode == 2, res.stderr[-600:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "127.0.0.1:9" in lines[0], res.stderr[-600:]


def test_replicates_and_grid_points_get_their_own_seeds(tmp_path):
    import csv
    cfg = SweepConfig("gauss2d", ("gaussian",), (2,), (math.inf,), (30,), ("replace",), 3, 2, 1000)
    rows = list(csv.DictReader(open(run_sweep(cfg, tmp_path / "s", serial=True, progress=False))))
    last = [r for r in rows if r["generation"] == "2"]
    assert len({r["job_seed"] for r in last}) == 3
    assert len({r["mean_reward"] for r in last}) == 3        # replicates differ
    first = [r for r in rows if r["generation"] == "0"]
    assert len({r["mean_reward"] for r in first}) == 3       # already at the fit to the data (evaluation draws)
