"""Capacity at two rungs: the fit error (model minus its training set) against the network's parameters, one line per
fine-tune budget, for the point rung (results/points-ladder and its lam = 1 half, results/points-ladder-lam1: the MLP
on the 2-D mixture) and the mixture rung (results/mixture-ladder: the U-Net on the exact 8 x 8 CIFAR-10 law), one row
per lam; the mixture rung's law error (model minus the exact curated trajectory of the law) beside it, and at its
CIFAR-10 architecture and budget the fit error of the same U-Net on real 8 x 8 CIFAR-10 (black diamond). Each point
is the mean over the report seeds and every generation, +- 2 SE; the grey band is the smallest error one
generation's 4-SE check sees with 80% power, (4 + 0.84) SE, the median over the rows."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import cached_arrays, plt, run_dir, save
from .fig_points_common import LADDER, LADDER_LAM1, digest, lam_name, pooled

RESULTS = Path(__file__).resolve().parents[1] / "results"
MIXTURE_LADDER = RESULTS / "mixture-ladder"
COMMANDS = {LADDER: "python -m empirical points-ladder --out results/points-ladder",
            MIXTURE_LADDER: "python -m empirical mixture-ladder --out results/mixture-ladder"}
KEYS = ("lam", "params", "finetune", "role", "generation", "fit_error", "fit_error_se", "fit_detectable",
        "law_error", "law_error_se", "law_detectable", "data")
BUDGET_COLUMNS = ("finetune_samples", "finetune_images")
"""A ladder's fine-tune budget column: its name now, and the earlier one of tables made before samples were named as
samples."""


def table(out, folder: Path, *halves: Path) -> dict:
    """The columns of a ladder's results.csv that the figure reads, with the rows of ``halves`` (parts of the ladder
    run apart) in place of its own at their lams (`empirical.experiments.ladder_results.read_ladder`; cached by the
    files' sha1); a missing ladder is a ValueError with the command that makes it."""
    from empirical.experiments.ladder_results import read_ladder
    rows = read_ladder(folder, *halves)
    if rows is None:
        raise ValueError(f"no {(folder / 'results.csv').relative_to(RESULTS.parent)}: make it with "
                         f"`{COMMANDS[folder]}`")
    key = digest(*(f / "results.csv" for f in (folder, *halves)))

    def col(k):
        if k in ("role", "data"):
            return np.array([str(r.get(k) or "mixture") for r in rows])
        if k == "finetune":
            k = next(c for c in BUDGET_COLUMNS if c in rows[0])
        return np.array([np.nan if r.get(k) is None else float(r[k]) for r in rows])
    return cached_arrays(run_dir(out, f"ladder-table-{folder.name}-{key}"),
                         {"kind": "ladder_table", "folder": folder.name, "sha1": key}, lambda: {k: col(k) for k in KEYS})


def _budget(ft: float) -> str:
    from empirical.experiments.ladder_results import budget_name
    return budget_name(int(ft))


def _lines(ax, t: dict, sel: np.ndarray, key: str, unit: str) -> None:
    """One line per fine-tune budget of ``key`` against parameters over the rows ``sel``, and the grey band."""
    sel = sel & np.isfinite(t[f"{key}_error"]) & np.isfinite(t[f"{key}_error_se"])
    fts = sorted(set(t["finetune"][sel].tolist()))
    det = t[f"{key}_detectable"][sel]
    if np.isfinite(det).any():
        band = float(np.nanmedian(det))
        ax.axhspan(-band, band, color="0.88", lw=0)
        ax.text(0.99, 0.03, f"grey: +-{band:.3f}, below a 4-SE check's 80% power", transform=ax.transAxes,
                fontsize=6.5, ha="right", color="0.3")
    ax.axhline(0, color="0.4", lw=0.8)
    for k, ft in enumerate(fts):
        xs, ys, es = [], [], []
        for p in sorted(set(t["params"][sel & (t["finetune"] == ft)].tolist())):
            m = sel & (t["finetune"] == ft) & (t["params"] == p)
            mu, se = pooled(t[f"{key}_error"][m], t[f"{key}_error_se"][m])
            xs.append(p * 1.07 ** (k - (len(fts) - 1) / 2))
            ys.append(mu)
            es.append(2 * se)
        ax.errorbar(xs, ys, es, marker="o", ms=4, capsize=3, lw=1.3,
                    color=plt.cm.viridis(0.15 + 0.7 * k / max(len(fts) - 1, 1)),
                    label=f"fine-tune {_budget(ft)} {unit} / generation")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")


def make(out, quick: bool = False) -> list:
    pts, mix = table(out, LADDER, LADDER_LAM1), table(out, MIXTURE_LADDER)
    lams = sorted(set(mix["lam"].tolist()) | set(pts["lam"].tolist()), reverse=True)
    fig, axes = plt.subplots(len(lams), 3, figsize=(15.5, 4.2 * len(lams)), squeeze=False)
    for i, lam in enumerate(lams):
        p_sel = (pts["role"] == "report") & (pts["lam"] == lam)
        m_sel = (mix["role"] == "report") & (mix["lam"] == lam) & (mix["data"] == "mixture")
        c_sel = (mix["role"] == "report") & (mix["lam"] == lam) & (mix["data"] == "cifar")
        ax = axes[i, 0]
        if p_sel.any():
            _lines(ax, pts, p_sel, "fit", "points")
        else:
            ax.text(0.5, 0.5, f"not run at lam = {lam_name(lam)}\n(results/points-ladder)", transform=ax.transAxes,
                    ha="center", va="center", fontsize=9, color="0.4")
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_ylabel("fit error: model - its training set\n(mean over report seeds and t, +- 2 SE)", fontsize=8)
        ax.set_title(f"point rung (MLP, 2-D mixture), lam = {lam_name(lam)}", fontsize=10)
        for col, (key, what) in enumerate((("fit", "fit error: model - its training set"),
                                           ("law", "law error: model - exact trajectory of the law")), start=1):
            ax = axes[i, col]
            if m_sel.any():
                _lines(ax, mix, m_sel, key, "samples")
            if key == "fit" and c_sel.any():
                p = float(mix["params"][c_sel][0])
                mu, se = pooled(mix["fit_error"][c_sel], mix["fit_error_se"][c_sel])
                ax.errorbar([p], [mu], [2 * se], marker="D", color="k", ms=6, capsize=3, ls="none",
                            label=f"the same U-Net on real CIFAR-10 (fine-tune {_budget(mix['finetune'][c_sel][0])})")
            ax.set_ylabel(f"{what}\n(mean over report seeds and t, +- 2 SE)", fontsize=8)
            ax.set_title(f"mixture rung (U-Net, 8 x 8 CIFAR-10 law), lam = {lam_name(lam)}: {key} error", fontsize=10)
    for ax in axes.ravel():
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper right")
    T = int(np.nanmax(mix["generation"]))
    fig.suptitle(f"Fit error against capacity at two rungs (curated loops, K = 4; generations 0-{T} on the mixture "
                 "rung)", fontsize=11)
    fig.tight_layout()
    return save(fig, out, "mixture_capacity")

