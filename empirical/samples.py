"""Files of samples: every .npz the torch half writes holds its samples (kept sets, evaluation draws, an auxiliary's
synthetic set, the ``sample`` command's images) under one key, [`SAMPLES_KEY`][empirical.samples.SAMPLES_KEY]; folders
written before that hold
them under an older key, which is read too. No torch: the command line reads these files without it."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from simtheory.runs import atomic_write

SAMPLES_KEY = "samples"
"""The npz key of samples in every file the torch half writes."""
OLD_SAMPLES_KEYS = ("images", "points")
"""Where files written before one key held samples keep them (read, never written)."""


def samples_key(keys) -> str | None:
    """The key that holds the samples among an npz file's ``keys`` ([`SAMPLES_KEY`][empirical.samples.SAMPLES_KEY], else an old one), or
    None."""
    return next((k for k in (SAMPLES_KEY, *OLD_SAMPLES_KEYS) if k in keys), None)


def samples_of(arrays: dict) -> np.ndarray:
    """The samples of an npz file's arrays ([`samples_key`][empirical.samples.samples_key]); a KeyError naming the keys looked for."""
    key = samples_key(arrays)
    if key is None:
        raise KeyError(f"no samples (keys {SAMPLES_KEY!r}, {', '.join(map(repr, OLD_SAMPLES_KEYS))})")
    return arrays[key]


def write_npz(path, **arrays) -> None:
    """``arrays`` into the .npz ``path``, atomically (a kill leaves the old file or the new one, never a torn one)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(Path(path), buf.getvalue())
