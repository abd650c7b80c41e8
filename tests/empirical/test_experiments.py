"""The capacity ladder and the SIMS rung as sweeps on the sweep engine (dask or serial): bases trained once and shared,
complete rows, resume; their tables; the C16 verdict rules (capacity picked on one seed set, tested on another; the
power statement) and the t verdict of the SIMS rows."""
import json
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from empirical.experiments.ladder import (BASE_FILES, COLUMNS, LADDERS, N_SE, Z_POWER, LadderConfig, base_folder,
                                          job_name, run_ladder, seed_from_base)
from empirical.experiments.ladder_results import read_results, summary
from empirical.experiments.point_sims import RUNGS, pick_w, run_sims_rung
from paper_checks.core import FAILS, HOLDS, NOT_MEASURABLE, NOT_SHOWN, t_seeds_needed, t_test, t_verdict


@pytest.fixture(scope="module")
def tiny_ladder(tmp_path_factory):
    cfg = replace(LADDERS["tiny"], keep_networks=True)
    out = tmp_path_factory.mktemp("ladder")
    return cfg, out, run_ladder(cfg, out, serial=True, progress=False)


def test_tiny_ladder_trains_each_base_once_and_every_job_starts_from_it(tiny_ladder):
    cfg, out, path = tiny_ladder
    assert len(read_results(out / "bases" / "results.csv")) == len(cfg.bases()) == len(cfg.widths) * len(cfg.seeds)
    for job in cfg.jobs():
        base = base_folder(out, job["width"], job["seed"])
        g0 = out / "runs" / job_name(job) / "gen_000"
        for f in BASE_FILES:             # train() found the finished base and rewrote nothing
            assert (g0 / f).read_bytes() == (base / f).read_bytes(), (job_name(job), f)


def test_tiny_ladder_rows_carry_every_error_with_its_se_z_and_detectable_size(tiny_ladder):
    cfg, out, path = tiny_ladder
    rows = read_results(path)
    assert len(rows) == len(cfg.jobs()) * (cfg.generations + 1)
    assert set(rows[0]) == set(COLUMNS)
    assert {r["role"] for r in rows} == {"pick", "report"} and {r["width"] for r in rows} == set(cfg.widths)
    assert {r["finetune_images"] for r in rows} == set(cfg.finetunes)
    for r in rows:
        assert r["n_measured"] == cfg.n_eval + cfg.K * cfg.n_samples
        assert r["params"] > 0 and r["cpu_seconds"] > 0 and r["base_cpu_seconds"] > 0 and r["torch_threads"] >= 1
        assert r["mmd2_se"] > 0 and r["sampler_error_se"] > 0
        for c in ("fit", "law", "sampler"):
            assert r[f"{c}_error_se"] > 0
            assert r[f"{c}_z"] == pytest.approx(r[f"{c}_error"] / r[f"{c}_error_se"], rel=1e-9)
        for c in ("fit", "law"):
            assert r[f"{c}_detectable"] == pytest.approx((N_SE + Z_POWER) * r[f"{c}_error_se"], rel=1e-9)
        assert (r["exact_sampler_error"] is not None) == (r["generation"] == 0)
        later = r["generation"] >= 1
        assert (r["onestep_error"] is not None) == later and (r["lemma22_value"] is not None) == later
        if later:
            assert r["onestep_error"] == pytest.approx(r["mean_reward"] - r["predicted_mean_reward"], abs=1e-9)
            assert r["onestep_detectable"] == pytest.approx((N_SE + Z_POWER) * r["onestep_error_se"], rel=1e-9)
            assert r["lemma22_allowance"] > 0 and r["selection_z"] is not None
            assert r["lemma22_value"] <= r["lemma22_allowance"]           # the selection is exact at any capacity
    assert Z_POWER == pytest.approx(stats.norm.ppf(0.8))
    table = summary(rows)
    assert table.count("\n| inf |") == len(cfg.widths) * len(cfg.finetunes) and "holds" in table


def test_tiny_ladder_resumes_a_killed_job_and_skips_finished_ones(tiny_ladder, tmp_path):
    """A finished sweep reruns without touching its jobs; a job cut after generation T - 1 resumes from there and
    writes the rows it would have written."""
    cfg, out, path = tiny_ladder
    before = path.read_text()
    jobs = {p: p.stat().st_mtime_ns for p in (out / "jobs").iterdir()}
    assert run_ladder(cfg, out, serial=True, progress=False) == path
    assert {p: p.stat().st_mtime_ns for p in (out / "jobs").iterdir()} == jobs
    job = cfg.jobs()[-1]
    folder = out / "runs" / job_name(job)
    lines = (folder / "metrics.jsonl").read_text().splitlines(keepends=True)
    (folder / "metrics.jsonl").write_text("".join(lines[:-1]))
    import shutil
    shutil.rmtree(folder / f"gen_{cfg.generations:03d}")
    (out / "jobs" / f"{job['job']:05d}.csv").unlink()
    run_ladder(cfg, out, serial=True, progress=False)
    new, old = read_results(path), [r for r in read_results_text(before)]
    for a, b in zip(new, old):
        for k in COLUMNS:
            if k in ("cpu_seconds",):
                continue
            if isinstance(a[k], float):
                assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-12), (k, a["job"], a["generation"])
            else:
                assert a[k] == b[k], k


def read_results_text(text):
    import csv
    import io
    from empirical.experiments.ladder_results import _number
    return [{k: None if v == "" else _number(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def test_seed_from_base_copies_once_and_refuses_a_missing_base(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    with pytest.raises(ValueError, match="lacks"):
        seed_from_base(base, tmp_path / "run")
    for f in BASE_FILES:
        (base / f).write_bytes(f.encode())
    assert seed_from_base(base, tmp_path / "run")
    assert [(tmp_path / "run" / "gen_000" / f).read_bytes() for f in BASE_FILES] == [f.encode() for f in BASE_FILES]
    (base / "network.pt").write_bytes(b"other")
    assert not seed_from_base(base, tmp_path / "run")                   # a started run keeps what it has
    assert (tmp_path / "run" / "gen_000" / "network.pt").read_bytes() == b"network.pt"


def test_ladder_config_checks_its_grid():
    with pytest.raises(ValueError, match="pick_seeds"):
        LadderConfig(seeds=(1, 2), pick_seeds=(0,))
    with pytest.raises(ValueError, match="report seeds"):
        LadderConfig(seeds=(0,), pick_seeds=(0,))
    with pytest.raises(ValueError, match="lam"):
        LadderConfig(lams=(-1.0,))
    with pytest.raises(ValueError, match="base_ema"):
        LadderConfig(base_ema=2.0)
    with pytest.raises(ValueError, match="repeated"):
        LadderConfig(finetunes=(100, 100))
    full = LADDERS["full"]
    # one base per (width, seed), and it is the same for every fine-tune budget and lam
    assert len(full.bases()) == len(full.widths) * len(full.seeds)
    assert len({full.loop_config(lam, 64, ft, 1).train for lam in full.lams for ft in full.finetunes}) == 1
    assert len({full.loop_config(math.inf, 64, ft, 1).finetune_samples for ft in full.finetunes}) == len(full.finetunes)
    assert len(full.jobs()) == len(full.lams) * len(full.seeds) * (len(full.widths) * len(full.finetunes)
                                                                      - len(full.skip) // len(full.lams))


# ------------------------------------------------------------------------------------------ C16 rules
def _rows(z_by_cell, check="fit", T=3):
    """Synthetic ladder rows: per (finetune, width, role) a z of ``check`` at every generation 0..T (error = z x 0.01,
    SE 0.01)."""
    out = []
    for (ft, w, role), z in z_by_cell.items():
        for g in range(T + 1):
            r = {"lam": math.inf, "width": w, "finetune_images": ft, "base_images": 1000, "role": role,
                 "seed": 0 if role == "pick" else 1, "generation": g}
            for c in ("fit", "law", "onestep", "multistep"):
                zz = z if c == check else 0.0
                r.update({f"{c}_z": zz, f"{c}_error": 0.01 * zz, f"{c}_error_se": 0.01,
                          f"{c}_detectable": (N_SE + Z_POWER) * 0.01})
            out.append(r)
    return out


def _check(rows, check, ladder=None):
    """A capacity row of the shared rule (paper_checks.capacity) on synthetic rows, the point ladder's by default."""
    from paper_checks.c16_points import HYPOTHESIS, POINTS
    from paper_checks.capacity import ladder_check
    return ladder_check(ladder or POINTS, rows, "C16.x", math.inf, check, "fit", "claim", "source", HYPOTHESIS)


@pytest.mark.parametrize("zs,verdict,text", [
    # width 64 and every wider network hold on the pick seed, and on the report seeds: holds at 64
    ({(100, 32, "pick"): 5.0, (100, 32, "report"): 5.0, (100, 64, "pick"): 2.0, (100, 64, "report"): 3.5,
      (100, 128, "pick"): 0.5, (100, 128, "report"): 0.5}, HOLDS, "fine-tune 100: width >= 64 picked"),
    # the picked width fails on the report seeds
    ({(100, 32, "pick"): 5.0, (100, 32, "report"): 5.0, (100, 64, "pick"): 2.0, (100, 64, "report"): 4.5,
      (100, 128, "pick"): 0.5, (100, 128, "report"): 0.5}, FAILS, "width >= 64 picked, seed 1: fail"),
    # a wider network fails on the report seeds: width >= W must hold at every width from W
    ({(100, 32, "pick"): 1.0, (100, 32, "report"): 1.0, (100, 64, "pick"): 2.0, (100, 64, "report"): 9.0},
     FAILS, "width >= 32 picked"),
    # 32 holds but 64 does not on the pick seed: the pick is the widest, 128
    ({(100, 32, "pick"): 1.0, (100, 32, "report"): 1.0, (100, 64, "pick"): 6.0, (100, 64, "report"): 1.0,
      (100, 128, "pick"): 1.0, (100, 128, "report"): 1.0}, HOLDS, "width >= 128 picked"),
    # no width holds on the pick seed at any budget: fails (negative control of the pick)
    ({(100, 32, "pick"): 5.0, (100, 32, "report"): 1.0, (100, 64, "pick"): 4.5, (100, 64, "report"): 1.0},
     FAILS, "no capacity holds on the pick seeds"),
    # the smallest budget with a pick is the one tested; a larger budget's failure is reported beside it
    ({(100, 32, "pick"): 5.0, (100, 32, "report"): 5.0, (300, 32, "pick"): 1.0, (300, 32, "report"): 1.0},
     HOLDS, "tested at fine-tune 300, width >= 32"),
])
def test_c16_picks_the_capacity_on_the_pick_seed_and_tests_every_wider_network_on_the_report_seeds(zs, verdict,
                                                                                                      text):
    c = _check(_rows(zs), "fit")
    assert c.verdict == verdict and text in c.measured
    # the mixture rung's rows (their own budget and base columns) go through the same rule
    from paper_checks.c17_mixture import MIXTURE
    renamed = [{**{k: v for k, v in r.items() if k not in ("finetune_images", "base_images")},
                "finetune_samples": r["finetune_images"], "base_samples": r["base_images"]} for r in _rows(zs)]
    m = _check(renamed, "fit", MIXTURE)
    assert (m.verdict, m.measured) == (c.verdict, c.measured)


def test_c16_states_the_error_the_power_allows():
    """E = max over the report rows at widths >= W of |error| + 1.96 SE, and the detectable size per cell."""
    from paper_checks.capacity import upper_bound
    rows = _rows({(100, 32, "pick"): 5.0, (100, 32, "report"): 5.0, (100, 64, "pick"): 1.0,
                  (100, 64, "report"): -2.0, (100, 128, "pick"): 1.0, (100, 128, "report"): 1.5})
    rep = [r for r in rows if r["role"] == "report" and r["width"] >= 64]
    assert upper_bound(rep, "fit_error") == pytest.approx(0.02 + 1.96 * 0.01)
    c = _check(rows, "fit")
    assert c.verdict == HOLDS and "width >= 64 keeps |fit error| below E = 0.040" in c.measured
    assert f"{(N_SE + Z_POWER) * 0.01:.3f}" in c.note


def test_c16_pooled_fit_error_rule():
    """The pooled check holds a cell's mean error over generations and seeds to 1.96 of its SE: a systematic error
    of 1.5 SE per row is invisible per generation (4 SE) but shows in the mean of 4 rows (z = 3)."""
    from paper_checks.capacity import pooled_z
    rows = _rows({(100, 64, "pick"): 0.0, (100, 64, "report"): 1.5})
    assert pooled_z([r for r in rows if r["role"] == "report"]) == pytest.approx(3.0)
    per_gen, pooled = _check(rows, "fit"), _check(rows, "pooled")
    assert per_gen.verdict == HOLDS and pooled.verdict == FAILS
    assert _check(_rows({(100, 64, "pick"): 0.0, (100, 64, "report"): 0.5}), "pooled").verdict == HOLDS


@pytest.mark.parametrize("z_wide,verdict", [(1.0, HOLDS), (4.5, FAILS)])
def test_c16_heldout_row_tests_the_ladders_pick_on_the_heldout_runs(z_wide, verdict, tmp_path, monkeypatch):
    """C16.17 takes the ladder's pick (here width >= 64 at fine-tune 100) and holds every held-out run at a width from
    it to N_SE, in fit and law; a run below the pick does not count, a wider one that fails makes the row fail."""
    from paper_checks import c16_points
    ladder = _rows({(100, 32, "pick"): 5.0, (100, 32, "report"): 5.0, (100, 64, "pick"): 1.0,
                    (100, 64, "report"): 1.0})
    for r in ladder:
        r["law_z"] = 0.0
    held = [{"law": "ring12", "width": w, "finetune_images": 100, "seed": s, "generation": g, "fit_error": 0.01 * z,
             "fit_error_se": 0.01, "fit_z": z, "law_z": 0.0, "fit_detectable": 0.05}
            for w, z in ((32, 9.0), (64, 1.0), (128, z_wide)) for s in (3, 4) for g in range(3)]
    (tmp_path / "capacity-ring12.jsonl").write_text("\n".join(json.dumps(r) for r in held) + "\n")
    monkeypatch.setattr(c16_points, "HELDOUT", tmp_path)
    c = c16_points._heldout_check(ladder, "C16.17")
    assert c.verdict == verdict and "100: width >= 64" in c.measured and "width 32" not in c.measured
    monkeypatch.setattr(c16_points, "HELDOUT", tmp_path / "none")
    assert c16_points._heldout_check(ladder, "C16.17").verdict == NOT_MEASURABLE


def test_c16_reads_the_lam1_half_from_its_own_folder(monkeypatch, tmp_path):
    """results/points-ladder-lam1's lam = 1 rows replace results/points-ladder's own where that folder exists; the
    lam = 1 rows then name its command when missing."""
    from paper_checks import c16_points

    def write(folder, rows):
        folder.mkdir()
        (folder / "results.csv").write_text("lam,id\n" + "".join(f"{lam},{i}\n" for lam, i in rows))
    write(tmp_path / "main", [("inf", "main-inf"), ("1.0", "main-1")])
    write(tmp_path / "lam1", [("1.0", "lam1-1")])
    monkeypatch.setattr(c16_points, "LADDER", tmp_path / "main")
    monkeypatch.setattr(c16_points, "LADDER_LAM1", tmp_path / "lam1")
    assert [r["id"] for r in c16_points.ladder_rows()] == ["main-inf", "lam1-1"]
    monkeypatch.setattr(c16_points, "LADDER_LAM1", tmp_path / "none")
    assert [r["id"] for r in c16_points.ladder_rows()] == ["main-inf", "main-1"]
    monkeypatch.setattr(c16_points, "LADDER", tmp_path / "none")
    assert c16_points.ladder_rows() is None
    monkeypatch.setattr(c16_points, "LADDER_LAM1", tmp_path / "lam1")
    assert [r["id"] for r in c16_points.ladder_rows()] == ["lam1-1"]
    from paper_checks.capacity import ladder_check
    rows = _rows({(100, 64, "pick"): 0.0, (100, 64, "report"): 0.5})     # lam = inf rows: none at lam = 1
    c = ladder_check(c16_points.POINTS_LAM1, rows, "C16.x", 1.0, "fit", "fit", "claim", "source", "hypothesis")
    assert c.verdict == NOT_MEASURABLE and "bash results/points-ladder-lam1/run.sh" in c.note


# ------------------------------------------------------------------------------------------ t verdict
@pytest.mark.parametrize("d", [[-3.0, -2.5, -2.9], [-1.0, 0.5, -0.7, -0.2], [0.3, 0.35, 0.4, 0.31, 0.2, 0.28]])
def test_t_test_is_scipys_one_sample_t(d):
    s = t_test(d)
    ref = stats.ttest_1samp(d, 0.0)
    assert s["t"] == pytest.approx(ref.statistic, rel=1e-12) and s["p"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert s["df"] == len(d) - 1 and s["se"] == pytest.approx(np.std(d, ddof=1) / math.sqrt(len(d)))


def test_t_verdict_uses_students_quantile_not_the_normal_one():
    """Three seeds with t = -3: beyond the normal 1.96 (what a 2-SE rule would call shown) but inside Student's
    4.30 with 2 df: not shown; the same mean with more seeds at the same spread is shown; the opposite sign fails."""
    q2 = stats.t.ppf(0.975, 2)
    d = np.array([-1.0, 0.0, 1.0]) + 0.0
    d = d / (d.std(ddof=1) / math.sqrt(3)) * 1.0 - 3.0          # SE 1 about a mean of -3: t = -3
    v, note, s = t_verdict(d)
    assert s["t"] == pytest.approx(-3.0) and s["q"] == pytest.approx(q2) and abs(s["t"]) > stats.norm.ppf(0.975)
    assert v == NOT_SHOWN and "2 df" in note and f"p = {s['p']:.3g}" in note and "80% power" in note
    v, _, s = t_verdict(np.concatenate([d, d, d]))                # 9 seeds, t = -3 * sqrt(3) * ... > q_8
    assert s["t"] < -stats.t.ppf(0.975, 8) and v == HOLDS
    assert t_verdict(-np.concatenate([d, d, d]))[0] == FAILS
    v, note, _ = t_verdict([0.1, 0.3, -0.05])
    assert v == NOT_SHOWN and "against the claimed direction" in note
    with pytest.raises(ValueError, match="two or more"):
        t_verdict([1.0])


@pytest.mark.parametrize("t,n", [(-3.0, 3), (-1.5, 4), (-6.0, 3)])
def test_t_seeds_needed_is_the_first_count_with_80_percent_power(t, n):
    m = t_seeds_needed(t, n)
    effect = abs(t) / math.sqrt(n)

    def power(k):           # in the claimed direction (the other tail adds below 1e-3 here)
        return stats.nct.sf(stats.t.ppf(0.975, k - 1), k - 1, effect * math.sqrt(k))
    assert power(m) >= 0.8 and (m == 2 or power(m - 1) < 0.8)
    # a Monte Carlo check of the power at m seeds (normal per-seed differences of that effect)
    rng = np.random.default_rng(0)
    x = rng.normal(-effect, 1.0, size=(20000, m))
    tt = x.mean(1) / (x.std(1, ddof=1) / math.sqrt(m))
    hit = float(np.mean(tt < -stats.t.ppf(0.975, m - 1)))
    assert hit >= 0.8 - 4 * math.sqrt(0.8 * 0.2 / 20000)


# ------------------------------------------------------------------------------------------ SIMS rung
def test_tiny_sims_rung_shares_bases_picks_among_positive_w_and_reports_pairs(tmp_path):
    """Bases once per (capacity, seed), copied into every loop and w; phase 1 runs every w on the pick seeds, the
    pick is the w > 0 of smallest final MMD^2, and phase 2 runs w = 0 and the pick on the report seeds (through
    empirical.sims: each generation guided by its own auxiliary)."""
    cfg = RUNGS["tiny"]
    res = run_sims_rung(cfg, tmp_path / "sims", serial=True, progress=False)
    assert set(res["picked"].values()) <= set(cfg.ws) and 0.0 not in res["picked"].values()
    assert {(r["loop"], r["w"]) for r in res["report"]} >= {("augmentation", 0.0), ("synthetic", 0.0)}
    assert {r["seed"] for r in res["report"]} == set(cfg.report_seeds)
    assert all(r["mmd2"] is not None and r["fit_error_se"] > 0 for r in res["report"])
    bases = read_results(tmp_path / "sims" / "bases" / "results.csv")
    assert len(bases) == len(cfg.capacities) * len(cfg.seeds())
    rows = [{"loop": "a", "capacity": "c", "w": w, "generation": 2, "mmd2": m} for w, m in
            ((0.0, 0.01), (0.5, 0.03), (1.0, 0.02), (1.0, 0.025))]
    assert pick_w(rows, 2) == {("a", "c"): 1.0}


@pytest.mark.parametrize("old,new", [("empirical.ladder", "empirical.experiments.ladder"),
                                     ("empirical.points_sims", "empirical.experiments.point_sims")])
def test_old_experiment_paths_are_the_moved_modules_and_warn(old, new, monkeypatch):
    import importlib
    import sys
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=new):
        mod = importlib.import_module(old)
    assert mod is importlib.import_module(new)
