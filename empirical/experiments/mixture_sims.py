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

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

from ..mixture.config import MixtureLoopConfig, mixture_preset
from ..sims.auxiliary import SimsSampling
from .ladder import seed_from_base
from .sims_rung import BASE_COLUMNS, LOOPS, SimsRung, run_rung
from .sims_rung import pick_w as _pick_w

__all__ = ["BASE_COLUMNS", "COLUMNS", "LOOPS", "RUNGS", "MixtureSimsConfig", "paired", "pick_w", "run_mixture_sims"]

COLUMNS = ["job", "loop", "lam", "capacity", "width", "w", "seed", "phase", "generation", "n_measured", "mean_reward",
           "reward_se", "fit_error", "fit_error_se", "law_error", "law_error_se", "class_share_max_z", "fd_law",
           "fd_law_floor", "fd_law_floor_sd", "cpu_seconds"]


@dataclass(frozen=True)
class MixtureSimsConfig(SimsRung):
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

    KIND: ClassVar[str] = "mixture_sims"
    PICK_KEY: ClassVar[str] = "fd_law"
    COLUMNS: ClassVar[list[str]] = COLUMNS

    def __post_init__(self):
        self.check()

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

    def train_base(self, capacity: str, seed: int, base: Path) -> float:
        """Train (or resume) the base of (capacity, seed) into ``base`` on the loop's real draws; its CPU seconds."""
        from ..mixture.inputs import resolve
        from ..mixture.kind import MixtureData
        from ..train import train
        cfg, law = resolve(self.loop_config(self.loops[0], capacity, 0.0, seed))
        x, y = MixtureData(cfg, law).real()
        t0 = time.process_time()
        train(cfg.train, x[: cfg.n_samples], y[: cfg.n_samples], base, progress=False)
        return time.process_time() - t0

    def run_loop(self, job: dict, base: Path, folder: Path) -> list[dict]:
        """One job's loop from its base: a row per generation with its reward, errors, class shares and Frechet
        distance to the law (beside its noise floor)."""
        from ..mixture.kind import run_mixture_loop
        from .mixture_ladder import mixture_measures
        cfg = self.loop_config(job["loop"], job["capacity"], job["w"], job["seed"])
        seed_from_base(base, folder)
        t0 = time.process_time()
        rf = run_mixture_loop(cfg, folder, progress=False)
        cpu = time.process_time() - t0
        if rf is None:
            raise RuntimeError("the mixture SIMS ladder runs its jobs in one process, not under torchrun")
        keys = ("n_measured", "mean_reward", "reward_se", "fit_error", "fit_error_se", "law_error", "law_error_se")
        out = []
        for m in rf.metrics():
            mm = mixture_measures(m)
            out.append({**job, "generation": m["generation"], **{k: m.get(k) for k in keys},
                        **{k: mm[k] for k in ("class_share_max_z", "fd_law", "fd_law_floor", "fd_law_floor_sd")},
                        "cpu_seconds": cpu})
        return out


def pick_w(rows: list[dict], T: int, key: str = "fd_law") -> dict:
    """(loop, capacity) -> the w > 0 with the smallest mean ``key`` at generation T over the pick seeds' rows
    ([`empirical.experiments.sims_rung.pick_w`][empirical.experiments.sims_rung.pick_w])."""
    return _pick_w(rows, T, key)


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
    """The bases, phase 1 (pick) and phase 2 (report) into <out>/bases, <out>/pick, <out>/report
    ([`empirical.experiments.sims_rung.run_rung`][empirical.experiments.sims_rung.run_rung]); writes <out>/picked.json
    and returns {"pick": rows, "report": rows, "picked": {(loop, capacity): w}}."""
    return run_rung(cfg, out, scheduler=scheduler, serial=serial, workers=workers, progress=progress)


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
