r"""The capacity ladder: neural point loops over network width and fine-tune budget, held to the exact predictions.

A ladder runs in two sweeps on dask ([`simtheory.runs.sweep.run_sweep`][simtheory.runs.sweep.run_sweep]: a local
cluster, or ``--scheduler
ADDRESS``). The first trains each (width, seed) base model once, in ``<out>/bases``; the second runs every
(lam, width, fine-tune budget, seed) job: its base's ``gen_000/network.pt`` and ``training-state.pt`` are copied
into the job's run folder ``<out>/runs/<name>`` before its loop starts, so
[`empirical.train.train`][empirical.train.train] finds a
finished base (its config must equal the base's: the base's EMA and warm-up depend on the base budget only) and the
loop ([`empirical.points.run_point_loop`][empirical.points.kind.run_point_loop], the ``cpu`` preset with the ladder's
settings) goes on from there. A killed job resumes from its last finished generation.

Each job is compared with its predictions by [`empirical.compare.compare_run`][empirical.compare.compare_run]; its rows
(one per generation) carry, each with its SE and z (error over SE):

- ``fit_error``: model t's mean reward minus its training set's (the network's own error);
- ``law_error``: model t minus the exact curated trajectory of the data law (fit, sampler and compounding);
- ``sampler_error``: the network at the run's Heun steps minus ``sampler_ref_steps`` steps (paired latents);
  generation 0 also ``exact_sampler_error``, the exact denoiser through the run's sampler minus the law's E[r];
- ``onestep_error``: model t minus the one-step prediction from its generation's candidates;
- ``multistep_z``: model t against the multi-step prediction from generation 1's candidates;
- the kept set's E[e^r] gain beside Lemma 2.2's bound, the selection check, MMD^2 to the data law, ``n_measured``
  and the job's CPU seconds (the base's apart, ``base_cpu_seconds``);
- ``*_detectable``: the smallest error the check could have seen, $(N_{SE} + z_{0.8})\,SE$ with
  $N_{SE}$ = `empirical.compare.N_SE` (4) and $z_{0.8}$ = 0.84 the normal quantile of 0.8: an
  error of that size exceeds N_SE SE with probability 80% (power 0.8 of the |error| <= N_SE SE check).

Seeds: a job's loop seed is its ``seed`` (data, training, curation and sampler draws); seeds in ``pick_seeds``
choose (the smallest capacity at which a check holds), the others report. results.csv is the table the figures and
paper checks C16 read.
"""
from __future__ import annotations

import itertools
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

from scipy import stats

from simtheory import validate

from ..compare import N_SE
from ..points import PointLoopConfig, point_preset
from .ladder_results import budget_name, cell_means, pooled, read_results, summary  # noqa: F401
from .protocol import Seeds

Z_POWER = float(stats.norm.ppf(0.8))
"""z of 80% power: an error of (N_SE + Z_POWER) SE exceeds the N_SE-SE allowance with probability 0.8."""

COLUMNS = ["job", "lam", "width", "finetune_images", "seed", "role", "generation", "params", "base_images",
           "n_measured", "mean_reward", "reward_se",
           "fit_error", "fit_error_se", "fit_z", "fit_detectable",
           "law_mean_reward", "law_error", "law_error_se", "law_z", "law_detectable",
           "sampler_error", "sampler_error_se", "sampler_z", "exact_sampler_error", "exact_sampler_error_se",
           "predicted_mean_reward", "predicted_mean_reward_se", "onestep_error", "onestep_error_se", "onestep_z",
           "onestep_detectable",
           "multistep_mean_reward", "multistep_mean_reward_se", "multistep_z", "multistep_detectable",
           "kept_mean_reward", "kept_exp_gain", "kept_exp_gain_se", "lemma22_gain_bound", "lemma22_gain_bound_se",
           "lemma22_value", "lemma22_allowance", "selection_z", "mmd2", "mmd2_se", "cpu_seconds",
           "base_cpu_seconds", "torch_threads"]
BASE_COLUMNS = ["job", "width", "seed", "params", "base_images", "cpu_seconds", "torch_threads"]
CHECKS = ("fit", "law", "onestep", "multistep")
"""The per-generation checks of a row: |error| <= N_SE SE (``<check>_z``), each with ``<check>_detectable``."""
BASE_FILES = ("network.json", "network.pt", "training-state.json", "training-state.pt")
"""A finished base in the order it is copied: the network first, the training state (what train() resumes from)
last, so a copy cut short leaves no training state and is redone."""


@dataclass(frozen=True)
class LadderConfig:
    """The grid (lams x widths x fine-tune budgets x seeds) at one base budget, and what every job shares.

    ``base_images``: points seen by each base model (warm-up a tenth of it, EMA half-life ``base_ema`` of it);
    ``finetunes``: points seen per generation's fine-tune (its EMA is the loop's rule,
    [`empirical.train.FINETUNE_EMA`][empirical.train.FINETUNE_EMA]); ``skip``: (lam, width, finetune) cells left out."""

    dataset: str = "mixture2d"
    K: int = 4
    lams: tuple = (math.inf, 1.0)
    widths: tuple = (32, 64, 128, 256)
    depth: int = 3
    base_images: int = 800_000
    base_ema: float = 0.05
    finetunes: tuple = (100_000, 300_000, 1_000_000)
    seeds: tuple = (0, 1, 2)
    pick_seeds: tuple = (0,)
    skip: tuple = ()
    n_samples: int = 2048
    n_eval: int = 1024
    num_steps: int = 64                    # Heun steps; the sampler check compares with sampler_ref_steps
    sampler_ref_steps: int = 256
    n_sampler: int = 512
    n_law: int | None = None               # exact draws of the law's curated trajectory (None: the preset's)
    generations: int = 3
    keep_networks: bool = False            # keep each job's network.pt files (else removed once the job is done)

    def __post_init__(self):
        for name in ("lams", "widths", "finetunes", "seeds", "pick_seeds"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
            if not getattr(self, name):
                raise ValueError(f"{name} is empty")
        object.__setattr__(self, "lams", tuple(validate.ratio(v, "lam") for v in self.lams))
        object.__setattr__(self, "widths", tuple(validate.count(w, "width") for w in self.widths))
        object.__setattr__(self, "finetunes", tuple(validate.count(f, "finetune budget") for f in self.finetunes))
        object.__setattr__(self, "base_images", validate.count(self.base_images, "base_images"))
        object.__setattr__(self, "skip", tuple((float(a), int(b), int(c)) for a, b, c in self.skip))
        for name in ("lams", "widths", "finetunes", "seeds"):
            if len(set(getattr(self, name))) != len(getattr(self, name)):
                raise ValueError(f"{name} has repeated values: {getattr(self, name)}")
        if not (math.isfinite(self.base_ema) and 0 <= self.base_ema <= 1):
            raise ValueError(f"base_ema (the base's EMA half-life as a fraction of base_images) must be in [0, 1], "
                             f"got {self.base_ema}")
        self.roles()                                    # pick_seeds among seeds, at least one report seed
        for lam, w, ft, s in self._cells():
            self.loop_config(lam, w, ft, s)            # every job's config is valid before anything runs
        for w, s in self.bases():                       # one base serves every job of its (width, seed)
            trains = {self.loop_config(lam, w_, ft, s_).train for lam, w_, ft, s_ in self._cells()
                      if (w_, s_) == (w, s)}
            if len(trains) != 1:
                raise ValueError(f"the jobs of width {w}, seed {s} train different bases: {trains}")

    def roles(self) -> Seeds:
        """The seeds that pick (``pick_seeds``) and those that report (the other ``seeds``)."""
        try:
            return Seeds.split(self.seeds, self.pick_seeds)
        except ValueError as e:
            raise ValueError(f"pick_seeds {self.pick_seeds} of seeds {self.seeds}: {e}") from None

    def _cells(self):
        return [(lam, w, ft, s) for lam, w, ft, s in itertools.product(self.lams, self.widths, self.finetunes,
                                                                       self.seeds) if (lam, w, ft) not in self.skip]

    def loop_config(self, lam: float, width: int, finetune: int, seed: int) -> PointLoopConfig:
        """One job's point loop: the cpu preset with the ladder's settings. The base's warm-up (a tenth of
        base_images), EMA half-life (base_ema x base_images) and checkpoints depend on the base budget only, so
        every job of a (width, seed) trains the same base."""
        cfg = point_preset("cpu", dataset=self.dataset, K=self.K, lam=lam, width=width, depth=self.depth,
                           train_samples=self.base_images, finetune_samples=finetune, n_samples=self.n_samples,
                           n_eval=self.n_eval, generations=self.generations, seed=seed, num_steps=self.num_steps,
                           sampler_ref_steps=self.sampler_ref_steps, n_sampler=self.n_sampler,
                           **({} if self.n_law is None else {"n_law": self.n_law}))
        b = self.base_images
        return replace(cfg, train=replace(cfg.train, checkpoint_samples=max(b // 4, cfg.train.batch_size),
                                          warmup_samples=b // 10, ema_halflife_samples=self.base_ema * b))

    def bases(self) -> list[tuple[int, int]]:
        """Every (width, seed) that some job needs, in a stable order."""
        return sorted({(w, s) for _, w, _, s in self._cells()})

    def base_jobs(self) -> list[dict]:
        """The base sweep's jobs: one per (width, seed)."""
        return [{"job": i, "width": w, "seed": s} for i, (w, s) in enumerate(self.bases())]

    def base_config(self, width: int, seed: int) -> PointLoopConfig:
        """The loop config whose generation 0 a base is (the first job of its (width, seed))."""
        lam, w, ft, s = next(c for c in self._cells() if (c[1], c[3]) == (width, seed))
        return self.loop_config(lam, w, ft, s)

    def jobs(self) -> list[dict]:
        """Every (lam, width, finetune, seed) cell, in a stable order, with its role (pick or report)."""
        roles = self.roles()
        return [{"job": i, "lam": lam, "width": w, "finetune_images": ft, "seed": s, "role": roles.role(s)}
                for i, (lam, w, ft, s) in enumerate(self._cells())]

    def run_base(self, job: dict, root: Path) -> list[dict]:
        """Train (or resume) the base of one (width, seed) into <root>/bases/<name>/gen_000: exactly what the loop's
        generation 0 trains (the run's real points, its train config); returns its one row."""
        import torch
        cfg = self.base_config(job["width"], job["seed"])
        cpu = train_base(cfg, base_folder(root, job["width"], job["seed"]))
        return [{**job, "params": _parameters(cfg.train), "base_images": self.base_images, "cpu_seconds": cpu,
                 "torch_threads": torch.get_num_threads()}]

    def run_job(self, job: dict, root: Path) -> list[dict]:
        """Run (or resume) one job's loop in <root>/runs/<name> from its shared base and return its rows (one per
        generation)."""
        import torch

        from ..compare import compare_run
        cfg = self.loop_config(job["lam"], job["width"], job["finetune_images"], job["seed"])
        rf, cpu = loop_from_base(cfg, base_folder(root, job["width"], job["seed"]),
                                 Path(root) / "runs" / job_name(job))
        rows = ladder_rows(compare_run(rf.path), rf.metrics())
        if not self.keep_networks:
            for f in rf.path.glob("gen_*/*.pt"):
                f.unlink()
        return [{**job, **r, "params": _parameters(cfg.train), "base_images": self.base_images, "cpu_seconds": cpu,
                 "torch_threads": torch.get_num_threads()} for r in rows]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["skip"] = [list(c) for c in self.skip]
        return {"kind": "point_ladder", **{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}}


def job_name(job: dict) -> str:
    """A job's run folder name: lam, width, fine-tune budget and seed."""
    return f"lam{job['lam']:g}-w{job['width']}-ft{budget_name(int(job['finetune_images']))}-seed{job['seed']}"


def base_folder(root, width: int, seed: int) -> Path:
    """Where the base of (width, seed) is trained: <root>/bases/w<width>-seed<seed>/gen_000."""
    return Path(root) / "bases" / f"w{width}-seed{seed}" / "gen_000"


def seed_from_base(base: Path, folder: Path) -> bool:
    """Copy a finished base ([`BASE_FILES`][empirical.experiments.ladder.BASE_FILES]) into ``folder``/gen_000 unless the run has started (a
    training state or metrics there); each file through a temporary name, the training state last. Returns
    whether it copied. A base without its files is a ValueError naming it."""
    g0 = Path(folder) / "gen_000"
    if (g0 / "training-state.pt").exists() or (Path(folder) / "metrics.jsonl").exists():
        return False
    missing = [f for f in BASE_FILES if not (Path(base) / f).exists()]
    if missing:
        raise ValueError(f"the base {base} lacks {', '.join(missing)}: run the ladder's base sweep first")
    g0.mkdir(parents=True, exist_ok=True)
    for f in BASE_FILES:
        tmp = g0 / f".{f}.copy"
        shutil.copyfile(Path(base) / f, tmp)
        os.replace(tmp, g0 / f)
    return True


def train_base(cfg: PointLoopConfig, base: Path) -> float:
    """Train (or resume) into ``base`` (a gen_000 folder) exactly what the loop of ``cfg`` trains at generation 0
    (the run's real points, its train config); returns the CPU seconds it took."""
    from ..points import resolve_inputs
    from ..train import train
    cfg, x, _, _ = resolve_inputs(cfg)
    t0 = time.process_time()
    train(cfg.train, x[: cfg.n_samples], None, base, progress=False)
    return time.process_time() - t0


def loop_from_base(cfg: PointLoopConfig, base: Path, folder: Path):
    """Run (or resume) the point loop of ``cfg`` in ``folder``, its generation 0 copied from the finished ``base``
    ([`seed_from_base`][empirical.experiments.ladder.seed_from_base]); returns (its RunFolder, the CPU seconds the loop
    took)."""
    from ..points import run_point_loop
    seed_from_base(base, folder)
    t0 = time.process_time()
    rf = run_point_loop(cfg, folder, progress=False)
    assert rf is not None, "a single-process run returns its folder"
    return rf, time.process_time() - t0


def _parameters(train_cfg) -> int:
    from ..train import build_network
    return sum(p.numel() for p in build_network(train_cfg.network_config()).parameters())


def _ratio(a, b) -> float | None:
    if a is None or b is None:
        return None
    return a / b if b > 0 else (0.0 if a == 0 else math.copysign(math.inf, a))


def _detectable(se) -> float | None:
    return None if se is None else (N_SE + Z_POWER) * se


def ladder_rows(res: dict, metrics: list[dict]) -> list[dict]:
    """Per generation of a [`empirical.compare.compare_run`][empirical.compare.compare_run] result and its metrics lines: the errors of the
    module docstring with their SEs, z and detectable sizes, the one- and multi-step predictions, the kept set's
    Lemma 2.2 and selection checks, MMD^2 and n_measured."""
    checks = {(c["generation"], c["check"]): c for c in res["checks"]}
    ms = res["multi_step"]
    rows = []
    for t, m in enumerate(res["measured"]):
        met = metrics[t]
        r = {"generation": t, "n_measured": met.get("n_measured"), "mean_reward": m["mean_reward"],
             "reward_se": m["mean_reward_se"], "multistep_mean_reward": ms["mean_reward"][t],
             "multistep_mean_reward_se": ms["mean_reward_se"][t], "mmd2": met.get("mmd2_to_data"),
             "mmd2_se": met.get("mmd2_to_data_se")}
        for k in ("fit_error", "fit_error_se", "law_mean_reward", "law_error", "law_error_se", "sampler_error",
                  "sampler_error_se", "exact_sampler_error", "exact_sampler_error_se"):
            r[k] = met.get(k)
        for c in ("fit", "law", "sampler"):
            r[f"{c}_z"] = _ratio(r[f"{c}_error"], r[f"{c}_error_se"])
        ms_se = math.hypot(r["reward_se"], r["multistep_mean_reward_se"])
        r["multistep_z"] = _ratio(r["mean_reward"] - r["multistep_mean_reward"], ms_se)
        r["multistep_detectable"] = _detectable(ms_se)
        if t:
            g = res["generations"][t - 1]
            p, c, k = g["prediction"], g["comparison"], g["kept"]
            r.update(predicted_mean_reward=p["predicted_mean_reward"], predicted_mean_reward_se=p["predicted_mean_reward_se"],
                     onestep_error=c["onestep_error_mean_reward"], onestep_error_se=c["onestep_error_mean_reward_se"],
                     onestep_z=c["onestep_z_mean_reward"], kept_mean_reward=k["mean_reward"],
                     kept_exp_gain=k["mean_exp_reward"] - p["candidate_mean_exp_reward"],
                     kept_exp_gain_se=k["mean_exp_reward_se"], lemma22_gain_bound=p["lemma22_gain_bound"],
                     lemma22_gain_bound_se=p["lemma22_gain_bound_se"])
            lem, sel = checks.get((t, "lemma22")), checks.get((t, "selection"))
            if lem:
                r.update(lemma22_value=lem["value"], lemma22_allowance=lem["allowance"])
            if sel:
                r["selection_z"] = sel["value"]
        for c in ("fit", "law", "onestep"):
            r[f"{c}_detectable"] = _detectable(r.get(f"{c}_error_se"))
        rows.append(r)
    return rows


LADDERS = {
    # the headline (results/points-ladder): 3 widths x 3 fine-tune budgets x 2 lams x 3 seeds at one base budget,
    # 3 generations; width 256 is left out for its CPU time (docs/points/index.md gives the ladder's cost)
    "full": LadderConfig(widths=(32, 64, 128)),
    # the same at lam = inf alone: the committed run of results/points-ladder (half the CPU time)
    "inf": LadderConfig(widths=(32, 64, 128), lams=(math.inf,)),
    # a seconds-long ladder for tests
    "tiny": LadderConfig(widths=(16, 32), base_images=8192, finetunes=(2048, 4096), seeds=(0, 1), lams=(math.inf,),
                         n_samples=256, n_eval=128, num_steps=16, sampler_ref_steps=32, n_sampler=64, n_law=16384,
                         generations=2),
}


class LadderGrid(Protocol):
    """A ladder's grid as its two sweeps run it ([`LadderConfig`][empirical.experiments.ladder.LadderConfig], the mixture rung's ladder): the bases, then
    the jobs that start from them, each writing under ``root``."""

    def to_dict(self) -> dict: ...
    def base_jobs(self) -> list[dict]: ...
    def run_base(self, job: dict, root: Path) -> list[dict]: ...
    def jobs(self) -> list[dict]: ...
    def run_job(self, job: dict, root: Path) -> list[dict]: ...


@dataclass(frozen=True)
class BaseSweep:
    """A ladder's first sweep: its bases, in <root>/bases (a path every worker sees)."""

    config: LadderGrid
    root: str
    columns: tuple = tuple(BASE_COLUMNS)
    code_packages = ("simtheory", "empirical")

    def to_dict(self) -> dict:
        return {**self.config.to_dict(), "sweep": "bases"}

    def jobs(self) -> list[dict]:
        return self.config.base_jobs()

    def run_job(self, job: dict) -> list[dict]:
        return self.config.run_base(job, Path(self.root))


@dataclass(frozen=True)
class LadderSweep:
    """A ladder's jobs as a sweep spec of [`simtheory.runs.sweep.run_sweep`][simtheory.runs.sweep.run_sweep]: its
    jobs write their run folders under ``root`` (the sweep's folder; on a cluster, a path every worker sees) from the
    bases there."""

    config: LadderGrid
    root: str
    columns: tuple = tuple(COLUMNS)
    code_packages = ("simtheory", "empirical")

    def to_dict(self) -> dict:
        return self.config.to_dict()

    def jobs(self) -> list[dict]:
        return self.config.jobs()

    def run_job(self, job: dict) -> list[dict]:
        return self.config.run_job(job, Path(self.root))


def run_grid(grid: LadderGrid, out, columns: list[str], base_columns: list[str], base_key: tuple[str, ...],
             scheduler: str | None = None, serial: bool = False, workers: int = 2, progress: bool = True) -> Path:
    """Run (or resume) a ladder's two sweeps into ``out`` on dask (a local cluster of ``workers`` processes, or
    ``scheduler``): the bases into <out>/bases, then the jobs; every row gets the CPU seconds of its base (the base
    row with the same ``base_key`` fields) as ``base_cpu_seconds``. Returns results.csv."""
    from simtheory.runs import RunFolder, atomic_write
    from simtheory.runs.sweep import _rows_csv, run_sweep
    root = str(Path(out).resolve())
    with RunFolder.hold(out):       # a folder in use is refused before the bases write anything in it
        bases = read_results(run_sweep(BaseSweep(grid, root, tuple(base_columns)), Path(out) / "bases",
                                       scheduler=scheduler, serial=serial, workers=workers, progress=progress))
        path = run_sweep(LadderSweep(grid, root, tuple(columns)), out, scheduler=scheduler, serial=serial,
                         workers=workers, progress=progress)
        base_cpu = {tuple(b[k] for k in base_key): b["cpu_seconds"] for b in bases}
        rows = [{**r, "base_cpu_seconds": base_cpu[tuple(r[k] for k in base_key)]} for r in read_results(path)]
        atomic_write(path, _rows_csv(rows, True, columns).encode())
    return path


def run_ladder(cfg: LadderConfig, out, scheduler: str | None = None, serial: bool = False, workers: int = 2,
               progress: bool = True) -> Path:
    """Run (or resume) the point ladder into ``out`` ([`run_grid`][empirical.experiments.ladder.run_grid], its bases keyed by width and seed).
    Returns results.csv."""
    return run_grid(cfg, out, COLUMNS, BASE_COLUMNS, ("width", "seed"), scheduler=scheduler, serial=serial,
                    workers=workers, progress=progress)
