"""Run folders, the one format both halves write and figures/paper_checks read, and the resume protocol
every stepped run shares.

    <run>/config.json      the resolved config (with its seed, and optionally the producing code's version);
                           a rerun with another config, or by other code, is refused
    <run>/metrics.jsonl    one flushed line per generation, append-only
    <run>/*.f64            append-only records (one fixed-size float64 array per step)
    <run>/*.npz, *.png     arrays and plots, each written atomically (temporary name, then rename)

A kill at any moment leaves every finished generation readable: a torn last metrics line or record is
dropped on reopening, and arrays are replaced whole or not at all.
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import os
from importlib import metadata
from pathlib import Path
from collections.abc import Callable

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


def jsonable(rec: dict) -> dict:
    """A record with arrays turned into (nested) lists, for metrics.jsonl."""
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in rec.items()}


@functools.cache
def code_version(*packages: str) -> dict:
    """The producing code of a stored run: the project's package version and a sha256 over the source files
    (*.py, sorted by path) of the named top-level packages. Any edit to them changes the hash."""
    try:
        version = metadata.version("curated-retraining")
    except metadata.PackageNotFoundError:
        version = "unknown"
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for pkg in sorted(packages):
        for f in sorted((root / pkg).rglob("*.py")):
            h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return {"version": version, "packages": sorted(packages), "source_sha256": h.hexdigest()[:16]}


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
    def open(cls, path, config: dict, code: dict | None = None) -> RunFolder:
        """Create the folder with ``config`` or reopen it; a different stored config raises ConfigMismatch.

        ``code`` (e.g. :func:`code_version`) is stored under config["code"]: a folder made by other code is
        refused too, so results of older code are never resumed or reused as if they were current.
        """
        rf = cls(path)
        cfg_path = rf.path / "config.json"
        normal = json.loads(json.dumps(config if code is None else {**config, "code": code}))
        if cfg_path.exists():
            stored = json.loads(cfg_path.read_text())
            diff = config_diff(stored, normal)
            if diff and all(d.startswith("code.") for d in diff):
                raise ConfigMismatch(f"{rf.path} was made by other code ({'; '.join(diff)}): its results may "
                                     "differ from what this code computes; remove that folder to recompute "
                                     "it, or choose another --out folder")
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

    def append_record(self, name: str, a: np.ndarray) -> None:
        """Append one float64 array to ``name``.f64 and force it to disk (O(size of a), not of the file)."""
        with open(self.path / f"{name}.f64", "ab") as f:
            f.write(np.ascontiguousarray(a, dtype=np.float64).tobytes())
            f.flush()
            os.fsync(f.fileno())

    def records(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The complete records of ``name``.f64 as an array (n, *shape); a record torn by a kill is cut off
        the file, so the next append continues from the last complete one."""
        f = self.path / f"{name}.f64"
        size = int(np.prod(shape)) * 8
        if not f.exists():
            return np.empty((0, *shape))
        n = f.stat().st_size // size
        if f.stat().st_size != n * size:
            os.truncate(f, n * size)
        return np.fromfile(f, dtype=np.float64, count=n * size // 8).reshape((n, *shape))

    def save_arrays(self, name: str, **arrays: np.ndarray) -> None:
        """Atomically write ``name``.npz."""
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub reads **arrays as its bool option
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


def fold_steps(rf: RunFolder, done: int, total: int, advance: Callable[[int], None], line: Callable[[int], dict],
               desc: str | None = None) -> None:
    """The resume protocol of every stepped run (exact runs, loops): state t is saved durably before its
    metrics line, so on reopening the lines are 0..done-1 or 0..done, ``done`` the last saved state.

    Writes the missing line of state ``done`` (a kill between the two writes), then for t = done..total-1
    calls ``advance(t)`` (compute and save state t+1) and appends ``line(t + 1)``. ``desc``: a progress bar.
    """
    for t in range(rf.keep_metrics(done + 1), done + 1):
        rf.append(jsonable(line(t)))
    steps = range(done, total)
    if desc is not None:
        from tqdm import tqdm
        steps = tqdm(steps, desc=desc, initial=done, total=total, disable=None)
    for t in steps:
        advance(t)
        rf.append(jsonable(line(t + 1)))


def computed(folder, config: dict, compute: Callable[[], dict], code: dict | None = None) -> dict[str, np.ndarray]:
    """The arrays of a computed run: read from ``folder`` if it holds this config (and code), else computed
    and saved there atomically (config.json + data.npz; a different config in the folder is refused)."""
    rf = RunFolder.open(folder, config, code)
    data = rf.load_arrays("data")
    if data is None:
        data = {k: np.asarray(v) for k, v in compute().items()}
        rf.save_arrays("data", **data)
    return data
