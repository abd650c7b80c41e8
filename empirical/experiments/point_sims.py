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

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

from ..points import PointLoopConfig
from ..sims.auxiliary import SimsSampling
from .ladder import LadderConfig, loop_from_base, train_base
from .sims_rung import BASE_COLUMNS, LOOPS, SimsRung, run_rung
from .sims_rung import pick_w as _pick_w

__all__ = ["BASE_COLUMNS", "COLUMNS", "LOOPS", "RUNGS", "SimsRungConfig", "pick_w", "run_sims_rung"]

COLUMNS = ["job", "loop", "lam", "capacity", "width", "w", "seed", "phase", "generation", "n_measured", "mean_reward",
           "reward_se", "fit_error", "fit_error_se", "law_error", "law_error_se", "mmd2", "mmd2_se", "cpu_seconds"]


@dataclass(frozen=True)
class SimsRungConfig(SimsRung):
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

    KIND: ClassVar[str] = "point_sims"
    PICK_KEY: ClassVar[str] = "mmd2"
    COLUMNS: ClassVar[list[str]] = COLUMNS

    def __post_init__(self):
        self.check()

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

    def train_base(self, capacity: str, seed: int, base: Path) -> float:
        """Train (or resume) the base of (capacity, seed) into ``base``; its CPU seconds."""
        return train_base(self.loop_config(self.loops[0], capacity, 0.0, seed), base)

    def run_loop(self, job: dict, base: Path, folder: Path) -> list[dict]:
        """One job's loop from its base: a row per generation with its reward, errors and MMD^2 to the law."""
        rf, cpu = loop_from_base(self.loop_config(job["loop"], job["capacity"], job["w"], job["seed"]), base, folder)
        keys = ("n_measured", "mean_reward", "reward_se", "fit_error", "fit_error_se", "law_error", "law_error_se")
        return [{**job, "generation": m["generation"], **{k: m.get(k) for k in keys}, "mmd2": m.get("mmd2_to_data"),
                 "mmd2_se": m.get("mmd2_to_data_se"), "cpu_seconds": cpu} for m in rf.metrics()]


def pick_w(rows: list[dict], T: int) -> dict:
    """(loop, capacity) -> the w > 0 with the smallest mean MMD^2 at generation T over the pick seeds
    ([`empirical.experiments.sims_rung.pick_w`][empirical.experiments.sims_rung.pick_w])."""
    return _pick_w(rows, T, "mmd2")


def run_sims_rung(cfg: SimsRungConfig, out, scheduler: str | None = None, serial: bool = False, workers: int = 2,
                  progress: bool = True) -> dict:
    """Phase 1 (pick) and phase 2 (report) into <out>/pick and <out>/report, the bases in <out>/bases
    ([`empirical.experiments.sims_rung.run_rung`][empirical.experiments.sims_rung.run_rung]); writes
    <out>/picked.json and returns {"pick": rows, "report": rows, "picked": {(loop, capacity): w}}."""
    return run_rung(cfg, out, scheduler=scheduler, serial=serial, workers=workers, progress=progress)


RUNGS = {
    # results/points-sims (its CPU time: docs/points/index.md); six report seeds, the number the first run's
    # per-seed spread asks for to show its fully synthetic effects with 80% power by Student's t
    "full": SimsRungConfig(report_seeds=(1, 2, 3, 4, 5, 6)),
    "tiny": SimsRungConfig(capacities={"small": (16, 8192, 2048), "ample": (32, 16384, 4096)}, ws=(1.0,),
                           pick_seeds=(0,), report_seeds=(1,), n_samples=256, n_eval=128, n_s=128, generations=2,
                           num_steps=16, n_law=16384),
}
