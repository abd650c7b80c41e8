"""Theory against the U-Net on an image-shaped law with an exact answer (the mixture rung).

Reads the committed results/mixture-ladder (curated loops, K = 4, lam = inf and 1, on the low-rank Gaussian mixture
fitted to 8 x 8 CIFAR-10, whose reward, Bayes labels and curated trajectory are exact; U-Net widths at several
fine-tune budgets from one base budget, the pick seeds choosing and the report seeds testing; where the ladder has
them, the same settings on real 8 x 8 CIFAR-10 at one width and budget), results/mixture-sims (SIMS in the synthetic
augmentation loop and the fully synthetic loop, small and ample U-Nets, w picked on the pick seeds and reported on
the others, the Frechet distance to the law's exact moments deciding) and results/mixture-sampler-steps (the exact
denoiser through the loop's Heun sampler).

The capacity rows follow :mod:`paper_checks.capacity`, as C16's do: per generation |error| <= N_SE SE, the capacity
picked on the pick seeds (per fine-tune budget the smallest width from which every wider network holds; the smallest
such budget) and tested on the report seeds at every width from it. SIMS verdicts are paired differences over the
report seeds by Student's t with n - 1 degrees of freedom (:func:`paper_checks.core.t_verdict`).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .capacity import N_SE, Ladder, budget_text as _k, claim_checks, lam_text as _lam, seeds_text as _seeds
from .core import DERIVED, FAILS, HOLDS, HYPOTHESIS, NOT_SHOWN, PAPER, Check, not_measurable, passes, t_verdict

RESULTS = Path(__file__).resolve().parents[1] / "results"
LADDER = RESULTS / "mixture-ladder"
SIMS = RESULTS / "mixture-sims"
STEPS = RESULTS / "mixture-sampler-steps"
CMD_LADDER = "python -m empirical mixture-ladder --ladder small --serial --out results/mixture-ladder"
CMD_SIMS = "python -m empirical mixture-sims --rung small --serial --out results/mixture-sims"
CMD_STEPS = "PYTHONPATH=. python results/mixture-sampler-steps/measure.py --config cpu --out results/mixture-sampler-steps/cpu.json"
SOURCE = "Ferbach et al. 2024"
FIG = ("mixture_capacity.png",)


def _rows(folder: Path) -> list[dict] | None:
    from empirical.experiments.ladder_results import read_results
    f = folder / "results.csv"
    return read_results(f) if f.exists() else None


MIXTURE = Ladder("results/mixture-ladder", CMD_LADDER, "finetune_samples", "base_samples", "U-Net", "samples", FIG)


def _lemma_check(rows, id_) -> Check:
    sel = [r for r in rows if r.get("lemma22_value") is not None]
    claim = ("Each curated step raises E[e^r] of the kept set by at least ((K-1)/K) Var[e^r] / e^{r*} (U-Net loops "
             "on the exact law, every width, budget and lam)")
    if not sel:
        return not_measurable(id_, claim, SOURCE, "gain >= bound", f"no results/mixture-ladder: `{CMD_LADDER}`",
                              kind=PAPER)
    ok = [passes(r["lemma22_value"], "<=", r["lemma22_allowance"]) for r in sel]
    gap = [r["kept_exp_gain"] - r["lemma22_gain_bound"] for r in sel]
    bad = [r for r, o in zip(sel, ok) if not o]
    where = ""
    if bad:
        where = (f"; {len(bad)} fail, gain - bound {min(r['kept_exp_gain'] - r['lemma22_gain_bound'] for r in bad):.2e}"
                 f" to {max(r['kept_exp_gain'] - r['lemma22_gain_bound'] for r in bad):.2e} against allowances of "
                 f"{min(r['lemma22_allowance'] for r in bad):.1e} to {max(r['lemma22_allowance'] for r in bad):.1e}, "
                 f"in runs of widths {sorted({int(r['width']) for r in bad})} whose models' E[r] is at most "
                 f"{max(r['mean_reward'] for r in bad):.3g}")
    return Check(id_, claim, f"{SOURCE}, Lemma 2.2 [paper; exact normaliser unverified]",
                 f"kept-set gain >= bound - {N_SE:g} SE in every generation of every run",
                 f"{len(sel)} generations: gain - bound from {min(gap):.2e} to {max(gap):.3f}; largest excess over the "
                 f"allowance {max(r['lemma22_value'] - r['lemma22_allowance'] for r in sel):+.2e}" + where,
                 f"{N_SE:g} SE (simtheory.predict.loop_checks)", HOLDS if all(ok) else FAILS,
                 "The selection is exact at any capacity: the sampler-free part of the theorem on the U-Net loops' "
                 "own candidates, scored by the law's exact posterior. Where nearly every candidate's reward is 0 the "
                 "kept set's e^r values are all but equal, so the allowance (SEs from the kept set's own spread) "
                 "misses the draw of whether a rare rewarded candidate is kept.", figures=FIG, kind=PAPER)


def _cifar_check(rows, id_) -> Check:
    claim = ("At the same U-Net, budget, N, K and lam, the fit error (model minus its training set) on real 8 x 8 "
             "CIFAR-10, rewarded by a trained classifier, is larger than on the exact CIFAR-10 law, rewarded by its own "
             "Bayes posterior")
    src = "this project [hypothesis]"
    cif = [r for r in rows if r["data"] == "cifar" and r["role"] == "report" and r.get("fit_error") is not None]
    if not cif:
        return not_measurable(id_, claim, src, "|fit error| on CIFAR-10 above the law's", "results/mixture-ladder has "
                              f"no CIFAR-10 rows: `{CMD_LADDER}`", kind=HYPOTHESIS)
    w, ft = cif[0]["width"], cif[0]["finetune_samples"]
    mix = [r for r in rows if r["data"] == "mixture" and r["role"] == "report" and r["width"] == w
           and r["finetune_samples"] == ft and r["lam"] in {c["lam"] for c in cif} and r.get("fit_error") is not None]
    if not mix:
        return not_measurable(id_, claim, src, "|fit error| on CIFAR-10 above the law's", f"no mixture rows at width "
                              f"{w} and fine-tune {_k(ft)} beside the CIFAR-10 ones", kind=HYPOTHESIS)
    # the mean |fit error| over the same generations and lams, each side's SE from its rows' SEs
    a = np.array([abs(r["fit_error"]) for r in mix])
    b = np.array([abs(r["fit_error"]) for r in cif])
    sa = math.sqrt(sum(r["fit_error_se"] ** 2 for r in mix)) / len(mix)
    sb = math.sqrt(sum(r["fit_error_se"] ** 2 for r in cif)) / len(cif)
    diff, se = float(b.mean() - a.mean()), math.hypot(sa, sb)
    v = HOLDS if passes(diff, ">", 2 * se) else (FAILS if passes(diff, "<", -2 * se) else NOT_SHOWN)
    acc = np.mean([r["classifier_accuracy"] for r in cif if r.get("classifier_accuracy") is not None])
    return Check(id_, claim, src, "mean |fit error| on CIFAR-10 minus on the law > 0",
                 f"width {w}, fine-tune {_k(ft)}, lam {', '.join(_lam(x) for x in sorted({r['lam'] for r in cif}))}, "
                 f"report seed, every generation: mean |fit error| on the law {a.mean():.4f} +- {sa:.4f} "
                 f"({len(a)} rows), on CIFAR-10 {b.mean():.4f} +- {sb:.4f} ({len(b)} rows); difference "
                 f"{diff:+.4f} +- {se:.4f}", "2 SE of the difference (the rows' SEs taken as independent; |error| "
                 "biased up by its noise on both sides alike)", v,
                 f"The CIFAR-10 reward classifier's test accuracy {acc:.3f} (the cpu image preset's); the law's Bayes "
                 "classifier is exact. Both fit errors are in the same reward units (gamma = 5, target airplane).",
                 figures=FIG, kind=HYPOTHESIS)


def _sampler_check(id_, preset: str = "cpu") -> Check:
    claim = (f"The {preset} mixture preset's Heun steps leave the sampler's own error (the exact denoiser through the "
             "loop's sampler) below one SE of that preset's law check, in E[r] and in every class share")
    src = "this project [derived: the step count is chosen by this rule]"
    f = STEPS / f"{preset}.json"
    cmd = CMD_STEPS.replace("cpu", preset)
    if not f.exists():
        return not_measurable(id_, claim, src, "|sampler error| < one SE", f"no {f.name}: `{cmd}`", kind=DERIVED)
    res = json.loads(f.read_text())
    from empirical.mixture import MIXTURE_PRESETS
    cfg = MIXTURE_PRESETS[preset]
    row = next((r for r in res["rows"] if r["steps"] == cfg.num_steps), None)
    if row is None:
        return not_measurable(id_, claim, src, "|sampler error| < one SE", f"{f.name} has no row at the preset's "
                              f"{cfg.num_steps} steps: `{cmd}`", kind=DERIVED)
    # one SE of the preset's law check at generation 0: the model's n_eval + K N draws and the N real ones
    n_meas, n = cfg.n_eval + cfg.K * cfg.n_samples, cfg.n_samples
    q = np.asarray(res["law_class_proportions"])
    share_se = np.sqrt(q * (1 - q) * (1 / n_meas + 1 / n))
    reward_se = res["law_reward_sd"] * math.sqrt(1 / n_meas + 1 / n)
    e_r = abs(row["paired_error"]) + 2 * row["paired_error_se"]
    e_q = np.abs(row["paired_class_share_error"]) + 2 * np.asarray(row["paired_class_share_error_se"])
    ok = [passes(e_r, "<", reward_se)] + [passes(a, "<", b) for a, b in zip(e_q, share_se)]
    return Check(id_, claim, src, f"|error| + 2 SE below one SE of the law check at {cfg.num_steps} steps",
                 f"{cfg.num_steps} steps against {res['ref_steps']} (paired, {res['n']} latents): E[r] "
                 f"{row['paired_error']:+.4f} +- {row['paired_error_se']:.4f} (one SE of the check {reward_se:.4f}); "
                 f"largest class-share error {np.max(np.abs(row['paired_class_share_error'])):.4f} (its bound "
                 f"{share_se.min():.4f} to {share_se.max():.4f}); against the law itself: E[r] "
                 f"{row['law_error']:+.4f} +- {row['law_error_se']:.4f}",
                 f"each |error| + 2 SE below one SE of the {preset} preset's generation-0 law check (N = "
                 f"{cfg.n_samples:,}, {n_meas:,} measured draws)", HOLDS if all(ok) else FAILS,
                 f"The reward's SD under the law {res['law_reward_sd']:.3f} ({res['n_law']:,} exact draws); the "
                 "per-class bound uses the law's class shares.", kind=DERIVED)


def _sims_checks() -> list[Check]:
    claim_aug = ("In a synthetic-augmentation loop (a fixed real set plus the previous generation's samples) SIMS "
                 "keeps the retrained model closer to the data than standard retraining")
    src = ("Alemohammad et al. 2024, SIMS, Sec. 4.2.2 (|D_p| up to 60% of |D_r|) [paper; the U-Net on an exact law "
           "this project's]")
    rep, pick = _rows(SIMS / "report"), _rows(SIMS / "pick")
    if rep is None or pick is None:
        return [not_measurable("C17.12", claim_aug + " (U-Net on the exact law)", src, "final distance lower with "
                               "SIMS", f"no results/mixture-sims: make it with `{CMD_SIMS}`", kind=PAPER)]
    picked = json.loads((SIMS / "picked.json").read_text())
    T = max(r["generation"] for r in rep)
    out = []
    for i, (loop, kind, claim) in enumerate((("augmentation", PAPER, claim_aug),
                                            ("synthetic", HYPOTHESIS, "Fully synthetic loop (the project's own "
                                             "setting): SIMS keeps the loop closer to the data than w = 0"))):
        for j, cap in enumerate(sorted({r["capacity"] for r in rep}, key=lambda c: (c != "small", c))):
            w = picked.get(f"{loop}/{cap}")
            rows = [r for r in rep if r["loop"] == loop and r["capacity"] == cap and r["generation"] == T]
            if w is None or not rows:
                continue
            a = {r["seed"]: r["fd_law"] for r in rows if r["w"] == 0}
            b = {r["seed"]: r["fd_law"] for r in rows if r["w"] == w}
            seeds = sorted(set(a) & set(b))
            v, why, st = t_verdict(np.array([b[s] - a[s] for s in seeds]))
            g0 = [r["fd_law"] for r in rep if r["loop"] == loop and r["capacity"] == cap and r["generation"] == 0
                  and r["w"] == 0]
            floor = np.mean([r["fd_law_floor"] for r in rows])
            pk = {r["w"]: r["fd_law"] for r in pick if r["loop"] == loop and r["capacity"] == cap
                  and r["generation"] == T}
            width = rows[0]["width"]
            out.append(Check(
                f"C17.{12 + 2 * i + j}", f"{claim} ({cap} U-Net, width {width}, on the exact CIFAR-10 law)",
                src if kind == PAPER else "this project [hypothesis]",
                f"Frechet distance to the law's exact moments at generation {T}: SIMS (w picked on {_seeds(pick)}) below w = 0",
                f"{_seeds(pick)} at T = {T}: " + ", ".join(f"w = {x:g} {pk[x]:.3f}" for x in sorted(pk))
                + f" (picked w = {w:g}); report seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}): distance at generation "
                f"0 {np.mean(g0):.3f}, at T = {T} w = 0 {np.mean(list(a.values())):.3f}, w = {w:g} "
                f"{np.mean(list(b.values())):.3f} (noise floor {floor:.3f}); paired difference {st['mean']:+.4f} +- "
                f"{st['se']:.4f} (t = {st['t']:+.2f}, {st['df']} df, two-sided p = {st['p']:.3g})",
                f"Student's t with {st['df']} df at two-sided level 0.05 (|t| > {st['q']:.2f}); beyond +{st['q']:.2f} "
                "fails", v, why + f" K = 1 (the exact trajectory is the law itself), lam = "
                f"{'0.6' if loop == 'augmentation' else 'inf'}, replace.", figures=("mixture_sims.png",), kind=kind))
    return out


CLAIMS = (
    ("C17.1", "C17.2", "onestep", "measured - one-step prediction",
     "With enough capacity the U-Net's curated loop on the exact law follows the infinite-capacity one-step prediction",
     f"{SOURCE}, Sec. 2-3 (retraining at infinite capacity); the capacity claim is this project's [hypothesis]",
     "later"),
    ("C17.3", "C17.4", "multistep", "measured - multi-step prediction from generation 1's candidates",
     "With enough capacity the U-Net's curated loop on the exact law follows the exact multi-step dynamics from its "
     "first candidates", f"{SOURCE}, Eq. 7 (iterated curated retraining); the capacity claim is this project's "
     "[hypothesis]", "later"),
    ("C17.5", "C17.6", "law", "law error (model - the exact curated trajectory of the law)",
     "With enough capacity the U-Net's curated loop follows the exact curated trajectory of its data law",
     f"{SOURCE}, Eq. 7 and Sec. 3 (the exact dynamics from the data law); the capacity claim is this project's "
     "[hypothesis]", None),
    ("C17.7", "C17.8", "onestep+multistep+law", "one-step, multi-step and law errors",
     "With enough capacity the one-step, multi-step and law checks of the U-Net's loop on the exact law hold together",
     "this project [hypothesis]", "later"),
    ("C17.9", "C17.10", "fit", "fit error (model - its training set)",
     "With enough capacity each U-Net of the curated loop on the exact law reproduces its training set's mean reward",
     "this project [hypothesis]", None),
)


def run(quick: bool = False) -> list[Check]:
    rows = _rows(LADDER)
    out = [_sampler_check("C17.17", "cpu"), _sampler_check("C17.18", "gpu")]
    if rows is None:
        out += [not_measurable(i, c + f" (lam = {lam})", s, f"|{w}| within {N_SE:g} SE for some capacity",
                               f"no results/mixture-ladder: make it with `{CMD_LADDER}`", kind=HYPOTHESIS)
                for a, b, _, w, c, s, _ in CLAIMS for lam, i in (("inf", a), ("1", b))]
        out += [_lemma_check([], "C17.11"), _cifar_check([], "C17.16")]
        return sorted(out + _sims_checks(), key=_order)
    mix = [r for r in rows if r["data"] == "mixture"]
    out += claim_checks(CLAIMS, mix, (MIXTURE, MIXTURE), HYPOTHESIS)
    out += [_lemma_check(mix, "C17.11"), _cifar_check(rows, "C17.16")]
    return sorted(out + _sims_checks(), key=_order)


def _order(c: Check) -> int:
    return int(c.id.split(".")[1])
