"""The record every paper check returns, and the verdict rules (a verdict is computed, never written in)."""
from __future__ import annotations

from dataclasses import dataclass, field

HOLDS, FAILS, NOT_MEASURABLE = "holds", "fails", "not measurable here"


@dataclass(frozen=True)
class Check:
    """One claim beside what the project measured.

    claim: the statement; source: paper and lemma/equation (with its tag from the docs: paper / derived /
    unverified); prediction: the number or relation claimed; measured: what the project computed;
    tolerance: the allowance and why; verdict: holds / fails / not measurable here; note: counterexample,
    reason, or remark; figures: related figure files.
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

    def __post_init__(self):
        # comparisons made since the previous Check are this one's (they are evaluated in its arguments)
        PERTURB["owners"].append((self.id, PERTURB["seen"]))


def verdict(ok: bool) -> str:
    """holds if ok else fails."""
    return HOLDS if bool(ok) else FAILS


_OPS = {"<=": lambda a, b: a <= b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b, ">": lambda a, b: a > b}
PERTURB = {"which": None, "seen": 0, "owners": []}
"""Test hook: while ``which`` is None nothing changes; when it is "all" or an index i, :func:`passes` moves
that comparison's measured value past its bound (by the distance to the bound plus a relative 1e-9), so a
test can see that every verdict follows its measured quantity (tests/test_figures_checks.py)."""


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


def not_measurable(id: str, claim: str, source: str, prediction: str, why: str) -> Check:
    """An entry the project cannot measure here, with the reason."""
    return Check(id, claim, source, prediction, "-", "-", NOT_MEASURABLE, why)
