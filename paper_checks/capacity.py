"""Capacity claims on a ladder of trained networks (widths x fine-tune budgets x lams x seeds): the rule C16 (point
rung) and C17 (mixture rung) share.

Each row of a ladder's results.csv is one (run, generation) with per-generation errors and their z (fit, law,
onestep, multistep). A check holds a statistic of the rows to a bound: the largest |z| of one or several
per-generation checks to N_SE (the run's own check), or the |z| of the mean fit error over generations and seeds to
Z_POOLED. The capacity is picked on the pick seeds (per fine-tune budget the smallest width W from which every wider
network holds; the smallest budget that has one) and tested on the report seeds at every width from W. For the fit
and law errors the row also states what the power allows one to claim: width >= W keeps |error| below
E = max over the report rows at widths >= W of |error| + 1.96 SE (a per-row 97.5% upper confidence bound).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .core import FAILS, HOLDS, Z_POWER, Check, not_measurable, passes

N_SE = 4.0                    # empirical.compare.N_SE (torch-free copy: paper checks run without torch)
Z_BOUND = 1.96                # the per-row upper confidence bound of E
Z_POOLED = 1.96               # the pooled (mean over generations and seeds) test: one two-sided 95% test per cell
__all__ = ["N_SE", "Z_BOUND", "Z_POOLED", "Z_POWER", "Ladder", "capacity_verdict", "claim_checks", "ladder_check", "lam_text",
           "max_abs_z", "pick_capacity", "pooled_z", "seeds_text", "upper_bound"]


def lam_text(v: float) -> str:
    """lam as the rows print it: "inf" or its shortest decimal."""
    return "inf" if v == math.inf else f"{v:g}"


def budget_text(ft) -> str:
    """A fine-tune budget as the ladder names it (100k, 1M)."""
    from empirical.experiments.ladder_results import budget_name
    return budget_name(int(ft))


def seeds_text(rows: list[dict]) -> str:
    """'seed 0' or 'seeds 1, 2': the seeds of the rows."""
    s = sorted({int(r["seed"]) for r in rows})
    return ("seed " if len(s) == 1 else "seeds ") + ", ".join(map(str, s))


def max_abs_z(rows: list[dict], check: str) -> float:
    """max |z| of a per-generation check (``<check>_z``) over the rows."""
    return max(abs(r[f"{check}_z"]) for r in rows if r.get(f"{check}_z") is not None)


def pooled_z(rows: list[dict], key: str = "fit_error") -> float:
    """|mean of ``key`` over the rows| over its SE (the rows' SEs taken as independent)."""
    v = [(r[key], r[f"{key}_se"]) for r in rows if r.get(key) is not None]
    mean = sum(e for e, _ in v) / len(v)
    return abs(mean) / (math.sqrt(sum(s**2 for _, s in v)) / len(v))


def upper_bound(rows: list[dict], key: str) -> float:
    """E: max over rows of |key| + Z_BOUND key_se."""
    return max(abs(r[key]) + Z_BOUND * r[f"{key}_se"] for r in rows if r.get(key) is not None)


def pick_capacity(cells: dict, stat: Callable[[list[dict]], float], bound: float) -> dict:
    """The capacity a check is tested at, chosen on the pick seeds. ``cells``: {(budget, width): {"pick": rows,
    "report": rows}}; ``stat``: rows -> the statistic held to ``bound``. Per budget, the smallest width W such that
    every width >= W (with pick rows) has stat <= bound on the pick rows; returns {budget: W or None} and, under
    "chosen", (budget, W) at the smallest budget that has one (None if none)."""
    out: dict = {"per_budget": {}, "chosen": None}
    for b in sorted({b for b, _ in cells}):
        ws = sorted(w for bb, w in cells if bb == b and cells[(bb, w)]["pick"])
        ok = [stat(cells[(b, w)]["pick"]) <= bound for w in ws]
        W = next((w for i, w in enumerate(ws) if all(ok[i:])), None)
        out["per_budget"][b] = W
        if W is not None and out["chosen"] is None:
            out["chosen"] = (b, W)
    return out


def capacity_verdict(cells: dict, stat: Callable[[list[dict]], float], bound: float) -> tuple[str, dict]:
    """The verdict of a capacity claim: the capacity picked on the pick seeds (:func:`pick_capacity`) holds on the
    report seeds at every width >= W of the chosen budget (each a :func:`passes` comparison, so the verdict follows
    every one of them); without any pick, fails (the best pick-seed statistic against the bound). Returns
    (verdict, {"pick": pick_capacity's result, "report": {width: stat on the report rows}})."""
    pick = pick_capacity(cells, stat, bound)
    if pick["chosen"] is None:      # at every budget the widest network fails on the pick seeds
        widest = {b: max(w for bb, w in cells if bb == b and cells[(bb, w)]["pick"]) for b in pick["per_budget"]}
        best = min(stat(cells[(b, w)]["pick"]) for b, w in widest.items())
        return (HOLDS if passes(best, "<=", bound) else FAILS), {"pick": pick, "report": {}}
    b, W = pick["chosen"]
    rep = {w: stat(cells[(b, w)]["report"]) for bb, w in sorted(cells) if bb == b and w >= W and cells[(bb, w)]["report"]}
    oks = [passes(v, "<=", bound) for v in rep.values()]
    return (HOLDS if oks and all(oks) else FAILS), {"pick": pick, "report": rep}


def _stat(check: str) -> tuple[Callable[[list[dict]], float], float, str]:
    """rows -> the statistic a capacity claim holds to its bound: max |z| of one per-generation check, the largest of
    several ("onestep+multistep+law"), or the pooled fit error's |z|; with its bound and its name."""
    if check == "pooled":
        return pooled_z, Z_POOLED, "|pooled z|"
    parts = check.split("+")
    return (lambda rs: max(max_abs_z(rs, c) for c in parts)), N_SE, "max |z|"


@dataclass(frozen=True)
class Ladder:
    """What a rung's capacity rows say about its ladder: the folder and command named when rows are missing, the
    rows' budget and base-budget columns, the network's name and the sample unit, and the figure."""

    folder: str                       # "results/points-ladder"
    command: str                      # the command that makes it
    budget_key: str                   # "finetune_images" (points) or "finetune_samples" (mixture)
    base_key: str                     # "base_images" or "base_samples"
    network: str                      # "MLP" or "U-Net"
    unit: str                         # "points" or "samples"
    figures: tuple = ()

    def cells(self, rows: list[dict]) -> dict:
        """{(budget, width): {"pick": rows, "report": rows}}."""
        cells: dict = {}
        for r in rows:
            cells.setdefault((r[self.budget_key], r["width"]), {"pick": [], "report": []})[r["role"]].append(r)
        return cells


def ladder_check(ladder: Ladder, rows: list[dict], id_: str, lam: float, check: str, what: str, claim: str,
                 source: str, kind: str, gens: set | None = None) -> Check:
    """A capacity claim on a ladder at one lam (the module docstring's rule): ``check`` names a per-generation z
    (fit, law, onestep, multistep, or several joined by "+") held to N_SE at every generation in ``gens`` (None: all),
    or "pooled": the mean fit error over generations and seeds held to Z_POOLED of its SE."""
    keys = ["fit"] if check == "pooled" else check.split("+")
    sel = [r for r in rows if r["lam"] == lam and (gens is None or r["generation"] in gens)
           and all(r.get(f"{k}_z") is not None for k in keys)]
    if not sel:
        return not_measurable(id_, claim + f" (lam = {lam_text(lam)})", source, f"|{what}| within {N_SE:g} SE for "
                              f"some capacity", f"{ladder.folder} has no lam = {lam_text(lam)} rows with these "
                              f"errors: `{ladder.command}`", kind=kind)
    cells = ladder.cells(sel)
    picks, reports = seeds_text([r for r in sel if r["role"] == "pick"]), seeds_text([r for r in sel if r["role"] == "report"])
    stat, bound, unit = _stat(check)
    v, info = capacity_verdict(cells, stat, bound)
    budgets = sorted({b for b, _ in cells})
    lines = []
    for b in budgets:
        W = info["pick"]["per_budget"][b]
        ws = sorted(w for bb, w in cells if bb == b)
        zs = ", ".join(f"{w}: {stat(cells[(b, w)]['pick']):.1f}/" + (f"{stat(cells[(b, w)]['report']):.1f}"
                                                                      if cells[(b, w)]["report"] else "-") for w in ws)
        if W is None:
            lines.append(f"fine-tune {budget_text(b)}: no width holds on the pick seeds ({unit} pick/report per width "
                         f"{zs})")
            continue
        rep = [r for w in ws if w >= W for r in cells[(b, w)]["report"]]
        held = all(stat(cells[(b, w)]["report"]) <= bound for w in ws if w >= W and cells[(b, w)]["report"])
        bound_txt = ""
        if check in ("fit", "law") and rep:
            bound_txt = f"; width >= {W} keeps |{check} error| below E = {upper_bound(rep, f'{check}_error'):.3f}"
        lines.append(f"fine-tune {budget_text(b)}: width >= {W} picked, {reports}: {'hold' if held else 'fail'}"
                     f"{bound_txt} ({unit} pick/report per width {zs})")
    chosen = info["pick"]["chosen"]
    head = ("no capacity holds on the pick seeds" if chosen is None else
            f"tested at fine-tune {budget_text(chosen[0])}, width >= {chosen[1]} (picked on {picks}): {reports} {unit} "
            + ", ".join(f"{w}: {z:.1f}" for w, z in info["report"].items()))
    det = []
    for b in budgets:
        meds = [f"{w}: {np.median([r[f'{keys[0]}_detectable'] for r in cells[(b, w)]['report']]):.3f}"
                for w in sorted(w for bb, w in cells if bb == b) if cells[(b, w)]["report"]
                and all(r.get(f"{keys[0]}_detectable") is not None for r in cells[(b, w)]["report"])]
        if meds:
            det.append(f"{budget_text(b)} ({', '.join(meds)})")
    gen_txt = "every generation" if gens is None else f"generations {min(gens)}-{max(gens)}"
    params = sorted({int(r["params"]) for r in sel if r.get("params") is not None})
    note = (f"{ladder.network} widths {', '.join(str(w) for w in sorted({w for _, w in cells}))}"
            + (f" (parameters {', '.join(f'{p:,}' for p in params)})" if params else "")
            + f", base budget {sel[0][ladder.base_key]:,} {ladder.unit}, fine-tunes per generation "
            f"{', '.join(budget_text(b) for b in budgets)}; {gen_txt} of every seed. "
            + (f"The smallest {keys[0]} error a row's check sees with 80% power, (N_SE + 0.84) SE, median over the "
               "report rows, per fine-tune (width: error): " + "; ".join(det) + ". " if det and check != "pooled"
               else "")
            + f"The capacity is picked on {picks} (per budget the smallest width from which every wider network "
            f"holds; the smallest such budget) and tested on {reports} at every width from it.")
    pred = (f"|{what}| <= {N_SE:g} SE at {gen_txt}, for some capacity (picked on {picks})" if check != "pooled" else
            f"|mean {what}| <= {Z_POOLED:g} SE (its SE from the rows'), for some capacity (picked on {picks})")
    tol = (f"{N_SE:g} SE per generation and seed (the run's own check, empirical.compare.N_SE)" if check != "pooled"
           else f"{Z_POOLED:g} SE of the pooled mean (a two-sided 95% test; the rows' SEs taken as independent)")
    return Check(id_, claim + f" (lam = {lam_text(lam)})", source, pred, head + ". " + "; ".join(lines), tol, v, note,
                 figures=ladder.figures, kind=kind)


def claim_checks(claims: tuple, rows: list[dict], ladders: tuple[Ladder, Ladder], kind: str) -> list[Check]:
    """Every capacity claim at lam = inf and lam = 1 (``ladders``: the Ladder each reads). ``claims``: (id at inf,
    id at 1, check, what, claim, source, gens) rows, gens "later" for generations 1..T (T the rows' last), None for
    every generation."""
    T = max(r["generation"] for r in rows)
    return [ladder_check(ladder, rows, id_, lam, check, what, claim, src, kind,
                         set(range(1, T + 1)) if gens == "later" else None)
            for a, b, check, what, claim, src, gens in claims
            for ladder, lam, id_ in zip(ladders, (math.inf, 1.0), (a, b))]
