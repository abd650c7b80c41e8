"""python -m figures [--quick] [--out DIR] [--only NAME ...] [--threads N]: regenerate every figure (PNG and PDF)
into figures/out/ of this checkout, or into --out; prints each figure's time on stderr. Numba runs on --threads
threads (default: $CURATED_THREADS when set, else 1)."""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from tqdm import tqdm

from simtheory.argfmt import (HelpFormatter, add_threads, add_version, check_names, check_writable_dir, interrupted,
                              resolve_threads, set_threads)

MODULES = ["fig_reward_curves", "fig_densities_2d", "fig_fixed_point", "fig_finite_vs_exact",
           "fig_gaussian_collapse", "fig_bertrand"]
MODULES += ["fig_sims"]
MODULES += ["fig_diffusion_guided", "fig_diffusion_sims_gaussian", "fig_diffusion_sims_gmm", "fig_diffusion_systematic"]
MODULES += ["fig_points_densities", "fig_points_capacity", "fig_points_sims"]
MODULES += ["fig_mixture_capacity", "fig_mixture_sims"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m figures", description=__doc__, formatter_class=HelpFormatter)
    add_version(ap)
    ap.add_argument("--quick", action="store_true", help="reduced sizes (seconds; used by the tests)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: figures/out in this checkout)")
    ap.add_argument("--only", nargs="+", default=None, metavar="NAME",
                    help=f"figure modules to run (default: all of {', '.join(MODULES)})")
    add_threads(ap)
    args = ap.parse_args(argv)
    from .common import OUT
    out = args.out or OUT
    try:
        check_names("--only", args.only, MODULES)
        check_writable_dir(out)
        set_threads(resolve_threads(args.threads))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    import matplotlib
    matplotlib.use("Agg")                    # this command's own process: files only, no window
    from .common import STYLE
    matplotlib.rcParams.update(STYLE)
    mods = [m for m in MODULES if not args.only or m in args.only]
    made = []
    try:
        for name in (bar := tqdm(mods, desc="figures", disable=None)):
            bar.set_postfix_str(name)
            t = time.perf_counter()
            made += importlib.import_module(f"figures.{name}").make(out, quick=args.quick)
            tqdm.write(f"{name}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    except KeyboardInterrupt:
        print(interrupted(f"rerun the same command: the runs already computed are kept in {Path(out) / 'runs'} and "
                          "reused"), file=sys.stderr)
        return 130
    except OSError as e:             # the output folder became unwritable or full during the run
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    for p in made:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
