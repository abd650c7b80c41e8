"""Shared pieces of the figure modules: output paths, saving, run folders holding computed arrays."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from simtheory.plots import save_figure  # noqa: E402
from simtheory.runs import code_version, computed  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
K_COLORS = {1: "0.6", 2: "C0", 4: "C1", 8: "C2", 32: "C3", float("inf"): "k"}

plt.rcParams.update({"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False,
                     "font.size": 9, "legend.fontsize": 7, "legend.frameon": False})


def save(fig, out: Path, name: str) -> list[Path]:
    """Write ``name``.png and ``name``.pdf into ``out``; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    for p in paths:
        save_figure(fig, p)
    plt.close(fig)
    return paths


def run_dir(out: Path, name: str) -> Path:
    """The run folder a figure keeps its runs in: <out>/runs/<name>."""
    return out / "runs" / name


def cached_arrays(folder: Path, config: dict, compute: Callable[[], dict]) -> dict[str, np.ndarray]:
    """The arrays of a computed run (:func:`simtheory.runs.computed`), keyed by the code of simtheory and of
    the figures: arrays made by other code are refused, never reused."""
    return computed(folder, config, compute, code_version("simtheory", "figures"))
