"""``python -m simtheory exact|loop|sweep``: turns options into configs and calls the library (no logic here).

Bad options, a refused run folder, an unwritable --out or an unreachable scheduler end with one line on
stderr (``error: ...``) and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

from . import datasets, scenarios
from .families import FAMILIES
from .loops import SCHEMES
from .validate import parse_number


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    ap = argparse.ArgumentParser(prog="python -m simtheory", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("exact", help="exact population dynamics of a scenario into a run folder", formatter_class=fmt)
    p.add_argument("--scenario", default="mixture2d", choices=sorted(scenarios.SCENARIOS))
    p.add_argument("--K", type=parse_number, default=4, help="samples per kept sample (integer >= 1 or inf)")
    p.add_argument("--lam", type=parse_number, default=math.inf, help="synthetic-to-real ratio (inf: fully synthetic)")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--grid-size", type=int, default=81, help="nodes per axis")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run folder (default runs/exact-<scenario>-K<K>-lam<lam>)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")

    p = sub.add_parser("loop", help="one finite-sample retraining loop into a run folder", formatter_class=fmt)
    p.add_argument("--dataset", default="gauss2d", choices=sorted(datasets.DATASETS))
    p.add_argument("--family", default="gaussian", choices=sorted(FAMILIES))
    p.add_argument("--n-samples", type=int, default=100, help="N real points per generation")
    p.add_argument("--K", type=int, default=4)
    p.add_argument("--lam", type=parse_number, default=math.inf)
    p.add_argument("--scheme", default="replace", choices=SCHEMES)
    p.add_argument("--generations", type=int, default=10)
    p.add_argument("--estimator", default="mle", choices=["mle", "unbiased"])
    p.add_argument("--components", type=int, default=None)
    p.add_argument("--warm-start", action="store_true")
    p.add_argument("--n-real", type=int, default=4000, help="size of the real pool drawn from the dataset")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--out", default=None)
    p.add_argument("--dry-run", action="store_true")

    s = sub.add_parser("sweep", help="a grid of loops on dask into one table", formatter_class=fmt)
    s.add_argument("--dataset", default="gauss2d", choices=sorted(datasets.DATASETS))
    s.add_argument("--family", nargs="+", default=["gaussian"])
    s.add_argument("--K", nargs="+", type=int, default=[1, 4])
    s.add_argument("--lam", nargs="+", type=parse_number, default=[math.inf, 1.0])
    s.add_argument("--n-samples", nargs="+", type=int, default=[100])
    s.add_argument("--scheme", nargs="+", default=["replace"])
    s.add_argument("--replicates", type=int, default=2)
    s.add_argument("--generations", type=int, default=5)
    s.add_argument("--n-real", type=int, default=4000)
    s.add_argument("--seed", type=int, default=0, help="base seed; job seeds are spawned from it")
    s.add_argument("--scheduler", default=None, help="address of an existing dask scheduler")
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--serial", action="store_true", help="run without dask")
    s.add_argument("--out", default="runs/sweep")
    s.add_argument("--dry-run", action="store_true")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"exact": _exact, "loop": _loop, "sweep": _sweep}[args.command](args)
    except (ValueError, OSError) as e:     # bad options, a refused or unwritable run folder: one line, no traceback
        msg = str(e).splitlines()[0] if isinstance(e, OSError) else str(e)
        print(f"error: {msg}", file=sys.stderr)
        return 2


def _exact(args) -> int:
    from .runs.exact import ExactConfig, run_exact
    cfg = ExactConfig(args.scenario, args.K, args.lam, args.steps, args.grid_size, args.seed)
    out = args.out or f"runs/exact-{cfg.scenario}-K{cfg.K}-lam{cfg.lam}"
    if args.dry_run:
        print(json.dumps({"out": out, **cfg.to_dict()}, indent=2))
        return 0
    rf = run_exact(cfg, out, progress=True)
    final = {k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in rf.metrics()[-1].items()}
    print(json.dumps({"out": str(rf.path), "final": final}, indent=2))
    return 0


def _loop(args) -> int:
    from .runs.loop import config_from_dataset, run_loop_folder
    cfg = config_from_dataset(args.dataset, family=args.family, n_samples=args.n_samples, K=args.K,
                              lam=args.lam, scheme=args.scheme, generations=args.generations,
                              estimator=args.estimator, components=args.components, warm_start=args.warm_start)
    out = args.out or f"runs/loop-{args.dataset}-{cfg.family}-K{cfg.K}-lam{cfg.lam}-{cfg.scheme}-s{args.seed}"
    if args.dry_run:
        print(json.dumps({"out": out, "dataset": args.dataset, "seed": args.seed, **cfg.to_dict()},
                         indent=2, default=str))
        return 0
    rf = run_loop_folder(cfg, args.dataset, args.n_real, out, args.seed, args.data_seed, progress=True)
    last = rf.metrics()[-1]
    print(json.dumps({"out": str(rf.path), "generation": last["generation"],
                      "mean_reward": last.get("mean_reward")}, indent=2))
    return 0


def _sweep(args) -> int:
    from .runs.sweep import SweepConfig, run_sweep
    cfg = SweepConfig(args.dataset, tuple(args.family), tuple(args.K), tuple(args.lam), tuple(args.n_samples),
                      tuple(args.scheme), args.replicates, args.generations, args.n_real, args.seed)
    if args.dry_run:
        print(json.dumps({"out": args.out, **cfg.to_dict()}, indent=2, default=str))
        return 0
    print(run_sweep(cfg, args.out, scheduler=args.scheduler, serial=args.serial, workers=args.workers))
    return 0
