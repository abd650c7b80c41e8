"""python -m paper_checks [--quick] [--only MODULE ...] [--out FILE] [--threads N]: run the checks and write the
report (default: paper_checks/REPORT.md in this checkout), printing each check module's time on stderr. With
--only, the rows are printed and a file is written only when --out names one: a partial report never replaces the
full one. Numba runs on --threads threads (default: $CURATED_THREADS when set, else 1)."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path

from tqdm import tqdm

from simtheory.argfmt import (HelpFormatter, add_threads, add_version, check_names, check_out_file, interrupted,
                              resolve_threads, set_threads)

from .core import FAILS, HOLDS, KINDS, NOT_MEASURABLE, NOT_SHOWN, Check

HERE = Path(__file__).resolve().parent


def modules() -> list[str]:
    """Every check module (cNN_*), in order."""
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name[:1] == "c" and m.name[1:3].isdigit())


def run_all(quick: bool = False, only: list[str] | None = None) -> list[Check]:
    out: list[Check] = []
    names = [m for m in modules() if not only or m in only]
    for name in (bar := tqdm(names, desc="paper checks", disable=None)):
        bar.set_postfix_str(name)
        t = time.perf_counter()
        out += importlib.import_module(f"paper_checks.{name}").run(quick=quick)
        tqdm.write(f"{name}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return out


def _cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def report(checks: list[Check], quick: bool, figures_rel: str = "../figures/out") -> str:
    def tally(rows) -> str:
        parts = [f"{sum(c.verdict == v for c in rows)} {label}" for v, label in
                 ((HOLDS, "hold"), (FAILS, "fail"), (NOT_SHOWN, "not shown at this power"),
                  (NOT_MEASURABLE, "not measurable here"))]
        return ", ".join(parts)
    summary = "; ".join(f"{KINDS[k]} ({sum(c.kind == k for c in checks)}): {tally([c for c in checks if c.kind == k])}"
                        for k in KINDS)
    lines = ["# Paper checks", "",
             "Each claim of Ferbach et al. 2024, Bertrand et al. 2024, Alemohammad et al. 2024 (SIMS) and the closed "
             "forms they rest on (docs/derivations/), beside what this project "
             "measures. Verdicts are computed by `python -m paper_checks`" + (" (--quick: reduced sizes)" if quick else "")
             + ". The kind column says where a claim comes from: **paper** (a paper states it; the source names "
             "where), **derived** (the project worked it out: a closed form or a consequence, in docs/derivations/) "
             "or **hypothesis** (the project's own conjecture, which no paper makes): a failed hypothesis is a "
             "finding about the project's reading, not about a paper. A verdict *not shown at this power* means the "
             "measured effect lies within its tolerance of zero; its note says how many seeds would settle it. "
             "Source tags: [paper] as the paper states it, [derived] worked out in docs/derivations/, "
             "[unverified] restated by secondary sources.", "",
             f"**{summary}.**", "",
             "| id | kind | claim | source | prediction | measured | tolerance | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for c in checks:
        lines.append("| " + " | ".join(_cell(x) for x in (c.id, c.kind, c.claim, c.source, c.prediction, c.measured,
                                                          c.tolerance, f"**{c.verdict}**")) + " |")
    lines += ["", "## Notes", ""]
    for c in checks:
        if c.note or c.figures:
            figs = " ".join(f"[{f}]({figures_rel}/{f})" for f in c.figures)
            lines.append(f"- **{c.id}** {c.note} {figs}".rstrip())
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m paper_checks", description=__doc__, formatter_class=HelpFormatter)
    add_version(ap)
    ap.add_argument("--quick", action="store_true", help="reduced sizes (seconds; used by the tests)")
    ap.add_argument("--out", type=Path, default=None,
                    help="report file (default: paper_checks/REPORT.md; with --only: none, rows are printed)")
    ap.add_argument("--only", nargs="+", default=None, metavar="MODULE",
                    help=f"check modules to run (default: all of {', '.join(modules())})")
    add_threads(ap)
    args = ap.parse_args(argv)
    out = args.out if args.out is not None or args.only else HERE / "REPORT.md"
    try:
        check_names("--only", args.only, modules())
        if out is not None:
            check_out_file(out)
        set_threads(resolve_threads(args.threads))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        checks = run_all(args.quick, args.only)
        for c in checks:
            print(f"{c.id:7s} {c.verdict:20s} {c.claim[:80]}")
        if out is not None:
            from simtheory.runs import atomic_write
            atomic_write(out, report(checks, args.quick).encode())
            print(out)
    except KeyboardInterrupt:
        print(interrupted("no report was written; rerun the same command to run the checks again"), file=sys.stderr)
        return 130
    except OSError as e:             # the report's folder became unwritable or full during the run
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
