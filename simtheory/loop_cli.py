"""Sub-commands ``loop`` and ``sweep`` of ``python -m simtheory`` (options -> configs -> library)."""
from __future__ import annotations

import argparse
import json
import math

from . import datasets
from .validate import parse_number


def add_parsers(sub) -> None:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = sub.add_parser("loop", help="one finite-sample retraining loop into a run folder", formatter_class=fmt)
    p.add_argument("--dataset", default="gauss2d", choices=sorted(datasets.DATASETS))
    p.add_argument("--family", default="gaussian", choices=["gaussian", "gmm", "histogram", "kde"])
    p.add_argument("--n-samples", type=int, default=100, help="N real points per generation")
    p.add_argument("--K", type=int, default=4)
    p.add_argument("--lam", type=parse_number, default=math.inf)
    p.add_argument("--scheme", default="replace", choices=["replace", "accumulate", "fresh"])
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


def dispatch(args) -> int:
    if args.command == "loop":
        from .loop_runs import config_from_dataset, run_loop_folder
        cfg = config_from_dataset(args.dataset, family=args.family, n_samples=args.n_samples, K=args.K,
                                  lam=args.lam, scheme=args.scheme, generations=args.generations,
                                  estimator=args.estimator, components=args.components,
                                  warm_start=args.warm_start)
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
    from .sweeps import SweepConfig, run_sweep
    cfg = SweepConfig(args.dataset, tuple(args.family), tuple(args.K), tuple(args.lam), tuple(args.n_samples),
                      tuple(args.scheme), args.replicates, args.generations, args.n_real, args.seed)
    if args.dry_run:
        print(json.dumps({"out": args.out, **cfg.to_dict()}, indent=2, default=str))
        return 0
    path = run_sweep(cfg, args.out, scheduler=args.scheduler, serial=args.serial, workers=args.workers)
    print(path)
    return 0
