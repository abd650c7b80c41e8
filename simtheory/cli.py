"""``simtheory exact|loop|sweep`` (or ``python -m simtheory``): turns options into configs and calls the library.

Bad options, a refused run folder, an unwritable --out or an unreachable scheduler end with one line on
stderr (``error: ...``) and exit status 2; Ctrl-C prints one line saying how to resume (exit status 130).
Numba runs on ``--threads`` threads (default: ``$CURATED_THREADS`` when set, else 1); a sweep's local workers
run on that many each.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

from . import datasets, scenarios
from .families import FAMILIES
from .loops import SCHEMES, LoopConfig
from .argfmt import HelpFormatter, add_threads, add_version, interrupted, resolve_threads, set_threads
from .validate import parse_number


HOLDOUT = LoopConfig().n_holdout     # real rows every loop holds out (LoopConfig.n_holdout)


def _parser() -> argparse.ArgumentParser:
    fmt = HelpFormatter
    ap = argparse.ArgumentParser(prog="simtheory", description=__doc__, formatter_class=fmt)
    add_version(ap)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("exact", help="exact population dynamics of a scenario into a run folder", formatter_class=fmt,
                       description="Exact (infinite-sample) curated retraining of a gridded scenario.")
    p.add_argument("--scenario", default="mixture2d", choices=sorted(scenarios.SCENARIOS),
                   help="initial model, data law and reward")
    p.add_argument("--K", type=parse_number, default=4, help="samples drawn per kept sample (integer >= 1 or inf)")
    p.add_argument("--lam", type=parse_number, default=math.inf,
                   help="synthetic-to-real ratio (inf: fully synthetic)")
    p.add_argument("--steps", type=int, default=30, help="retraining steps")
    p.add_argument("--grid-size", type=int, default=81, help="grid nodes per axis")
    p.add_argument("--seed", type=int, default=0, help="recorded seed (the exact dynamics draw nothing)")
    p.add_argument("--out", default=None, help="run folder (default: runs/exact-<scenario>-K<K>-lam<lam>, then "
                   "every other option that differs from its default)")
    add_threads(p)
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")

    p = sub.add_parser("loop", help="one finite-sample retraining loop into a run folder", formatter_class=fmt,
                       description="A finite-sample curated retraining loop on a named data set.")
    p.add_argument("--dataset", default="gauss2d", choices=sorted(datasets.DATASETS), help="real data and reward")
    p.add_argument("--family", default="gaussian", choices=sorted(FAMILIES), help="model family fitted each generation")
    p.add_argument("--n-samples", type=int, default=100, help="N: real points per generation; the real pool "
                   f"(--n-real) must also hold the {HOLDOUT} held-out rows, so it needs N + {HOLDOUT} points (N per "
                   "generation under --scheme fresh)")
    p.add_argument("--K", type=int, default=4, help="samples drawn per kept sample (K = 1: no curation)")
    p.add_argument("--lam", type=parse_number, default=math.inf,
                   help="synthetic-to-real ratio (inf: fully synthetic)")
    p.add_argument("--scheme", default="replace", choices=SCHEMES, help="what happens to earlier generations' data")
    p.add_argument("--generations", type=int, default=10, help="retraining generations")
    p.add_argument("--estimator", default="mle", choices=["mle", "unbiased"],
                   help="covariance estimator of the gaussian family")
    p.add_argument("--components", type=int, default=None,
                   help="mixture components of the gmm family (default: the data set's number of modes)")
    p.add_argument("--warm-start", action="store_true", help="start each EM fit of the gmm family from the previous "
                   "generation's fitted parameters, not from scratch")
    p.add_argument("--n-real", type=int, default=4000, help="size of the real pool drawn from the data set: the "
                   f"training rows plus the last {HOLDOUT}, held out for the held-out log-likelihood")
    p.add_argument("--seed", type=int, default=0, help="seed of the loop's draws (sampling, curation, fits)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the real pool")
    p.add_argument("--out", default=None, help="run folder (default: runs/loop-<dataset>-<family>-K<K>-lam<lam>-"
                   "<scheme>-n<N>-g<generations>-s<seed>, then every other option that differs from its default)")
    add_threads(p)
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")

    s = sub.add_parser("sweep", help="a grid of loops on dask into one table", formatter_class=fmt,
                       description="Every (family, K, lam, N, scheme, replicate) loop into results.csv.")
    s.add_argument("--dataset", default="gauss2d", choices=sorted(datasets.DATASETS), help="real data and reward")
    s.add_argument("--family", nargs="+", default=["gaussian"], help=f"model families, of {sorted(FAMILIES)}")
    s.add_argument("--K", nargs="+", type=int, default=[1, 4], help="values of K")
    s.add_argument("--lam", nargs="+", type=parse_number, default=[math.inf, 1.0], help="values of lam")
    s.add_argument("--n-samples", nargs="+", type=int, default=[100],
                   help=f"values of N (each needs N + {HOLDOUT} real points: --n-real)")
    s.add_argument("--scheme", nargs="+", default=["replace"], help=f"schemes, of {list(SCHEMES)}")
    s.add_argument("--replicates", type=int, default=2, help="seeds per grid point")
    s.add_argument("--generations", type=int, default=5, help="generations per loop")
    s.add_argument("--n-real", type=int, default=4000, help="size of the real pool drawn from the data set: the "
                   f"training rows plus the last {HOLDOUT}, held out")
    s.add_argument("--seed", type=int, default=0, help="base seed; job seeds are spawned from it")
    s.add_argument("--scheduler", default=None,
                   help="address of a running dask scheduler (default: start a local cluster)")
    s.add_argument("--workers", type=int, default=2, help="workers of the local cluster")
    s.add_argument("--serial", action="store_true", help="run the jobs one after another, without dask")
    s.add_argument("--out", default="runs/sweep", help="run folder")
    add_threads(s, "Numba's kernels and BLAS, in this process (--serial) and in each local worker")
    s.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")
    return ap


def default_out(parser: argparse.ArgumentParser, args: argparse.Namespace, prefix: str, named: list[str]) -> str:
    """runs/<prefix>-<named options>, then every other option of ``args`` that differs from the parser's
    default, so that two runs with different options never share a folder by default."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    defaults = {a.dest: a.default for a in sub.choices[args.command]._actions}
    parts = [prefix] + [_token(k, getattr(args, k)) for k in named]
    for k, d in defaults.items():
        if k in named or k in ("help", "out", "dry_run", "threads") or k not in vars(args):
            continue
        v = getattr(args, k)
        if v != d:
            parts.append(_token(k, v))
    return "runs/" + "-".join(parts)


_SHORT = {"n_samples": "n", "generations": "g", "seed": "s", "data_seed": "ds", "n_real": "real",
          "grid_size": "grid", "components": "c", "warm_start": "warm", "steps": "steps"}


def _token(key: str, value) -> str:
    if key in ("scenario", "dataset", "family", "scheme", "estimator"):
        return str(value)
    if isinstance(value, bool):
        return _SHORT.get(key, key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{_SHORT.get(key, key)}{value}"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        args.threads = resolve_threads(args.threads)
        if not args.dry_run:
            set_threads(args.threads)
        return {"exact": _exact, "loop": _loop, "sweep": _sweep}[args.command](args, parser)
    except (ValueError, OSError) as e:     # bad options, a refused or unwritable run folder: one line, no traceback
        msg = str(e).splitlines()[0] if isinstance(e, OSError) else str(e)
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        what = {"exact": "step", "loop": "generation", "sweep": "finished job"}[args.command]
        print(interrupted(f"rerun the same command to resume from the last saved {what}"), file=sys.stderr)
        return 130


def _exact(args, parser) -> int:
    from .runs.exact import ExactConfig, run_exact
    cfg = ExactConfig(args.scenario, args.K, args.lam, args.steps, args.grid_size, args.seed)
    out = args.out or default_out(parser, args, "exact", ["scenario", "K", "lam"])
    if args.dry_run:
        print(json.dumps({"out": out, **cfg.to_dict()}, indent=2))
        return 0
    rf = run_exact(cfg, out, progress=True)
    final = {k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in rf.metrics()[-1].items()}
    print(json.dumps({"out": str(rf.path), "final": final}, indent=2))
    return 0


def _loop(args, parser) -> int:
    from .runs.loop import config_from_dataset, run_loop_folder
    cfg = config_from_dataset(args.dataset, family=args.family, n_samples=args.n_samples, K=args.K,
                              lam=args.lam, scheme=args.scheme, generations=args.generations,
                              estimator=args.estimator, components=args.components, warm_start=args.warm_start)
    out = args.out or default_out(parser, args, "loop", ["dataset", "family", "K", "lam", "scheme", "n_samples",
                                                         "generations", "seed"])
    if args.dry_run:
        print(json.dumps({"out": out, "dataset": args.dataset, "seed": args.seed, **cfg.to_dict()},
                         indent=2, default=str))
        return 0
    rf = run_loop_folder(cfg, args.dataset, args.n_real, out, args.seed, args.data_seed, progress=True)
    last = rf.metrics()[-1]
    print(json.dumps({"out": str(rf.path), "generation": last["generation"],
                      "mean_reward": last.get("mean_reward")}, indent=2))
    return 0


def _sweep(args, parser) -> int:
    from .runs.sweep import SweepConfig, run_sweep
    cfg = SweepConfig(args.dataset, tuple(args.family), tuple(args.K), tuple(args.lam), tuple(args.n_samples),
                      tuple(args.scheme), args.replicates, args.generations, args.n_real, args.seed)
    if args.dry_run:
        print(json.dumps({"out": args.out, **cfg.to_dict()}, indent=2, default=str))
        return 0
    print(run_sweep(cfg, args.out, scheduler=args.scheduler, serial=args.serial, workers=args.workers,
                    threads=args.threads))
    return 0
