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


def verdict(ok: bool) -> str:
    """holds if ok else fails."""
    return HOLDS if bool(ok) else FAILS


def not_measurable(id: str, claim: str, source: str, prediction: str, why: str) -> Check:
    """An entry the project cannot measure here, with the reason."""
    return Check(id, claim, source, prediction, "-", "-", NOT_MEASURABLE, why)
