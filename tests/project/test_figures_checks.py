"""Every figure module and every paper check at reduced size: outputs exist, verdicts are computed."""
import importlib
import os
from pathlib import Path

import numpy as np
import pytest

import paper_checks.__main__ as pc
from figures.__main__ import MODULES
from paper_checks.core import FAILS, HOLDS, NOT_MEASURABLE, NOT_SHOWN


@pytest.mark.parametrize("name", MODULES)
def test_figure_module_writes_png_and_pdf(name, tmp_path):
    paths = importlib.import_module(f"figures.{name}").make(tmp_path, quick=True)
    assert paths and {p.suffix for p in paths} == {".png", ".pdf"}
    for p in paths:
        assert p.exists() and p.stat().st_size > 2000
    # a second call reads the run folders it wrote instead of recomputing: no stored result is rewritten
    stored = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("*")
              if p.suffix in (".npz", ".jsonl") or p.parent.name == "jobs"}
    assert stored
    assert importlib.import_module(f"figures.{name}").make(tmp_path, quick=True) == paths
    assert {p: p.stat().st_mtime_ns for p in stored} == stored


# every paper-check module builds its verdicts from core.passes, so every one is perturbed
MINE = pc.modules()


def _run_perturbed(mod, which):
    from paper_checks import core
    core.PERTURB.update(which=which, seen=0, owners=[])
    try:
        return mod.run(quick=True), core.PERTURB["seen"], list(core.PERTURB["owners"])
    finally:
        core.PERTURB.update(which=None, seen=0, owners=[])


@pytest.mark.parametrize("name", MINE)
def test_every_verdict_flips_when_its_measured_quantity_crosses_its_bound(name):
    # every comparison pushed past its tolerance: a verdict that does not follow its measured quantity (a
    # hard-coded verdict, a comparison left out) would still hold
    checks, seen, owners = _run_perturbed(importlib.import_module(f"paper_checks.{name}"), "all")
    assert checks
    assert seen > 0 or all(c.verdict == NOT_MEASURABLE for c in checks)
    owned = {cid: k - lo for (cid, k), lo in zip(owners, [0] + [k for _, k in owners])}
    for c in checks:
        assert c.verdict in (FAILS, NOT_SHOWN, NOT_MEASURABLE), (c.id, c.verdict)
        # a measured verdict rests on at least one comparison of its own (a hard-coded "fails" would not)
        assert c.verdict == NOT_MEASURABLE or owned[c.id] > 0, c.id
        assert c.claim and c.source and c.prediction and c.tolerance
        if c.verdict == NOT_MEASURABLE:
            assert len(c.note) > 20          # says why
        else:
            assert any(ch.isdigit() for ch in c.measured)


@pytest.mark.slow
@pytest.mark.parametrize("name", MINE)
def test_each_comparison_alone_flips_its_verdict(name):
    mod = importlib.import_module(f"paper_checks.{name}")
    base, n, owners = _run_perturbed(mod, None)
    before = {c.id: c.verdict for c in base}
    bounds = [0] + [k for _, k in owners]
    for i in range(n):
        owner = next(cid for (cid, k), lo in zip(owners, bounds) if lo <= i < k)
        after = {c.id: c.verdict for c in _run_perturbed(mod, i)[0]}
        if before[owner] == HOLDS:
            assert after[owner] in (FAILS, NOT_SHOWN), (name, i, owner)


def test_a_broken_curation_fails_its_check(monkeypatch):
    import paper_checks.c01_curated_density as c01
    import simtheory
    monkeypatch.setattr(simtheory, "curated", lambda p, r, K: np.asarray(p, float))
    verdicts = {c.id: c.verdict for c in c01.run(quick=True)}
    assert verdicts["C1.1"] == FAILS


def test_report_lists_every_check(tmp_path):
    checks = pc.run_all(quick=True, only=["c01_curated_density", "c12_sims_edm"])
    text = pc.report(checks, True)
    for c in checks:
        assert f"| {c.id} |" in text
    assert HOLDS in text and NOT_MEASURABLE in text


def test_every_row_names_its_kind_and_the_summary_counts_each_kind_apart():
    from paper_checks import core
    with pytest.raises(ValueError, match="kind must be one of"):
        core.Check("X.1", "c", "s", "p", "1", "t", HOLDS)
    rows = [core.Check("X.1", "c", "s", "p", "1", "t", HOLDS, kind="paper"),
            core.Check("X.2", "c", "s", "p", "1", "t", FAILS, kind="hypothesis"),
            core.Check("X.3", "c", "s", "p", "1", "t", NOT_SHOWN, "n", kind="hypothesis"),
            core.Check("X.4", "c", "s", "p", "1", "t", HOLDS, kind="derived")]
    text = pc.report(rows, True)
    assert ("claims of the papers (1): 1 hold, 0 fail, 0 not shown at this power, 0 not measurable here; "
            "derivations (1): 1 hold, 0 fail, 0 not shown at this power, 0 not measurable here; "
            "project hypotheses (2): 0 hold, 1 fail, 1 not shown at this power, 0 not measurable here") in text
    assert "| X.2 | hypothesis |" in text


@pytest.mark.parametrize("diff,se,n,want", [(-0.5, 0.1, 8, HOLDS), (0.5, 0.1, 8, FAILS), (-0.16, 0.1, 8, NOT_SHOWN),
                                            (0.05, 0.1, 8, NOT_SHOWN)])
def test_effect_verdict_and_the_seeds_that_would_settle_it(diff, se, n, want):
    from paper_checks import core
    v, why = core.effect_verdict(diff, se, n)
    assert v == want
    if v == NOT_SHOWN and diff < 0:
        # z = 1.6 with 8 seeds: 8 ((2 + 0.84) / 1.6)^2 = 25.2 -> 26 seeds for 80% power at 2 SE
        assert "about 26 seeds" in why
    assert (v == NOT_SHOWN) == bool(why)


def test_figure_runs_of_older_code_are_not_reused(tmp_path):
    # a copy of the project whose simtheory source then changes: the figure must compute its runs again
    import shutil
    import subprocess
    import sys
    import time
    root = Path(__file__).resolve().parents[2]
    for pkg in ("simtheory", "figures"):
        shutil.copytree(root / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "out"))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "figures", "--quick", "--only", "fig_bertrand", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    subprocess.run(cmd, cwd=tmp_path, env=env, check=True, capture_output=True)
    first = {p: p.stat().st_mtime_ns for p in out.rglob("*.npz")}
    assert first
    time.sleep(0.05)
    with open(tmp_path / "simtheory" / "dynamics.py", "a") as f:
        f.write("\n# a change to the code that made the stored runs\n")
    edited = time.time_ns()
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-800:]
    fresh = [p for p in out.rglob("*.npz") if p.stat().st_mtime_ns > edited]
    assert fresh, "the stored runs of the older code were reused"


def test_loop_and_exact_folders_refuse_other_code(tmp_path):
    import json
    import math
    from simtheory.runs import ConfigMismatch
    from simtheory.runs.exact import ExactConfig, run_exact
    rf = run_exact(ExactConfig("four_atoms", 4, math.inf, 2), tmp_path / "r")
    cfg = json.loads((rf.path / "config.json").read_text())
    cfg["code"]["source_sha256"] = "0" * 16
    (rf.path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigMismatch, match="other code"):
        run_exact(ExactConfig("four_atoms", 4, math.inf, 2), tmp_path / "r")


def test_capacity_figures_read_the_lam1_half_in_place_of_the_ladders_own(monkeypatch, tmp_path):
    """The point ladder's lam = 1 half (results/points-ladder-lam1) replaces results/points-ladder's lam = 1 rows; a
    missing ladder names the command that makes it; the cache key changes with either file."""
    from figures import fig_points_common as common

    def write(folder, rows):
        folder.mkdir(exist_ok=True)
        (folder / "results.csv").write_text("lam,id\n" + "".join(f"{lam},{i}\n" for lam, i in rows))
    main, half = tmp_path / "main", tmp_path / "lam1"
    write(main, [("inf", "a"), ("1.0", "b")])
    monkeypatch.setattr(common, "LADDER", main)
    monkeypatch.setattr(common, "LADDER_LAM1", half)
    assert [r["id"] for r in common.ladder_rows()] == ["a", "b"]
    key = common.digest(main / "results.csv", half / "results.csv")
    write(half, [("1.0", "c")])
    assert [r["id"] for r in common.ladder_rows()] == ["a", "c"]
    assert common.digest(main / "results.csv", half / "results.csv") != key
    monkeypatch.setattr(common, "LADDER", tmp_path / "none")
    monkeypatch.setattr(common, "LADDER_LAM1", tmp_path / "none")
    with pytest.raises(ValueError, match="empirical points-ladder"):
        common.ladder_rows()
