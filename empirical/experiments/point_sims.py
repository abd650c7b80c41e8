r"""SIMS at the point rung: self-improving negative guidance in neural point loops, small against ample networks.

Every generation's model samples with D + w (D - D_aux), D_aux being that model fine-tuned on n_s of its own samples
for B points seen (`empirical.sims` through the point loop's ``sims`` option: the same functions as the image
loops). Two loops, with the theory half's words (``simtheory.diffusion.sims``), K = 1 (no curation):

- the synthetic augmentation loop of the SIMS paper: a fixed real set of N points plus the previous model's
  samples at lam = 0.6 (scheme replace: each generation trains on the N real points and round(lam N) samples);
- the fully synthetic loop (lam = inf), for contrast.

Two capacities: ``small`` (width 32, 250k points for the base and 100k per fine-tune: a network with a systematic
error) and ``ample`` (width 128, 800k and 300k). The distance to the data law is the squared MMD with its SE
(simtheory.metrics.mmd2) at every generation. Phase 1 runs every w of ``ws`` on the pick seeds and picks, per loop
and capacity, the w > 0 with the smallest mean final MMD^2; phase 2 runs w = 0 and the picked w on the report seeds
(paired: the same seed draws the same real data, base and streams for both). Each (capacity, seed) base is trained
once, in <out>/bases, and copied into every job of that capacity and seed (as the capacity ladder shares its bases,
[`empirical.experiments.ladder.seed_from_base`][empirical.experiments.ladder.seed_from_base]). The three are sweeps on
dask ([`simtheory.runs.sweep.run_sweep`][simtheory.runs.sweep.run_sweep]), in <out>/bases, <out>/pick and <out>/report.
"""
from __future__ import annotations

import itertools
import json
import math
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path


from ..points import PointLoopConfig
from ..sims.auxiliary import SimsSampling
from .ladder import LadderConfig, loop_from_base, train_base
from .ladder_results import read_results
from .protocol import Seeds, pick_best

COLUMNS = ["job", "loop", "lam", "capacity", "w", "seed", "phase", "generation", "n_measured", "mean_reward",
           "reward_se", "fit_error", "fit_error_se", "law_error", "law_error_se", "mmd2", "mmd2_se", "cpu_seconds"]
BASE_COLUMNS = ["job", "capacity", "width", "seed", "cpu_seconds"]
LOOPS = {"augmentation": 0.6, "synthetic": math.inf}


@dataclass(frozen=True)
class SimsRungConfig:
    """The SIMS experiments at the point rung; ``capacities`` maps a name to (width, base points, fine-tune points per
    generation); n_s and B (``images``) of every auxiliary, its lr and EMA (a fraction of B) as in empirical.sims;
    the sampler settings are the ladder's (``sampler_ref_steps`` 0: no sampler check, whose guided draws would cost
    as much as a generation's)."""

    dataset: str = "mixture2d"
    loops: tuple = ("augmentation", "synthetic")
    capacities: dict = field(default_factory=lambda: {"small": (32, 250_000, 100_000), "ample": (128, 800_000, 300_000)})
    ws: tuple = (0.5, 1.5)
    pick_seeds: tuple = (0,)
    report_seeds: tuple = (1, 2, 3)
    n_samples: int = 2048
    n_eval: int = 1024
    n_s: int = 2048
    images: int | None = None              # B; None: the capacity's fine-tune budget
    lr: float = 1e-3
    ema: float = 0.1
    generations: int = 5
    num_steps: int = 64
    sampler_ref_steps: int = 0
    n_law: int | None = None               # exact draws of the law's curated trajectory (None: the preset's)

    def __post_init__(self):
        for name in ("loops", "ws", "pick_seeds", "report_seeds"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "capacities", {str(k): (int(v[0]), int(v[1]), int(v[2]))
                                                for k, v in dict(self.capacities).items()})
        bad = [lp for lp in self.loops if lp not in LOOPS]
        if bad:
            raise ValueError(f"loops must be among {sorted(LOOPS)}, got {bad}")
        Seeds(self.pick_seeds, self.report_seeds)     # disjoint, neither empty
        for lp, cap in itertools.product(self.loops, self.capacities):
            self.loop_config(lp, cap, 0.0, 0)
            self.loop_config(lp, cap, max(self.ws), 0)
        for cap in self.capacities:                   # one base serves both loops and every w of a capacity
            if len({self.loop_config(lp, cap, w, 0).train for lp in self.loops for w in (0.0,) + self.ws}) != 1:
                raise ValueError(f"the loops of capacity {cap} train different bases")

    def loop_config(self, loop: str, capacity: str, w: float, seed: int) -> PointLoopConfig:
        """One job's point loop: the ladder's loop for this capacity with K = 1, lam of the loop and SIMS w."""
        width, base, ft = self.capacities[capacity]
        lad = LadderConfig(dataset=self.dataset, lams=(LOOPS[loop],), widths=(width,), base_images=base,
                           finetunes=(ft,), seeds=(0, 1), pick_seeds=(0,), n_samples=self.n_samples,
                           n_eval=self.n_eval, generations=self.generations, num_steps=self.num_steps,
                           sampler_ref_steps=self.sampler_ref_steps, n_sampler=self.n_eval, n_law=self.n_law)
        cfg = lad.loop_config(LOOPS[loop], width, ft, seed)
        sims = None if w == 0 else SimsSampling(w, self.n_s, self.images or ft, self.lr, self.ema)
        return replace(cfg, K=1, sims=sims)

    def seeds(self) -> tuple:
        return tuple(sorted(set(self.pick_seeds) | set(self.report_seeds)))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["capacities"] = {k: list(v) for k, v in self.capacities.items()}
        return {"kind": "point_sims", **{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}}


@dataclass(frozen=True)
class SimsBases:
    """The bases of the SIMS rung as a sweep spec: one per (capacity, seed), in <root>/bases."""

    config: SimsRungConfig
    root: str
    columns = BASE_COLUMNS
    code_packages = ("simtheory", "empirical")

    def to_dict(self) -> dict:
        return {**self.config.to_dict(), "sweep": "bases"}

    def jobs(self) -> list[dict]:
        return [{"job": i, "capacity": cap, "width": self.config.capacities[cap][0], "seed": s}
                for i, (cap, s) in enumerate(itertools.product(self.config.capacities, self.config.seeds()))]

    def run_job(self, job: dict) -> list[dict]:
        cfg = self.config.loop_config(self.config.loops[0], job["capacity"], 0.0, job["seed"])
        return [{**job, "cpu_seconds": train_base(cfg, _base(self.root, job["capacity"], job["seed"]))}]


def _base(root, capacity: str, seed: int) -> Path:
    """Where the base of (capacity, seed) is trained: <root>/bases/<capacity>-seed<seed>/gen_000."""
    return Path(root) / "bases" / f"{capacity}-seed{seed}" / "gen_000"


@dataclass(frozen=True)
class SimsPhase:
    """One phase of the experiments as a sweep spec (simtheory.runs.sweep): its jobs' loops run in <root>/runs."""

    config: SimsRungConfig
    phase: str
    ws: dict                      # (loop, capacity) -> the w values this phase runs
    seeds: tuple
    root: str
    base_root: str                # where the bases are (<out>, whose bases/ the SimsBases sweep fills)
    columns = COLUMNS
    code_packages = ("simtheory", "empirical")

    def to_dict(self) -> dict:
        return {**self.config.to_dict(), "phase": self.phase, "seeds": list(self.seeds),
                "phase_ws": {f"{a}/{b}": list(v) for (a, b), v in self.ws.items()}}

    def jobs(self) -> list[dict]:
        out: list[dict] = []
        for (lp, cap), ws in self.ws.items():
            for w, s in itertools.product(ws, self.seeds):
                out.append({"job": len(out), "loop": lp, "lam": LOOPS[lp], "capacity": cap, "w": float(w), "seed": s,
                            "phase": self.phase})
        return out

    def run_job(self, job: dict) -> list[dict]:
        cfg = self.config.loop_config(job["loop"], job["capacity"], job["w"], job["seed"])
        folder = Path(self.root) / "runs" / f"{job['loop']}-{job['capacity']}-w{job['w']:g}-seed{job['seed']}"
        rf, cpu = loop_from_base(cfg, _base(self.base_root, job["capacity"], job["seed"]), folder)
        for f in rf.path.glob("gen_*/*.pt"):
            f.unlink()
        for d in rf.path.glob("gen_*/sims-aux"):
            shutil.rmtree(d)
        keys = ("n_measured", "mean_reward", "reward_se", "fit_error", "fit_error_se", "law_error", "law_error_se")
        return [{**job, "generation": m["generation"], **{k: m.get(k) for k in keys}, "mmd2": m.get("mmd2_to_data"),
                 "mmd2_se": m.get("mmd2_to_data_se"), "cpu_seconds": cpu} for m in rf.metrics()]


def pick_w(rows: list[dict], T: int) -> dict:
    """(loop, capacity) -> the guidance w > 0 with the smallest mean MMD^2 at generation T over the pick seeds (the
    claim compares SIMS, some w > 0, with w = 0; whether the pick beats w = 0 is then measured on other seeds), by
    [`empirical.experiments.protocol.pick_best`][empirical.experiments.protocol.pick_best] (ties go to the smaller w);
    keys in sorted order."""
    best = pick_best([r for r in rows if r["generation"] == T and r["w"] > 0], setting=lambda r: r["w"],
                     value=lambda r: r["mmd2"], group=lambda r: (r["loop"], r["capacity"]))
    return {k: best[k][0] for k in sorted(best)}


def run_sims_rung(cfg: SimsRungConfig, out, scheduler: str | None = None, serial: bool = False, workers: int = 2,
                  progress: bool = True) -> dict:
    """Phase 1 (pick) and phase 2 (report) into <out>/pick and <out>/report; writes <out>/picked.json and returns
    {"pick": rows, "report": rows, "picked": {(loop, capacity): w}}."""
    from simtheory.runs import atomic_write
    from simtheory.runs.sweep import run_sweep
    out = Path(out)
    run_sweep(SimsBases(cfg, str(out.resolve())), out / "bases", scheduler=scheduler, serial=serial, workers=workers,
              progress=progress)
    grid = {(lp, cap): (0.0,) + tuple(cfg.ws) for lp, cap in itertools.product(cfg.loops, cfg.capacities)}
    pick = SimsPhase(cfg, "pick", grid, cfg.pick_seeds, str((out / "pick").resolve()), str(out.resolve()))
    rows = read_results(run_sweep(pick, out / "pick", scheduler=scheduler, serial=serial, workers=workers,
                                  progress=progress))
    picked = pick_w(rows, cfg.generations)
    atomic_write(out / "picked.json", (json.dumps({f"{a}/{b}": w for (a, b), w in picked.items()}, indent=1)
                                       + "\n").encode())
    rep = SimsPhase(cfg, "report", {k: tuple(sorted({0.0, w})) for k, w in picked.items()}, cfg.report_seeds,
                    str((out / "report").resolve()), str(out.resolve()))
    report = read_results(run_sweep(rep, out / "report", scheduler=scheduler, serial=serial, workers=workers,
                                    progress=progress))
    return {"pick": rows, "report": report, "picked": picked}


RUNGS = {
    # results/points-sims (its CPU time: docs/points/index.md); six report seeds, the number the first run's
    # per-seed spread asks for to show its fully synthetic effects with 80% power by Student's t
    "full": SimsRungConfig(report_seeds=(1, 2, 3, 4, 5, 6)),
    "tiny": SimsRungConfig(capacities={"small": (16, 8192, 2048), "ample": (32, 16384, 4096)}, ws=(1.0,),
                           pick_seeds=(0,), report_seeds=(1,), n_samples=256, n_eval=128, n_s=128, generations=2,
                           num_steps=16, n_law=16384),
}
