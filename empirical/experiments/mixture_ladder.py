r"""The capacity ladder at image shape: the U-Net's curated loops on the exact CIFAR-10 law over channel width and
fine-tune budget, held to the exact predictions, beside the same settings on real 8 x 8 CIFAR-10.

The point ladder's machinery ([`empirical.experiments.ladder`][empirical.experiments.ladder], on dask through
[`simtheory.runs.sweep.run_sweep`][simtheory.runs.sweep.run_sweep]): a
first sweep trains each (data, width, seed) base once, in ``<out>/bases``; the second runs every job from its base
([`empirical.experiments.ladder.seed_from_base`][empirical.experiments.ladder.seed_from_base]). A mixture job is
`empirical.mixture.run_mixture_loop` with the cpu
preset's U-Net at the ladder's width and budgets; a CIFAR-10 job is the image loop
([`empirical.images.run_image_loop`][empirical.images.kind.run_image_loop], the image preset's reward classifier and
judge, trained once per seed with
the base and copied into each job) with the same U-Net, N, K, lam, budgets, steps and seeds, so the fit error on the
exact law sits beside the fit error on real images at the same architecture and budget.

Each job is compared with its predictions by [`empirical.compare.compare_run`][empirical.compare.compare_run] and
tabulated by
[`empirical.experiments.ladder.ladder_rows`][empirical.experiments.ladder.ladder_rows] (fit, law, sampler, one-step and
multi-step errors with SEs, z and the
smallest error each check could see, (N_SE + 0.84) SE), plus the mixture's own measures: the Frechet distances to the
law and to p_t beside their noise floors and the largest class-share z. The seeds' roles follow
[`empirical.experiments.protocol`][empirical.experiments.protocol]: the pick seeds choose, the others report.
results.csv is the table the figures and paper checks C17 read.
"""
from __future__ import annotations

import itertools
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from simtheory import validate

from .ladder import COLUMNS as POINT_COLUMNS
from .ladder import ladder_rows, run_grid, seed_from_base
from .ladder_results import budget_name, pooled
from ..mixture.config import MixtureLoopConfig, mixture_preset
from .protocol import PICK, REPORT, Seeds

_RENAMED = {"finetune_images": "finetune_samples", "base_images": "base_samples"}
EXTRA = ["fd_law", "fd_law_floor", "fd_law_floor_sd", "fd_curated", "fd_curated_floor", "fd_curated_floor_sd",
         "class_share_max_z", "exact_sampler_class_share_max", "classifier_accuracy"]
COLUMNS = ["job", "data"] + [_RENAMED.get(c, c) for c in POINT_COLUMNS if c not in ("job", "mmd2", "mmd2_se")] + EXTRA
BASE_COLUMNS = ["job", "data", "width", "seed", "params", "base_samples", "cpu_seconds", "torch_threads"]
DATA = ("mixture", "cifar")


@dataclass(frozen=True)
class MixtureLadderConfig:
    """The grid (lams x widths x fine-tune budgets x seeds) on the law at one base budget, the CIFAR-10 cells
    (``cifar``: (width, fine-tune budget), at each of ``cifar_lams``, with the classes, reward classifier and judge
    of the image preset ``cifar_preset``; None: none) and what every job shares.

    ``base_samples``: samples seen by each base (warm-up a tenth of it, EMA half-life ``base_ema`` of it);
    ``finetunes``: samples seen per generation's fine-tune; ``skip``: (lam, width, finetune) cells left out;
    ``seeds`` and ``pick_seeds``: the protocol's roles
    ([`empirical.experiments.protocol.Seeds`][empirical.experiments.protocol.Seeds])."""

    K: int = 4
    lams: tuple = (math.inf, 1.0)
    widths: tuple = (8, 16, 32)
    base_samples: int = 60_000
    base_ema: float = 0.05
    finetunes: tuple = (5_000, 15_000, 50_000)
    seeds: tuple = (0, 1)
    pick_seeds: tuple = (0,)
    skip: tuple = ()
    n_samples: int = 400
    n_eval: int = 200
    num_steps: int = 24
    sampler_ref_steps: int = 96
    n_sampler: int = 128
    n_law: int | None = 32_768
    n_moments: int | None = 16_384
    generations: int = 3
    cifar: tuple | None = (16, 15_000)
    cifar_lams: tuple = (math.inf, 1.0)
    cifar_preset: str = "cpu"              # the image preset whose classes, reward classifier and judge they use
    keep_networks: bool = False

    def __post_init__(self):
        for name in ("lams", "widths", "finetunes", "seeds", "pick_seeds", "cifar_lams"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("lams", "widths", "finetunes", "seeds", "pick_seeds"):
            if not getattr(self, name):
                raise ValueError(f"{name} is empty")
        object.__setattr__(self, "lams", tuple(validate.ratio(v, "lam") for v in self.lams))
        object.__setattr__(self, "cifar_lams", tuple(validate.ratio(v, "lam") for v in self.cifar_lams))
        object.__setattr__(self, "widths", tuple(validate.count(w, "width") for w in self.widths))
        object.__setattr__(self, "finetunes", tuple(validate.count(f, "finetune budget") for f in self.finetunes))
        object.__setattr__(self, "base_samples", validate.count(self.base_samples, "base_samples"))
        object.__setattr__(self, "skip", tuple((float(a), int(b), int(c)) for a, b, c in self.skip))
        if self.cifar is not None:
            w, ft = self.cifar
            object.__setattr__(self, "cifar", (validate.count(w, "cifar width"), validate.count(ft, "cifar budget")))
        for name in ("lams", "widths", "finetunes", "seeds"):
            if len(set(getattr(self, name))) != len(getattr(self, name)):
                raise ValueError(f"{name} has repeated values: {getattr(self, name)}")
        if not (math.isfinite(self.base_ema) and 0 <= self.base_ema <= 1):
            raise ValueError(f"base_ema (the base's EMA half-life as a fraction of base_samples) must be in [0, 1], "
                             f"got {self.base_ema}")
        self.roles()                                      # pick seeds among the seeds, and some seed reports
        for data, lam, w, ft, s in self._cells():
            self.config(data, lam, w, ft, s)              # every job's config is valid before anything runs
        for data, w, s in self.bases():
            trains = {self.config(d, lam, w_, ft, s_).train for d, lam, w_, ft, s_ in self._cells()
                      if (d, w_, s_) == (data, w, s)}
            if len(trains) != 1:
                raise ValueError(f"the {data} jobs of width {w}, seed {s} train different bases: {trains}")

    def roles(self) -> Seeds:
        """The protocol's seeds: ``pick_seeds`` choose, the other seeds report."""
        return Seeds.split(self.seeds, self.pick_seeds)

    def _cells(self) -> list[tuple]:
        out = [("mixture", lam, w, ft, s) for lam, w, ft, s in itertools.product(self.lams, self.widths,
                                                                                   self.finetunes, self.seeds)
               if (lam, w, ft) not in self.skip]
        if self.cifar is not None:
            out += [("cifar", lam, self.cifar[0], self.cifar[1], s) for lam, s in itertools.product(self.cifar_lams,
                                                                                                    self.seeds)]
        return out

    def _train(self, train):
        b = self.base_samples
        return replace(train, total_samples=b, checkpoint_samples=max(b // 4, train.batch_size),
                       warmup_samples=b // 10, ema_halflife_samples=self.base_ema * b)

    def loop_config(self, lam: float, width: int, finetune: int, seed: int) -> MixtureLoopConfig:
        """One mixture job: the cpu preset's loop on the 8 x 8 law with the ladder's settings and U-Net width."""
        cfg = mixture_preset("cpu", K=self.K, lam=lam, channels=width, finetune_samples=finetune,
                             n_samples=self.n_samples, n_eval=self.n_eval, generations=self.generations, seed=seed,
                             num_steps=self.num_steps, sampler_ref_steps=self.sampler_ref_steps,
                             n_sampler=self.n_sampler, **({} if self.n_law is None else {"n_law": self.n_law}),
                             **({} if self.n_moments is None else {"n_moments": self.n_moments}))
        return replace(cfg, train=self._train(cfg.train))

    def image_config(self, lam: float, width: int, finetune: int, seed: int):
        """One CIFAR-10 job: the image loop's ``cifar_preset`` (its classes, reward classifier and judge) with the
        mixture job's U-Net (uint8 data), N, K, lam, budgets, steps and seed."""
        from ..images.config import preset
        mix = self.loop_config(lam, width, finetune, seed)
        cfg = preset(self.cifar_preset, K=self.K, lam=lam, n_samples=self.n_samples, n_eval=self.n_eval,
                     generations=self.generations, seed=seed, num_steps=self.num_steps,
                     sampler_ref_steps=self.sampler_ref_steps, n_sampler=self.n_sampler, finetune_samples=finetune,
                     finetune_lr=mix.finetune_lr)
        assert mix.train.unet is not None         # a MixtureLoopConfig trains the U-Net (checked when it is made)
        unet = replace(mix.train.unet, float_data=False)
        return replace(cfg, train=replace(mix.train, unet=unet))

    def config(self, data: str, lam: float, width: int, finetune: int, seed: int):
        """The loop config of one cell of either data kind."""
        if data not in DATA:
            raise ValueError(f"data must be one of {DATA}, got {data!r}")
        return (self.loop_config if data == "mixture" else self.image_config)(lam, width, finetune, seed)

    def bases(self) -> list[tuple[str, int, int]]:
        """Every (data, width, seed) that some job needs, in a stable order."""
        return sorted({(d, w, s) for d, _, w, _, s in self._cells()})

    def base_jobs(self) -> list[dict]:
        return [{"job": i, "data": d, "width": w, "seed": s} for i, (d, w, s) in enumerate(self.bases())]

    def jobs(self) -> list[dict]:
        """Every cell, in a stable order, with its role (pick or report)."""
        roles = self.roles()
        return [{"job": i, "data": d, "lam": lam, "width": w, "finetune_samples": ft, "seed": s,
                 "role": roles.role(s)} for i, (d, lam, w, ft, s) in enumerate(self._cells())]

    def _first(self, data: str, width: int, seed: int):
        d, lam, w, ft, s = next(c for c in self._cells() if (c[0], c[2], c[4]) == (data, width, seed))
        return self.config(d, lam, w, ft, s)

    def run_base(self, job: dict, root: Path) -> list[dict]:
        """Train (or resume) the base of one (data, width, seed) into <root>/bases/<name>/gen_000, exactly what the
        loop's generation 0 trains; a CIFAR-10 base also trains the seed's reward classifier and judge beside it."""
        import torch

        from ..train import train
        folder = base_folder(root, job["data"], job["width"], job["seed"])
        cfg = self._first(job["data"], job["width"], job["seed"])
        t0 = time.process_time()
        if job["data"] == "mixture":
            from ..mixture.inputs import resolve
            from ..mixture.kind import MixtureData
            cfg, law = resolve(cfg)
            x, y = MixtureData(cfg, law).real()
        else:
            from ..images.inputs import real_images
            from ..images.score import run_classifier
            x, y = real_images(cfg)
            for which in ("classifier", "judge"):
                run_classifier(cfg, which, folder.parent / which, False)
        train(cfg.train, x[: cfg.n_samples], y[: cfg.n_samples], folder, progress=False)
        return [{**job, "params": parameters(cfg.train), "base_samples": self.base_samples,
                 "cpu_seconds": time.process_time() - t0, "torch_threads": torch.get_num_threads()}]

    def run_job(self, job: dict, root: Path) -> list[dict]:
        """Run (or resume) one job's loop in <root>/runs/<name> from its shared base; its rows, one per generation."""
        import torch

        from ..compare import compare_run
        cfg = self.config(job["data"], job["lam"], job["width"], job["finetune_samples"], job["seed"])
        folder = Path(root) / "runs" / job_name(job)
        base = base_folder(root, job["data"], job["width"], job["seed"])
        seed_from_base(base, folder)
        t0 = time.process_time()
        if job["data"] == "mixture":
            from ..mixture.kind import run_mixture_loop
            rf = run_mixture_loop(cfg, folder, progress=False)
        else:
            from ..images.kind import run_image_loop
            for which in ("classifier", "judge"):
                _copy_folder(base.parent / which, folder / which)
            rf = run_image_loop(cfg, folder, progress=False)
        cpu = time.process_time() - t0
        if rf is None:
            raise RuntimeError("the mixture ladder runs its jobs in one process, not under torchrun")
        metrics = rf.metrics()
        rows = ladder_rows(compare_run(rf.path), metrics)
        if not self.keep_networks:
            for f in rf.path.glob("gen_*/*.pt"):
                f.unlink()
        out = []
        for r, m in zip(rows, metrics):
            r = {k: v for k, v in r.items() if k not in ("mmd2", "mmd2_se")}
            out.append({**job, **r, **mixture_measures(m), "params": parameters(cfg.train),
                        "base_samples": self.base_samples, "cpu_seconds": cpu,
                        "torch_threads": torch.get_num_threads()})
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["skip"] = [list(c) for c in self.skip]
        d["cifar"] = None if self.cifar is None else list(self.cifar)
        return {"kind": "mixture_ladder", **{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}}


def mixture_measures(m: dict) -> dict:
    """A metrics line's mixture measures for results.csv: the Frechet distances with their floors, the largest
    |class-share error| / SE, the exact sampler's largest class-share error and the reward classifier's accuracy (on
    CIFAR-10 runs)."""
    out = {k: m.get(k) for k in EXTRA[:6]}
    out["class_share_max_z"] = out["exact_sampler_class_share_max"] = None
    if m.get("class_share_error") is not None:
        e, se = np.asarray(m["class_share_error"]), np.asarray(m["class_share_error_se"])
        out["class_share_max_z"] = float(np.max(np.abs(e) / np.where(se > 0, se, np.inf)))
    if m.get("exact_sampler_class_share_error") is not None:
        out["exact_sampler_class_share_max"] = float(np.max(np.abs(m["exact_sampler_class_share_error"])))
    out["classifier_accuracy"] = m.get("classifier_accuracy")
    return out


def parameters(train_cfg) -> int:
    """Trainable parameters of a training config's network."""
    from ..train import build_network
    return sum(p.numel() for p in build_network(train_cfg.network_config()).parameters())


def job_name(job: dict) -> str:
    """A job's run folder name: data, lam, width, fine-tune budget and seed."""
    return (f"{job['data']}-lam{job['lam']:g}-w{job['width']}-ft{budget_name(int(job['finetune_samples']))}"
            f"-seed{job['seed']}")


def base_folder(root, data: str, width: int, seed: int) -> Path:
    """Where the base of (data, width, seed) is trained: <root>/bases/<data>-w<width>-seed<seed>/gen_000."""
    return Path(root) / "bases" / f"{data}-w{width}-seed{seed}" / "gen_000"


def _copy_folder(src: Path, dst: Path) -> None:
    """Copy a trained classifier's folder into a run unless the run has one (through a temporary name)."""
    if dst.exists():
        return
    if not (src / "classifier.pt").exists():
        raise ValueError(f"{src} lacks classifier.pt: run the ladder's base sweep first")
    tmp = dst.parent / f".{dst.name}.copy"
    shutil.rmtree(tmp, ignore_errors=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, tmp)
    os.replace(tmp, dst)


def run_mixture_ladder(cfg: MixtureLadderConfig, out, scheduler: str | None = None, serial: bool = False,
                       workers: int = 2, progress: bool = True) -> Path:
    """Run (or resume) the ladder into ``out`` on dask
    ([`run_grid`][empirical.experiments.ladder.run_grid], its bases keyed by data, width and seed): the bases into
    <out>/bases, then the jobs; every row gets its base's CPU seconds (``base_cpu_seconds``). Returns results.csv."""
    return run_grid(cfg, out, COLUMNS, BASE_COLUMNS, ("data", "width", "seed"), scheduler=scheduler, serial=serial,
                    workers=workers, progress=progress)


def _lam(v: float) -> str:
    return "inf" if v == math.inf else f"{v:g}"


def _max_z(cell: list[dict], key: str) -> str:
    out = []
    for role in (PICK, REPORT):
        v = [abs(r[key]) for r in cell if r["role"] == role and r.get(key) is not None]
        out.append(f"{max(v):.1f}" if v else "-")
    return " / ".join(out)


def summary(rows: list[dict]) -> str:
    """Markdown: one line per (lam, fine-tune budget, width) of the mixture jobs (parameters, CPU seconds per job,
    the fit and law errors pooled over the report seeds and generations, max |z| pick / report of the fit, law,
    one-step and multi-step checks and of the class shares, the median detectable fit error, the sampler error and
    the Frechet distance to the law at t = T beside its floor), then the fit error on the law beside the fit error on
    CIFAR-10 at the same width and budget."""
    mix = [r for r in rows if r["data"] == "mixture"]
    T = max(r["generation"] for r in rows)
    head = ("| lam | fine-tune | width | parameters | CPU s / job | fit error (report) | law error (report) "
            "| max abs z pick / report: fit | law | one-step | multi-step | class shares | detectable fit error "
            "| sampler error | FD to the law at t = T (floor) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    keys = sorted({(r["lam"], r["finetune_samples"], r["width"]) for r in mix}, key=lambda k: (-k[0], k[1], k[2]))
    for lam, ft, w in keys:
        cell = [r for r in mix if (r["lam"], r["finetune_samples"], r["width"]) == (lam, ft, w)]
        rep = [r for r in cell if r["role"] == REPORT]
        fe, fse, _ = pooled(rep, "fit_error")
        le, lse, _ = pooled(rep, "law_error")
        se, sse, _ = pooled(rep, "sampler_error")
        dets = [r["fit_detectable"] for r in rep if r.get("fit_detectable") is not None]
        det = f"{np.median(dets):.3f}" if dets else "-"
        fd = [(r["fd_law"], r["fd_law_floor"]) for r in rep if r["generation"] == T and r.get("fd_law") is not None]
        cpu = np.mean([r["cpu_seconds"] for r in cell if r["generation"] == 0])
        fdt = f"{np.mean([a for a, _ in fd]):.2f} ({np.mean([b for _, b in fd]):.2f})" if fd else "-"
        lines.append(f"| {_lam(lam)} | {budget_name(int(ft))} | {w} | {int(cell[0]['params']):,} | {cpu:.0f} | "
                     f"{fe:+.4f} +- {fse:.4f} | {le:+.4f} +- {lse:.4f} | {_max_z(cell, 'fit_z')} | "
                     f"{_max_z(cell, 'law_z')} | {_max_z(cell, 'onestep_z')} | {_max_z(cell, 'multistep_z')} | "
                     f"{_max_z(cell, 'class_share_max_z')} | {det} | {se:+.4f} +- {sse:.4f} | {fdt} |")
    cif = [r for r in rows if r["data"] == "cifar"]
    if cif:
        lines += ["", "| lam | width | fine-tune | fit error on the law (report) | max abs z | fit error on CIFAR-10 "
                  "(report) | max abs z | CIFAR-10 classifier accuracy |", "|---|---|---|---|---|---|---|---|"]
        for lam in sorted({r["lam"] for r in cif}, reverse=True):
            c = [r for r in cif if r["lam"] == lam]
            w, ft = c[0]["width"], c[0]["finetune_samples"]
            m = [r for r in mix if (r["lam"], r["width"], r["finetune_samples"]) == (lam, w, ft)]
            a, ase, _ = pooled([r for r in m if r["role"] == REPORT], "fit_error")
            b, bse, _ = pooled([r for r in c if r["role"] == REPORT], "fit_error")
            acc = [r["classifier_accuracy"] for r in c if r.get("classifier_accuracy") is not None]
            lines.append(f"| {_lam(lam)} | {w} | {budget_name(int(ft))} | {a:+.4f} +- {ase:.4f} | "
                         f"{_max_z(m, 'fit_z')} | {b:+.4f} +- {bse:.4f} | {_max_z(c, 'fit_z')} | "
                         f"{np.mean(acc) if acc else math.nan:.3f} |")
    return "\n".join(lines) + "\n"


LADDERS = {
    # 3 widths x 3 fine-tune budgets x 2 lams x 2 seeds on the law, and one width and budget on CIFAR-10 at both
    # lams: hours of CPU time at one thread per process
    "full": MixtureLadderConfig(),
    # the smallest ladder that still has a pick seed, a report seed, three widths and two budgets at both lams: the
    # one-core run behind results/mixture-ladder (no CIFAR-10 cells)
    "small": MixtureLadderConfig(widths=(8, 16, 32), base_samples=30_000, finetunes=(2_000, 8_000), n_samples=128,
                                 n_eval=128, generations=2, sampler_ref_steps=0, n_law=16_384, n_moments=8_192,
                                 cifar=None),
    # seconds per job, for tests
    "tiny": MixtureLadderConfig(widths=(8, 16), base_samples=1024, finetunes=(256, 512), lams=(math.inf,),
                                n_samples=64, n_eval=32, num_steps=12, sampler_ref_steps=24, n_sampler=16,
                                n_law=4096, n_moments=4096, generations=1, cifar=None),
}
