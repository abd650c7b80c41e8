"""Rerunning the project's commands on committed results reproduces the tracked files: no timings, text as
committed, numbers equal to rounding (another CPU's BLAS kernels or summation order change the last bits, so
floats are held to tests/tolerances.py's TRACKED_REL / TRACKED_ABS, printed numbers to their last digit)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import json_differences, text_differences
from tolerances import TRACKED_ABS, TRACKED_REL

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("run", ["cpu-airplane-K4-lam1"])
def test_compare_on_committed_results_reproduces_the_tracked_files(run, tmp_path, monkeypatch):
    from empirical.compare import compare_run, write
    monkeypatch.chdir(ROOT)                   # `empirical compare results/<run>` from the checkout's root
    folder = Path("results") / run
    write(compare_run(folder), tmp_path)
    got, want = (json.loads(p.read_text()) for p in (tmp_path / "compare.json", folder / "compare" / "compare.json"))
    assert json_differences(got, want, TRACKED_REL, TRACKED_ABS) == []
    got_md, want_md = ((p / "compare.md").read_text() for p in (tmp_path, folder / "compare"))
    assert text_differences(got_md, want_md, TRACKED_REL) == []


def test_tracked_comparisons_allow_rounding_only():
    """Negative controls: the comparisons above pass rounding-level changes and catch everything else."""
    want = {"a": 0.0241219651279, "n": 4, "s": "replace", "zero": 0.0, "v": [1.5, 2]}
    near = {"a": 0.024121965128, "n": 4, "s": "replace", "zero": 2.5e-14, "v": [1.5 * (1 + 1e-12), 2]}
    assert json_differences(near, want, TRACKED_REL, TRACKED_ABS) == []
    for key, bad in (("a", 0.0241219651279 * (1 + 1e-6)), ("n", 5), ("s", "accumulate"), ("zero", 1e-9),
                     ("v", [1.5, 2, 3]), ("n", 4.5), ("s", None)):
        assert json_differences({**want, key: bad}, want, TRACKED_REL, TRACKED_ABS), (key, bad)
    assert json_differences({**want, "extra": 1}, want, TRACKED_REL, TRACKED_ABS)
    md = "| 1 | 0.993 ± 0.013 | +0.121 (+2.6) | 1.265 | True |"
    assert text_differences(md.replace("0.993", "0.994").replace("+2.6", "+2.5"), md, TRACKED_REL) == []
    for a, b in (("0.993", "0.995"), ("+2.6", "+2.8"), ("True", "False"), ("± 0.013", "± 0.013 x"), ("1.265", "1.2")):
        assert text_differences(md.replace(a, b), md, TRACKED_REL), (a, b)


def test_saved_figures_carry_no_version_or_date(tmp_path):
    from matplotlib.figure import Figure

    from simtheory.plots import save_figure
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    for suffix in ("png", "pdf"):
        save_figure(fig, tmp_path / f"a.{suffix}")
        data = (tmp_path / f"a.{suffix}").read_bytes()
        assert b"Matplotlib version" not in data and b"CreationDate" not in data
        save_figure(fig, tmp_path / f"b.{suffix}")
        assert data == (tmp_path / f"b.{suffix}").read_bytes()


def test_library_plots_leave_matplotlib_settings_alone(tmp_path):
    """simtheory.plots draws an exact run without touching the backend or rcParams (a notebook keeps its own)."""
    import matplotlib

    from simtheory.runs.exact import ExactConfig, run_exact
    backend, params = matplotlib.get_backend(), dict(matplotlib.rcParams)
    run_exact(ExactConfig("four_atoms", 4, float("inf"), 3, 2), tmp_path / "run")
    assert (tmp_path / "run" / "plot.png").exists()
    assert matplotlib.get_backend() == backend and dict(matplotlib.rcParams) == params
