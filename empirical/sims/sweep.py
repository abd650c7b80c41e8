r"""The SIMS w sweep on one image base (optionally over B and n_s), picked on one seed set and reported on the
others ([`empirical.experiments.protocol`][empirical.experiments.protocol]).

Seed sets: set j uses the seeds of block ('sweep', j) of [`empirical.seeds`][empirical.seeds]; every setting uses the
same n and
the same seeds. Set 0 picks (n_s, B, w) by the selection metric (FD in classifier features by default, the cheap
stand-in for FID at CPU scale); sets 1.. report every metric for all settings, and FID with precision/recall
in Inception features for w = 0 and the picked setting (``inception_n`` images each). Files in the run folder:
config.json, metrics.jsonl (one line per setting and seed set), aux-*/ (auxiliary run folders),
table.md, sweep.png.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from simtheory.runs import RunFolder, atomic_write

from ..experiments.protocol import pick_best
from .auxiliary import load_auxiliary
from .config import METRICS_LOWER_BETTER, SimsConfig, lc_of, seed_set
from .measure import Context


def _key(r: dict) -> tuple:
    return (r.get("stage"), r.get("n_s"), r.get("images"), r.get("w"), r.get("set"), r.get("inception", False))


def run_guidance_sweep(cfg: SimsConfig, base_run, out, progress: bool = False, lc=None) -> RunFolder:
    """Run (or resume) the sweep into ``out``: every (n_s, B, w) on every seed set, the pick on set 0, Inception
    metrics on the report sets for w = 0 and the pick; then table.md and sweep.png. ``lc``: the image-loop config
    of the metrics (default: [`empirical.sims.config.resolve_config`][empirical.sims.config.resolve_config], which
    checks ``cfg.loop`` against the base)."""
    lc = lc_of(cfg, base_run, lc)
    with RunFolder.open(out, {**cfg.to_dict(), "base": str(base_run)}) as rf:      # held until the run ends
        ctx = Context(cfg, lc, base_run, rf, progress)
        done = {_key(r): r for r in rf.metrics()}

        def row(stage, n_s, B, w, j, aux, inception=False):
            k = (stage, n_s, B, w, j, inception)
            if k not in done:
                rec = ctx.measure(aux, w, seed_set(j, cfg.n), cfg.inception_n if inception else 0)
                rec = {"stage": stage, "n_s": n_s, "images": B, "w": w, "set": j, "inception": inception, **rec}
                rf.append(rec)
                done[k] = rec
            return done[k]

        for j in range(cfg.n_sets):
            row("sweep", None, None, 0.0, j, None)
        for n_s in cfg.n_s:
            first = None                              # every B of one n_s fine-tunes on the same synthetic set
            for B in cfg.images:
                aux = ctx.auxiliary(n_s, B, synthetic_from=first)
                first = first or rf.path / f"aux-ns{n_s}-B{B}"
                for w in cfg.ws:
                    if w > 0:
                        for j in range(cfg.n_sets):
                            row("sweep", n_s, B, w, j, aux)
        pick = pick_setting(rf.metrics(), cfg.select)
        if cfg.inception_n:
            aux = None if pick["w"] == 0 else load_auxiliary(
                rf.path / f"aux-ns{pick['n_s']}-B{pick['images']}", ctx.D, ctx.device)
            for j in range(1, cfg.n_sets):
                row("sweep", None, None, 0.0, j, None, inception=True)
                if pick["w"] > 0:
                    row("sweep", pick["n_s"], pick["images"], pick["w"], j, aux, inception=True)
        write_table(rf, cfg)
        plot_sweep(rf, cfg)
    return rf


def sweep_rows(rows: list[dict], inception: bool = False) -> list[dict]:
    return [r for r in rows if r.get("stage") == "sweep" and r.get("inception", False) == inception]


def pick_setting(rows: list[dict], metric: str = "fd_classifier") -> dict:
    """The (n_s, B, w) with the best ``metric`` on seed set 0 (never on a report set; ties to the smaller w),
    [`empirical.experiments.protocol.pick_best`][empirical.experiments.protocol.pick_best]."""
    cand = [r for r in sweep_rows(rows) if r["set"] == 0]
    if not cand:
        raise ValueError("no sweep rows on seed set 0")
    setting, value = pick_best(cand, lambda r: (r["n_s"], r["images"], r["w"]), lambda r: r[metric],
                               lower=METRICS_LOWER_BETTER[metric], tie=lambda s: s[2])[None]  # type: ignore[index]
    n_s, images, w = setting
    return {"n_s": n_s, "images": images, "w": w, metric: value}


def _settings(rows):
    return sorted({(r["n_s"] or 0, r["images"] or 0, r["w"]) for r in rows}, key=lambda s: (s[0], s[1], s[2]))


def setting_summary(rows: list[dict], metric: str, sets) -> dict:
    """{(n_s, B, w): (mean, sd, values)} of ``metric`` over the seed sets ``sets``."""
    out = {}
    for s in _settings(rows):
        v = [r[metric] for r in rows if (r["n_s"] or 0, r["images"] or 0, r["w"]) == s and r["set"] in sets
             and metric in r]
        if v:
            out[s] = (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else float("nan"), v)
    return out


def sweep_verdict(rows: list[dict], n_sets: int, metric: str = "fd_classifier", inception: bool = False) -> dict:
    """The pick (on set 0) against w = 0 on the report sets: per-set paired differences, and the spread of the
    w = 0 metric over all seed sets (max - min), the tolerance of the SIMS claim."""
    pick = pick_setting(rows, "fd_classifier")
    sub = sweep_rows(rows, inception)
    rep = range(1, n_sets)
    w0 = {r["set"]: r[metric] for r in sub if r["w"] == 0 and metric in r}
    pk = {r["set"]: r[metric] for r in sub if (r["n_s"], r["images"], r["w"]) == (pick["n_s"], pick["images"], pick["w"])
          and metric in r}
    diffs = [pk[j] - w0[j] for j in rep if j in pk and j in w0]
    spread_sets = sorted(w0)
    spread = float(max(w0.values()) - min(w0.values())) if len(w0) > 1 else float("nan")
    return {"pick": pick, "metric": metric, "w0": [w0.get(j) for j in rep], "picked": [pk.get(j) for j in rep],
            "diffs": diffs, "spread_w0": spread, "spread_sets": spread_sets}


def write_table(rf: RunFolder, cfg: SimsConfig) -> None:
    """table.md: every setting's metrics on the pick set and the report sets (mean +- sd), the pick, and the
    Inception metrics."""
    rows = rf.metrics()
    sub = sweep_rows(rows)
    pick = pick_setting(rows, cfg.select)
    rep = list(range(1, cfg.n_sets))
    lines = [f"# SIMS sweep ({cfg.n} images per seed set, {cfg.n_sets} seed sets: seed block ('sweep', j))", "",
             f"Pick on seed set 0 by {cfg.select}: n_s = {pick['n_s']}, B = {pick['images']}, w = {pick['w']}. "
             f"Report sets: {rep} (mean +- sd over them).", "",
             "| n_s | B | w | FD classifier (set 0) | FD classifier (report) | mean reward (report) | "
             "max class share (report) |", "|---|---|---|---|---|---|---|"]
    fd0 = setting_summary(sub, "fd_classifier", [0])
    fdr = setting_summary(sub, "fd_classifier", rep)
    rw = setting_summary(sub, "mean_reward", rep)
    mx = setting_summary([{**r, "max_share": max(r["class_proportions"])} for r in sub], "max_share", rep)
    for s in _settings(sub):
        lines.append(f"| {s[0] or '-'} | {s[1] or '-'} | {s[2]:g} | {fd0[s][0]:.4f} | {fdr[s][0]:.4f} +- "
                     f"{fdr[s][1]:.4f} | {rw[s][0]:.4f} +- {rw[s][1]:.4f} | {mx[s][0]:.3f} |")
    inc = sweep_rows(rows, True)
    if inc:
        lines += ["", f"Inception metrics ({cfg.inception_n} images of each report set; FID reference: "
                      f"{cfg.inception_ref_n} real test images):", "",
                  "| n_s | B | w | set | FID | precision | recall |", "|---|---|---|---|---|---|---|"]
        for r in sorted(inc, key=lambda r: (r["w"], r["set"])):
            lines.append(f"| {r['n_s'] or '-'} | {r['images'] or '-'} | {r['w']:g} | {r['set']} | {r['fid']:.2f} | "
                         f"{r['precision']:.3f} | {r['recall']:.3f} |")
    atomic_write(rf.path / "table.md", ("\n".join(lines) + "\n").encode())


def plot_sweep(rf: RunFolder, cfg: SimsConfig) -> Path:
    """sweep.png: each metric against w per seed set, the w = 0 value of each set as a dashed reference line."""
    from simtheory.plots import new_figure
    rows = sweep_rows(rf.metrics())
    mets = [("fd_classifier", "FD (classifier features)"), ("mean_reward", "mean reward"),
            ("max_share", "largest class share")]
    rows = [{**r, "max_share": max(r["class_proportions"])} for r in rows]
    combos = sorted({(r["n_s"], r["images"]) for r in rows if r["w"] > 0})
    fig, axes = new_figure(1, len(mets), figsize=(4 * len(mets), 3.2))
    for ax, (m, label) in zip(axes, mets):
        for j in range(cfg.n_sets):
            base = [r for r in rows if r["w"] == 0 and r["set"] == j]
            if base:
                ax.axhline(base[0][m], color=f"C{j}", ls="--", lw=0.8)
            for ci, (n_s, B) in enumerate(combos):
                pts = sorted(([(0.0, base[0][m])] if base else [])
                             + [(r["w"], r[m]) for r in rows if (r["n_s"], r["images"]) == (n_s, B) and r["set"] == j])
                ax.plot(*zip(*pts), marker="o^sD"[ci % 4], color=f"C{j}", ms=3,
                        label=f"set {j}{' (pick)' if j == 0 else ''}" + (f", n_s={n_s}, B={B}" if len(combos) > 1 else ""))
        ax.set_xlabel("w")
        ax.set_title(label)
    axes[0].legend()
    fig.suptitle(f"SIMS sweep: {cfg.n} images per seed set; dashed: w = 0 (base) per set", fontsize=9)
    fig.tight_layout()
    path = rf.path / "sweep.png"
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write(path, buf.getvalue())
    return path
