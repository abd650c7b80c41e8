r"""The capacity ladder: neural point loops over network width and training budget, held to the exact predictions.

Every job is one curated point loop (:func:`empirical.points.run_point_loop`, the ``cpu`` preset's settings with
the ladder's width, budget, N, K, lam and seed) in its own run folder ``<out>/runs/<name>`` (so a killed job
resumes from its last finished generation), compared with its predictions by :func:`empirical.compare.compare_run`.
Its rows (one per generation) carry the measured mean reward, the one-step prediction from that generation's
candidates, the fit error (measured - one-step) with its SE, the multi-step prediction from generation 1's
candidates, the kept set's E[e^r] gain beside Lemma 2.2's bound, the selection check, the squared MMD to the
data law and the job's CPU seconds. The ladder runs on dask through :func:`simtheory.runs.sweep.run_sweep`
(a local cluster, or ``--scheduler ADDRESS``); results.csv is the table the figures and paper checks C16 read.

Seeds: the loop seed is the job's ``seed`` (data, training, curation and sampler draws); seeds in ``pick_seeds``
choose (the smallest capacity at which a check holds), the others report.
"""
from __future__ import annotations

import itertools
import math
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from simtheory import validate

from .points import PointLoopConfig, point_preset

COLUMNS = ["job", "lam", "width", "budget", "seed", "role", "generation", "params", "base_images", "finetune_images",
           "mean_reward", "reward_se", "predicted_mean_reward", "predicted_mean_reward_se", "fit_error",
           "fit_error_se", "fit_z", "multistep_mean_reward", "multistep_mean_reward_se", "multistep_z",
           "kept_mean_reward", "kept_exp_gain", "kept_exp_gain_se", "lemma22_gain_bound", "lemma22_gain_bound_se",
           "lemma22_value", "lemma22_allowance", "selection_z", "mmd2", "mmd2_se", "cpu_seconds", "torch_threads"]


@dataclass(frozen=True)
class LadderConfig:
    """The grid (lams x widths x budgets x seeds) and what every job shares. ``budgets`` maps a name to (base
    training points, fine-tune points per generation)."""

    dataset: str = "mixture2d"
    K: int = 4
    lams: tuple = (math.inf, 1.0)
    widths: tuple = (32, 64, 128, 256, 512)
    depth: int = 3
    budgets: dict = field(default_factory=lambda: {"short": (250_000, 100_000), "long": (800_000, 300_000)})
    seeds: tuple = (0, 1, 2)
    pick_seeds: tuple = (0,)
    skip: tuple = ()                       # (lam, width, budget) cells left out (cost), e.g. ((1.0, 512, "long"),)
    n_samples: int = 4096
    n_eval: int = 1024
    num_steps: int = 32                    # Heun steps (the sampler's own error is measured apart, docs/points)
    generations: int = 5
    keep_networks: bool = False            # keep each job's network.pt files (else removed once the job is done)

    def __post_init__(self):
        for name in ("lams", "widths", "seeds", "pick_seeds"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "lams", tuple(validate.ratio(v, "lam") for v in self.lams))
        object.__setattr__(self, "skip", tuple((float(a), int(b), str(c)) for a, b, c in self.skip))
        object.__setattr__(self, "budgets", {str(k): (int(v[0]), int(v[1])) for k, v in dict(self.budgets).items()})
        if not set(self.pick_seeds) <= set(self.seeds):
            raise ValueError(f"pick_seeds {self.pick_seeds} must be among seeds {self.seeds}")
        for lam, w, b, s in self._cells():
            self.loop_config(lam, w, b, s)            # every job's config is valid before anything runs

    def _cells(self):
        return [(lam, w, b, s) for lam, w, b, s in itertools.product(self.lams, self.widths, self.budgets, self.seeds)
                if (lam, w, b) not in self.skip]

    def loop_config(self, lam: float, width: int, budget: str, seed: int) -> PointLoopConfig:
        """One job's point loop: the cpu preset with the ladder's settings."""
        base, ft = self.budgets[budget]
        cfg = point_preset("cpu", dataset=self.dataset, K=self.K, lam=lam, width=width, depth=self.depth,
                           train_images=base, finetune_images=ft, n_samples=self.n_samples, n_eval=self.n_eval,
                           generations=self.generations, seed=seed, num_steps=self.num_steps)
        # warm-up a tenth of the base training; EMA half-life a tenth of a fine-tune, so that after a fine-tune the
        # previous generation's weights keep a share 2^-10 of the average (as in the cpu preset)
        return replace(cfg, train=replace(cfg.train, checkpoint_images=max(base // 4, cfg.train.batch_size),
                                          warmup_images=base // 10, ema_halflife_images=ft // 10))

    def jobs(self) -> list[dict]:
        """Every (lam, width, budget, seed) cell, in a stable order, with its role (pick or report)."""
        return [{"job": i, "lam": lam, "width": w, "budget": b, "seed": s,
                 "role": "pick" if s in self.pick_seeds else "report"} for i, (lam, w, b, s) in enumerate(self._cells())]

    def run_job(self, job: dict, root: Path) -> list[dict]:
        """Run (or resume) one job's loop in <root>/runs/<name> and return its rows (one per generation)."""
        import torch

        from .compare import compare_run
        from .points import run_point_loop
        cfg = self.loop_config(job["lam"], job["width"], job["budget"], job["seed"])
        folder = Path(root) / "runs" / job_name(job)
        t0 = time.process_time()
        rf = run_point_loop(cfg, folder, progress=False)
        cpu = time.process_time() - t0
        rows = ladder_rows(compare_run(rf.path), rf.metrics())
        n_par = _parameters(rf.path)
        if not self.keep_networks:
            for f in rf.path.glob("gen_*/*.pt"):
                f.unlink()
            for d in rf.path.glob("gen_*/sims-aux"):
                shutil.rmtree(d)
        base, ft = self.budgets[job["budget"]]
        return [{**job, **r, "params": n_par, "base_images": base, "finetune_images": ft, "cpu_seconds": cpu,
                 "torch_threads": torch.get_num_threads()} for r in rows]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["skip"] = [list(c) for c in self.skip]
        d["budgets"] = {k: list(v) for k, v in self.budgets.items()}
        return {"kind": "point_ladder", **{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}}


def job_name(job: dict) -> str:
    return f"lam{job['lam']:g}-w{job['width']}-{job['budget']}-seed{job['seed']}"


def _parameters(folder: Path) -> int:
    from .train import build_network
    import json
    cfg = json.loads((folder / "config.json").read_text())["train"]
    return sum(p.numel() for p in build_network({"mlp": cfg["mlp"]}).parameters())


def ladder_rows(res: dict, metrics: list[dict]) -> list[dict]:
    """Per generation: measured, one-step, multi-step, kept-set and check values of a compare_run result."""
    checks = {(c["generation"], c["check"]): c for c in res["checks"]}
    ms = res["multi_step"]
    rows = []
    for t, m in enumerate(res["measured"]):
        r = {"generation": t, "mean_reward": m["mean_reward"], "reward_se": m["mean_reward_se"],
             "multistep_mean_reward": ms["mean_reward"][t], "multistep_mean_reward_se": ms["mean_reward_se"][t],
             "mmd2": metrics[t].get("mmd2_to_data"), "mmd2_se": metrics[t].get("mmd2_to_data_se")}
        r["multistep_z"] = _z(r["mean_reward"] - r["multistep_mean_reward"], r["reward_se"], r["multistep_mean_reward_se"])
        if t:
            g = res["generations"][t - 1]
            p, c, k = g["prediction"], g["comparison"], g["kept"]
            r.update(predicted_mean_reward=p["predicted_mean_reward"], predicted_mean_reward_se=p["predicted_mean_reward_se"],
                     fit_error=c["fit_error_mean_reward"], fit_error_se=c["fit_error_mean_reward_se"],
                     fit_z=c["fit_z_mean_reward"], kept_mean_reward=k["mean_reward"],
                     kept_exp_gain=k["mean_exp_reward"] - p["candidate_mean_exp_reward"],
                     kept_exp_gain_se=k["mean_exp_reward_se"], lemma22_gain_bound=p["lemma22_gain_bound"],
                     lemma22_gain_bound_se=p["lemma22_gain_bound_se"])
            lem, sel = checks.get((t, "lemma22")), checks.get((t, "selection"))
            if lem:
                r.update(lemma22_value=lem["value"], lemma22_allowance=lem["allowance"])
            if sel:
                r["selection_z"] = sel["value"]
        rows.append(r)
    return rows


def _z(diff: float, a: float, b: float) -> float:
    s = math.hypot(a, b)
    return diff / s if s > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))


LADDERS = {
    # the headline (results/points-ladder): about 1.5 h of CPU time at one thread per process; width 512 at the
    # long budget (about 11 min of CPU a run) is left out
    "full": LadderConfig(skip=((math.inf, 512, "long"), (1.0, 512, "long"))),
    # a seconds-long ladder for tests
    "tiny": LadderConfig(widths=(16, 32), budgets={"short": (8192, 2048), "long": (16384, 4096)}, seeds=(0, 1),
                         lams=(math.inf,), n_samples=256, n_eval=128, generations=2),
}


@dataclass(frozen=True)
class LadderSweep:
    """A ladder as a sweep spec of :func:`simtheory.runs.sweep.run_sweep`: its jobs write their run folders under
    ``root`` (the sweep's folder; on a cluster, a path every worker sees)."""

    config: LadderConfig
    root: str
    columns = COLUMNS
    code_packages = ("simtheory", "empirical")

    def to_dict(self) -> dict:
        return self.config.to_dict()

    def jobs(self) -> list[dict]:
        return self.config.jobs()

    def run_job(self, job: dict) -> list[dict]:
        return self.config.run_job(job, Path(self.root))


def run_ladder(cfg: LadderConfig, out, scheduler: str | None = None, serial: bool = False, workers: int = 2,
               progress: bool = True) -> Path:
    """Run (or resume) the ladder into ``out`` on dask (a local cluster of ``workers`` processes, or
    ``scheduler``); returns results.csv."""
    from simtheory.runs.sweep import run_sweep
    return run_sweep(LadderSweep(cfg, str(Path(out).resolve())), out, scheduler=scheduler, serial=serial,
                     workers=workers, progress=progress)


def read_results(path) -> list[dict]:
    """The rows of a ladder's results.csv with numbers parsed (empty cells: None)."""
    import csv
    out = []
    with open(Path(path)) as f:
        for row in csv.DictReader(f):
            r = {}
            for k, v in row.items():
                r[k] = None if v == "" else _number(v)
            out.append(r)
    return out


def _number(v: str):
    """A CSV cell as int, float or (a name) str."""
    for f in (int, float):
        try:
            return f(v)
        except ValueError:
            pass
    return v


def cell_means(rows: list[dict], key: str) -> dict:
    """{(lam, width, budget, generation): (mean over seeds, its SE from the per-seed SEs)} of ``key`` (a measured
    value with ``key_se``)."""
    groups: dict = {}
    for r in rows:
        if r.get(key) is None:
            continue
        groups.setdefault((r["lam"], r["width"], r["budget"], r["generation"]), []).append(
            (r[key], r.get(f"{key}_se") or 0.0))
    return {k: (float(np.mean([v for v, _ in g])), float(np.sqrt(np.sum([s**2 for _, s in g]))) / len(g))
            for k, g in groups.items()}


def summary(rows: list[dict]) -> str:
    """A markdown table of a ladder, one line per (lam, budget, width): parameters, CPU seconds per run, the fit
    error averaged over the report seeds and generations 1..T (SE from the per-row SEs), max |z| of the one-step
    and multi-step comparisons on the pick / report seeds, Lemma 2.2 on every kept set, MMD^2 at generation 0."""
    lines = ["| lam | budget | width | parameters | CPU s / run | mean fit error (report) | max abs fit z pick / report "
             "| max abs multi-step z pick / report | Lemma 2.2 | MMD^2 at t = 0 (report) |", "|---" * 10 + "|"]
    keys = sorted({(r["lam"], r["budget"], r["width"]) for r in rows},
                  key=lambda k: (-k[0], min(r["base_images"] for r in rows if r["budget"] == k[1]), k[2]))
    for lam, b, w in keys:
        cell = [r for r in rows if (r["lam"], r["budget"], r["width"]) == (lam, b, w)]
        later = [r for r in cell if r["generation"] >= 1]
        rep = [r for r in later if r["role"] == "report"]
        fe = np.array([r["fit_error"] for r in rep])
        se = float(np.sqrt(np.sum(np.array([r["fit_error_se"] for r in rep]) ** 2))) / max(len(rep), 1)

        def mz(key, role):
            v = [abs(r[key]) for r in later if r["role"] == role]
            return f"{max(v):.1f}" if v else "-"
        lem = all(r["lemma22_value"] <= r["lemma22_allowance"] for r in later)
        g0 = [r["mmd2"] for r in cell if r["generation"] == 0 and r["role"] == "report" and r["mmd2"] is not None]
        cpu = np.mean([r["cpu_seconds"] for r in cell if r["generation"] == 0])
        lines.append(f"| {'inf' if lam == math.inf else f'{lam:g}'} | {b} | {w} | {cell[0]['params']:,} | {cpu:.0f} | "
                     f"{fe.mean():+.4f} +- {se:.4f} | {mz('fit_z', 'pick')} / {mz('fit_z', 'report')} | "
                     f"{mz('multistep_z', 'pick')} / {mz('multistep_z', 'report')} | {'holds' if lem else 'fails'} | "
                     f"{np.mean(g0):.5f} |")
    return "\n".join(lines) + "\n"


def add_parser(sub) -> None:
    """The ``points-ladder`` sub-command of ``python -m empirical``."""
    from simtheory.argfmt import HelpFormatter
    p = sub.add_parser("points-ladder", help="the capacity ladder of neural point loops (widths x budgets x lam x "
                       "seeds) on dask, into one results.csv", formatter_class=HelpFormatter,
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--ladder", default="full", choices=sorted(LADDERS), help="which ladder (default: full)")
    p.add_argument("--out", required=True, help="sweep folder: config.json, jobs/, runs/, results.csv (required)")
    sweep_options(p)
    p.add_argument("--keep-networks", action="store_true", help="keep every job's network.pt files (default: off, "
                   "removed once a job is done)")


def sweep_options(p) -> None:
    """The options every sweep command of the point rung shares: where the jobs run, threads, dry run."""
    p.add_argument("--scheduler", default=None, help="address of a running dask scheduler (default: none, a local "
                   "cluster)")
    p.add_argument("--workers", type=int, default=2, help="processes of the local cluster, one thread each "
                   "(default: 2)")
    p.add_argument("--serial", action="store_true", help="run the jobs one after another in this process, without "
                   "dask (default: off)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch and Numba in this process "
                   "(default: $CURATED_THREADS, else Numba 1 and torch as the environment sets them; workers inherit "
                   "OMP_NUM_THREADS)")
    p.add_argument("--dry-run", action="store_true", help="print the config and stop (default: off)")


def main(args) -> int:
    """Run the ``points-ladder`` command."""
    import json
    cfg = LADDERS[args.ladder]
    if args.keep_networks:
        cfg = replace(cfg, keep_networks=True)
    if args.dry_run:
        print(json.dumps({"out": args.out, **cfg.to_dict(), "jobs": len(cfg.jobs())}, indent=2, default=str))
        return 0
    path = run_ladder(cfg, args.out, scheduler=args.scheduler, serial=args.serial, workers=args.workers)
    print(summary(read_results(path)))
    print(path)
    return 0


def sampler_error(folder, steps: int, steps_ref: int = 256, n: int = 16384, reward=None) -> list[dict]:
    """The Heun sampler's own share of a point run's fit error: per generation, E[r] of the generation's network
    sampled with ``steps`` minus with ``steps_ref`` Heun steps (the ODE's law to discretisation error), on the
    same n latents (paired: the SE is that of the per-sample differences). Needs the run's network.pt files
    (a ladder with keep_networks). ``reward``: the data set's when None."""
    import json

    from simtheory import datasets

    from .edm import generate
    from .seeds import sample_seeds
    from .train import load_network
    folder = Path(folder)
    cfg = json.loads((folder / "config.json").read_text())
    reward = reward or datasets.make(cfg["dataset"], 2, 0).reward
    seeds = sample_seeds("heldout", cfg["seed"], 0, n)
    out = []
    for g in sorted(folder.glob("gen_*/network.pt")):
        D = load_network(g)
        d = reward(generate(D, seeds, "cpu", steps)) - reward(generate(D, seeds, "cpu", steps_ref))
        out.append({"generation": int(g.parent.name[4:]), "steps": steps, "steps_ref": steps_ref, "n": n,
                    "reward_difference": float(d.mean()), "reward_difference_se": float(d.std(ddof=1) / math.sqrt(n))})
    return out
