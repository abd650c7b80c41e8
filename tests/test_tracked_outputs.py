"""Rerunning the project's commands on committed results leaves the tracked files as they are (no timings,
numbers stable to the last written digit)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("run", ["cpu-airplane-K4-lam1"])
def test_compare_on_committed_results_reproduces_the_tracked_files(run, tmp_path, monkeypatch):
    from empirical.compare import compare_run, write
    monkeypatch.chdir(ROOT)                   # `empirical compare results/<run>` from the checkout's root
    folder = Path("results") / run
    write(compare_run(folder), tmp_path)
    for name in ("compare.json", "compare.md"):
        assert (tmp_path / name).read_bytes() == (folder / "compare" / name).read_bytes(), name


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
