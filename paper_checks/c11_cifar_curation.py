"""The CIFAR-10 curation claims of Ferbach et al. 2024 (Sec. 5, from secondary sources), measured on the
project's image loop. Reads the run folders under results/ (config.json + metrics.jsonl, the format every
loop writes); a missing run is reported as not measured, with the command that makes it.

Class proportions come from the run's judge (an independent classifier: another architecture, seed and
data split) when the run recorded one, else from the reward classifier itself; each verdict says which,
since the reward classifier's own proportions cannot tell a class shift from images that fool it."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from simtheory.metrics import entropy, total_variation
from simtheory.runs import read_metrics

from .core import Check, not_measurable, passes, verdict

RESULTS = Path(__file__).resolve().parents[1] / "results"
RUNS = {
    "airplane": ("cpu-airplane-K4", "python -m empirical loop --config cpu --threads 1 --out runs/cpu-airplane"),
    "confidence": ("cpu-confidence-K4", "python -m empirical loop --config cpu --threads 1 --reward confidence "
                                        "--out runs/cpu-confidence"),
    "lam1": ("cpu-airplane-K4-lam1", "python -m empirical loop --config cpu --threads 1 --lam 1 "
                                     "--out runs/cpu-airplane-lam1"),
}
SOURCE = "Ferbach et al. 2024, Sec. 5 CIFAR-10 [secondary sources]"
SCALE = ("measured on the CPU configuration (8x8 CIFAR-10 JPEG copy, 0.66 M-parameter EDM, 3 generations of "
         "2,500 images), not the paper's 50,000-image flow-matching setup")


def _rows(key: str):
    folder = RESULTS / RUNS[key][0]
    rows = read_metrics(folder)
    return rows if len(rows) >= 2 else None


def _rise(rows) -> float:
    """Mean-reward change from the first to the last generation, in combined standard errors."""
    return (rows[-1]["mean_reward"] - rows[0]["mean_reward"]) / math.hypot(rows[0]["reward_se"], rows[-1]["reward_se"])


def _has_judge(rows) -> bool:
    return "judge_class_proportions" in rows[0]


def _props(rows, judge: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Class proportions of the first and the last generation, by the judge where the run has one (or as
    ``judge`` says)."""
    judge = _has_judge(rows) if judge is None else judge
    key = "judge_class_proportions" if judge else "class_proportions"
    return np.array(rows[0][key]), np.array(rows[-1][key])


def _judged_by(rows, judge: bool | None = None) -> str:
    """Which classifier measured the class proportions of a run, with its test accuracy."""
    r = rows[0]
    if _has_judge(rows) if judge is None else judge:
        return f"class proportions by the independent judge classifier (test accuracy {r['judge_accuracy']:.3f})"
    return (f"class proportions by the reward classifier itself (test accuracy {r['classifier_accuracy']:.3f}); "
            "no independent judge in this run, so a class shift cannot be told from reward hacking")


def _missing(id_, claim, prediction, key):
    return not_measurable(id_, claim, SOURCE, prediction,
                          f"no run folder results/{RUNS[key][0]}: make it with `{RUNS[key][1]}` and copy its "
                          "config.json and metrics.jsonl there (about 12 minutes of CPU time at --threads 1)", kind="paper")


def run(quick: bool = False) -> list[Check]:
    out = []
    a = _rows("airplane")
    claim = "Curating with r = 5 P(airplane|x) raises the mean reward and the airplane share; every other class falls"
    if a is None:
        out.append(_missing("C11.1", claim, "reward up, airplane share up, others down", "airplane"))
    else:
        r0, rT = a[0], a[-1]
        z = _rise(a)
        ia = rT["classes"].index("airplane")
        p0, pT = _props(a)
        falls = [passes(d, "<", 0) for d in np.delete(pT - p0, ia)]
        others_fall = all(falls)
        out.append(Check("C11.1", claim, SOURCE, "mean reward and airplane share rise over generations; others fall",
                         f"mean reward {r0['mean_reward']:.3f} -> {rT['mean_reward']:.3f} ({z:.1f} SE) over "
                         f"{rT['generation']} generations; airplane share {p0[ia]:.3f} -> {pT[ia]:.3f}; all 9 others "
                         f"fall: {others_fall}; {_judged_by(a)}", "reward rise > 3 combined standard errors",
                         verdict(passes(z, ">", 3) & passes(pT[ia], ">", p0[ia]) & others_fall), SCALE, kind="paper"))
    c = _rows("confidence")
    claim = "Curating with r = 5 max_c P(c|x) amplifies a few classes (bias amplification)"
    if c is None:
        out.append(_missing("C11.2", claim, "class proportions concentrate on a few classes", "confidence"))
    else:
        p0, pT = _props(c)
        ent0, entT = entropy(p0), entropy(pT)
        top3_0, top3_T = float(np.sort(p0)[-3:].sum()), float(np.sort(pT)[-3:].sum())
        n = c[-1]["n_eval"]
        se = math.sqrt(top3_T * (1 - top3_T) / n) + math.sqrt(top3_0 * (1 - top3_0) / n)
        z = _rise(c)
        out.append(Check("C11.2", claim, SOURCE, "entropy of class proportions falls; the top classes gain share",
                         f"class entropy {ent0:.3f} -> {entT:.3f} nats; top-3 share {top3_0:.3f} -> {top3_T:.3f}; "
                         f"mean reward rise {z:.1f} SE; {_judged_by(c)}", "top-3 share rise > 3 binomial standard errors",
                         verdict(passes(top3_T - top3_0, ">", 3 * se) & passes(entT, "<", ent0)), SCALE, kind="paper"))
    m = _rows("lam1")
    claim = "With real data mixed in (lam = 1) class proportions stay near those of the data while the reward still rises"
    if m is None:
        out.append(_missing("C11.3", claim, "proportions stable; reward rises", "lam1"))
    else:
        both = a is not None and _has_judge(a) and _has_judge(m)     # compare like with like
        p0, pT = _props(m, both)
        tv_mix = total_variation(pT, p0)
        z = _rise(m)
        tv_syn = None
        if a is not None:
            tv_syn = total_variation(*_props(a, both)[::-1])
        out.append(Check("C11.3", claim, SOURCE,
                         "TV(proportions_T, proportions_0) well below the fully synthetic loop's; reward rises",
                         f"TV {tv_mix:.3f} with lam=1 vs " + (f"{tv_syn:.3f} fully synthetic" if tv_syn is not None else "n/a")
                         + f"; reward rise {z:.1f} SE; both runs' {_judged_by(m, both)}",
                         "TV below half the fully synthetic loop's, reward rise > 3 SE",
                         verdict((tv_syn is not None and passes(tv_mix, "<", 0.5 * tv_syn)) & passes(z, ">", 3)),
                         SCALE, kind="paper"))
    out.append(not_measurable("C11.4", "With real data FID stays flat and precision rises (50,000 samples per generation)",
                              SOURCE, "FID flat, precision up",
                              "FID at the paper's scale needs a 32x32 model and 10-50 k samples per generation; no GPU "
                              "was lent to this task, and at 0.14 s per image on 2 CPU cores a 10 k-sample FID takes "
                              "23 minutes per generation. The loop records FID when --fid-n is set.", kind="paper"))
    return out
