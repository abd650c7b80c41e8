"""Pick on one seed set, report on the others: the protocol of every experiment that chooses a setting (a guidance
weight w, a capacity, an auxiliary's hyperparameters) and then claims something about it. The choice is made on the
rows of the pick seeds (or seed sets) only; the claim is measured on the report seeds only, which the choice never
saw, so the number reported is not the maximum of many noisy ones.

[`Seeds`][empirical.experiments.protocol.Seeds] holds the two roles (disjoint, neither empty) and labels rows;
[`pick_best`][empirical.experiments.protocol.pick_best] makes the choice from
the pick rows. The SIMS sweep on images ([`empirical.sims.sweep`][empirical.sims.sweep]), the capacity ladder
([`empirical.experiments.ladder`][empirical.experiments.ladder]) and SIMS in point loops
([`empirical.experiments.point_sims`][empirical.experiments.point_sims]) all choose through them.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

import numpy as np

PICK, REPORT = "pick", "report"


@dataclass(frozen=True)
class Seeds:
    """The seeds (or seed-set indices) that choose (``pick``) and those that report (``report``): disjoint, and
    each holding at least one; a ValueError names what is wrong."""

    pick: tuple
    report: tuple

    def __post_init__(self):
        object.__setattr__(self, "pick", tuple(self.pick))
        object.__setattr__(self, "report", tuple(self.report))
        if not self.pick:
            raise ValueError("no pick seeds: the choice needs at least one seed of its own")
        if not self.report:
            raise ValueError("no report seeds: at least one seed must lie outside the pick seeds")
        if set(self.pick) & set(self.report):
            raise ValueError(f"pick and report seeds must be disjoint (pick on one set, report on another); both "
                             f"hold {sorted(set(self.pick) & set(self.report))}")

    @classmethod
    def split(cls, seeds: Iterable, pick: Iterable) -> Seeds:
        """The report seeds are ``seeds`` without ``pick`` (which must lie among ``seeds``)."""
        seeds, pick = tuple(seeds), tuple(pick)
        if not set(pick) <= set(seeds):
            raise ValueError(f"pick seeds {pick} must be among seeds {seeds}")
        return cls(pick, tuple(s for s in seeds if s not in pick))

    @property
    def all(self) -> tuple:
        """Every seed, pick first."""
        return self.pick + self.report

    def role(self, seed) -> str:
        """'pick' or 'report'; a seed of neither role is a ValueError."""
        if seed in self.pick:
            return PICK
        if seed in self.report:
            return REPORT
        raise ValueError(f"seed {seed!r} is neither a pick seed {self.pick} nor a report seed {self.report}")


def pick_best(rows: Iterable[dict], setting: Callable[[dict], Hashable], value: Callable[[dict], float],
              group: Callable[[dict], Hashable] = lambda r: None, lower: bool = True,
              tie: Callable[[Hashable], object] = lambda s: s) -> dict:
    """The choice of the protocol: per ``group`` of rows, the ``setting`` whose mean ``value`` over its rows is the
    lowest (``lower``) or highest; ties go to the setting first by ``tie``. Pass the pick rows only (the caller
    filters by [`Seeds.role`][empirical.experiments.protocol.Seeds.role]): nothing here looks at which seeds the rows
    came from.

    Returns {group: (setting, mean value)}; an empty input is a ValueError (nothing to choose from)."""
    means: dict = {}
    for r in rows:
        means.setdefault((group(r), setting(r)), []).append(float(value(r)))
    if not means:
        raise ValueError("no rows to pick from (no pick-set rows for the setting)")
    sign = 1.0 if lower else -1.0
    best: dict = {}
    for (g, s), v in means.items():
        m = float(np.mean(v))
        if g not in best or (sign * m, tie(s)) < (sign * best[g][1], tie(best[g][0])):
            best[g] = (s, m)
    return best
