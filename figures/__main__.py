"""python -m figures [--quick] [--out DIR] [--only NAME ...]: regenerate every figure (PNG and PDF)."""
from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

from tqdm import tqdm

MODULES = ["fig_reward_curves", "fig_densities_2d", "fig_fixed_point", "fig_finite_vs_exact",
           "fig_gaussian_collapse", "fig_bertrand"]
MODULES += ["fig_sims"]
MODULES += ["fig_diffusion_guided", "fig_diffusion_sims_gaussian", "fig_diffusion_sims_gmm"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m figures", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="reduced sizes (seconds; used by the tests)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default figures/out)")
    ap.add_argument("--only", nargs="*", default=None, help="module names to run")
    args = ap.parse_args(argv)
    from .common import OUT
    out = args.out or OUT
    mods = [m for m in MODULES if not args.only or m in args.only]
    made = []
    for name in (bar := tqdm(mods, desc="figures", disable=None)):
        bar.set_postfix_str(name)
        t = time.perf_counter()
        made += importlib.import_module(f"figures.{name}").make(out, quick=args.quick)
        tqdm.write(f"{name}: {time.perf_counter() - t:.1f} s")
    for p in made:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
