"""Shared pieces of the figure modules: output paths, saving, run folders holding computed arrays."""
from __future__ import annotations

from pathlib import Path
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np

from simtheory.plots import save_figure
from simtheory.runs import code_version, computed

OUT = Path(__file__).resolve().parent / "out"
K_COLORS = {1: "0.6", 2: "C0", 4: "C1", 8: "C2", 32: "C3", float("inf"): "k"}

# the figures' look; `python -m figures` applies it (with the Agg backend) for its own process only
STYLE = {"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False, "font.size": 9,
         "legend.fontsize": 7, "legend.frameon": False}


def save(fig, out: Path, name: str) -> list[Path]:
    """Write ``name``.png and ``name``.pdf into ``out``; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    for p in paths:
        save_figure(fig, p)
    plt.close(fig)
    return paths


def code() -> dict:
    """The code that makes the figures' runs: simtheory's and the figures' sources (hashed) and version."""
    return code_version("simtheory", "figures")


def run_dir(out: Path, name: str) -> Path:
    """The run folder a figure keeps its runs in: <out>/runs/<source hash>/<name>. Keyed by the producing
    code, so that after any change to simtheory or figures the runs are made again, never reused (runs of
    older code stay in their own folders until removed)."""
    return out / "runs" / code()["source_sha256"] / name


def cached_arrays(folder: Path, config: dict, compute: Callable[[], dict]) -> dict[str, np.ndarray]:
    """The arrays of a computed run (:func:`simtheory.runs.computed`), stored with the producing code: arrays
    made by other code are refused, never reused."""
    return computed(folder, config, compute, code())
