"""The SIMS auxiliary's hyperparameters (lr x EMA x n_s x B x w) searched on seed set 0 only, the pick set: the
report sets are never touched here, so a setting chosen from this table is then reported on them by the sweep."""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from simtheory.runs import RunFolder, atomic_write

from .. import checkpoints
from .config import SimsConfig, lc_of, seed_set
from .measure import Context


def explore_hyperparameters(cfg: SimsConfig, base_run, out, lrs, emas=None, progress: bool = False,
                            lc=None) -> RunFolder:
    """Hyperparameter search on seed set 0 only (the pick set): every lr x ema x n_s x B x w > 0 of ``cfg`` plus
    w = 0, one metrics line each; the report sets are never touched here. ``emas``: the auxiliary's EMA half-lives
    as fractions of B (0: raw weights; default: cfg.ema). Auxiliaries live in lr-<lr>-ema-<ema>/aux-*; all of one n_s fine-tune on
    the same synthetic set (drawn once). Writes table.md."""
    lrs = tuple(float(v) for v in lrs)
    emas = (cfg.ema,) if emas is None else tuple(float(v) for v in emas)
    if not lrs or not emas or len(set(lrs)) != len(lrs) or len(set(emas)) != len(emas):
        raise ValueError(f"lrs and emas must be non-empty without repeats, got {list(lrs)}, {list(emas)}")
    for v in lrs:
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"every lr must be > 0, got {v}")
    for v in emas:
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"every ema (a half-life as a fraction of B) must be >= 0 (0: raw weights), got {v}")
    lc = lc_of(cfg, base_run, lc)
    with RunFolder.open(out, {**cfg.to_dict(), "kind": "sims_explore", "lrs": list(lrs), "emas": list(emas),
                             "base": str(base_run)}) as rf:      # held until the run ends
        done = {(r["lr"], r["ema"], r["n_s"], r["images"], r["w"]) for r in rf.metrics()}
        ctx = Context(cfg, lc, base_run, rf, progress, inception=False)
        seeds = seed_set(0, cfg.n)
        if (None, None, None, None, 0.0) not in done:
            rf.append({"lr": None, "ema": None, "n_s": None, "images": None, "w": 0.0, "set": 0,
                       **ctx.measure(None, 0.0, seeds)})
        first: dict = {}
        for lr in lrs:
            for ema in emas:
                ctx.cfg = replace(cfg, lr=lr, ema=ema)
                for n_s in cfg.n_s:
                    for B in cfg.images:
                        name = f"lr-{lr:g}-ema-{ema:g}/aux-ns{n_s}-B{B}"
                        aux = ctx.auxiliary(n_s, B, name=name, synthetic_from=first.get(n_s))
                        first.setdefault(n_s, rf.path / name)
                        for w in cfg.ws:
                            if w > 0 and (lr, ema, n_s, B, w) not in done:
                                rf.append({"lr": lr, "ema": ema, "n_s": n_s, "images": B, "w": w, "set": 0,
                                           "weight_distance": _distance(rf.path / name), **ctx.measure(aux, w, seeds)})
        write_explore_table(rf)
    return rf


def _distance(folder: Path) -> float | None:
    """The auxiliary's distance from the base relative to the raw fine-tune (its config.json's measured entry)."""
    return checkpoints.read_json(Path(folder) / "config.json").get("measured", {}).get("weight_distance", {}).get("relative")


def write_explore_table(rf: RunFolder) -> None:
    """table.md of an exploration: one row per setting, and per (lr, ema, n_s, B) the best w."""
    rows = rf.metrics()
    key = lambda r: (r["lr"] or 0, r["ema"] if r["ema"] is not None else -1, r["n_s"] or 0, r["images"] or 0, r["w"])
    lines = ["| lr | aux EMA half-life / B (0: raw) | aux distance / raw | n_s | B | w | FD classifier (set 0) | "
             "mean reward |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=key):
        d = r.get("weight_distance")
        lines.append(f"| {r['lr'] if r['lr'] is not None else '-'} | {r['ema'] if r['ema'] is not None else '-'} | "
                     f"{'-' if d is None else f'{d:.3f}'} | {r['n_s'] or '-'} | {r['images'] or '-'} | {r['w']:g} | "
                     f"{r['fd_classifier']:.4f} | {r['mean_reward']:.4f} |")
    groups = sorted({key(r)[:4] for r in rows if r["w"] > 0})
    if groups:
        lines += ["", "Best w per auxiliary (seed set 0):", "", "| lr | ema | n_s | B | best w | FD classifier |",
                  "|---|---|---|---|---|---|"]
        for g in groups:
            best = min((r for r in rows if r["w"] > 0 and key(r)[:4] == g), key=lambda r: r["fd_classifier"])
            lines.append(f"| {best['lr']} | {best['ema']} | {best['n_s']} | {best['images']} | {best['w']:g} | "
                         f"{best['fd_classifier']:.4f} |")
    atomic_write(rf.path / "table.md", ("\n".join(lines) + "\n").encode())
