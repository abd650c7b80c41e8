"""The point-rung commands of ``python -m empirical``: points (the curated loop on low-dimensional points),
points-ladder (the capacity ladder on dask) and points-sims (SIMS in point loops). Their parsers need the presets,
which import torch: without it the command line offers stand-ins that say how to install it."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from simtheory import datasets
from simtheory.argfmt import HelpFormatter
from simtheory.fold import SCHEMES
from simtheory.validate import parse_number

from ..experiments import ladder, ladder_results, point_sims
from ..points import (POINT_PRESETS, PointLoopConfig, point_preset, resolve_inputs, reward_from_spec,
                      run_point_loop)
from ..points import __doc__ as points_doc
from .common import sims_from_args, sims_options, sweep_options

COMMANDS = ("points", "points-ladder", "points-sims")


def add_parsers(sub) -> None:
    """The point-rung commands' parsers."""
    _points_parser(sub)
    _ladder_parser(sub)
    _point_sims_parser(sub)


def run(args) -> int:
    """Run a point-rung command (``args`` from `add_parsers`); errors are ValueErrors for the CLI."""
    if args.command == "points":
        return _points(args)
    return (_ladder if args.command == "points-ladder" else _point_sims)(args)


def _points_parser(sub) -> None:
    """The ``points`` sub-command."""
    p = sub.add_parser("points", help="curated retraining loop on low-dimensional points (neural EDM on the theory "
                       "half's laws) into a run folder", formatter_class=HelpFormatter,
                       description=points_doc.split("\n\n")[0])
    opt = p.add_argument
    opt("--config", default="cpu", choices=sorted(POINT_PRESETS), help="preset (default: cpu)")
    opt("--dataset", default=None, choices=sorted(set(datasets.DATASETS) - {"atoms1d"}),
        help="named data set of simtheory.datasets (default: the preset's, mixture2d)")
    opt("--data", default=None, help="real points from a .npy or .csv file, (n, d) floats, instead of --dataset "
        "(needs --reward; default: none)")
    opt("--reward", default=None, help="a data set's name (its reward) or module:function, a callable of points "
        "(n, d) -> (n,) (default: the data set's own reward)")
    for name, typ, what in (("--K", int, "candidates per kept point"), ("--lam", None, "synthetic-to-real ratio "
                            "(inf: fully synthetic)"), ("--generations", int, "generations after the base model"),
                            ("--n-samples", int, "N, real points per generation"),
                            ("--width", int, "MLP hidden units"), ("--depth", int, "MLP residual blocks"),
                            ("--train-samples", int, "base training budget in points seen"),
                            ("--finetune-samples", int, "fine-tune budget per generation in points seen"),
                            ("--num-steps", int, "Heun steps of the sampler"),
                            ("--sampler-ref-steps", int, "Heun steps of the sampler check (0: none)"),
                            ("--n-eval", int, "evaluation samples per generation")):
        old = {"--train-samples": ["--train-images"], "--finetune-samples": ["--finetune-images"]}.get(name, [])
        opt(name, *old, type=typ or parse_number, default=None,
            help=f"{what} (default: the preset's)" + (f"; {old[0]} is its earlier name" if old else ""))
    opt("--scheme", default=None, choices=list(SCHEMES), help="real-data scheme (default: the preset's, replace)")
    opt("--seed", type=int, default=None, help="decides every random draw of the run (default: 0)")
    sims_options(opt, n_s=2048, budget=200_000, unit="points")
    opt("--device", default=None, help="cpu, cuda, mps ... (default: the preset's, cpu)")
    opt("--threads", type=int, default=None, help="CPU threads for torch and Numba (default: $CURATED_THREADS, else "
        "Numba 1 and torch as the environment sets them; these small networks run fastest with 1)")
    opt("--out", default=None, help="run folder (default: runs/points-<config>-<data>-K<K>-lam<lam>-seed<seed>)")
    opt("--dry-run", action="store_true", help="print the resolved config and stop (default: off)")


def config_from_args(args) -> PointLoopConfig:
    """The preset of ``args.config`` with the command line's overrides."""
    over = {k: getattr(args, a) for k, a in (("K", "K"), ("lam", "lam"), ("generations", "generations"),
                                             ("n_samples", "n_samples"), ("width", "width"), ("depth", "depth"),
                                             ("train_samples", "train_samples"),
                                             ("finetune_samples", "finetune_samples"),
                                             ("num_steps", "num_steps"), ("n_eval", "n_eval"), ("scheme", "scheme"),
                                             ("sampler_ref_steps", "sampler_ref_steps"),
                                             ("seed", "seed"), ("dataset", "dataset"), ("device", "device"))
            if getattr(args, a) is not None}
    for k in ("K", "generations", "n_samples", "width", "depth", "train_samples", "finetune_samples", "num_steps",
              "n_eval", "sampler_ref_steps"):
        if k in over:
            over[k] = int(over[k])
    sims = sims_from_args(args)
    if sims is not None:
        over["sims"] = sims
    return point_preset(args.config, **over)


def _points(args) -> int:
    """Run the ``points`` command."""
    cfg = config_from_args(args)
    reward = None if args.reward is None else reward_from_spec(args.reward)
    data = args.data
    cfg_r, _, _, _ = resolve_inputs(cfg, data, reward)
    name = Path(data).stem if data else cfg.dataset
    out = args.out or f"runs/points-{args.config}-{name}-K{cfg.K}-lam{cfg.lam:g}-seed{cfg.seed}"
    if args.dry_run:
        print(json.dumps({"out": out, **cfg_r.to_dict()}, indent=2, default=str))
        return 0
    rf = run_point_loop(cfg, out, data, reward)
    assert rf is not None, "a single-process run returns its folder"
    for r in rf.metrics():
        print(json.dumps({k: r.get(k) for k in ("generation", "mean_reward", "reward_se", "predicted_mean_reward",
                                                "predicted_mean_reward_se", "mmd2_to_data", "mmd2_to_data_se")}))
    return 0


def _ladder_parser(sub) -> None:
    """The ``points-ladder`` sub-command ([`empirical.experiments.ladder`][empirical.experiments.ladder])."""
    p = sub.add_parser("points-ladder", help="the capacity ladder of neural point loops (widths x fine-tune budgets x "
                       "lam x seeds, bases shared) on dask, into one results.csv", formatter_class=HelpFormatter,
                       description=(ladder.__doc__ or "").split("\n\n")[0])
    p.add_argument("--ladder", default="full", choices=sorted(ladder.LADDERS), help="which ladder: full (lam = inf and 1), inf (lam = inf alone), tiny (for tests) "
                   "(default: full)")
    p.add_argument("--out", required=True, help="sweep folder: config.json, bases/, jobs/, runs/, results.csv "
                   "(required)")
    sweep_options(p)
    p.add_argument("--keep-networks", action="store_true", help="keep every job's network.pt files (default: off, "
                   "removed once a job is done; the bases keep theirs)")


def _ladder(args) -> int:
    """Run the ``points-ladder`` command."""
    cfg = ladder.LADDERS[args.ladder]
    if args.keep_networks:
        cfg = replace(cfg, keep_networks=True)
    if args.dry_run:
        print(json.dumps({"out": args.out, **cfg.to_dict(), "bases": len(cfg.bases()), "jobs": len(cfg.jobs())},
                         indent=2, default=str))
        return 0
    path = ladder.run_ladder(cfg, args.out, scheduler=args.scheduler, serial=args.serial, workers=args.workers)
    print(ladder_results.summary(ladder_results.read_results(path)))
    print(path)
    return 0


def _point_sims_parser(sub) -> None:
    """The ``points-sims`` sub-command ([`empirical.experiments.point_sims`][empirical.experiments.point_sims])."""
    p = sub.add_parser("points-sims", help="SIMS at the point rung: augmentation and fully synthetic loops, small "
                       "and ample networks, w picked on one seed set and reported on another",
                       formatter_class=HelpFormatter, description=(point_sims.__doc__ or "").split("\n\n")[0])
    p.add_argument("--rung", default="full", choices=sorted(point_sims.RUNGS), help="which experiment set "
                   "(default: full)")
    p.add_argument("--out", required=True, help="folder: bases/, pick/, report/, picked.json (required)")
    sweep_options(p)


def _point_sims(args) -> int:
    """Run the ``points-sims`` command."""
    cfg = point_sims.RUNGS[args.rung]
    if args.dry_run:
        print(json.dumps({"out": args.out, **cfg.to_dict()}, indent=2, default=str))
        return 0
    res = point_sims.run_sims_rung(cfg, args.out, scheduler=args.scheduler, serial=args.serial, workers=args.workers)
    print(json.dumps({f"{a}/{b}": w for (a, b), w in res["picked"].items()}))
    return 0
