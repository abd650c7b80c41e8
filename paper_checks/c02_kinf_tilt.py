"""Lemma 2.1: K = inf retraining gives p_t proportional to p_0 e^{t r}, the maximiser of E_p[r] - KL(p||p_0)/t."""
from __future__ import annotations

import math

import numpy as np

import simtheory
from simtheory import theorems
from simtheory.metrics import kl

from .core import Check, passes, rounding_level, verdict


def run(quick: bool = False) -> list[Check]:
    rng = np.random.default_rng(1)
    err, worst_gap = 0.0, np.inf
    for _ in range(20 if quick else 100):
        n = int(rng.integers(2, 30))
        p, r = rng.dirichlet(np.ones(n)), rng.normal(0, 2, n)
        traj = simtheory.retrain(p, r, math.inf, 15)
        err = max(err, max(float(np.abs(traj[t] - theorems.kinf_closed_form(p, r, t)).max()) for t in range(16)))
        t = 5.0
        q = theorems.kinf_closed_form(p, r, t)
        obj = lambda x: float(np.sum(x * r)) - kl(x, p) / t
        others = rng.dirichlet(np.ones(n), size=200)
        worst_gap = min(worst_gap, obj(q) - max(obj(o) for o in others))
    return [Check("C2.1", "K = inf: p_t is proportional to p_0 e^{t r}", "Ferbach et al. 2024, Lemma 2.1 [paper]",
                  "retrain(K=inf) equals the tilt at every step", f"max deviation {rounding_level(err)} (random cases, t <= 15)",
                  "1e-12 (rounding)", verdict(passes(err, "<", 1e-12)), kind="paper"),
            Check("C2.2", "p_0 e^{t r}/Z maximises E_p[r] - (1/t) KL(p || p_0) (RLHF at temperature 1/t)",
                  "Ferbach et al. 2024, Lemma 2.1 [paper]", "objective at the tilt >= at any other p",
                  f"min over cases of objective(tilt) - max objective(200 random p) = {worst_gap:.3g}",
                  "> 0 (strict maximiser)", verdict(passes(worst_gap, ">", 0)), kind="paper")]
