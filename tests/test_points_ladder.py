"""The capacity ladder and the SIMS rung as sweeps on the sweep engine (dask or serial), their tables, and the C16
verdict rules (smallest capacity picked on one seed set, tested on another)."""
import math

import pytest

from empirical.ladder import LADDERS, LadderConfig, read_results, run_ladder
from empirical.points_sims import RUNGS, pick_w, run_sims_rung


def test_tiny_ladder_runs_resumes_and_fills_its_table(tmp_path):
    """Every (lam, width, budget, seed) job writes one row per generation with the fit error, the multi-step
    prediction, Lemma 2.2 on the kept set and the distance to the law; a rerun reuses the finished jobs."""
    cfg = LADDERS["tiny"]
    path = run_ladder(cfg, tmp_path / "ladder", serial=True, progress=False)
    rows = read_results(path)
    assert len(rows) == len(cfg.jobs()) * (cfg.generations + 1)
    assert {r["role"] for r in rows} == {"pick", "report"} and {r["width"] for r in rows} == {16, 32}
    later = [r for r in rows if r["generation"] >= 1]
    for r in later:
        assert r["fit_error"] == pytest.approx(r["mean_reward"] - r["predicted_mean_reward"], abs=1e-9)
        assert r["fit_error_se"] > 0 and r["lemma22_allowance"] > 0 and r["mmd2_se"] > 0
        assert r["lemma22_value"] <= r["lemma22_allowance"]           # the selection is exact at any capacity
    assert all(r["torch_threads"] >= 1 and r["params"] > 0 for r in rows)
    assert not list((tmp_path / "ladder" / "runs").rglob("*.pt"))        # networks removed once a job is done
    from empirical.ladder import summary
    table = summary(rows)
    assert table.count("\n| inf |") == 4 and "holds" in table
    mtime = path.stat().st_mtime_ns
    jobs = {p: p.stat().st_mtime_ns for p in (tmp_path / "ladder" / "jobs").iterdir()}
    assert run_ladder(cfg, tmp_path / "ladder", serial=True, progress=False) == path
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "ladder" / "jobs").iterdir()} == jobs and mtime


def test_ladder_config_checks_its_grid():
    with pytest.raises(ValueError, match="pick_seeds"):
        LadderConfig(seeds=(1, 2), pick_seeds=(0,))
    with pytest.raises(ValueError, match="lam"):
        LadderConfig(lams=(-1.0,))
    full = LADDERS["full"]
    assert len(full.jobs()) == 2 * (5 * 2 - 1) * 3
    assert all(not (j["width"] == 512 and j["budget"] == "long") for j in full.jobs())


def _rows(z_by_width_role):
    """Synthetic ladder rows: per (width, role) a fit z for every generation 1..3."""
    out = []
    for (w, role), z in z_by_width_role.items():
        for g in range(4):
            out.append({"lam": math.inf, "width": w, "budget": "long", "base_images": 1, "role": role,
                        "seed": 0 if role == "pick" else 1, "generation": g, "fit_z": None if g == 0 else z})
    return out


@pytest.mark.parametrize("zs,verdict,picked", [
    ({(32, "pick"): 5.0, (32, "report"): 5.0, (64, "pick"): 2.0, (64, "report"): 2.5, (128, "pick"): 0.5,
      (128, "report"): 9.0}, "holds", "picked width 64"),
    ({(32, "pick"): 5.0, (32, "report"): 5.0, (64, "pick"): 2.0, (64, "report"): 3.5, (128, "pick"): 0.5,
      (128, "report"): 0.5}, "fails", "picked width 64"),
    ({(32, "pick"): 5.0, (32, "report"): 1.0, (64, "pick"): 4.0, (64, "report"): 1.0}, "fails",
     "no width holds on the pick seed"),
])
def test_c16_picks_the_smallest_width_on_the_pick_seed_and_tests_it_on_the_report_seeds(zs, verdict, picked):
    from paper_checks.c16_points import HYPOTHESIS, _ladder_check
    c = _ladder_check(_rows(zs), "C16.x", math.inf, "fit_z", "fit", "claim", "source", HYPOTHESIS)
    assert c.verdict == verdict and picked in c.measured


def test_tiny_sims_rung_picks_among_positive_w_and_reports_pairs(tmp_path):
    """Phase 1 runs every w on the pick seeds, the pick is the w > 0 of smallest final MMD^2, and phase 2 runs
    w = 0 and the pick on the report seeds (through empirical.sims: each generation guided by its own auxiliary)."""
    cfg = RUNGS["tiny"]
    res = run_sims_rung(cfg, tmp_path / "sims", serial=True, progress=False)
    assert set(res["picked"].values()) <= set(cfg.ws) and 0.0 not in res["picked"].values()
    assert {(r["loop"], r["w"]) for r in res["report"]} >= {("augmentation", 0.0), ("synthetic", 0.0)}
    assert {r["seed"] for r in res["report"]} == set(cfg.report_seeds)
    assert all(r["mmd2"] is not None for r in res["report"])
    rows = [{"loop": "a", "capacity": "c", "w": w, "generation": 2, "mmd2": m} for w, m in
            ((0.0, 0.01), (0.5, 0.03), (1.0, 0.02), (1.0, 0.025))]
    assert pick_w(rows, 2) == {("a", "c"): 1.0}
