"""The mixture rung's sweeps at a tiny size: the capacity ladder (empirical.experiments.mixture_ladder: bases shared, rows per
job and generation, the summary, the CIFAR-10 cells beside the law's) and SIMS (empirical.experiments.mixture_sims: w picked on
one seed set, w = 0 and the pick reported on another, paired differences)."""
import json
import math

import pytest

from empirical.experiments import mixture_ladder as ml
from empirical.experiments import mixture_sims as ms
from empirical.cli import main as cli
from empirical.experiments.ladder_results import read_results


def test_ladder_config_is_checked_and_lists_its_jobs():
    cfg = ml.LADDERS["full"]
    jobs = cfg.jobs()
    assert len(jobs) == 2 * 3 * 3 * 2 + 2 * 2 and len(cfg.bases()) == 3 * 2 + 2
    assert {j["role"] for j in jobs if j["seed"] == 0} == {"pick"} and {j["data"] for j in jobs} == {"mixture", "cifar"}
    mix, img = cfg.config("mixture", 1.0, 32, 30_000, 1), cfg.config("cifar", 1.0, 32, 30_000, 1)
    assert mix.train.unet.float_data and not img.train.unet.float_data
    assert (mix.train.unet.channels, mix.train.total_samples, mix.finetune_samples, mix.n_samples, mix.num_steps) == (
        img.train.unet.channels, img.train.total_samples, img.finetune_samples, img.n_samples, img.num_steps)
    for kw, match in (({"widths": (16, 16)}, "repeated"), ({"pick_seeds": (0, 1)}, "no report seeds"),
                      ({"base_ema": 2.0}, "base_ema")):
        with pytest.raises(ValueError, match=match):
            ml.MixtureLadderConfig(**kw)


@pytest.mark.slow
@pytest.mark.cifar
def test_tiny_ladder_runs_and_sets_the_law_beside_cifar(tmp_path):
    cfg = ml.MixtureLadderConfig(widths=(8,), base_samples=512, finetunes=(128, 256), lams=(math.inf,), n_samples=32,
                                 n_eval=16, num_steps=6, sampler_ref_steps=12, n_sampler=8, n_law=2048,
                                 n_moments=2048, generations=1, cifar=(8, 128), cifar_lams=(math.inf,),
                                 cifar_preset="tiny")
    path = ml.run_mixture_ladder(cfg, tmp_path / "lad", serial=True, progress=False)
    rows = read_results(path)
    assert len(rows) == 2 * len(cfg.jobs()) and {r["data"] for r in rows} == {"mixture", "cifar"}
    mix = [r for r in rows if r["data"] == "mixture"]
    assert all(r["fd_law"] > 0 and r["fd_law_floor"] > 0 and r["law_error_se"] > 0 for r in mix)
    assert all(r["law_error"] is None and r["classifier_accuracy"] > 0 for r in rows if r["data"] == "cifar")
    assert all(r["base_cpu_seconds"] > 0 and r["params"] > 0 for r in rows)
    text = ml.summary(rows)
    assert "fit error on CIFAR-10" in text and text.count("\n| inf |") == 3
    assert not list((tmp_path / "lad" / "runs").glob("*/gen_*/network.pt"))      # networks removed once done
    assert (tmp_path / "lad" / "runs" / "cifar-laminf-w8-ft128-seed1" / "classifier" / "classifier.pt").exists()


def test_tiny_sims_picks_on_one_seed_set_and_reports_on_another(tmp_path):
    cfg = ms.MixtureSimsConfig(loops=("augmentation",), capacities={"small": (8, 512, 128)}, ws=(1.0,),
                               pick_seeds=(0,), report_seeds=(1, 2), n_samples=32, n_eval=16, n_s=16, generations=1,
                               num_steps=6, n_law=2048)
    res = ms.run_mixture_sims(cfg, tmp_path / "sims", serial=True, progress=False)
    assert res["picked"] == {("augmentation", "small"): 1.0}
    assert json.loads((tmp_path / "sims" / "picked.json").read_text()) == {"augmentation/small": 1.0}
    assert {(r["w"], r["seed"]) for r in res["report"]} == {(0.0, 1), (1.0, 1), (0.0, 2), (1.0, 2)}
    assert all(r["fd_law"] > 0 and r["fd_law_floor"] > 0 for r in res["report"])
    d = ms.paired(res["report"], 1)[("augmentation", "small")]
    assert d["w"] == 1.0 and d["seeds"] == [1, 2] and len(d["differences"]) == 2
    with pytest.raises(ValueError, match="disjoint"):
        ms.MixtureSimsConfig(pick_seeds=(0, 1), report_seeds=(1,))


def test_the_sweep_commands_dry_run(tmp_path, capsys):
    assert cli(["mixture-ladder", "--ladder", "full", "--out", str(tmp_path / "l"), "--dry-run"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "mixture_ladder" and d["jobs"] == 40 and not (tmp_path / "l").exists()
    assert cli(["mixture-sims", "--rung", "full", "--out", str(tmp_path / "s"), "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "mixture_sims" and not (tmp_path / "s").exists()


def test_pick_w_chooses_on_the_rows_given_and_ties_go_to_the_smaller_w():
    rows = [{"loop": "synthetic", "capacity": "small", "generation": 2, "w": w, "seed": 0, "fd_law": v}
            for w, v in ((0.0, 0.1), (0.5, 3.0), (1.5, 2.0))]
    rows += [{"loop": "synthetic", "capacity": "ample", "generation": 2, "w": w, "seed": 0, "fd_law": 1.0}
             for w in (0.5, 1.5)]
    rows += [{"loop": "synthetic", "capacity": "small", "generation": 1, "w": 0.5, "seed": 0, "fd_law": 0.0}]
    assert ms.pick_w(rows, 2) == {("synthetic", "ample"): 0.5, ("synthetic", "small"): 1.5}
    with pytest.raises(ValueError, match="no rows"):
        ms.pick_w([r for r in rows if r["w"] == 0.0], 2)


def test_bad_sweep_options_are_one_error_line(tmp_path, capsys):
    assert cli(["mixture-ladder", "--ladder", "tiny", "--workers", "0", "--out", str(tmp_path / "l")]) == 2
    assert "--workers" in capsys.readouterr().err and not (tmp_path / "l").exists()
    with pytest.raises(SystemExit):
        cli(["mixture-sims", "--rung", "nope", "--out", str(tmp_path / "s")])
    assert "invalid choice" in capsys.readouterr().err and not (tmp_path / "s").exists()
