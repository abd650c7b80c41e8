"""The record every paper check returns, and the verdict rules (a verdict is computed, never written in)."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

HOLDS, FAILS, NOT_MEASURABLE = "holds", "fails", "not measurable here"
NOT_SHOWN = "not shown at this power"
VERDICTS = (HOLDS, FAILS, NOT_SHOWN, NOT_MEASURABLE)
PAPER, DERIVED, HYPOTHESIS = "paper", "derived", "hypothesis"
KINDS = {PAPER: "claims of the papers", DERIVED: "derivations", HYPOTHESIS: "project hypotheses"}


@dataclass(frozen=True)
class Check:
    """One claim beside what the project measured.

    claim: the statement; source: paper and lemma/equation (with its tag: paper / derived / unverified);
    prediction: the number or relation claimed; measured: what the project computed; tolerance: the allowance
    and why; verdict: holds / fails / not shown at this power / not measurable here; note: counterexample,
    reason, or remark; figures: related figure files; kind: where the claim comes from -- ``paper`` (a paper
    states it), ``derived`` (the project worked it out: a closed form, a consequence) or ``hypothesis`` (the
    project's own conjecture, which no paper makes). Every row must give its kind.
    """

    id: str
    claim: str
    source: str
    prediction: str
    measured: str
    tolerance: str
    verdict: str
    note: str = ""
    figures: tuple = field(default_factory=tuple)
    kind: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"check {self.id}: kind must be one of {sorted(KINDS)}, got {self.kind!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"check {self.id}: verdict must be one of {VERDICTS}, got {self.verdict!r}")
        # comparisons made since the previous Check are this one's (they are evaluated in its arguments)
        PERTURB["owners"].append((self.id, PERTURB["seen"]))


def verdict(ok: bool) -> str:
    """holds if ok else fails."""
    return HOLDS if bool(ok) else FAILS


_OPS = {"<=": lambda a, b: a <= b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b, ">": lambda a, b: a > b}
PERTURB = {"which": None, "seen": 0, "owners": []}
"""Test hook: while ``which`` is None nothing changes; when it is "all" or an index i, :func:`passes` moves
that comparison's measured value past its bound (by the distance to the bound plus a relative 1e-9), so a
test can see that every verdict follows its measured quantity (tests/project/test_figures_checks.py)."""


def passes(measured: float, op: str, bound: float) -> bool:
    """Compare a measured quantity with the bound its tolerance gives (op one of <=, <, >=, >); every verdict
    of c01..c10 is built from these comparisons, so it flips when the measured quantity crosses the bound."""
    m, b = float(measured), float(bound)
    i = PERTURB["seen"]
    PERTURB["seen"] += 1
    if PERTURB["which"] == "all" or PERTURB["which"] == i:
        step = abs(b - m) + 1e-9 * max(abs(b), 1e-300) + 1e-300
        m = b + step if op in ("<=", "<") else b - step
    return bool(_OPS[op](m, b))


ROUNDING_FLOOR = 1e-12
"""Below this a quantity that is zero in exact arithmetic is shown as zero: its last bits depend on the CPU's
kernels and summation order, and the report must read the same on every machine."""


def rounding_level(x: float, fmt: str = ".1e", floor: float = ROUNDING_FLOOR) -> str:
    """``x`` for a report cell when x is zero in exact arithmetic (an error, a drift, a difference of two exact
    computations): "0 to rounding (|value| < floor)" when |x| < floor, so that rounding never changes the report;
    otherwise x in ``fmt``, so that a real deviation still shows."""
    x = float(x)
    return f"0 to rounding (|value| < {floor:g})" if abs(x) < floor else format(x, fmt)


def not_measurable(id: str, claim: str, source: str, prediction: str, why: str, *, kind: str) -> Check:
    """An entry the project cannot measure here, with the reason."""
    return Check(id, claim, source, prediction, "-", "-", NOT_MEASURABLE, why, kind=kind)


Z_POWER = 0.8416      # the normal quantile of 0.8: 80% power


def effect_verdict(diff: float, se: float, n: int, n_se: float = 2.0, unit: str = "seeds") -> tuple[str, str]:
    """Verdict on a claimed effect "diff < 0" measured as a mean paired difference over n seeds (or chains:
    ``unit``) with standard error se: holds when diff < -n_se se, fails when diff > +n_se se (the opposite
    effect, shown), and otherwise "not shown at this power", with the number that would settle it: at the
    observed effect, about n ((n_se + 0.84) / |z|)^2 give a test at n_se SEs 80% power (z = diff / se).
    Returns (verdict, note)."""
    if passes(diff, "<", -n_se * se):
        return HOLDS, ""
    if passes(diff, ">", n_se * se):
        return FAILS, ""
    z = diff / se if se > 0 else 0.0
    if z < 0:
        need = math.ceil(n * ((n_se + Z_POWER) / abs(z)) ** 2)
        why = (f"Not shown at this power: the effect is {abs(z):.1f} SE in the claimed direction with {n} {unit}; "
               f"about {need} {unit} would give a {n_se:g}-SE test 80% power at this effect size.")
    else:
        why = (f"Not shown at this power: the measured effect is {z:+.1f} SE, against the claimed direction, with "
               f"{n} {unit}; more {unit} can only bound an effect of the claimed sign, not show it.")
    return NOT_SHOWN, why


def t_test(differences) -> dict:
    """The one-sample t statistic of paired differences (one per seed): mean, SE (sample SD / sqrt n), t = mean /
    SE, its degrees of freedom n - 1 and the two-sided p of Student's t with those degrees of freedom; fewer than two
    differences, or non-finite ones, are a ValueError."""
    import numpy as np
    from scipy import stats
    d = np.asarray(differences, float).ravel()
    if d.size < 2 or not np.all(np.isfinite(d)):
        raise ValueError(f"differences must be two or more finite numbers, got {differences!r}")
    mean, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size))
    t = mean / se if se > 0 else (0.0 if mean == 0 else math.copysign(math.inf, mean))
    df = d.size - 1
    return {"mean": mean, "se": se, "t": t, "df": df, "n": int(d.size), "p": float(2 * stats.t.sf(abs(t), df))}


def t_seeds_needed(t: float, n: int, alpha: float = 0.05, power: float = 0.8, most: int = 100_000) -> int | None:
    """Seeds that give the two-sided t test at level ``alpha`` the power ``power`` against an effect of the
    observed size (per-seed effect t / sqrt(n), the observed mean over the observed SD): the smallest m >= 2 with
    P(T_{m-1}(delta sqrt(m)) beyond the critical value) >= power, T the noncentral t; None past ``most``."""
    from scipy import stats
    effect = abs(t) / math.sqrt(n)
    if effect == 0:
        return None
    for m in itertools.chain(range(2, 200), range(200, most + 1, 50)):
        q = stats.t.ppf(1 - alpha / 2, m - 1)
        if stats.nct.sf(q, m - 1, effect * math.sqrt(m)) >= power:
            return m
    return None


def t_verdict(differences, alpha: float = 0.05, unit: str = "seeds") -> tuple[str, str, dict]:
    """Verdict on a claimed effect "difference < 0" from paired differences over a few seeds, by Student's t with
    n - 1 degrees of freedom (not the normal quantile, which a handful of seeds does not reach): holds when t is
    below -q, fails when t is above +q (the opposite effect, shown), q the two-sided ``alpha`` quantile of t with
    n - 1 df; otherwise "not shown at this power", with the seeds that would give the test 80% power at the
    observed effect (:func:`t_seeds_needed`). Returns (verdict, note, :func:`t_test`'s numbers plus ``q``); the note
    always prints t, its df and the two-sided p."""
    from scipy import stats
    s = t_test(differences)
    q = float(stats.t.ppf(1 - alpha / 2, s["df"]))
    s["q"] = q
    what = (f"t = {s['t']:+.2f} with {s['df']} df (paired over {s['n']} {unit}), two-sided p = {s['p']:.3g}; "
            f"the level-{alpha:g} test needs |t| > {q:.2f}.")
    if passes(s["t"], "<", -q):
        return HOLDS, what, s
    if passes(s["t"], ">", q):
        return FAILS, what, s
    if s["t"] < 0:
        need = t_seeds_needed(s["t"], s["n"], alpha)
        more = (f"about {need} {unit} would give it 80% power at this effect size" if need else
                "no feasible number of seeds would show an effect this small")
        return NOT_SHOWN, f"Not shown at this power: {what} {more}.", s
    return NOT_SHOWN, (f"Not shown at this power: {what} The effect is against the claimed direction; more {unit} can "
                       "only bound an effect of the claimed sign, not show it."), s
