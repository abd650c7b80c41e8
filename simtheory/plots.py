"""Plots drawn from run folders (matplotlib is imported only here, lazily).

Figures are made with matplotlib's object API (`matplotlib.figure.Figure`), never through pyplot's
global state: the library changes neither the backend nor the global style, so a notebook keeps its own settings.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .runs import atomic_write, read_metrics


def save_figure(fig, path: Path) -> None:
    """Save a matplotlib figure atomically (format from the suffix), without version or date metadata."""
    buf = io.BytesIO()
    fmt = Path(path).suffix[1:]
    # no software version or creation date in the file: the same figure gives the same bytes on every rerun
    meta = {"png": {"Software": None}, "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
            "svg": {"Creator": None, "Date": None}}.get(fmt)
    fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight", metadata=meta)
    atomic_write(Path(path), buf.getvalue())


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs):
    """A figure and its axes (``Figure(**kwargs).subplots(nrows, ncols)``) outside pyplot: nothing global is
    touched and nothing needs closing."""
    from matplotlib.figure import Figure
    size = {k: kwargs.pop(k) for k in ("figsize", "dpi") if k in kwargs}
    fig = Figure(**size)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def plot_exact_run(folder: Path) -> Path:
    """Write plot.png into an exact run folder ([`simtheory.runs.exact.run_exact`][simtheory.runs.exact.run_exact]): the density p_t at a few
    steps beside the limit p* (Theorem 2.1 of Ferbach et al. 2024), and E[r] and the top-set mass over the steps.

    Parameters
    ----------
    folder : path of a complete exact run (trajectory.npz and metrics.jsonl).

    Returns
    -------
    pathlib.Path of the PNG file written (``folder/plot.png``). Nothing is shown on screen and no figure object
        is returned: open the file, or in a notebook ``IPython.display.Image(plot_exact_run(folder))``.
    """
    with np.load(Path(folder) / "trajectory.npz") as z:
        p, r, p_star = z["p"], z["r"], z["p_star"]
    rows = read_metrics(folder)
    steps = np.linspace(0, len(p) - 1, min(4, len(p))).astype(int)
    fig, ax = new_figure(1, len(steps) + 2, figsize=(3.2 * (len(steps) + 2), 3))
    for a, t in zip(ax, steps):
        _show(a, p[t], r)
        a.set_title(f"p_{t}")
    _show(ax[len(steps)], p_star, r)
    ax[len(steps)].set_title("p* (limit)")
    m = ax[-1]
    m.plot([x["step"] for x in rows], [x["mean_reward"] for x in rows], label="E[r]")
    m.plot([x["step"] for x in rows], [x["top_mass"] for x in rows], label="mass on top set")
    m.set_xlabel("step")
    m.legend(fontsize=7)
    fig.tight_layout()
    out = Path(folder) / "plot.png"
    save_figure(fig, out)
    return out


def _show(ax, p: np.ndarray, r: np.ndarray) -> None:
    if p.ndim == 2:
        ax.imshow(p.T, origin="lower", cmap="magma")
        ax.contour(r.T, levels=6, colors="w", linewidths=0.4)
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        ax.bar(np.arange(p.size), p) if p.size <= 32 else ax.plot(p)
