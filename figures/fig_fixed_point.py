"""The lam-mixed fixed point: E[r] and KL(q || p_data) against lam (exact, K = 4, mixture1d on 101 atoms),
with the finite-sample histogram loop's last generation (mean and spread over seeds) on top."""
from __future__ import annotations

import csv

import numpy as np

from simtheory import scenarios, theorems
from simtheory.runs.sweep import SweepConfig, run_sweep

from .common import cached_arrays, plt, run_dir, save


def make(out, quick: bool = False) -> list:
    sc = scenarios.mixture1d(101)
    lams = np.geomspace(0.05, 20, 9 if quick else 25)

    def exact():
        fps = [theorems.mixed_fixed_point(sc.p_data, sc.r, 4, float(l)) for l in lams]
        return {"lam": lams, "mean_reward": [f["mean_reward"] for f in fps], "kl": [f["kl_to_data"] for f in fps]}

    ex = cached_arrays(run_dir(out, "fixed-point-exact"), {"kind": "fixed_point", "K": 4, "lams": lams.tolist()}, exact)
    loop_lams = (0.25, 1.0, 4.0) if quick else (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    cfg = SweepConfig("atoms1d", ("histogram",), (4,), loop_lams, (500 if quick else 2000,), ("replace",),
                      2 if quick else 5, 6 if quick else 20, 30000)
    path = run_sweep(cfg, run_dir(out, "fixed-point-sweep"), serial=quick, progress=False)
    rows = [r for r in csv.DictReader(open(path)) if int(r["generation"]) == cfg.generations]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.3))
    a1.semilogx(ex["lam"], ex["mean_reward"], "k-", label="exact fixed point")
    a1.axhline(float(np.sum(sc.p_data * sc.r)), color="0.6", ls="--", label="E_data[r]")
    a2.loglog(ex["lam"], ex["kl"], "k-", label="exact fixed point")
    for lam in loop_lams:
        sel = [r for r in rows if float(r["lam"]) == lam]
        mr = np.array([float(r["mean_reward"]) for r in sel])
        kl = np.array([float(r["kl_to_data"]) for r in sel])
        a1.errorbar(lam, mr.mean(), yerr=mr.std(ddof=1) if mr.size > 1 else 0, fmt="o", color="C1", ms=4)
        a2.errorbar(lam, kl.mean(), yerr=kl.std(ddof=1) if kl.size > 1 else 0, fmt="o", color="C1", ms=4)
    a1.plot([], [], "o", color="C1", label=f"histogram loop, N={cfg.Ns[0]}, gen {cfg.generations}")
    a1.set(xlabel="lam (synthetic : real)", ylabel="E[r]", title="reward at the fixed point")
    a2.set(xlabel="lam (synthetic : real)", ylabel="KL(q || p_data)", title="distance to the data")
    a1.legend()
    return save(fig, out, "fixed_point")
