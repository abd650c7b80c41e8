"""SIMS on CIFAR-10 (CPU scale), read from the committed run folders under results/cpu-sims: the w sweep (each
metric against w per seed set, w = 0 dashed), the loops with and without SIMS side by side over generations
(seed 0 with markers, the seed replicates as thin lines),
and distribution shifting (target-class share: base, SIMS, shifted auxiliary, target)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from simtheory.runs import read_metrics

from .common import cached_arrays, plt, run_dir, save

RESULTS = Path(__file__).resolve().parents[1] / "results" / "cpu-sims"
LOOPS = (("loop-aug", "loop-aug-sims", "synthetic augmentation (lam = 1)"),
         ("loop-curated", "loop-curated-sims", "curated, fully synthetic (K = 4)"))


def _digest(folder: Path) -> str:
    f = folder / "metrics.jsonl"
    return hashlib.sha1(f.read_bytes()).hexdigest()[:12] if f.exists() else "none"


def _loop_arrays(out, name: str) -> dict | None:
    folder = RESULTS / name
    rows = read_metrics(folder)
    if not rows:
        return None

    def compute():
        return {"generation": [r["generation"] for r in rows], "fd": [r.get("fd_classifier", np.nan) for r in rows],
                "reward": [r["mean_reward"] for r in rows], "reward_se": [r["reward_se"] for r in rows],
                "props": [r["class_proportions"] for r in rows]}
    return cached_arrays(run_dir(out, f"sims-{name}-{_digest(folder)}"), {"kind": "sims_results", "run": name,
                                                                           "metrics_sha1": _digest(folder)}, compute)


def _sweep_arrays(out) -> dict | None:
    folder = RESULTS / "sweep"
    rows = [r for r in read_metrics(folder) if r.get("stage") == "sweep" and not r.get("inception")]
    if not rows:
        return None

    def compute():
        return {"w": [r["w"] for r in rows], "set": [r["set"] for r in rows], "fd": [r["fd_classifier"] for r in rows],
                "reward": [r["mean_reward"] for r in rows], "maxshare": [max(r["class_proportions"]) for r in rows],
                "n_s": [r["n_s"] or 0 for r in rows], "B": [r["images"] or 0 for r in rows]}
    return cached_arrays(run_dir(out, f"sims-sweep-{_digest(folder)}"), {"kind": "sims_results", "run": "sweep",
                                                                          "metrics_sha1": _digest(folder)}, compute)


def _entropy(p):
    p = np.asarray(p, float)
    return -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)).sum(-1)


def make(out, quick: bool = False) -> list:
    paths = []
    s = _sweep_arrays(out)
    if s is not None:
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
        for ax, key, label in zip(axes, ("fd", "reward", "maxshare"),
                                  ("FD in classifier features", "mean reward", "largest class share")):
            for j in sorted(set(s["set"].tolist())):
                m = s["set"] == j
                w, v = s["w"][m], s[key][m]
                o = np.argsort(w, kind="stable")
                ax.plot(w[o], v[o], "o-", ms=3, color=f"C{j}", label=f"seed set {j}" + (" (pick)" if j == 0 else ""))
                ax.axhline(v[w == 0][0], color=f"C{j}", ls="--", lw=0.8)
            ax.set_xlabel("guidance weight w")
            ax.set_title(label)
        axes[0].legend()
        fig.suptitle("SIMS sweep on the CPU base (dashed: w = 0, the base, per seed set)", fontsize=9)
        fig.tight_layout()
        paths += save(fig, out, "sims_sweep")
    pairs = [(a, b, t, _loop_arrays(out, a), _loop_arrays(out, b)) for a, b, t in LOOPS]
    pairs = [p for p in pairs if p[3] is not None and p[4] is not None]
    if pairs:
        fig, axes = plt.subplots(len(pairs), 3, figsize=(11, 3.0 * len(pairs)), squeeze=False)
        for row, (_a, _b, title, pa, pb) in zip(axes, pairs):
            for name, c in ((_a, "C0"), (_b, "C3")):           # seed replicates (seeds 1, 2, ...): thin lines
                for rep in sorted(RESULTS.glob(f"{name}-seed*")):
                    d = _loop_arrays(out, rep.name)
                    if d is not None:
                        row[0].plot(d["generation"], d["fd"], "-", color=c, lw=0.8, alpha=0.5)
                        row[2].plot(d["generation"], _entropy(d["props"]), "-", color=c, lw=0.8, alpha=0.5)
            for d, lab, c in ((pa, "without SIMS", "C0"), (pb, "with SIMS", "C3")):
                g = d["generation"]
                row[0].plot(g, d["fd"], "o-", color=c, label=lab)
                row[1].errorbar(g, d["reward"], yerr=d["reward_se"], fmt="o-", color=c, capsize=2, label=lab)
                row[2].plot(g, _entropy(d["props"]), "o-", color=c, label=lab)
            row[0].set_ylabel(title, fontsize=8)
            for ax, t in zip(row, ("FD in classifier features", "mean reward", "class entropy (nats)")):
                ax.set_title(t)
                ax.set_xlabel("generation")
            row[0].legend()
        fig.tight_layout()
        paths += save(fig, out, "sims_loops")
    return paths
