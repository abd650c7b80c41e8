"""Checks at the public boundary: every message names the argument and what is wrong with it.

Probability vectors may be off 1 by at most ``SUM_TOL`` (rounding from the caller); anything else is an error,
never silently renormalised.
"""
from __future__ import annotations

import math
import numbers

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


def sampled_loop(K, lam, scheme: str, schemes: tuple[str, ...]) -> tuple[int, float]:
    """(K, lam) of a loop that curates by sampling, checked with its scheme: K an integer >= 1 (one kept sample of
    K drawn, so K = inf is refused), lam >= 0 or inf, scheme one of ``schemes``."""
    k = group_size(K, "K")
    if k == math.inf:
        raise ValueError("K must be finite in a sampled loop (one kept sample of K drawn)")
    if scheme not in schemes:
        raise ValueError(f"scheme must be one of {schemes}, got {scheme!r}")
    return int(k), ratio(lam, "lam")


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
