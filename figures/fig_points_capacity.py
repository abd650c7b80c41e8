"""The capacity ladder (results/points-ladder): the fit error (measured minus the one-step prediction from the
generation's own candidates, mean over the report seeds +- 2 SE) against the network's width, per generation, for
both training budgets and lam = inf / 1; and E[r] per generation of each width beside the exact loop and the
multi-step prediction from generation 1's candidates."""
from __future__ import annotations


import numpy as np

from .common import cached_arrays, plt, run_dir, save
from .fig_points_common import LADDER, digest, exact_loop, lam_name, results_rows

KEYS = ("lam", "width", "budget", "seed", "role", "generation", "fit_error", "fit_error_se", "mean_reward",
        "reward_se", "multistep_mean_reward", "multistep_mean_reward_se", "mmd2", "mmd2_se")


def _table(out) -> dict:
    rows = results_rows(LADDER)

    def compute():
        return {k: np.array([np.nan if r[k] is None else r[k] for r in rows]) if k not in ("budget", "role")
                else np.array([r[k] for r in rows]) for k in KEYS}
    return cached_arrays(run_dir(out, f"points-ladder-{digest(LADDER / 'results.csv')}"),
                         {"kind": "points_ladder_table", "sha1": digest(LADDER / "results.csv")}, compute)


def _mean_se(v: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """Mean over seeds and its SE from the per-seed SEs (independent seeds)."""
    return float(v.mean()), float(np.sqrt(np.sum(se**2)) / v.size)


def make(out, quick: bool = False) -> list:
    t = _table(out)
    lams = sorted(set(t["lam"].tolist()), reverse=True)
    budgets = sorted(set(t["budget"].tolist()), reverse=True)          # short, long
    widths = sorted(set(t["width"].tolist()))
    T = int(t["generation"].max())
    rep = t["role"] == "report"
    fig, axes = plt.subplots(3, len(lams), figsize=(5.2 * len(lams), 9.4), squeeze=False)
    for j, lam in enumerate(lams):
        ax = axes[0, j]
        ax.axhline(0, color="0.6", lw=0.8)
        for b, ls in zip(budgets, ("--", "-")):
            for g in range(1, T + 1):
                xs, ys, es = [], [], []
                for w in widths:
                    m = rep & (t["lam"] == lam) & (t["budget"] == b) & (t["width"] == w) & (t["generation"] == g)
                    if m.any():
                        mu, se = _mean_se(t["fit_error"][m], t["fit_error_se"][m])
                        xs.append(w * (1 + 0.03 * (g - 3)))
                        ys.append(mu)
                        es.append(2 * se)
                ax.errorbar(xs, ys, es, ls=ls, marker="o", ms=3, capsize=2, color=plt.cm.viridis(g / (T + 0.5)),
                            label=f"{b}, t={g}")
        ax.set_xscale("log", base=2)
        ax.set_xticks(widths)
        ax.set_xticklabels([str(w) for w in widths])
        ax.set_xlabel("width (3 residual blocks)")
        ax.set_ylabel("fit error: measured - one-step E[r] (+- 2 SE)")
        ax.set_title(f"lam = {lam_name(lam)}: report seeds, dashed short / solid long budget", fontsize=8)
        ax.legend(fontsize=6, ncol=2)
        ax = axes[1, j]
        ex = exact_loop(out, lam, steps=T)
        ax.plot(range(T + 1), ex["mean_reward"][: T + 1], "k-", lw=2, label="exact loop (grid)")
        m = rep & (t["lam"] == lam) & (t["budget"] == budgets[-1]) & (t["width"] == max(widths))
        for w in widths:
            for b, ls in zip(budgets, ("--", "-")):
                mu = [t["mean_reward"][rep & (t["lam"] == lam) & (t["budget"] == b) & (t["width"] == w)
                                       & (t["generation"] == g)] for g in range(T + 1)]
                if all(len(v) for v in mu):
                    ax.plot(range(T + 1), [v.mean() for v in mu], ls, marker=".", lw=0.9,
                            color=plt.cm.plasma(widths.index(w) / len(widths)),
                            label=f"width {w}" if b == budgets[-1] else None)
        ms = [t["multistep_mean_reward"][m & (t["generation"] == g)] for g in range(T + 1)]
        if all(len(v) for v in ms):
            ax.plot(range(T + 1), [v.mean() for v in ms], "C2:", lw=2, label="multi-step from gen 1's candidates")
        ax.set_xlabel("generation")
        ax.set_ylabel("E[r] (mean over report seeds)")
        ax.set_title(f"lam = {lam_name(lam)}: dashed short / solid long budget", fontsize=8)
        ax.legend(fontsize=6)
        ax = axes[2, j]
        ax.plot(range(T + 1), ex["mmd2"][: T + 1], "k-", lw=2, label="exact loop (grid, exact MMD^2)")
        for w in widths:
            b = budgets[-1] if (rep & (t["width"] == w) & (t["budget"] == budgets[-1])).any() else budgets[0]
            sel = [rep & (t["lam"] == lam) & (t["budget"] == b) & (t["width"] == w) & (t["generation"] == g)
                   for g in range(T + 1)]
            if all(m_.any() for m_ in sel):
                ms_ = [_mean_se(t["mmd2"][m_], t["mmd2_se"][m_]) for m_ in sel]
                ax.errorbar(range(T + 1), [a for a, _ in ms_], [2 * e for _, e in ms_], marker=".", capsize=2,
                            lw=0.9, color=plt.cm.plasma(widths.index(w) / len(widths)), label=f"width {w}, {b}")
        ax.set_xlabel("generation")
        ax.set_ylabel("MMD^2 to the data law (+- 2 SE)")
        ax.set_title("distance to the data: one estimator (simtheory.metrics.mmd2) for both", fontsize=8)
        ax.legend(fontsize=6)
    fig.suptitle("Neural curated loops on the 2-D mixture (K = 4) against the exact predictions", fontsize=9)
    fig.tight_layout()
    return save(fig, out, "points_capacity")
