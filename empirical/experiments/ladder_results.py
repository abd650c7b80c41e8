"""A capacity ladder's results.csv read back, and its summary table ([`empirical.experiments.ladder`][empirical.experiments.ladder] writes
the rows; the figures and paper check C16 read them through here). Needs neither torch nor the ladder's code."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def budget_name(images: int) -> str:
    """A fine-tune budget for names and tables: 100k, 1M, 1.5M, 2500."""
    if images >= 1_000_000 and images % 100_000 == 0:
        return f"{images / 1_000_000:g}M"
    if images >= 1000 and images % 1000 == 0:
        return f"{images // 1000}k"
    return str(images)


def read_results(path) -> list[dict]:
    """The rows of a ladder's results.csv with numbers parsed (empty cells: None)."""
    import csv
    out = []
    with open(Path(path)) as f:
        for row in csv.DictReader(f):
            out.append({k: None if v == "" else _number(v) for k, v in row.items()})
    return out


def read_ladder(folder, *halves) -> list[dict] | None:
    """A ladder's rows from ``folder``/results.csv, with the rows of each folder in ``halves`` (a part of the same
    ladder run apart, at some of its lams) in place of ``folder``'s at every lam that half holds; folders without a
    results.csv are skipped, and None is returned when none has one."""
    rows: list[dict] | None = None
    for f in (folder, *halves):
        path = Path(f) / "results.csv"
        if not path.exists():
            continue
        new = read_results(path)
        lams = {r["lam"] for r in new}
        rows = [r for r in rows or [] if r["lam"] not in lams] + new
    return rows


def _number(v: str):
    """A CSV cell as int, float or (a name) str."""
    for f in (int, float):
        try:
            return f(v)
        except ValueError:
            pass
    return v


def cell_means(rows: list[dict], key: str) -> dict:
    """{(lam, width, finetune_images, generation): (mean over seeds, its SE from the per-seed SEs)} of ``key`` (a
    measured value with ``key_se``)."""
    groups: dict = {}
    for r in rows:
        if r.get(key) is None:
            continue
        groups.setdefault((r["lam"], r["width"], r["finetune_images"], r["generation"]), []).append(
            (r[key], r.get(f"{key}_se") or 0.0))
    return {k: (float(np.mean([v for v, _ in g])), float(np.sqrt(np.sum([s**2 for _, s in g]))) / len(g))
            for k, g in groups.items()}


def pooled(rows: list[dict], key: str) -> tuple[float, float, int]:
    """(mean, SE, count) of ``key`` over rows, the SE from the rows' ``key_se`` taken as independent."""
    v = [(r[key], r[f"{key}_se"]) for r in rows if r.get(key) is not None and r.get(f"{key}_se") is not None]
    if not v:
        return math.nan, math.nan, 0
    return (float(np.mean([a for a, _ in v])), float(math.sqrt(sum(s**2 for _, s in v)) / len(v)), len(v))


def _lam(v: float) -> str:
    return "inf" if v == math.inf else f"{v:g}"


def summary(rows: list[dict]) -> str:
    """A markdown table of a ladder, one line per (lam, fine-tune budget, width): parameters, CPU seconds per job,
    n_measured, the fit and law errors pooled over the report seeds and generations (SE from the rows' SEs), max
    |z| of the fit, law, one-step and multi-step checks on the pick / report seeds, the median detectable fit
    error of one row, the mean sampler error, Lemma 2.2 on every kept set and MMD^2 at the last generation."""
    head = ("| lam | fine-tune | width | parameters | CPU s / job | n measured | fit error (report) | law error (report) "
            "| max abs z pick / report: fit | law | one-step | multi-step | detectable fit error | sampler error "
            "| Lemma 2.2 | MMD^2 at t = T |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    keys = sorted({(r["lam"], r["finetune_images"], r["width"]) for r in rows}, key=lambda k: (-k[0], k[1], k[2]))
    T = max(r["generation"] for r in rows)
    for lam, ft, w in keys:
        cell = [r for r in rows if (r["lam"], r["finetune_images"], r["width"]) == (lam, ft, w)]
        rep = [r for r in cell if r["role"] == "report"]

        def mz(key):
            out = []
            for role in ("pick", "report"):
                v = [abs(r[key]) for r in cell if r["role"] == role and r.get(key) is not None]
                out.append(f"{max(v):.1f}" if v else "-")
            return " / ".join(out)
        fe, fse, _ = pooled(rep, "fit_error")
        le, lse, _ = pooled(rep, "law_error")
        se, sse, _ = pooled(rep, "sampler_error")
        det = np.median([r["fit_detectable"] for r in rep if r.get("fit_detectable") is not None])
        lem = all(r["lemma22_value"] <= r["lemma22_allowance"] for r in cell if r.get("lemma22_value") is not None)
        mm = [r["mmd2"] for r in rep if r["generation"] == T and r.get("mmd2") is not None]
        cpu = np.mean([r["cpu_seconds"] for r in cell if r["generation"] == 0])
        nm = int(np.median([r["n_measured"] for r in cell]))
        lines.append(f"| {_lam(lam)} | {budget_name(ft)} | {w} | {cell[0]['params']:,} | {cpu:.0f} | {nm:,} | "
                     f"{fe:+.4f} +- {fse:.4f} | {le:+.4f} +- {lse:.4f} | {mz('fit_z')} | {mz('law_z')} | "
                     f"{mz('onestep_z')} | {mz('multistep_z')} | {det:.3f} | {se:+.4f} +- {sse:.4f} | "
                     f"{'holds' if lem else 'fails'} | {np.mean(mm):.5f} |")
    return "\n".join(lines) + "\n"
