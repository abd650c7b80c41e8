"""``empirical`` (or ``python -m empirical``): sub-commands train, sample, classifier, loop, fid, compare, sims,
sims-sweep, sims-explore, points, points-ladder, points-sims, fit-mixture, mixture, mixture-ladder, mixture-sims,
gpu-check and download-cifar10, the torch half's command line, one module per command group:

    images   train, sample, classifier, loop, fid, compare
    sims     sims, sims-sweep, sims-explore
    points   points, points-ladder, points-sims
    mixture  fit-mixture, mixture, mixture-ladder, mixture-sims
    tools    gpu-check, download-cifar10

Options become configs; the library does the work; ``--dry-run`` prints the resolved config. ``--threads N`` (or
``$CURATED_THREADS``) sets torch's and Numba's thread counts for this process; without either, Numba runs on one
thread and torch as the environment sets it (the library itself never changes them). Bad options end with one
``error:`` line and exit status 2; a command that needs torch says how to install it when torch is missing.
"""
from __future__ import annotations

import argparse
import sys

from simtheory.argfmt import HelpFormatter, add_version, check_out_dir, interrupted

from . import images, mixture, sims, tools
from .common import apply_threads, set_threads

__all__ = ["build_parser", "main", "needs_torch", "set_threads"]

GROUPS = [images, sims, tools, mixture]
"""The command groups whose parsers need no torch; the point rung's (`empirical.cli.points`) is added when torch
imports."""

NEEDS_TORCH_PARSERS = {"points": "curated retraining loop on low-dimensional points (neural EDM) into a run folder",
                       "points-ladder": "the capacity ladder of neural point loops on dask, into one results.csv",
                       "points-sims": "SIMS at the point rung: augmentation and fully synthetic loops",
                       **mixture.NEEDS_TORCH}
"""The sub-commands whose parsers need torch (their presets import it): stand-ins when torch is missing."""

RESUMABLE = ("train", "loop", "sims", "sims-sweep", "sims-explore", "points", "points-ladder", "points-sims",
             "mixture", "mixture-ladder", "mixture-sims")
"""The commands whose run folders resume when the same command is run again."""


def _groups() -> list:
    """Every command group this Python can run: the torch-free ones, and the point rung's where torch imports."""
    try:
        from . import points
    except ModuleNotFoundError as e:      # its modules import torch: without it, --help and --version still work
        if not _is_torch(e):
            raise
        return GROUPS
    return GROUPS + [points]


def build_parser() -> argparse.ArgumentParser:
    """The parser of every sub-command (stand-ins for those that need torch where it is missing)."""
    fmt = HelpFormatter
    ap = argparse.ArgumentParser(prog="empirical", description=__doc__, formatter_class=fmt)
    add_version(ap)
    sub = ap.add_subparsers(dest="command", required=True)
    groups = _groups()
    for group in groups:
        group.add_parsers(sub)
    if len(groups) == len(GROUPS):
        for name, what in NEEDS_TORCH_PARSERS.items():
            q = sub.add_parser(name, help=f"{what} (needs torch, which is not installed here)", formatter_class=fmt,
                               add_help=False)
            q.set_defaults(stand_in=True)       # its options are unknown here: main says how to install torch
    return ap


def _is_torch(e: ModuleNotFoundError) -> bool:
    return (e.name or "").split(".")[0] == "torch"


def needs_torch(command: str) -> str:
    """The one-line error of a command that needs torch where torch is not installed."""
    return (f"`empirical {command}` needs torch, which is not installed in this Python ({sys.executable}); install "
            "it with `pip install 'curated-retraining[empirical]'` (in a checkout: `make setup`; README.md, Install, "
            "says how to choose the CPU or CUDA build)")


def _run(args) -> int:
    """The command's group runs it, after the process's thread counts are set (not for a dry run)."""
    group = next(g for g in _groups() if args.command in g.COMMANDS)
    if args.command != "download-cifar10" and not args.dry_run:
        apply_threads(args.threads)
    return group.run(args)


def main(argv=None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "stand_in", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        if getattr(args, "stand_in", False):
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
        if getattr(args, "out", None):
            check_out_dir(args.out)
        return _run(args)
    except ModuleNotFoundError as e:
        if not _is_torch(e):
            raise
        print(f"error: {needs_torch(args.command)}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as e:    # bad options, a refused or unwritable run folder: one line, no traceback
        msg = str(e).splitlines()[0] if isinstance(e, OSError) else str(e)
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        how = ("rerun the same command to resume from what was saved" if args.command in RESUMABLE
               else "nothing was saved to resume from; rerun the command to start again")
        print(interrupted(how), file=sys.stderr)
        return 130
