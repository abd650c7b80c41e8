"""Sweeps of finite-sample loops over (family, K, lam, N, scheme, seed) on dask.

Each job's seed is drawn from SeedSequence(base_seed).spawn(n_jobs) and stored with its rows. Finished jobs
are written one file each (atomically) under <run>/jobs/, so an interrupted sweep resumes by skipping them;
the table <run>/results.csv is assembled from them in job order, so it is the same however the jobs ran.
"""
from __future__ import annotations

import csv
import io
import itertools
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import datasets, loops, validate
from .loop import config_from_dataset
from .folder import RunFolder, atomic_write, code_version

COLUMNS = ["job", "family", "K", "lam", "n_samples", "scheme", "replicate", "job_seed", "generation",
           "mean_reward", "reward_se", "heldout_loglik", "w2_to_data", "tv_to_data", "kl_to_data"]


@dataclass(frozen=True)
class SweepConfig:
    """The grid of a sweep and what every job shares."""

    dataset: str = "gauss2d"
    families: tuple = ("gaussian",)
    Ks: tuple = (1, 4)
    lams: tuple = (math.inf, 1.0)
    Ns: tuple = (100,)
    schemes: tuple = ("replace",)
    replicates: int = 2
    generations: int = 5
    n_real: int = 4000
    base_seed: int = 0
    data_seed: int = 0

    def __post_init__(self):
        if self.dataset not in datasets.DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose from {sorted(datasets.DATASETS)}")
        for name in ("families", "Ks", "lams", "Ns", "schemes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
            if not getattr(self, name):
                raise ValueError(f"{name} is empty")
        validate.count(self.replicates, "replicates")
        for k in self.Ks:
            validate.group_size(k, "K")
        for lam in self.lams:
            validate.ratio(lam, "lam")
        for n in self.Ns:
            validate.count(n, "N")

    def to_dict(self) -> dict:
        return {"kind": "sweep", **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}}


def jobs(cfg: SweepConfig) -> list[dict]:
    """Every grid point with its job id and its spawned seed (stable order)."""
    grid = list(itertools.product(cfg.families, cfg.Ks, cfg.lams, cfg.Ns, cfg.schemes, range(cfg.replicates)))
    seeds = np.random.SeedSequence(cfg.base_seed).spawn(len(grid))
    out = []
    for i, ((fam, K, lam, N, scheme, rep), ss) in enumerate(zip(grid, seeds)):
        out.append({"job": i, "family": fam, "K": int(K), "lam": float(lam), "n_samples": int(N),
                    "scheme": scheme, "replicate": rep, "job_seed": int(ss.generate_state(1, np.uint64)[0])})
    return out


def run_job(job: dict, cfg: SweepConfig) -> list[dict]:
    """Run one job's loop; one row per generation."""
    ds = datasets.make(cfg.dataset, cfg.n_real, cfg.data_seed)
    lc = config_from_dataset(cfg.dataset, family=job["family"], n_samples=job["n_samples"], K=job["K"],
                             lam=job["lam"], scheme=job["scheme"], generations=cfg.generations)
    recs = loops.run_loop(lc, ds.x, ds.reward, seed=job["job_seed"])
    return [{**job, **{c: r.get(c, "") for c in COLUMNS if c in r}, "generation": r["generation"]} for r in recs]


def _rows_csv(rows: list[dict], header: bool) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    if header:
        w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def run_sweep(cfg: SweepConfig, out, scheduler: str | None = None, serial: bool = False, workers: int = 2,
              progress: bool = True, processes: bool = True) -> Path:
    """Run the sweep into ``out`` (serially, on a new local dask cluster, or on ``scheduler``); returns the
    path of results.csv. Jobs already finished in ``out`` are skipped."""
    rf = RunFolder.open(out, cfg.to_dict(), code_version("simtheory"))
    jdir = rf.path / "jobs"
    jdir.mkdir(exist_ok=True)
    todo = [j for j in jobs(cfg) if not (jdir / f"{j['job']:05d}.csv").exists()]

    def done(job, rows):
        atomic_write(jdir / f"{job['job']:05d}.csv", _rows_csv(rows, header=False).encode())

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs(cfg)), initial=len(jobs(cfg)) - len(todo), desc="sweep")
    if serial or not todo:
        for j in todo:
            done(j, run_job(j, cfg))
            bar and bar.update()
    else:
        from dask.distributed import Client, LocalCluster, as_completed
        cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1,
                                                      processes=processes, dashboard_address=None)
        with Client(scheduler or cluster) as client:
            futs = {client.submit(run_job, j, cfg, pure=False): j for j in todo}
            for f in as_completed(futs):
                done(futs[f], f.result())
                bar and bar.update()
        if cluster is not None:
            cluster.close()
    bar and bar.close()
    table = "".join((jdir / f"{j['job']:05d}.csv").read_text() for j in jobs(cfg))
    path = rf.path / "results.csv"
    atomic_write(path, (_rows_csv([], header=True) + table).encode())
    return path
