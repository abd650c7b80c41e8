"""Run folders, the one format both halves write and figures/paper_checks read.

    <run>/config.json      the resolved config (with its seed); a rerun with another config is refused
    <run>/metrics.jsonl    one flushed line per generation, append-only
    <run>/*.npz, *.png     arrays and plots, each written atomically (temporary name, then rename)

A kill at any moment leaves every finished generation readable: a torn last metrics line is dropped on
reopening, and arrays are replaced whole or not at all.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never a half-written file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_diff(stored: dict, new: dict) -> list[str]:
    """Keys whose values differ between two configs (nested keys dotted), as 'key: stored -> new' lines."""
    a, b = _flat(stored), _flat(new)
    return [f"{k}: {a.get(k, '<absent>')!r} -> {b.get(k, '<absent>')!r}"
            for k in sorted(set(a) | set(b)) if a.get(k, "<absent>") != b.get(k, "<absent>")]


class ConfigMismatch(ValueError):
    """A run folder holds a different config than the one asked for."""


class RunFolder:
    """One run's folder; :meth:`open` creates it or reopens it for resuming with the same config."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def open(cls, path, config: dict) -> "RunFolder":
        """Create the folder with ``config`` or reopen it; a different stored config raises ConfigMismatch."""
        rf = cls(path)
        cfg_path = rf.path / "config.json"
        normal = json.loads(json.dumps(config))
        if cfg_path.exists():
            stored = json.loads(cfg_path.read_text())
            diff = config_diff(stored, normal)
            if diff:
                raise ConfigMismatch(f"{rf.path} holds another run's config; differing keys:\n  "
                                     + "\n  ".join(diff)
                                     + "\nchoose another --out folder, or remove that one to start over")
        else:
            rf.path.mkdir(parents=True, exist_ok=True)
            atomic_write(cfg_path, (json.dumps(normal, indent=2, sort_keys=True) + "\n").encode())
        return rf

    @property
    def config(self) -> dict:
        return json.loads((self.path / "config.json").read_text())

    def metrics(self) -> list[dict]:
        """The complete lines of metrics.jsonl (a torn last line from a kill is ignored)."""
        return read_metrics(self.path)

    def keep_metrics(self, n: int) -> int:
        """Keep at most the first ``n`` complete metric lines, dropping a torn line and lines past the saved
        state; the file is rewritten only when something is dropped. Returns the number of lines kept.

        Lines are kept only while their "generation" (where present) counts 0, 1, 2, ...: a duplicate or
        out-of-order line, e.g. from two processes writing one folder, ends the kept prefix."""
        f = self.path / "metrics.jsonl"
        rows = self.metrics()
        raw = f.read_text().splitlines() if f.exists() else []
        keep = []
        for i, row in enumerate(rows[:n]):
            if row.get("generation", i) != i:
                break
            keep.append(row)
        if len(raw) != len(keep):
            atomic_write(f, "".join(json.dumps(r) + "\n" for r in keep).encode())
        return len(keep)

    def append(self, record: dict) -> None:
        """Append one metrics line and force it to disk."""
        with open(self.path / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def save_arrays(self, name: str, **arrays: np.ndarray) -> None:
        """Atomically write ``name``.npz."""
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write(self.path / f"{name}.npz", buf.getvalue())

    def load_arrays(self, name: str) -> dict[str, np.ndarray] | None:
        """The arrays of ``name``.npz, or None when it does not exist yet."""
        f = self.path / f"{name}.npz"
        if not f.exists():
            return None
        with np.load(f) as z:
            return {k: z[k] for k in z.files}


def read_metrics(path) -> list[dict]:
    """Complete JSON lines of ``path``/metrics.jsonl ([] when absent)."""
    f = Path(path) / "metrics.jsonl"
    if not f.exists():
        return []
    rows = []
    for line in f.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break     # a line torn by a kill: everything before it is intact
    return rows
