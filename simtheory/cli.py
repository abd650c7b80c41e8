"""``python -m simtheory``: turns options into configs and calls the library (no logic here)."""
from __future__ import annotations

import argparse
import json
import math
import sys

from . import scenarios
from .validate import parse_number


def _add_exact(sub) -> None:
    p = sub.add_parser("exact", help="exact population dynamics of a scenario into a run folder",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--scenario", default="mixture2d", choices=sorted(scenarios.SCENARIOS))
    p.add_argument("--K", type=parse_number, default=4, help="samples per kept sample (integer >= 1 or inf)")
    p.add_argument("--lam", type=parse_number, default=math.inf, help="synthetic-to-real ratio (inf: fully synthetic)")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--grid-size", type=int, default=81, help="nodes per axis")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run folder (default runs/exact-<scenario>-K<K>-lam<lam>)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m simtheory", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    _add_exact(sub)
    from . import loop_cli
    loop_cli.add_parsers(sub)
    args = ap.parse_args(argv)
    try:
        if args.command == "exact":
            return _exact(args)
        return loop_cli.dispatch(args)
    except ValueError as e:      # bad options or a refused run folder: a clear message, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2


def _exact(args) -> int:
    from .exact import ExactConfig, run_exact
    cfg = ExactConfig(args.scenario, args.K, args.lam, args.steps, args.grid_size, args.seed)
    out = args.out or f"runs/exact-{cfg.scenario}-K{cfg.K}-lam{cfg.lam}"
    if args.dry_run:
        print(json.dumps({"out": out, **cfg.to_dict()}, indent=2))
        return 0
    rf = run_exact(cfg, out, progress=True)
    last = rf.metrics()[-1]
    print(json.dumps({"out": str(rf.path), "final": last}, indent=2))
    return 0
