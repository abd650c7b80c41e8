"""Theory against neural diffusion models on the theory half's low-dimensional laws (the point rung).

Reads the committed sweeps results/points-ladder (the capacity ladder: curated loops, K = 4, lam = inf and 1, on the
2-D mixture with its reward, MLP widths at several fine-tune budgets from one base budget, seed 0 picks and seeds
1-2 report) and results/points-sims (SIMS in the synthetic augmentation loop and the fully synthetic loop, small and
ample networks, w picked on seed 0, reported on other seeds).

The ladder's checks are per generation, |error| <= N_SE SE with N_SE = :data:`empirical.compare.N_SE` (the run's own
model and prediction checks); an error of (N_SE + 0.84) SE is the smallest such a check sees with 80% power, and each
row states it. The capacity is picked on the pick seed: per fine-tune budget, the smallest width W such that every
width >= W holds there; the smallest budget with such a W is the capacity the claim is then tested at, on the report
seeds, at every width >= W. For the fit and law errors the checks also state what the power allows one to claim: at
each budget, width >= W keeps |error| below E, E = the largest |error| + 1.96 SE over the report rows at widths >= W
(a per-row 97.5% upper confidence bound, maximised over the rows). SIMS verdicts are paired differences over the
report seeds, by Student's t with n - 1 degrees of freedom (:func:`paper_checks.core.t_verdict`).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .core import FAILS, HOLDS, HYPOTHESIS, PAPER, Check, not_measurable, passes, t_verdict

RESULTS = Path(__file__).resolve().parents[1] / "results"
LADDER = RESULTS / "points-ladder"
SIMS = RESULTS / "points-sims"
N_SE = 4.0                    # empirical.compare.N_SE (torch-free copy: paper checks run without torch)
Z_POWER = 0.8416              # the normal quantile of 0.8
Z_BOUND = 1.96                # the per-row upper confidence bound of E
Z_POOLED = 1.96               # the pooled (mean over generations and seeds) test: one two-sided 95% test per cell
CMD_LADDER = "python -m empirical points-ladder --out results/points-ladder"
CMD_SIMS = "python -m empirical points-sims --out results/points-sims"
SOURCE = "Ferbach et al. 2024"


def _rows(folder: Path) -> list[dict] | None:
    from empirical.experiments.ladder_results import read_results
    f = folder / "results.csv"
    return read_results(f) if f.exists() else None


def _lam(v: float) -> str:
    return "inf" if v == math.inf else f"{v:g}"


def _k(ft: int) -> str:
    from empirical.experiments.ladder_results import budget_name
    return budget_name(int(ft))


def max_abs_z(rows: list[dict], check: str) -> float:
    """max |z| of a per-generation check (``<check>_z``) over the rows."""
    return max(abs(r[f"{check}_z"]) for r in rows if r.get(f"{check}_z") is not None)


def pooled_z(rows: list[dict], key: str = "fit_error") -> float:
    """|mean of ``key`` over the rows| over its SE (the rows' SEs taken as independent)."""
    v = [(r[key], r[f"{key}_se"]) for r in rows if r.get(key) is not None]
    mean = sum(e for e, _ in v) / len(v)
    return abs(mean) / (math.sqrt(sum(s**2 for _, s in v)) / len(v))


def pick_capacity(cells: dict, stat, bound: float) -> dict:
    """The capacity a check is tested at, chosen on the pick seed. ``cells``: {(budget, width): {"pick": rows,
    "report": rows}}; ``stat``: rows -> the statistic held to ``bound``. Per budget, the smallest width W such that
    every width >= W (with pick rows) has stat <= bound on the pick rows; returns {budget: W or None} and, under
    "chosen", (budget, W) at the smallest budget that has one (None if none)."""
    budgets = sorted({b for b, _ in cells})
    out: dict = {"per_budget": {}, "chosen": None}
    for b in budgets:
        ws = sorted(w for bb, w in cells if bb == b and cells[(bb, w)]["pick"])
        ok = [stat(cells[(b, w)]["pick"]) <= bound for w in ws]
        W = None
        for i, w in enumerate(ws):
            if all(ok[i:]):
                W = w
                break
        out["per_budget"][b] = W
        if W is not None and out["chosen"] is None:
            out["chosen"] = (b, W)
    return out


def upper_bound(rows: list[dict], key: str) -> float:
    """E: max over rows of |key| + Z_BOUND key_se."""
    return max(abs(r[key]) + Z_BOUND * r[f"{key}_se"] for r in rows if r.get(key) is not None)


def _cells(rows: list[dict]) -> dict:
    cells: dict = {}
    for r in rows:
        cells.setdefault((r["finetune_images"], r["width"]), {"pick": [], "report": []})[r["role"]].append(r)
    return cells


def capacity_verdict(cells: dict, stat, bound: float) -> tuple[str, dict]:
    """The verdict of a capacity claim: the capacity picked on the pick seed (:func:`pick_capacity`) holds on the
    report seeds at every width >= W of the chosen budget (each a :func:`passes` comparison, so the verdict follows
    every one of them); without any pick, fails (the best pick-seed statistic against the bound). Returns
    (verdict, {"pick": pick_capacity's result, "report": {width: stat on the report rows}})."""
    pick = pick_capacity(cells, stat, bound)
    if pick["chosen"] is None:      # at every budget the widest network fails on the pick seed
        widest = {b: max(w for bb, w in cells if bb == b and cells[(bb, w)]["pick"]) for b in pick["per_budget"]}
        best = min(stat(cells[(b, w)]["pick"]) for b, w in widest.items())
        return (HOLDS if passes(best, "<=", bound) else FAILS), {"pick": pick, "report": {}}
    b, W = pick["chosen"]
    rep = {w: stat(cells[(b, w)]["report"]) for bb, w in sorted(cells) if bb == b and w >= W and cells[(bb, w)]["report"]}
    oks = [passes(v, "<=", bound) for v in rep.values()]
    return (HOLDS if oks and all(oks) else FAILS), {"pick": pick, "report": rep}


def _ladder_check(rows, id_, lam, check, what, claim, source, kind, gens=None) -> Check:
    """A capacity claim on the ladder at one lam: ``check`` names a per-generation z (fit, law, onestep, multistep)
    held to N_SE at every generation in ``gens`` (None: all), or "pooled": the mean fit error over generations and
    seeds held to Z_POOLED of its SE."""
    key = "fit" if check == "pooled" else check
    sel = [r for r in rows if r["lam"] == lam and (gens is None or r["generation"] in gens)
           and r.get(f"{key}_z") is not None]
    if not sel:
        return not_measurable(id_, claim + f" (lam = {_lam(lam)})", source, f"|{what}| within {N_SE:g} SE for some "
                              "capacity", f"results/points-ladder has no lam = {_lam(lam)} rows with {key} errors: "
                              f"`{CMD_LADDER}`", kind=kind)
    cells = _cells(sel)
    if check == "pooled":
        def stat(rs):
            return pooled_z(rs)
        bound, unit = Z_POOLED, "|pooled z|"
    else:
        def stat(rs):
            return max_abs_z(rs, check)
        bound, unit = N_SE, "max |z|"
    v, info = capacity_verdict(cells, stat, bound)
    budgets = sorted({b for b, _ in cells})
    lines = []
    for b in budgets:
        W = info["pick"]["per_budget"][b]
        ws = sorted(w for bb, w in cells if bb == b)
        zs = ", ".join(f"{w}: {stat(cells[(b, w)]['pick']):.1f}/" + (f"{stat(cells[(b, w)]['report']):.1f}"
                                                                      if cells[(b, w)]["report"] else "-") for w in ws)
        if W is None:
            lines.append(f"fine-tune {_k(b)}: no width holds on the pick seed ({unit} pick/report per width {zs})")
            continue
        rep = [r for w in ws if w >= W for r in cells[(b, w)]["report"]]
        held = all(stat(cells[(b, w)]["report"]) <= bound for w in ws if w >= W and cells[(b, w)]["report"])
        bound_txt = ""
        if check in ("fit", "law") and rep:
            bound_txt = f"; width >= {W} keeps |{key} error| below E = {upper_bound(rep, f'{key}_error'):.3f}"
        lines.append(f"fine-tune {_k(b)}: width >= {W} picked, report seeds {'hold' if held else 'fail'}{bound_txt} "
                     f"({unit} pick/report per width {zs})")
    chosen = info["pick"]["chosen"]
    head = ("no capacity holds on the pick seed" if chosen is None else
            f"tested at fine-tune {_k(chosen[0])}, width >= {chosen[1]} (picked on seed 0): report seeds {unit} "
            + ", ".join(f"{w}: {z:.1f}" for w, z in info["report"].items()))
    det = []
    if check != "pooled":
        for b in budgets:
            meds = [f"{w}: {np.median([r[f'{key}_detectable'] for r in cells[(b, w)]['report']]):.3f}"
                    for w in sorted(w for bb, w in cells if bb == b) if cells[(b, w)]["report"]]
            det.append(f"{_k(b)} ({', '.join(meds)})")
    base = sel[0]["base_images"]
    gen_txt = "every generation" if gens is None else f"generations {min(gens)}-{max(gens)}"
    note = (f"Base budget {base:,} points, fine-tunes per generation {', '.join(_k(b) for b in budgets)}; "
            f"{gen_txt} of every seed. " + ("The smallest error a row's check sees with 80% power, (N_SE + 0.84) SE, "
                                            "median over the report rows, per fine-tune (width: error): "
                                            + "; ".join(det) + ". " if det else "")
            + "The capacity is picked on seed 0 (per budget the smallest width from which every wider network holds; "
            "the smallest such budget) and tested on seeds 1-2 at every width from it.")
    pred = (f"|{what}| <= {N_SE:g} SE at {gen_txt}, for some capacity (picked on seed 0)" if check != "pooled" else
            f"|mean {what}| <= {Z_POOLED:g} SE (its SE from the rows'), for some capacity (picked on seed 0)")
    tol = (f"{N_SE:g} SE per generation and seed (the run's own check, empirical.compare.N_SE)" if check != "pooled"
           else f"{Z_POOLED:g} SE of the pooled mean (a two-sided 95% test; the rows' SEs taken as independent)")
    return Check(id_, claim + f" (lam = {_lam(lam)})", source, pred, head + ". " + "; ".join(lines), tol, v, note,
                 figures=("points_capacity.png",), kind=kind)


def _lemma_check(rows, id_, lam) -> Check:
    sel = [r for r in rows if r["lam"] == lam and r.get("lemma22_value") is not None]
    if not sel:
        return not_measurable(id_, f"Lemma 2.2 on the kept set of neural point loops (lam = {_lam(lam)})", SOURCE,
                              "gain >= bound", f"results/points-ladder has no lam = {_lam(lam)} runs: `{CMD_LADDER}`",
                              kind=PAPER)
    excess = [r["lemma22_value"] - r["lemma22_allowance"] for r in sel]
    ok = [passes(r["lemma22_value"], "<=", r["lemma22_allowance"]) for r in sel]
    widths = sorted({r["width"] for r in sel})
    by_w = {w: all(o for o, r in zip(ok, sel) if r["width"] == w) for w in widths}
    gains = [r["kept_exp_gain"] for r in sel]
    bounds = [r["lemma22_gain_bound"] for r in sel]
    return Check(
        id_, f"Each curated step raises E[e^r] of the kept set by at least ((K-1)/K) Var[e^r] / e^{{r*}} (lam = "
        f"{_lam(lam)}, neural point loops of every width and fine-tune budget)",
        f"{SOURCE}, Lemma 2.2 [paper; exact normaliser unverified]",
        f"kept-set gain >= bound - {N_SE:g} SE in every generation of every run",
        f"{len(sel)} generations: gain - bound from {min(g - b for g, b in zip(gains, bounds)):.3f} to "
        f"{max(g - b for g, b in zip(gains, bounds)):.3f}; largest excess over the allowance {max(excess):+.3f}; "
        "holds at widths " + (", ".join(str(w) for w, v in by_w.items() if v) or "none"),
        f"{N_SE:g} SE (simtheory.predict.loop_checks)", HOLDS if all(ok) else FAILS,
        "The selection is exact at any capacity: this row tests the sampler-free part of the theorem on the neural "
        "loops' own candidates; the smallest width at which it holds is the smallest tried.",
        figures=("points_capacity.png",), kind=PAPER)


def _sims_checks(quick: bool) -> list[Check]:
    claim_aug = ("In a synthetic-augmentation loop (a fixed real set plus the previous generation's samples) SIMS "
                 "keeps the retrained model closer to the data than standard retraining")
    src = ("Alemohammad et al. 2024, SIMS, Sec. 4.2.2 (|D_p| up to 60% of |D_r|) [paper; neural point setting "
           "this project's]")
    rep = _rows(SIMS / "report")
    pick = _rows(SIMS / "pick")
    if rep is None or pick is None:
        return [not_measurable("C16.9", claim_aug + " (neural point loops)", src, "final MMD^2 lower with SIMS",
                               f"no results/points-sims: make it with `{CMD_SIMS}`", kind=PAPER)]
    picked = json.loads((SIMS / "picked.json").read_text())
    out = []
    T = max(r["generation"] for r in rep)
    for i, (loop, kind, claim) in enumerate((("augmentation", PAPER, claim_aug),
                                            ("synthetic", HYPOTHESIS, "Fully synthetic loop (the project's own "
                                             "setting): SIMS keeps the loop closer to the data than w = 0"))):
        for j, cap in enumerate(("small", "ample")):
            w = picked.get(f"{loop}/{cap}")
            rows = [r for r in rep if r["loop"] == loop and r["capacity"] == cap and r["generation"] == T]
            if w is None or not rows:
                continue
            a = {r["seed"]: r["mmd2"] for r in rows if r["w"] == 0}
            b = {r["seed"]: r["mmd2"] for r in rows if r["w"] == w}
            seeds = sorted(set(a) & set(b))
            d = np.array([b[s] - a[s] for s in seeds])
            v, why, st = t_verdict(d)
            g0, g1 = ([r for r in rep if r["loop"] == loop and r["capacity"] == cap and r["generation"] == t
                       and r["w"] == 0] for t in (0, 1))
            pk = {r["w"]: r["mmd2"] for r in pick if r["loop"] == loop and r["capacity"] == cap
                  and r["generation"] == T}
            pk_txt = ", ".join(f"w = {x:g} {pk[x]:.5f}" for x in sorted(pk))
            lam = "0.6" if loop == "augmentation" else "inf"
            out.append(Check(
                f"C16.{9 + 2 * i + j}", f"{claim} ({cap} network, neural point loops)", src if kind == PAPER else
                "this project [hypothesis]", f"MMD^2 to the data law at generation {T}: SIMS (w picked on seed 0) "
                "below w = 0",
                f"pick seed 0 at T = {T}: {pk_txt} (picked w = {w:g}); report seeds {seeds[0]}-{seeds[-1]} "
                f"({len(seeds)}): MMD^2 at generation 0 {np.mean([r['mmd2'] for r in g0]):.5f}, at generation 1 "
                f"(w = 0) {np.mean([r['mmd2'] for r in g1]):.5f}, at T = {T}: w = 0 {np.mean(list(a.values())):.5f}, "
                f"w = {w:g} {np.mean(list(b.values())):.5f}; paired difference {st['mean']:+.5f} +- {st['se']:.5f} "
                f"(t = {st['t']:+.2f}, {st['df']} df, two-sided p = {st['p']:.3g})",
                f"Student's t with {st['df']} df at two-sided level 0.05 (|t| > {st['q']:.2f}); beyond +{st['q']:.2f} "
                "fails", v, why + f" K = 1, lam = {lam}, replace, N = 2048 real points, n_s = 2048, B = the "
                "network's fine-tune budget; MMD^2 (Gaussian kernel, the law's component scale) on 1,024 samples.",
                figures=("points_sims.png",), kind=kind))
    return out


CLAIMS = (
    ("C16.1", "C16.2", "onestep", "measured - one-step prediction",
     "With enough capacity the neural curated loop follows the infinite-capacity one-step prediction",
     f"{SOURCE}, Sec. 2-3 (retraining at infinite capacity); the capacity claim is this project's [hypothesis]",
     "later"),
    ("C16.3", "C16.4", "multistep", "measured - multi-step prediction from generation 1's candidates",
     "With enough capacity the neural curated loop follows the exact multi-step dynamics from its first "
     "candidates", f"{SOURCE}, Eq. 7 (iterated curated retraining); the capacity claim is this project's "
     "[hypothesis]", "later"),
    ("C16.7", "C16.8", "pooled", "fit error (model - its training set)",
     "With enough capacity the neural curated loop has no systematic fit error (the mean of model - training set "
     "over generations and seeds is zero)", "this project [hypothesis]", None),
    ("C16.13", "C16.14", "fit", "fit error (model - its training set)",
     "With enough capacity each model of the neural curated loop reproduces its training set's mean reward",
     "this project [hypothesis]", None),
    ("C16.15", "C16.16", "law", "law error (model - the exact curated trajectory of the data law)",
     "With enough capacity the neural curated loop follows the exact curated trajectory of its data law",
     f"{SOURCE}, Eq. 7 and Sec. 3 (the exact dynamics from the data law); the capacity claim is this project's "
     "[hypothesis]", None),
)


def run(quick: bool = False) -> list[Check]:
    rows = _rows(LADDER)
    if rows is None:
        out = [not_measurable(i, c + f" (lam = {lam})", s, f"|{w}| within {N_SE:g} SE for some capacity",
                              f"no results/points-ladder: make it with `{CMD_LADDER}`", kind=HYPOTHESIS)
               for a, b, _, w, c, s, _ in CLAIMS for lam, i in (("inf", a), ("1", b))]
        out += [not_measurable(i, "Lemma 2.2 on the kept set of neural point loops", SOURCE, "gain >= bound",
                               f"no results/points-ladder: make it with `{CMD_LADDER}`", kind=PAPER)
                for i in ("C16.5", "C16.6")]
        return sorted(out + _sims_checks(quick), key=_order)
    T = max(r["generation"] for r in rows)
    out = []
    for a, b, check, what, claim, src, gens in CLAIMS:
        g = set(range(1, T + 1)) if gens == "later" else None
        for lam, id_ in ((math.inf, a), (1.0, b)):
            out.append(_ladder_check(rows, id_, lam, check, what, claim, src, HYPOTHESIS, g))
    out += [_lemma_check(rows, "C16.5", math.inf), _lemma_check(rows, "C16.6", 1.0)]
    return sorted(out + _sims_checks(quick), key=_order)


def _order(c: Check) -> int:
    return int(c.id.split(".")[1])
