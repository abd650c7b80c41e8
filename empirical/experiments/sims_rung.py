"""What the SIMS rungs share (the point rung's [`empirical.experiments.point_sims`][empirical.experiments.point_sims],
the mixture rung's [`empirical.experiments.mixture_sims`][empirical.experiments.mixture_sims]): the two loops, the
checks of a rung's settings, the bases sweep (one base per capacity and seed), the two phases' sweeps and the
pick-then-report driver of [`empirical.experiments.protocol`][empirical.experiments.protocol].

A rung's config is a frozen dataclass with the fields ``loops``, ``capacities`` (name -> (width, base budget,
fine-tune budget)), ``ws``, ``pick_seeds``, ``report_seeds`` and ``generations`` that mixes in
[`SimsRung`][empirical.experiments.sims_rung.SimsRung] and says how one base is trained (``train_base``) and how one
job's loop runs and what its rows hold (``run_loop``).
"""
from __future__ import annotations

import itertools
import json
import math
import shutil
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from .ladder_results import read_results
from .protocol import Seeds, pick_best

LOOPS = {"augmentation": 0.6, "synthetic": math.inf}
BASE_COLUMNS = ["job", "capacity", "width", "seed", "cpu_seconds"]


class SimsRung(ABC):
    """The methods a SIMS rung's config shares; the dataclass supplies the fields (module docstring), ``KIND`` (its
    name in config.json), ``PICK_KEY`` (the distance the pick minimises), ``COLUMNS`` (its rows), ``loop_config``,
    ``train_base`` and ``run_loop``."""

    KIND: ClassVar[str]
    PICK_KEY: ClassVar[str]
    COLUMNS: ClassVar[list[str]]
    loops: tuple
    capacities: dict
    ws: tuple
    pick_seeds: tuple
    report_seeds: tuple
    generations: int

    def check(self) -> None:
        """Normalise the fields and refuse bad settings with a ValueError naming them (called by __post_init__): the
        loops among LOOPS, capacities and guidance weights present, the seeds disjoint, every loop's config valid, and
        one base per capacity (both loops and every w train the same base)."""
        for name in ("loops", "ws", "pick_seeds", "report_seeds"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "capacities", {str(k): (int(v[0]), int(v[1]), int(v[2]))
                                                for k, v in dict(self.capacities).items()})
        bad = [lp for lp in self.loops if lp not in LOOPS]
        if bad or not self.loops:
            raise ValueError(f"loops must be among {sorted(LOOPS)} (at least one), got {list(self.loops)}")
        if not self.capacities:
            raise ValueError("capacities is empty")
        self.roles()
        if not self.ws or any(not (math.isfinite(w) and w > 0) for w in self.ws):
            raise ValueError(f"ws must be guidance weights > 0 (w = 0 is always run), got {self.ws}")
        for lp, cap in itertools.product(self.loops, self.capacities):
            self.loop_config(lp, cap, 0.0, 0)
            self.loop_config(lp, cap, max(self.ws), 0)
        for cap in self.capacities:
            if len({self.loop_config(lp, cap, w, 0).train for lp in self.loops for w in (0.0,) + self.ws}) != 1:
                raise ValueError(f"the loops of capacity {cap} train different bases")

    def roles(self) -> Seeds:
        """The protocol's seeds (disjoint, neither empty; a ValueError says which is wrong)."""
        return Seeds(self.pick_seeds, self.report_seeds)

    def seeds(self) -> tuple:
        return self.roles().all

    def to_dict(self) -> dict:
        d = asdict(self)  # type: ignore[call-overload]
        d["capacities"] = {k: list(v) for k, v in self.capacities.items()}
        return {"kind": self.KIND, **{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}}

    @abstractmethod
    def loop_config(self, loop: str, capacity: str, w: float, seed: int) -> Any:
        """The loop config of one job: ``loop`` (a key of LOOPS) at ``capacity`` with guidance weight ``w``."""

    @abstractmethod
    def train_base(self, capacity: str, seed: int, base: Path) -> float:
        """Train (or resume) the base of (capacity, seed) into ``base``; returns its CPU seconds."""

    @abstractmethod
    def run_loop(self, job: dict, base: Path, folder: Path) -> list[dict]:
        """Run (or resume) one job's loop into ``folder`` from the base in ``base``; returns its rows (COLUMNS)."""


def base_path(root, capacity: str, seed: int) -> Path:
    """Where the base of (capacity, seed) is trained: <root>/bases/<capacity>-seed<seed>/gen_000."""
    return Path(root) / "bases" / f"{capacity}-seed{seed}" / "gen_000"


def drop_networks(run: Path) -> None:
    """Delete a finished job's networks and SIMS auxiliaries (its metrics, logs and samples stay)."""
    for f in run.glob("gen_*/*.pt"):
        f.unlink()
    for d in run.glob("gen_*/sims-aux"):
        shutil.rmtree(d)


@dataclass(frozen=True)
class SimsBases:
    """A rung's bases as a sweep spec: one per (capacity, seed), in <root>/bases."""

    config: SimsRung
    root: str
    columns = BASE_COLUMNS
    code_packages = ("simtheory", "empirical")

    def to_dict(self) -> dict:
        return {**self.config.to_dict(), "sweep": "bases"}

    def jobs(self) -> list[dict]:
        return [{"job": i, "capacity": cap, "width": self.config.capacities[cap][0], "seed": s}
                for i, (cap, s) in enumerate(itertools.product(self.config.capacities, self.config.seeds()))]

    def run_job(self, job: dict) -> list[dict]:
        cpu = self.config.train_base(job["capacity"], job["seed"], base_path(self.root, job["capacity"], job["seed"]))
        return [{**job, "cpu_seconds": cpu}]


@dataclass(frozen=True)
class SimsPhase:
    """One phase as a sweep spec ([`simtheory.runs.sweep.run_sweep`][simtheory.runs.sweep.run_sweep]): its jobs' loops
    run in <root>/runs from the bases in <base_root>/bases."""

    config: SimsRung
    phase: str
    ws: dict                      # (loop, capacity) -> the w values this phase runs
    seeds: tuple
    root: str
    base_root: str

    code_packages = ("simtheory", "empirical")

    @property
    def columns(self) -> list[str]:
        return self.config.COLUMNS

    def to_dict(self) -> dict:
        return {**self.config.to_dict(), "phase": self.phase, "seeds": list(self.seeds),
                "phase_ws": {f"{a}/{b}": list(v) for (a, b), v in self.ws.items()}}

    def jobs(self) -> list[dict]:
        out: list[dict] = []
        for (lp, cap), ws in self.ws.items():
            for w, s in itertools.product(ws, self.seeds):
                out.append({"job": len(out), "loop": lp, "lam": LOOPS[lp], "capacity": cap,
                            "width": self.config.capacities[cap][0], "w": float(w), "seed": s, "phase": self.phase})
        return out

    def run_job(self, job: dict) -> list[dict]:
        folder = Path(self.root) / "runs" / f"{job['loop']}-{job['capacity']}-w{job['w']:g}-seed{job['seed']}"
        rows = self.config.run_loop(job, base_path(self.base_root, job["capacity"], job["seed"]), folder)
        drop_networks(folder)
        return rows


def pick_w(rows: list[dict], T: int, key: str) -> dict:
    """(loop, capacity) -> the guidance w > 0 with the smallest mean ``key`` at generation T over ``rows`` (the pick
    seeds' rows; [`empirical.experiments.protocol.pick_best`][empirical.experiments.protocol.pick_best], ties to the
    smaller w), keys in sorted order: the claim compares SIMS, some w > 0, with w = 0, and whether the pick beats
    w = 0 is then measured on the report seeds."""
    best = pick_best([r for r in rows if r["generation"] == T and r["w"] > 0], setting=lambda r: r["w"],
                     value=lambda r: r[key], group=lambda r: (r["loop"], r["capacity"]))
    return {g: w for g, (w, _) in sorted(best.items())}


def run_rung(cfg: SimsRung, out, scheduler: str | None = None, serial: bool = False, workers: int = 2,
             progress: bool = True) -> dict:
    """The bases, phase 1 (every w and w = 0 on the pick seeds) and phase 2 (w = 0 and the picked w on the report
    seeds) into <out>/bases, <out>/pick and <out>/report; writes <out>/picked.json and returns {"pick": rows,
    "report": rows, "picked": {(loop, capacity): w}}."""
    from simtheory.runs import atomic_write
    from simtheory.runs.sweep import run_sweep
    out = Path(out)
    roles = cfg.roles()
    sweep: dict[str, Any] = {"scheduler": scheduler, "serial": serial, "workers": workers, "progress": progress}
    run_sweep(SimsBases(cfg, str(out.resolve())), out / "bases", **sweep)
    grid = {(lp, cap): (0.0,) + tuple(cfg.ws) for lp, cap in itertools.product(cfg.loops, cfg.capacities)}
    pick = SimsPhase(cfg, "pick", grid, roles.pick, str((out / "pick").resolve()), str(out.resolve()))
    rows = read_results(run_sweep(pick, out / "pick", **sweep))
    picked = pick_w(rows, cfg.generations, cfg.PICK_KEY)
    atomic_write(out / "picked.json", (json.dumps({f"{a}/{b}": w for (a, b), w in picked.items()}, indent=1)
                                       + "\n").encode())
    rep = SimsPhase(cfg, "report", {k: tuple(sorted({0.0, w})) for k, w in picked.items()}, roles.report,
                    str((out / "report").resolve()), str(out.resolve()))
    return {"pick": rows, "report": read_results(run_sweep(rep, out / "report", **sweep)), "picked": picked}
