"""python -m paper_checks [--quick] [--out FILE]: run every check and write the report (default
paper_checks/REPORT.md)."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import time
from pathlib import Path

from tqdm import tqdm

from .core import Check

HERE = Path(__file__).resolve().parent


def modules() -> list[str]:
    """Every check module (cNN_*), in order."""
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name[:1] == "c" and m.name[1:3].isdigit())


def run_all(quick: bool = False, only: list[str] | None = None) -> list[Check]:
    out: list[Check] = []
    names = [m for m in modules() if not only or m in only]
    for name in (bar := tqdm(names, desc="paper checks", disable=None)):
        bar.set_postfix_str(name)
        out += importlib.import_module(f"paper_checks.{name}").run(quick=quick)
    return out


def _cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def report(checks: list[Check], quick: bool, seconds: float, figures_rel: str = "../figures/out") -> str:
    counts = {v: sum(c.verdict == v for c in checks) for v in ("holds", "fails", "not measurable here")}
    lines = ["# Paper checks", "",
             "Each claim of Ferbach et al. 2024, Bertrand et al. 2024, Alemohammad et al. 2024 (SIMS) and the closed "
             "forms they rest on (docs/derivations/), beside what this project "
             "measures. Verdicts are computed by `python -m paper_checks`" + (" (--quick: reduced sizes)" if quick else "")
             + f" in {seconds:.0f} s; tags: [paper] as the paper states it, [derived] worked out in the docs, "
             "[unverified] restated by secondary sources.", "",
             f"**{counts['holds']} hold, {counts['fails']} fail, {counts['not measurable here']} not measurable here.**", "",
             "| id | claim | source | prediction | measured | tolerance | verdict |", "|---|---|---|---|---|---|---|"]
    for c in checks:
        lines.append("| " + " | ".join(_cell(x) for x in (c.id, c.claim, c.source, c.prediction, c.measured,
                                                          c.tolerance, f"**{c.verdict}**")) + " |")
    lines += ["", "## Notes", ""]
    for c in checks:
        if c.note or c.figures:
            figs = " ".join(f"[{f}]({figures_rel}/{f})" for f in c.figures)
            lines.append(f"- **{c.id}** {c.note} {figs}".rstrip())
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m paper_checks", description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "REPORT.md")
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    checks = run_all(args.quick, args.only)
    text = report(checks, args.quick, time.perf_counter() - t)
    from simtheory.runs import atomic_write
    atomic_write(args.out, text.encode())
    for c in checks:
        print(f"{c.id:7s} {c.verdict:20s} {c.claim[:80]}")
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
