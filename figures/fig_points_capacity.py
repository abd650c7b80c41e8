"""The capacity ladder (results/points-ladder, its lam = 1 half from results/points-ladder-lam1 where that exists):
per lam, the fit error (model minus its training set) and the law error (model minus the exact curated trajectory of
the data law) against the network's parameters, one line per fine-tune budget, each point the mean over the report
seeds and every generation +- 2 SE; the grey band is the smallest error one generation's check (|error| <= 4 SE)
sees with 80% power, (4 + 0.84) SE, the median over the rows: errors inside it pass that check whatever their sign.
Bottom: MMD^2 to the data law at the last generation beside the exact gridded loop's."""
from __future__ import annotations

import numpy as np

from .common import cached_arrays, plt, run_dir, save
from .fig_points_common import LADDER, LADDER_LAM1, digest, exact_loop, lam_name, ladder_rows, pooled

KEYS = ("lam", "width", "finetune_images", "seed", "role", "generation", "params", "fit_error", "fit_error_se",
        "fit_detectable", "law_error", "law_error_se", "law_detectable", "mmd2", "mmd2_se")


def _table(out) -> dict:
    rows = ladder_rows()
    key = digest(LADDER / "results.csv", LADDER_LAM1 / "results.csv")

    def compute():
        return {k: np.array([np.nan if r[k] is None else r[k] for r in rows]) if k != "role"
                else np.array([r[k] for r in rows]) for k in KEYS}
    return cached_arrays(run_dir(out, f"points-ladder-{key}"), {"kind": "points_ladder_table", "sha1": key}, compute)


def _budget(ft: float) -> str:
    from empirical.experiments.ladder_results import budget_name
    return budget_name(int(ft))


def make(out, quick: bool = False) -> list:
    t = _table(out)
    lams = sorted(set(t["lam"].tolist()), reverse=True)
    fts = sorted(set(t["finetune_images"].tolist()))
    T = int(t["generation"].max())
    rep = t["role"] == "report"
    colors = {ft: plt.cm.viridis(0.15 + 0.7 * i / max(len(fts) - 1, 1)) for i, ft in enumerate(fts)}
    fig, axes = plt.subplots(3, len(lams), figsize=(5.4 * len(lams), 10.2), squeeze=False, sharex=True)
    for j, lam in enumerate(lams):
        at = rep & (t["lam"] == lam)
        for i, (key, what) in enumerate((("fit", "fit error: model - its training set"),
                                         ("law", "law error: model - exact trajectory of the law"))):
            ax = axes[i, j]
            band = np.nanmedian(t[f"{key}_detectable"][at])
            ax.axhspan(-band, band, color="0.88", lw=0, label="grey: below what one generation's 4-SE check sees "
                       "with 80% power, (4 + 0.84) SE")
            ax.text(0.99, 0.03, f"grey band: +-{band:.3f}", transform=ax.transAxes, fontsize=7, ha="right",
                    color="0.3")
            ax.axhline(0, color="0.4", lw=0.8)
            for k, ft in enumerate(fts):
                xs, ys, es = [], [], []
                for p in sorted(set(t["params"][at & (t["finetune_images"] == ft)].tolist())):
                    m = at & (t["finetune_images"] == ft) & (t["params"] == p)
                    mu, se = pooled(t[f"{key}_error"][m], t[f"{key}_error_se"][m])
                    xs.append(p * 1.08 ** (k - (len(fts) - 1) / 2))
                    ys.append(mu)
                    es.append(2 * se)
                ax.errorbar(xs, ys, es, marker="o", ms=4, capsize=3, lw=1.4, color=colors[ft],
                            label=f"fine-tune {_budget(ft)} points / generation")
            ax.set_ylabel(f"{what}\n(mean over report seeds and t = 0-{T}, +- 2 SE)", fontsize=8)
            ax.set_title(f"lam = {lam_name(lam)}: {key} error", fontsize=10)
        ax = axes[2, j]
        ex = exact_loop(out, lam, steps=T)
        ax.axhline(ex["mmd2"][T], color="k", lw=1.5, ls="--", label=f"exact loop at t = {T} (grid)")
        for k, ft in enumerate(fts):
            xs, ys, es = [], [], []
            for p in sorted(set(t["params"][at & (t["finetune_images"] == ft)].tolist())):
                m = at & (t["finetune_images"] == ft) & (t["params"] == p) & (t["generation"] == T)
                mu, se = pooled(t["mmd2"][m], t["mmd2_se"][m])
                xs.append(p * 1.08 ** (k - (len(fts) - 1) / 2))
                ys.append(mu)
                es.append(2 * se)
            ax.errorbar(xs, ys, es, marker="o", ms=4, capsize=3, lw=1.4, color=colors[ft],
                        label=f"fine-tune {_budget(ft)} points / generation")
        ax.set_ylabel(f"MMD^2 to the data law at t = {T}\n(mean over report seeds, +- 2 SE)", fontsize=8)
        ax.set_title(f"lam = {lam_name(lam)}: distance to the data", fontsize=10)
        ax.set_xlabel("MLP width (top) and parameters (bottom); 3 residual blocks")
        ax.set_xscale("log")
        ticks = sorted(set(zip(t["params"].tolist(), t["width"].tolist())))
        ax.set_xticks([p for p, _ in ticks])
        ax.set_xticklabels([f"{int(w)}\n{p / 1000:.0f}k" if p >= 1000 else f"{int(w)}\n{int(p)}" for p, w in ticks])
        ax.minorticks_off()
    handles, labels = axes[2, 0].get_legend_handles_labels()
    band = [(h, lab) for h, lab in zip(*axes[0, 0].get_legend_handles_labels()) if lab.startswith("grey")]
    fig.legend(handles + [h for h, _ in band], labels + [lab for _, lab in band], loc="lower center", ncol=2,
               fontsize=8)
    fig.suptitle("Capacity ladder: neural curated loops (2-D mixture, K = 4) against the exact loop", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return save(fig, out, "points_capacity")
