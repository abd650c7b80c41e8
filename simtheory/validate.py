"""Checks at the public boundary: every message names the argument and what is wrong with it.

Probability vectors may be off 1 by at most ``SUM_TOL`` (rounding from the caller); anything else is an error,
never silently renormalised.
"""
from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

import numpy as np

SUM_TOL = 1e-9


def probability(p, name: str = "p") -> np.ndarray:
    """Return ``p`` as a float64 array after checking it is a probability array (any shape).

    Raises ValueError if it is empty, holds NaN/inf or negative entries, or sums to 1 +- more than SUM_TOL.
    The returned array is divided by its sum (a rounding-level correction, <= SUM_TOL).
    """
    a = np.asarray(p, dtype=np.float64)
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or infinite entries")
    if np.any(a < 0):
        raise ValueError(f"{name} has negative entries (min {a.min():.3g})")
    s = float(a.sum())
    if abs(s - 1.0) > SUM_TOL:
        raise ValueError(f"{name} must sum to 1 (within {SUM_TOL:g}); it sums to {s!r}")
    return a / s


def rewards(r, shape: tuple[int, ...] | None = None, name: str = "r") -> np.ndarray:
    """Return finite float64 rewards, optionally checking they have ``shape``."""
    a = np.asarray(r, dtype=np.float64)
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{name} has shape {a.shape}, expected {tuple(shape)} (the shape of p)")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or infinite rewards")
    return a


def group_size(K, name: str = "K") -> float | int:
    """Return K as an int >= 1, or math.inf. Integral floats (4.0) are accepted; 2.5, 0, NaN are not."""
    if isinstance(K, bool):
        raise ValueError(f"{name} must be an integer >= 1 or math.inf, got a bool")
    if isinstance(K, numbers.Integral):
        k = int(K)
    elif isinstance(K, numbers.Real):
        x = float(K)
        if math.isnan(x):
            raise ValueError(f"{name} is NaN; it must be an integer >= 1 or math.inf")
        if x == math.inf:
            return math.inf
        if not x.is_integer():
            raise ValueError(f"{name} must be an integer >= 1 or math.inf, got {K!r}")
        k = int(x)
    else:
        raise ValueError(f"{name} must be an integer >= 1 or math.inf, got {type(K).__name__}")
    if k < 1:
        raise ValueError(f"{name} must be >= 1, got {k}")
    try:
        float(k)
    except OverflowError:
        raise ValueError(f"{name} has {len(str(k))} digits: beyond the float range; use math.inf for the K -> inf "
                         "limit") from None
    return k


def ratio(lam, name: str = "lam") -> float:
    """Return the synthetic-to-real ratio lam as a float in [0, inf]."""
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real):
        raise ValueError(f"{name} must be a real number >= 0 or math.inf, got {lam!r}")
    x = float(lam)
    if math.isnan(x):
        raise ValueError(f"{name} is NaN; it must be >= 0 or math.inf")
    if x < 0:
        raise ValueError(f"{name} must be >= 0, got {x}")
    return x


def count(n, name: str, minimum: int = 1) -> int:
    """Return ``n`` as an int >= minimum."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        if isinstance(n, numbers.Real) and float(n).is_integer():
            n = int(float(n))
        else:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {n!r}")
    if int(n) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    return int(n)


def finite_array(x, name: str) -> np.ndarray:
    """Return ``x`` as float64, rejecting NaN and infinities."""
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return a


def parse_number(text: str) -> float:
    """A command-line number: 'inf' / 'infinity' (any case) is math.inf, anything else float(text)."""
    return math.inf if text.strip().lower() in ("inf", "infinity") else float(text)


MEMORY_SHARE = 0.5
"""A run may plan to use at most this share of the memory available when it starts: the rest is the margin for
the interpreter, the libraries and the other processes of the machine."""


def available_memory() -> int | None:
    """Bytes of memory this process can still allocate: MemAvailable of /proc/meminfo (else the free physical
    pages, os.sysconf), lowered to what the cgroup's memory.max leaves (containers); None where nothing is known."""
    avail: int | None = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current") as f:
                left = int(limit) - int(f.read().strip())
            avail = left if avail is None else min(avail, left)
    except (OSError, ValueError):
        pass
    return avail


def _size(nbytes: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes / 1e3:.3g} kB"


def fits_memory(nbytes: float, name: str, value, what: str) -> None:
    """ValueError naming the argument ``name`` (given ``value``) when ``what`` needs more than MEMORY_SHARE of the
    memory available now ([`available_memory`][simtheory.validate.available_memory]); nothing is checked where the
    available memory is unknown."""
    avail = available_memory()
    if avail is not None and nbytes > MEMORY_SHARE * avail:
        raise ValueError(f"{name} = {value} is too large for this machine: {what} needs about {_size(nbytes)}, more "
                         f"than half of the {_size(avail)} of memory available now (the other half is the margin "
                         f"for everything else); lower {name}")


def fits_disk(nbytes: float, folder, name: str, value, what: str) -> None:
    """ValueError naming the argument ``name`` when ``what`` needs more than the free space of the file system
    that will hold ``folder`` (its nearest existing parent)."""
    p = Path(folder).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        st = os.statvfs(p)
    except OSError:
        return
    free = st.f_bavail * st.f_frsize
    if nbytes > free:
        raise ValueError(f"{name} = {value} is too large for this disk: {what} needs about {_size(nbytes)}, more "
                         f"than the {_size(free)} free under {p}; lower {name}")
