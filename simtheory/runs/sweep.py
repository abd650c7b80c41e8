"""Sweeps of finite-sample loops over (family, K, lam, N, scheme, seed) on dask.

Each job's seed is drawn from SeedSequence(base_seed).spawn(n_jobs) and stored with its rows. Finished jobs
are written one file each (atomically) under <run>/jobs/, so an interrupted sweep resumes by skipping them;
the table <run>/results.csv is assembled from them in job order, so it is the same however the jobs ran.

[`run_sweep`][simtheory.runs.sweep.run_sweep] runs any [`SweepSpec`][simtheory.runs.sweep.SweepSpec], not only
[`SweepConfig`][simtheory.runs.sweep.SweepConfig]: e.g. the neural point loops'
capacity ladder ([`empirical.experiments.ladder`][empirical.experiments.ladder]) and SIMS in point loops.
"""
from __future__ import annotations

import contextlib
import csv
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .. import datasets, loops, validate
from ..loops import LoopConfig
from .loop import config_from_dataset
from .folder import RunFolder, atomic_write, code_version

COLUMNS = ["job", "family", "K", "lam", "n_samples", "scheme", "replicate", "job_seed", "generation",
           "mean_reward", "reward_se", "heldout_loglik", "w2_to_data", "tv_to_data", "kl_to_data"]


class SweepSpec(Protocol):
    """What [`run_sweep`][simtheory.runs.sweep.run_sweep] runs: a grid of jobs, each a dict with a "job" number whose rows the sweep collects.
    A job's rows must depend on the job alone (a job may run in any process, in any order, or again after a kill)."""

    @property
    def columns(self) -> Sequence[str]:
        """The columns of results.csv."""
        ...

    @property
    def code_packages(self) -> tuple[str, ...]:
        """The packages whose sources key the sweep's folder ([`simtheory.runs.code_version`][simtheory.runs.folder.code_version])."""
        ...

    def to_dict(self) -> dict:
        """The folder's config (compared when the sweep resumes)."""
        ...

    def jobs(self) -> list[dict]:
        """Every job, in a stable order, each with its "job" number."""
        ...

    def run_job(self, job: dict) -> list[dict]:
        """One job's rows."""
        ...


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
        """Validate the whole grid: every job's LoopConfig is built and checked against the data set, so a
        bad option fails here, before a folder is created or a cluster started."""
        if self.dataset not in datasets.DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose from {sorted(datasets.DATASETS)}")
        for name in ("families", "Ks", "lams", "Ns", "schemes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
            if not getattr(self, name):
                raise ValueError(f"{name} is empty")
        for name, minimum in (("replicates", 1), ("generations", 0), ("n_real", 1), ("base_seed", 0),
                              ("data_seed", 0)):
            object.__setattr__(self, name, validate.count(getattr(self, name), name, minimum))
        object.__setattr__(self, "Ks", tuple(validate.group_size(k, "K") for k in self.Ks))
        object.__setattr__(self, "lams", tuple(validate.ratio(lam, "lam") for lam in self.lams))
        object.__setattr__(self, "Ns", tuple(validate.count(n, "n_samples") for n in self.Ns))
        validate.fits_memory(datasets.BYTES_PER_POINT * self.n_real, "n_real", self.n_real,
                             f"a real pool of {self.n_real} points in every job")
        dim = datasets.make(self.dataset, 8, 0).x.shape[1]
        for fam, K, lam, N, scheme in itertools.product(self.families, self.Ks, self.lams, self.Ns, self.schemes):
            lc = self.loop_config(fam, K, lam, N, scheme)
            lc.check_data_shape(self.n_real, dim)
            lc.check_memory(dim)

    def loop_config(self, family: str, K, lam: float, n_samples: int, scheme: str) -> LoopConfig:
        """The LoopConfig of one grid point (the data set's own options filled in)."""
        return config_from_dataset(self.dataset, family=family, n_samples=n_samples, K=K, lam=lam, scheme=scheme,
                                   generations=self.generations)

    def to_dict(self) -> dict:
        return {"kind": "sweep", **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}}

    columns = COLUMNS
    code_packages = ("simtheory",)

    def jobs(self) -> list[dict]:
        """Every grid point with its job number and seed ([`jobs`][simtheory.runs.sweep.SweepConfig.jobs])."""
        return jobs(self)

    def run_job(self, job: dict) -> list[dict]:
        """One job's rows ([`run_job`][simtheory.runs.sweep.SweepConfig.run_job])."""
        return run_job(job, self)


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
    lc = cfg.loop_config(job["family"], job["K"], job["lam"], job["n_samples"], job["scheme"])
    recs = loops.run_loop(lc, ds.x, ds.reward, seed=job["job_seed"])
    return [{**job, **{c: r.get(c, "") for c in COLUMNS if c in r}, "generation": r["generation"]} for r in recs]


def _rows_csv(rows: list[dict], header: bool, columns=COLUMNS) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    if header:
        w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def run_sweep(cfg: SweepSpec, out, scheduler: str | None = None, serial: bool = False, workers: int = 2,
              progress: bool = True, processes: bool = True, threads: int = 1) -> Path:
    """Run the sweep ``cfg`` (a SweepConfig or any [`SweepSpec`][simtheory.runs.sweep.SweepSpec]) into ``out`` (serially, on a new
    local dask cluster, or on ``scheduler``); returns the path of results.csv. Jobs already finished in ``out``
    are skipped. The folder is held until results.csv is written (FolderInUse when another process writes it;
    the jobs' own folders, if any, are held by the workers that run them). A new local cluster's worker processes start with ``threads`` Numba and BLAS threads each
    (NUMBA_NUM_THREADS, OMP_NUM_THREADS in their environment), so that ``workers`` jobs share the cores without
    oversubscribing them; this process's own settings are left as they are."""
    threads = validate.count(threads, "threads", minimum=1)
    with contextlib.ExitStack() as stack:
        client = None
        if scheduler is not None and not serial:
            # connect before the folder exists: an unreachable scheduler raises OSError and leaves nothing behind
            from dask.distributed import Client
            client = stack.enter_context(Client(scheduler))
        rf = stack.enter_context(RunFolder.open(out, cfg.to_dict(), code_version(*cfg.code_packages)))   # held
        jdir = rf.path / "jobs"
        jdir.mkdir(exist_ok=True)
        all_jobs = cfg.jobs()
        todo = [j for j in all_jobs if not (jdir / f"{j['job']:05d}.csv").exists()]

        def done(job, rows):
            atomic_write(jdir / f"{job['job']:05d}.csv", _rows_csv(rows, False, cfg.columns).encode())

        if todo and not serial and client is None:
            from dask.distributed import Client, LocalCluster
            env = {v: str(threads) for v in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                              "OPENBLAS_NUM_THREADS")}
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                                                       dashboard_address=None, **({"env": env} if processes else {})))
            client = stack.enter_context(Client(cluster))
        bar = None
        if progress:
            from tqdm import tqdm
            bar = stack.enter_context(tqdm(total=len(all_jobs), initial=len(all_jobs) - len(todo), desc="sweep",
                                           disable=None))
        if client is None:
            for j in todo:
                done(j, cfg.run_job(j))
                bar and bar.update()
        else:
            from dask.distributed import as_completed
            futs = {client.submit(cfg.run_job, j, pure=False): j for j in todo}
            for f in as_completed(futs):
                done(futs[f], f.result())
                bar and bar.update()
        table = "".join((jdir / f"{j['job']:05d}.csv").read_text() for j in all_jobs)
        path = rf.path / "results.csv"
        atomic_write(path, (_rows_csv([], True, cfg.columns) + table).encode())
    return path
