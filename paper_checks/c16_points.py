"""Theory against neural diffusion models on the theory half's low-dimensional laws (the point rung).

Reads the committed sweeps results/points-ladder (the capacity ladder: curated loops, K = 4, lam = inf and 1, on the
2-D mixture with its reward, MLP widths at several fine-tune budgets from one base budget, seed 0 picks and seeds
1-2 report) and results/points-sims (SIMS in the synthetic augmentation loop and the fully synthetic loop, small and
ample networks, w picked on seed 0, reported on other seeds).

The ladder's capacity rows follow :mod:`paper_checks.capacity` (the rule C17 shares): per generation |error| <=
N_SE SE, the capacity picked on seed 0 and tested on seeds 1-2 at every width from it, and for the fit and law errors
the error E the power allows one to claim. SIMS verdicts are paired differences over the
report seeds, by Student's t with n - 1 degrees of freedom (:func:`paper_checks.core.t_verdict`).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .capacity import N_SE, Ladder, budget_text, claim_checks, max_abs_z, pick_capacity, seeds_text
from .capacity import lam_text as _lam
from .core import FAILS, HOLDS, HYPOTHESIS, PAPER, Check, not_measurable, passes, t_verdict

RESULTS = Path(__file__).resolve().parents[1] / "results"
LADDER = RESULTS / "points-ladder"
LADDER_LAM1 = RESULTS / "points-ladder-lam1"     # the lam = 1 half, where it is run apart from the lam = inf one
SIMS = RESULTS / "points-sims"
HELDOUT = RESULTS / "points-heldout"
CMD_LADDER = "python -m empirical points-ladder --out results/points-ladder"
CMD_LADDER_LAM1 = "bash results/points-ladder-lam1/run.sh"
CMD_SIMS = "bash results/points-sims/run.sh"
SOURCE = "Ferbach et al. 2024"


def _rows(folder: Path) -> list[dict] | None:
    from empirical.experiments.ladder_results import read_results
    f = folder / "results.csv"
    return read_results(f) if f.exists() else None


POINTS = Ladder("results/points-ladder", CMD_LADDER, "finetune_images", "base_images", "MLP", "points",
                ("points_capacity.png",))
POINTS_LAM1 = Ladder("results/points-ladder-lam1", CMD_LADDER_LAM1, "finetune_images", "base_images", "MLP", "points",
                     ("points_capacity.png",))


def ladder_rows() -> list[dict] | None:
    """The ladder's rows: results/points-ladder's, with the lam = 1 rows of results/points-ladder-lam1 in place of
    its own where that folder exists; None when neither does."""
    from empirical.experiments.ladder_results import read_ladder
    return read_ladder(LADDER, LADDER_LAM1)


def _lemma_check(rows, id_, lam) -> Check:
    sel = [r for r in rows if r["lam"] == lam and r.get("lemma22_value") is not None]
    if not sel:
        return not_measurable(id_, f"Lemma 2.2 on the kept set of neural point loops (lam = {_lam(lam)})", SOURCE,
                              "gain >= bound", f"results/points-ladder has no lam = {_lam(lam)} runs: "
                              f"`{CMD_LADDER if lam == math.inf else CMD_LADDER_LAM1}`",
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


def _heldout_check(rows: list[dict], id_: str) -> Check:
    """The capacity the ladder picks for the fit and law checks (lam = inf, the module's rule on the pick seed) tested
    on a law outside the tuning set: every generation of every held-out run at a width >= the pick of its budget."""
    claim = ("The capacity the ladder picks for the fit and law checks (on the 2-D mixture) keeps both within "
             f"{N_SE:g} SE on a law outside the tuning set")
    src = "this project [hypothesis]"
    pred = f"|fit z| and |law z| <= {N_SE:g} at every generation of the held-out runs at the picked capacity"
    cmd = "`bash results/points-heldout/run.sh`"
    held = [json.loads(line) for f in sorted(HELDOUT.glob("capacity-*.jsonl")) for line in f.read_text().splitlines()
            if line.strip()]
    sel = [r for r in rows if r["lam"] == math.inf and r.get("fit_z") is not None and r.get("law_z") is not None]
    if not held or not sel:
        return not_measurable(id_, claim, src, pred, f"no held-out capacity runs in results/points-heldout: {cmd}",
                              kind=HYPOTHESIS)

    def stat(rs):
        return max(max_abs_z(rs, "fit"), max_abs_z(rs, "law"))
    picks = pick_capacity(POINTS.cells(sel), stat, N_SE)["per_budget"]
    tested = [r for r in held if picks.get(r["finetune_images"]) is not None
              and r["width"] >= picks[r["finetune_images"]]]
    if not tested:
        return not_measurable(id_, claim, src, pred, "the held-out runs are all below the ladder's picked widths "
                              f"({', '.join(f'{budget_text(b)}: {w}' for b, w in picks.items())}): {cmd}",
                              kind=HYPOTHESIS)
    cells: dict = {}
    for r in tested:
        cells.setdefault((r["law"], r["finetune_images"], r["width"]), []).append(r)
    oks = [passes(stat(rs), "<=", N_SE) for rs in cells.values()]
    parts = [f"{law}, fine-tune {budget_text(b)}, width {w} ({seeds_text(rs)}): max |fit z| "
             f"{max_abs_z(rs, 'fit'):.1f}, max |law z| {max_abs_z(rs, 'law'):.1f}, fit error "
             f"{min(r['fit_error'] for r in rs):+.3f} to {max(r['fit_error'] for r in rs):+.3f}, detectable "
             f"{np.median([r['fit_detectable'] for r in rs]):.3f}" for (law, b, w), rs in sorted(cells.items())]
    return Check(id_, claim, src, pred, "ladder picks (pick seed, fit and law): "
                 + ", ".join(f"{budget_text(b)}: width >= {w}" for b, w in picks.items() if w is not None) + "; "
                 + "; ".join(parts), f"{N_SE:g} SE per generation and seed (the run's own check)",
                 HOLDS if all(oks) else FAILS,
                 "The ladder's loop (its base budget, sampler, N, K = 4, lam = inf, generations) on the held-out law's "
                 "own points and reward, seeds of its own, each run on independent draws (results/points-heldout, "
                 "heldout.py capacity). Detectable: the smallest fit error a generation's check sees with 80% power, "
                 "median over the rows.", figures=("points_capacity.png",), kind=HYPOTHESIS)


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
    rows = ladder_rows()
    if rows is None:
        out = [not_measurable(i, c + f" (lam = {lam})", s, f"|{w}| within {N_SE:g} SE for some capacity",
                              f"no results/points-ladder: make it with `{CMD_LADDER}`", kind=HYPOTHESIS)
               for a, b, _, w, c, s, _ in CLAIMS for lam, i in (("inf", a), ("1", b))]
        out += [not_measurable(i, "Lemma 2.2 on the kept set of neural point loops", SOURCE, "gain >= bound",
                               f"no results/points-ladder: make it with `{CMD_LADDER}`", kind=PAPER)
                for i in ("C16.5", "C16.6")] + [_heldout_check([], "C16.17")]
        return sorted(out + _sims_checks(quick), key=_order)
    out = claim_checks(CLAIMS, rows, (POINTS, POINTS_LAM1), HYPOTHESIS)
    out += [_lemma_check(rows, "C16.5", math.inf), _lemma_check(rows, "C16.6", 1.0), _heldout_check(rows, "C16.17")]
    return sorted(out + _sims_checks(quick), key=_order)


def _order(c: Check) -> int:
    return int(c.id.split(".")[1])
