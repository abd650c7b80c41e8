"""The mixture-rung commands of ``python -m empirical``:

- ``fit-mixture``: fit the low-rank Gaussian mixture, one component per class, to CIFAR-10's training split
  ([`empirical.lowrank.fit_cifar`][empirical.lowrank.fit_cifar], images scaled to [-1, 1] as the image loop sees them),
  write the law and print
  its floors and Monte Carlo facts (`simtheory.diffusion.lowrank_fit.bayes_facts`) of the law as stored, e.g.
  ``python -m empirical fit-mixture --resolution 8 --rank 16 --out FILE``;
- ``mixture``: the curated loop of the U-Net on the law (`empirical.mixture`) into a run folder;
- ``mixture-ladder``: the capacity ladder on the law beside real CIFAR-10 (`empirical.experiments.mixture_ladder`);
- ``mixture-sims``: SIMS in U-Net loops on the law (`empirical.experiments.mixture_sims`).

The last three need torch (their presets import it): without it only ``fit-mixture``'s parser is added here and the
command line offers stand-ins that say how to install torch.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from simtheory.argfmt import HelpFormatter, check_out_file
from simtheory.fold import SCHEMES
from simtheory.validate import parse_number

from .common import sims_from_args, sims_options, sweep_options

COMMANDS = ("fit-mixture", "mixture", "mixture-ladder", "mixture-sims")
NEEDS_TORCH = {"mixture": "curated retraining loop of the U-Net on an image-shaped Gaussian mixture (exact law)",
               "mixture-ladder": "the capacity ladder of U-Net loops on the exact CIFAR-10 law, on dask",
               "mixture-sims": "SIMS at the mixture rung: augmentation and fully synthetic U-Net loops"}
"""The commands of this group whose parsers need torch, with their one-line help."""


def add_parsers(sub) -> None:
    """The ``fit-mixture`` parser, and where torch imports the loop's, the ladder's and the SIMS experiments'."""
    _fit_parser(sub)
    try:
        from ..mixture.config import MIXTURE_PRESETS
    except ModuleNotFoundError as e:      # the presets import torch: the stand-ins of empirical.cli say so
        if (e.name or "").split(".")[0] != "torch":
            raise
        return
    _loop_parser(sub, sorted(MIXTURE_PRESETS))
    _sweep_parsers(sub)


def run(args) -> int:
    """Run a mixture-rung command (``args`` from `add_parsers`); errors are ValueErrors for the CLI."""
    if args.command == "fit-mixture":
        return _fit(args)
    return {"mixture": _loop, "mixture-ladder": _ladder, "mixture-sims": _sims}[args.command](args)


def _fit_parser(sub) -> None:
    """The ``fit-mixture`` parser."""
    p = sub.add_parser("fit-mixture", help="fit the low-rank Gaussian mixture (one component per class) to "
                       "CIFAR-10's training split and write it as .npz", formatter_class=HelpFormatter,
                       description=__doc__.split("\n\n")[0])
    opt = p.add_argument
    opt("--resolution", type=int, default=8, help="image side: 32, 16, 8 or 4 (area downsampling)")
    opt("--rank", type=int, default=16, help="rank of each class's factor")
    opt("--floor", type=parse_number, default=None, help="isotropic floor of every class (default: per class, the "
        "mean of the covariance eigenvalues beyond the rank)")
    opt("--out", dest="out_file", metavar="FILE", required=True, help="the .npz to write (its folder must exist)")
    opt("--float32", action="store_true", help="store means and factors in float32 (the loaded law is the float64 "
        "law of the stored values)")
    opt("--check-n", type=int, default=100_000, help="exact draws for the printed facts (0: none)")
    opt("--target", default="airplane", help="class of the printed reward 5 P(target | x)")
    opt("--seed", type=int, default=0, help="seed of the draws for the printed facts")
    opt("--data", default=None, help="CIFAR-10: a cifar-10-batches-py folder or the JPEG archive (default: "
        "$CIFAR10_SOURCE, then data/cifar-10-batches-py, then the copy beside the checkout)")
    opt("--threads", type=int, default=None, help="CPU threads for torch and Numba (default: as the environment "
        "sets them)")
    opt("--dry-run", action="store_true", help="print the resolved options and stop")


def _fit(args) -> int:
    """Run ``fit-mixture``: every option is checked before CIFAR-10 is read or anything is written."""
    from simtheory.diffusion.lowrank import LowRankMixture
    from simtheory.diffusion.lowrank_fit import bayes_facts

    from ..images import cifar10 as cifar
    from ..lowrank import fit_cifar
    if args.resolution not in (32, 16, 8, 4):
        raise ValueError(f"--resolution must be 32, 16, 8 or 4, got {args.resolution}")
    d = 3 * args.resolution**2
    if not 0 <= args.rank < d:
        raise ValueError(f"--rank must be in 0..{d - 1} at resolution {args.resolution}, got {args.rank}")
    if args.floor is not None and not (math.isfinite(args.floor) and args.floor > 0):
        raise ValueError(f"--floor must be a finite number > 0, got {args.floor}")
    if args.check_n < 0 or args.check_n == 1:
        raise ValueError(f"--check-n must be 0 or >= 2, got {args.check_n}")
    if args.target not in cifar.CLASSES:
        raise ValueError(f"--target must be one of {', '.join(cifar.CLASSES)}, got {args.target!r}")
    check_out_file(args.out_file)
    opts = {"resolution": args.resolution, "rank": args.rank, "floor": args.floor, "out": args.out_file,
            "float32": args.float32, "check_n": args.check_n, "target": args.target, "seed": args.seed,
            "data": args.data}
    if args.dry_run:
        print(json.dumps(opts, indent=2))
        return 0
    law = fit_cifar(args.resolution, args.rank, args.floor, args.data)
    law.save(args.out_file, float32=args.float32)
    stored = LowRankMixture.load(args.out_file)
    out: dict = {**opts, "classes": list(cifar.CLASSES), "floors": [round(float(v), 6) for v in stored.floors]}
    if args.check_n:
        out["facts"] = bayes_facts(stored, args.check_n, np.random.default_rng(args.seed),
                                   target=cifar.CLASSES.index(args.target))
    print(json.dumps(out, indent=2))
    return 0


# ------------------------------------------------------------------------------------------ mixture
def _loop_parser(sub, presets: list) -> None:
    """The ``mixture`` sub-command."""
    from ..mixture.config import REWARDS
    p = sub.add_parser("mixture", help="curated retraining loop of the U-Net on an image-shaped Gaussian mixture with "
                       "an exact answer (the CIFAR-10 law) into a run folder", formatter_class=HelpFormatter,
                       description=NEEDS_TORCH["mixture"])
    opt = p.add_argument
    opt("--config", default="cpu", choices=presets, help="preset (default: cpu)")
    opt("--law", default=None, help="a LowRankMixture .npz (fit-mixture --out) instead of the CIFAR-10 law at the "
        "preset's resolution (default: none)")
    opt("--data", default=None, help="CIFAR-10 source for a law fitted on first use (default: $CIFAR10_SOURCE, then "
        "data/cifar-10-batches-py, then the copy beside the checkout)")
    for name, typ, what in (("--K", int, "candidates per kept sample"),
                            ("--lam", None, "synthetic-to-real ratio (inf: fully synthetic)"),
                            ("--generations", int, "generations after the base model"),
                            ("--n-samples", int, "N, real samples per generation"),
                            ("--channels", int, "U-Net base width"),
                            ("--train-samples", int, "base training budget in samples seen"),
                            ("--finetune-samples", int, "fine-tune budget per generation in samples seen"),
                            ("--num-steps", int, "Heun steps of the sampler"),
                            ("--sampler-ref-steps", int, "Heun steps of the sampler check (0: none)"),
                            ("--n-eval", int, "evaluation samples per generation"),
                            ("--gamma", None, "reward scale"),
                            ("--temperature", None, "reward temperature T (softmax of log P / T)")):
        opt(name, type=typ or parse_number, default=None, help=f"{what} (default: the preset's)")
    opt("--scheme", default=None, choices=list(SCHEMES), help="real-data scheme (default: the preset's, replace)")
    opt("--reward", default=None, choices=list(REWARDS), help="gamma P(target | x) or gamma max_c P(c | x) under the "
        "law's Bayes posterior (default: the preset's, class)")
    opt("--target", default=None, help="class of the 'class' reward (default: airplane)")
    opt("--seed", type=int, default=None, help="decides every random draw of the run (default: 0)")
    sims_options(opt, n_s=2500, budget=25_000, unit="samples")
    opt("--device", default=None, help="cpu, cuda, mps ... (default: the preset's)")
    opt("--threads", type=int, default=None, help="CPU threads for torch and Numba (default: $CURATED_THREADS, else "
        "Numba 1 and torch as the environment sets them)")
    opt("--out", default=None, help="run folder (default: runs/mixture-<config>-K<K>-lam<lam>-<reward>-seed<seed>)")
    opt("--dry-run", action="store_true", help="print the resolved config and stop (default: off)")


def loop_config(args):
    """The preset of ``args.config`` with the command line's overrides."""
    from ..mixture.config import mixture_preset
    names = (("K", "K"), ("lam", "lam"), ("generations", "generations"), ("n_samples", "n_samples"),
             ("channels", "channels"), ("train_samples", "train_samples"), ("finetune_samples", "finetune_samples"),
             ("num_steps", "num_steps"), ("sampler_ref_steps", "sampler_ref_steps"), ("n_eval", "n_eval"),
             ("gamma", "gamma"), ("temperature", "temperature"), ("scheme", "scheme"), ("reward", "reward"),
             ("target", "target"), ("seed", "seed"), ("device", "device"), ("law", "law"), ("data", "data"))
    over = {k: getattr(args, a) for k, a in names if getattr(args, a) is not None}
    for k in ("gamma", "temperature"):
        if k in over:
            over[k] = float(over[k])
    sims = sims_from_args(args)
    if sims is not None:
        over["sims"] = sims
    return mixture_preset(args.config, **over)


def _loop(args) -> int:
    """Run the ``mixture`` command: the config (here) and the law (`empirical.mixture.run_mixture_loop`) are
    checked before the folder exists; a dry run prints the config without loading or fitting the law."""
    from ..mixture.kind import run_mixture_loop
    cfg = loop_config(args)
    if args.law is not None and not Path(args.law).is_file():
        raise ValueError(f"--law {args.law}: no such file")
    out = args.out or f"runs/mixture-{args.config}-K{cfg.K}-lam{cfg.lam:g}-{cfg.reward}-seed{cfg.seed}"
    if args.dry_run:
        print(json.dumps({"out": out, **cfg.to_dict()}, indent=2, default=str))
        return 0
    rf = run_mixture_loop(cfg, out)
    if rf is None:                                # a torchrun rank other than 0: rank 0 prints the metrics
        return 0
    for r in rf.metrics():
        print(json.dumps({k: r.get(k) for k in ("generation", "mean_reward", "reward_se", "fit_error", "fit_error_se",
                                                "law_error", "law_error_se", "fd_law", "fd_law_floor")}))
    return 0


# ------------------------------------------------------------------------------- the two experiments
def _sweep_parsers(sub) -> None:
    """The ``mixture-ladder`` and ``mixture-sims`` sub-commands."""
    from ..experiments.mixture_ladder import LADDERS
    from ..experiments.mixture_sims import RUNGS
    p = sub.add_parser("mixture-ladder", help="the capacity ladder of U-Net loops on the exact CIFAR-10 law (widths x "
                       "fine-tune budgets x lam x seeds, bases shared, beside real CIFAR-10) on dask",
                       formatter_class=HelpFormatter, description=NEEDS_TORCH["mixture-ladder"])
    p.add_argument("--ladder", default="full", choices=sorted(LADDERS), help="which ladder (default: full)")
    p.add_argument("--out", required=True, help="sweep folder: config.json, bases/, jobs/, runs/, results.csv "
                   "(required)")
    sweep_options(p)
    p.add_argument("--keep-networks", action="store_true", help="keep every job's network.pt files (default: off)")
    p = sub.add_parser("mixture-sims", help="SIMS at the mixture rung: augmentation and fully synthetic U-Net loops on "
                       "the exact CIFAR-10 law, small and ample networks, w picked on one seed set and reported on "
                       "another", formatter_class=HelpFormatter, description=NEEDS_TORCH["mixture-sims"])
    p.add_argument("--rung", default="full", choices=sorted(RUNGS), help="which experiment set (default: full)")
    p.add_argument("--out", required=True, help="folder: bases/, pick/, report/, picked.json (required)")
    sweep_options(p)


def _check_workers(args) -> None:
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")


def _ladder(args) -> int:
    """Run the ``mixture-ladder`` command."""
    from dataclasses import replace

    from ..experiments.mixture_ladder import LADDERS, run_mixture_ladder, summary
    from ..experiments.ladder_results import read_results
    _check_workers(args)
    cfg = LADDERS[args.ladder]
    if args.keep_networks:
        cfg = replace(cfg, keep_networks=True)
    if args.dry_run:
        print(json.dumps({"out": args.out, **cfg.to_dict(), "bases": len(cfg.bases()), "jobs": len(cfg.jobs())},
                         indent=2, default=str))
        return 0
    path = run_mixture_ladder(cfg, args.out, scheduler=args.scheduler, serial=args.serial, workers=args.workers)
    print(summary(read_results(path)))
    print(path)
    return 0


def _sims(args) -> int:
    """Run the ``mixture-sims`` command."""
    from ..experiments.mixture_sims import RUNGS, run_mixture_sims
    _check_workers(args)
    cfg = RUNGS[args.rung]
    if args.dry_run:
        print(json.dumps({"out": args.out, **cfg.to_dict()}, indent=2, default=str))
        return 0
    res = run_mixture_sims(cfg, args.out, scheduler=args.scheduler, serial=args.serial, workers=args.workers)
    print(json.dumps({f"{a}/{b}": w for (a, b), w in res["picked"].items()}))
    return 0
