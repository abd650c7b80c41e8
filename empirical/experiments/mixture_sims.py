r"""SIMS at image shape: self-improving negative guidance in U-Net loops on the exact CIFAR-10 law, small against
ample networks, measured by the distance to the law itself.

The point rung's experiment on the mixture rung: every generation's model samples with D + w (D - D_aux), D_aux that
model fine-tuned on n_s of its own samples for B samples seen (`empirical.sims` through the loop's ``sims``
option), K = 1 (no curation), in two loops:

- the synthetic augmentation loop of the SIMS paper: N exact draws of the law plus the previous model's samples at
  lam = 0.6 (scheme replace);
- the fully synthetic loop (lam = inf).

Two capacities (U-Net width, base budget, fine-tune budget per generation): a network with a systematic error and
an ample one. With K = 1 the exact trajectory is the law itself at every generation, so the distance that decides
is the Frechet distance of each generation's samples to the law's exact mean and covariance (``fd_law``, beside its
noise floor), with the reward's law error and the class shares beside it. The protocol of
[`empirical.experiments.protocol`][empirical.experiments.protocol]: phase 1 runs every w of ``ws`` (and w = 0) on the
pick seeds and picks, per
loop and capacity, the w > 0 with the smallest mean ``fd_law`` at the last generation (`pick_w`); phase 2 runs
w = 0 and the picked w on the report seeds (paired: one seed draws the same real data, base and streams for both).
Each (capacity, seed) base is trained once, in <out>/bases, and copied into its jobs
([`empirical.experiments.ladder.seed_from_base`][empirical.experiments.ladder.seed_from_base]). The three are sweeps on
dask ([`simtheory.runs.sweep.run_sweep`][simtheory.runs.sweep.run_sweep]).
"""
from __future__ import annotations

import itertools
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .ladder import seed_from_base
from .ladder_results import read_results
from ..mixture.config import MixtureLoopConfig, mixture_preset
from ..sims.auxiliary import SimsSampling
from .protocol import Seeds, pick_best

LOOPS = {"augmentation": 0.6, "synthetic": math.inf}
COLUMNS = ["job", "loop", "lam", "capacity", "width", "w", "seed", "phase", "generation", "n_measured", "mean_reward",
           "reward_se", "fit_error", "fit_error_se", "law_error", "law_error_se", "class_share_max_z", "fd_law",
           "fd_law_floor", "fd_law_floor_sd", "cpu_seconds"]
BASE_COLUMNS = ["job", "capacity", "width", "seed", "cpu_seconds"]


@dataclass(frozen=True)
class MixtureSimsConfig:
    """The SIMS experiments at the mixture rung. ``capacities``: name -> (U-Net width, base samples, fine-tune
    samples per generation); n_s, B (``samples``; None: the capacity's fine-tune budget), lr and EMA of every
    auxiliary as in `empirical.sims`; ``sampler_ref_steps`` 0 (no sampler check, whose guided draws would cost as
    much as a generation's)."""

    loops: tuple = ("augmentation", "synthetic")
    capacities: dict = field(default_factory=lambda: {"small": (16, 60_000, 20_000), "ample": (32, 100_000, 30_000)})
    ws: tuple = (0.5, 1.0, 2.0)
    pick_seeds: tuple = (0,)
    report_seeds: tuple = (1, 2, 3, 4)
    n_samples: int = 500
    n_eval: int = 500
    n_s: int = 500
    samples: int | None = None
    lr: float = 2e-4
    ema: float = 0.1
    generations: int = 3
    num_steps: int = 24
    sampler_ref_steps: int = 0
    n_law: int | None = None
    base_ema: float = 0.05

    def __post_init__(self):
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
        for cap in self.capacities:                   # one base serves both loops and every w of a capacity
            if len({self.loop_config(lp, cap, w, 0).train for lp in self.loops for w in (0.0,) + self.ws}) != 1:
                raise ValueError(f"the loops of capacity {cap} train different bases")

    def roles(self) -> Seeds:
        """The protocol's seeds (disjoint, neither empty; a ValueError says which is wrong)."""
        return Seeds(self.pick_seeds, self.report_seeds)

    def loop_config(self, loop: str, capacity: str, w: float, seed: int) -> MixtureLoopConfig:
        """One job's loop: the cpu preset on the 8 x 8 law, K = 1, lam of the loop, the capacity's U-Net and budgets,
        SIMS at w (none at w = 0)."""
        width, base, ft = self.capacities[capacity]
        cfg = mixture_preset("cpu", K=1, lam=LOOPS[loop], channels=width, finetune_samples=ft,
                             n_samples=self.n_samples, n_eval=self.n_eval, generations=self.generations, seed=seed,
                             num_steps=self.num_steps, sampler_ref_steps=self.sampler_ref_steps,
                             n_sampler=self.n_eval, **({} if self.n_law is None else {"n_law": self.n_law,
                                                                                       "n_moments": self.n_law}))
        tr = replace(cfg.train, total_samples=base, checkpoint_samples=max(base // 4, cfg.train.batch_size),
                     warmup_samples=base // 10, ema_halflife_samples=self.base_ema * base)
        sims = None if w == 0 else SimsSampling(w, self.n_s, self.samples or ft, self.lr, self.ema)
        return replace(cfg, train=tr, sims=sims)

    def seeds(self) -> tuple:
        return self.roles().all

    def to_dict(self) -> dict:
        d = asdict(self)
        d["capacities"] = {k: list(v) for k, v in self.capacities.items()}
        return {"kind": "mixture_sims", **{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}}


def _base(root, capacity: str, seed: int) -> Path:
    """Where the base of (capacity, seed) is trained: <root>/bases/<capacity>-seed<seed>/gen_000."""
    return Path(root) / "bases" / f"{capacity}-seed{seed}" / "gen_000"


@dataclass(frozen=True)
class SimsBases:
    """The bases as a sweep spec: one per (capacity, seed), in <root>/bases."""

    config: MixtureSimsConfig
    root: str
    columns = BASE_COLUMNS
    code_packages = ("simtheory", "empirical")

    def to_dict(self) -> dict:
        return {**self.config.to_dict(), "sweep": "bases"}

    def jobs(self) -> list[dict]:
        return [{"job": i, "capacity": cap, "width": self.config.capacities[cap][0], "seed": s}
                for i, (cap, s) in enumerate(itertools.product(self.config.capacities, self.config.seeds()))]

    def run_job(self, job: dict) -> list[dict]:
        from ..mixture.inputs import resolve
        from ..mixture.kind import MixtureData
        from ..train import train
        cfg, law = resolve(self.config.loop_config(self.config.loops[0], job["capacity"], 0.0, job["seed"]))
        x, y = MixtureData(cfg, law).real()
        t0 = time.process_time()
        train(cfg.train, x[: cfg.n_samples], y[: cfg.n_samples], _base(self.root, job["capacity"], job["seed"]),
              progress=False)
        return [{**job, "cpu_seconds": time.process_time() - t0}]


@dataclass(frozen=True)
class SimsPhase:
    """One phase as a sweep spec (simtheory.runs.sweep): its jobs' loops run in <root>/runs from the bases in
    <base_root>/bases."""

    config: MixtureSimsConfig
    phase: str
    ws: dict                      # (loop, capacity) -> the w values this phase runs
    seeds: tuple
    root: str
    base_root: str
    columns = COLUMNS
    code_packages = ("simtheory", "empirical")

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
        from ..mixture.kind import run_mixture_loop
        from .mixture_ladder import mixture_measures
        cfg = self.config.loop_config(job["loop"], job["capacity"], job["w"], job["seed"])
        folder = Path(self.root) / "runs" / f"{job['loop']}-{job['capacity']}-w{job['w']:g}-seed{job['seed']}"
        seed_from_base(_base(self.base_root, job["capacity"], job["seed"]), folder)
        t0 = time.process_time()
        rf = run_mixture_loop(cfg, folder, progress=False)
        cpu = time.process_time() - t0
        if rf is None:
            raise RuntimeError("the mixture SIMS ladder runs its jobs in one process, not under torchrun")
        for f in rf.path.glob("gen_*/*.pt"):
            f.unlink()
        for d in rf.path.glob("gen_*/sims-aux"):
            shutil.rmtree(d)
        keys = ("n_measured", "mean_reward", "reward_se", "fit_error", "fit_error_se", "law_error", "law_error_se")
        out = []
        for m in rf.metrics():
            mm = mixture_measures(m)
            out.append({**job, "generation": m["generation"], **{k: m.get(k) for k in keys},
                        **{k: mm[k] for k in ("class_share_max_z", "fd_law", "fd_law_floor", "fd_law_floor_sd")},
                        "cpu_seconds": cpu})
        return out


def pick_w(rows: list[dict], T: int, key: str = "fd_law") -> dict:
    """(loop, capacity) -> the guidance w > 0 with the smallest mean ``key`` at generation T over ``rows`` (the pick
    seeds' rows; [`empirical.experiments.protocol.pick_best`][empirical.experiments.protocol.pick_best], ties to the
    smaller w); whether it beats w = 0 is then measured on the report seeds."""
    sel = [r for r in rows if r["generation"] == T and r["w"] > 0]
    best = pick_best(sel, setting=lambda r: r["w"], value=lambda r: r[key],
                     group=lambda r: (r["loop"], r["capacity"]))
    return {g: w for g, (w, _) in sorted(best.items())}


def paired(rows: list[dict], T: int, key: str = "fd_law") -> dict:
    """(loop, capacity) -> {w, seeds, differences}: ``key`` at generation T of the picked w minus w = 0, per report
    seed (the same seed's data, base and streams)."""
    by = {(r["loop"], r["capacity"], r["w"], r["seed"]): r[key] for r in rows if r["generation"] == T}
    out: dict = {}
    for lp, cap in sorted({(a, b) for a, b, _, _ in by}):
        for w in sorted({w for a, b, w, _ in by if (a, b) == (lp, cap) and w > 0}):
            seeds = sorted(s for a, b, ww, s in by if (a, b, ww) == (lp, cap, w) and (lp, cap, 0.0, s) in by)
            out[(lp, cap)] = {"w": w, "seeds": seeds,
                              "differences": [by[(lp, cap, w, s)] - by[(lp, cap, 0.0, s)] for s in seeds]}
    return out


def run_mixture_sims(cfg: MixtureSimsConfig, out, scheduler: str | None = None, serial: bool = False,
                     workers: int = 2, progress: bool = True) -> dict:
    """The bases, phase 1 (pick) and phase 2 (report) into <out>/bases, <out>/pick, <out>/report; writes
    <out>/picked.json and returns {"pick": rows, "report": rows, "picked": {(loop, capacity): w}}."""
    from simtheory.runs import atomic_write
    from simtheory.runs.sweep import run_sweep
    out = Path(out)
    roles = cfg.roles()
    run_sweep(SimsBases(cfg, str(out.resolve())), out / "bases", scheduler=scheduler, serial=serial, workers=workers,
              progress=progress)
    grid = {(lp, cap): (0.0,) + tuple(cfg.ws) for lp, cap in itertools.product(cfg.loops, cfg.capacities)}
    pick = SimsPhase(cfg, "pick", grid, roles.pick, str((out / "pick").resolve()), str(out.resolve()))
    rows = read_results(run_sweep(pick, out / "pick", scheduler=scheduler, serial=serial, workers=workers,
                                  progress=progress))
    picked = pick_w(rows, cfg.generations)
    atomic_write(out / "picked.json", (json.dumps({f"{a}/{b}": w for (a, b), w in picked.items()}, indent=1)
                                       + "\n").encode())
    rep = SimsPhase(cfg, "report", {k: tuple(sorted({0.0, w})) for k, w in picked.items()}, roles.report,
                    str((out / "report").resolve()), str(out.resolve()))
    report = read_results(run_sweep(rep, out / "report", scheduler=scheduler, serial=serial, workers=workers,
                                    progress=progress))
    return {"pick": rows, "report": report, "picked": picked}


RUNGS = {
    # two loops x two capacities x three w on the pick seed, w = 0 and the pick on four report seeds: hours of CPU
    # time at one thread per process
    "full": MixtureSimsConfig(),
    # the smallest set that still picks on one seed and reports on others, both loops, two capacities: the one-core
    # run behind results/mixture-sims
    "small": MixtureSimsConfig(capacities={"small": (8, 20_000, 2_000), "ample": (32, 30_000, 4_000)}, ws=(0.5, 1.5),
                               pick_seeds=(0,), report_seeds=(1, 2), n_samples=128, n_eval=128, n_s=128,
                               generations=2, n_law=8_192),
    "tiny": MixtureSimsConfig(capacities={"small": (8, 1024, 256), "ample": (16, 2048, 512)}, ws=(1.0,),
                              pick_seeds=(0,), report_seeds=(1,), n_samples=64, n_eval=32, n_s=32, generations=1,
                              num_steps=12, n_law=4096),
}
