"""Lemma 2.2 (as restated): E_{t+1}[e^r] >= E_t[e^r] + ((K-1)/K) Var_t[e^r] / e^{r*}."""
from __future__ import annotations

import math

import numpy as np

import simtheory
from simtheory import theorems

from .core import Check, passes, verdict


def run(quick: bool = False) -> list[Check]:
    rng = np.random.default_rng(2)
    n_cases = 60 if quick else 300
    slack, ratio_min, stronger_fail = np.inf, np.inf, 0
    total = 0
    for _ in range(n_cases):
        n = int(rng.integers(2, 8))
        p, r = rng.dirichlet(np.ones(n) * rng.choice([0.3, 1, 3])), rng.normal(0, rng.choice([0.3, 1, 3]), n)
        K = rng.choice([2, 3, 4, 8, 32, math.inf])
        traj = simtheory.retrain(p, r, K, 3)
        w = np.exp(r - r.max())
        for t in range(3):
            e0, e1 = float(traj[t] @ w), float(traj[t + 1] @ w)
            var = float(traj[t] @ (w - e0) ** 2)
            frac = 1.0 if K == math.inf else (K - 1) / K
            slack = min(slack, e1 - theorems.lemma22_bound(traj[t], r, K))
            if var > 1e-12:
                ratio_min = min(ratio_min, (e1 - e0) / (frac * var))
                stronger_fail += e1 < e0 + frac * var / e0 - 1e-12    # normaliser E[e^r] instead of e^{r*}
                total += 1
    return [Check("C3.1", "Each curated step raises E[e^r] by at least ((K-1)/K) Var[e^r] / e^{r*}",
                  "Ferbach et al. 2024, Lemma 2.2 [paper; exact normaliser unverified]",
                  "E_{t+1}[e^r] - bound >= 0", f"min slack {slack:.2e} over {n_cases} cases x 3 steps (units of e^{{r*}})",
                  "-1e-12 (rounding)", verdict(passes(slack, ">=", -1e-12)),
                  f"tightest observed gain / ((K-1)/K Var/e^{{r*}}) = {ratio_min:.3f} (>= 1 means the bound holds); "
                  f"the stronger normaliser E_t[e^r] (instead of e^{{r*}}) fails in {stronger_fail} of {total} steps", kind="paper")]
