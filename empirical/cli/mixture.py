"""The ``fit-mixture`` command of ``python -m empirical``: fit the low-rank Gaussian mixture, one component per class,
to CIFAR-10's training split (:func:`empirical.lowrank.fit_cifar`, images scaled to [-1, 1] as the image loop sees
them), write the law and print its floors and Monte Carlo facts (:func:`simtheory.diffusion.lowrank_fit.bayes_facts`)
of the law as stored, e.g. ``python -m empirical fit-mixture --resolution 8 --rank 16 --out FILE``.
"""
from __future__ import annotations

import json
import math

import numpy as np

from simtheory.argfmt import HelpFormatter, check_out_file
from simtheory.validate import parse_number

COMMANDS = ("fit-mixture",)


def add_parsers(sub) -> None:
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


def run(args) -> int:
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
