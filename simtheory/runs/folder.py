"""Run folders, the one format both halves write and figures/paper_checks read, and the resume protocol
every stepped run shares.

    <run>/config.json      the resolved config (with its seed, and optionally the producing code's version);
                           a rerun with another config, or by other code, is refused
    <run>/metrics.jsonl    one flushed line per generation, append-only
    <run>/*.f64            append-only records (one fixed-size float64 array per step)
    <run>/*.npz, *.png     arrays and plots, each written atomically (temporary name, then rename)

    <run>/.lock            held (flock) by the one process writing the folder; holds its pid, host and start

A kill at any moment leaves every finished generation readable: a torn last metrics line or record is
dropped on reopening, and arrays are replaced whole or not at all.

A folder has one writer at a time: [`RunFolder.open`][simtheory.runs.folder.RunFolder.open] takes an exclusive ``flock``
on <run>/.lock and keeps
it until [`RunFolder.close`][simtheory.runs.folder.RunFolder.close] (or the end of a ``with`` block, or the RunFolder's
garbage collection, or the
process's death: the kernel drops the lock of a killed process, so a kill never leaves a stale lock and the next
run resumes). Within one process the lock is re-entrant: a process may open a folder it already holds. A second
process is refused with [`FolderInUse`][simtheory.runs.folder.FolderInUse] (an OSError: the command lines print it as
one line, exit 2), which names the holder.
"""
from __future__ import annotations

import datetime
import errno
import fcntl
import functools
import hashlib
import io
import json
import os
import socket
import threading
import time
import weakref
from importlib import metadata
from pathlib import Path
from collections.abc import Callable

import numpy as np

LOCK_NAME = ".lock"


class FolderInUse(BlockingIOError):
    """Another process holds the run folder's lock (it is writing the folder)."""


# the folders this process holds: real path -> [file descriptor of the locked .lock, open count]
_HELD: dict[str, list[int]] = {}
_GUARD = threading.Lock()


def _forget_in_child() -> None:
    """After a fork the child shares the parent's locked descriptors; it closes its copies (the parent keeps the
    locks: a flock is released only when every descriptor of it is closed) and holds nothing itself."""
    global _GUARD
    _GUARD = threading.Lock()
    for fd, _ in _HELD.values():
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _holder(lock_path: Path) -> str:
    try:
        text = lock_path.read_text().strip()
    except OSError:
        text = ""
    return text or "a process that has not yet written its name"


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (a releasing holder unlinks it; a new one may be made)."""
    try:
        a, b = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _lock_file(lock_path: Path) -> int:
    """A descriptor of ``lock_path`` holding its exclusive flock, stamped with this process's pid, host and start
    time; FolderInUse, naming the holder, when another process holds it."""
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise FolderInUse(f"{lock_path.parent} is in use by another run ({_holder(lock_path)}); a run folder "
                              "has one writer at a time: wait for that run to end, or choose another --out "
                              "folder") from None
        if _same_file(fd, lock_path):
            break
        os.close(fd)            # locked a file its holder unlinked on release: lock the current one
    stamp = (f"pid {os.getpid()} on {socket.gethostname()}, started "
             f"{datetime.datetime.now().astimezone().isoformat(timespec='seconds')}\n")
    os.ftruncate(fd, 0)
    os.pwrite(fd, stamp.encode(), 0)
    return fd


WAIT_POLL_S = 0.2     # how often a waiting open tries the lock again


def _acquire(path: Path, wait: bool) -> str:
    """Take (or, held already by this process, count once more) the lock of the folder ``path``, creating the
    folder; returns the key to release it with. With ``wait``, a folder held by another process is tried again
    every WAIT_POLL_S seconds (never blocking this process's other opens and releases meanwhile)."""
    path.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(path)
    lock_path = Path(key) / LOCK_NAME
    while True:
        try:
            with _GUARD:
                held = _HELD.get(key)
                if held is not None:
                    if not _same_file(held[0], lock_path):       # the folder was removed and made again meanwhile
                        fd = _lock_file(lock_path)
                        os.close(held[0])
                        held[0] = fd
                    held[1] += 1
                    return key
                _HELD[key] = [_lock_file(lock_path), 1]
                return key
        except FolderInUse:
            if not wait:
                raise
        time.sleep(WAIT_POLL_S)


def _release(key: str) -> None:
    """Count one holder of ``key`` off; the last one unlinks the lock file (while still holding it, so that a
    waiting process sees the file change and locks the new one) and closes it, which releases the flock."""
    with _GUARD:
        held = _HELD.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] > 0:
            return
        del _HELD[key]
        fd = held[0]
        lock_path = Path(key) / LOCK_NAME
        if _same_file(fd, lock_path):
            try:
                os.unlink(lock_path)
            except OSError:
                pass                # a read-only or removed folder: the kernel drops the lock anyway
        os.close(fd)


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
    """One run's folder; [`open`][simtheory.runs.folder.RunFolder.open] creates it or reopens it for resuming with the same config, and holds it
    (single writer, module docstring) until [`close`][simtheory.runs.folder.RunFolder.close]. ``RunFolder(path)`` alone
    only reads: it holds
    nothing (see [`hold`][simtheory.runs.folder.RunFolder.hold] for folders written without a config)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._key: str | None = None
        self._finalizer: weakref.finalize | None = None

    @classmethod
    def hold(cls, path, wait: bool = False) -> RunFolder:
        """The folder ``path`` (created if missing) held by this process: FolderInUse when another process holds
        it, or, with ``wait``, block until it is free. For folders that are written without
        [`open`][simtheory.runs.folder.RunFolder.open]."""
        rf = cls(path)
        rf._key = _acquire(rf.path, wait)
        rf._finalizer = weakref.finalize(rf, _release, rf._key)
        return rf

    @classmethod
    def open(cls, path, config: dict, code: dict | None = None, wait: bool = False,
             upgrade: Callable[[dict], dict] | None = None) -> RunFolder:
        """Hold the folder ([`hold`][simtheory.runs.folder.RunFolder.hold]), then create it with ``config`` or reopen it; a different stored config
        raises ConfigMismatch (and releases the folder).

        ``code`` (e.g. [`code_version`][simtheory.runs.folder.code_version]) is stored under config["code"]: a folder
        made by other code is
        refused too, so results of older code are never resumed or reused as if they were current. ``upgrade``
        maps a stored config in an earlier version's words (renamed keys) to today's before the comparison; the
        stored file is left as it is.
        """
        rf = cls.hold(path, wait)
        try:
            cfg_path = rf.path / "config.json"
            normal = json.loads(json.dumps(config if code is None else {**config, "code": code}))
            if cfg_path.exists():
                stored = json.loads(cfg_path.read_text())
                if upgrade is not None:
                    stored = upgrade(stored)
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
                atomic_write(cfg_path, (json.dumps(normal, indent=2, sort_keys=True) + "\n").encode())
        except BaseException:
            rf.close()
            raise
        return rf

    @property
    def held(self) -> bool:
        """Whether this RunFolder holds its folder (opened and not yet closed)."""
        return self._finalizer is not None and self._finalizer.alive

    def close(self) -> None:
        """Release the folder (idempotent): another process may then open it. The RunFolder still reads."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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
    and saved there atomically (config.json + data.npz; a different config in the folder is refused). While
    another process computes the same folder, this one waits for it and then reads its arrays."""
    with RunFolder.open(folder, config, code, wait=True) as rf:     # another process computing it: wait, then read
        data = rf.load_arrays("data")
        if data is None:
            data = {k: np.asarray(v) for k, v in compute().items()}
            rf.save_arrays("data", **data)
    return data
