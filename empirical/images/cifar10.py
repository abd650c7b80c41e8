"""CIFAR-10: download (official archive, md5-checked), the default search order, and reading.

Two formats are read: the official ``cifar-10-batches-py`` folder (what
[`download_cifar10`][empirical.images.cifar10.download_cifar10] writes) and a
JPEG archive (``cifar10-jpeg/{train,test}/<class>/NNNN.jpg``). The reader of the official format is our own, a
dozen lines of numpy: torchvision's would bring a second torch-versioned dependency for nothing else. Both are
decoded once and cached as arrays with a content checksum; options for resolution (32, or 16 / 8 by area
downsampling), a class subset and a fixed subset size. Images are uint8 NCHW, labels int64 class indices.
Results on the JPEG copy are "CIFAR-10 (JPEG copy)" results: compare FIDs only with statistics from it.
"""
from __future__ import annotations

import hashlib
import http.client
import io
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from simtheory.runs import atomic_write

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SPLIT_SIZES = {"train": 50_000, "test": 10_000}
BATCHES = "cifar-10-batches-py"
BATCH_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"    # the CIFAR page of the University of Toronto
MD5 = "c58f30108f718f92721af3b95e74349a"                          # of cifar-10-python.tar.gz, as that page gives it
REPO = Path(__file__).resolve().parents[2]
CHECKOUT = REPO if (REPO / "pyproject.toml").is_file() else None   # None when installed from a wheel
CACHE = CHECKOUT / ".cache" if CHECKOUT is not None else Path(
    os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "curated-retraining"
DOWNLOAD_HINT = "get it with `python -m empirical download-cifar10 --root data`, or pass --data / set CIFAR10_SOURCE"


class Cifar10NotFound(ValueError):
    """No CIFAR-10 where the default search looks (no --data given)."""


def search_paths() -> list[Path]:
    """Where CIFAR-10 is looked for when no source is given, in order: `$CIFAR10_SOURCE` if set (alone); else
    data/cifar-10-batches-py under the current directory, the same in the checkout, and the JPEG copy
    ../shared/data/cifar10-jpeg.tar.gz beside the checkout."""
    env = os.environ.get("CIFAR10_SOURCE")
    if env:
        return [Path(env)]
    out = [Path.cwd() / "data" / BATCHES]
    if CHECKOUT is not None:
        out += [CHECKOUT / "data" / BATCHES, CHECKOUT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"]
    return list(dict.fromkeys(p.absolute() for p in out))


def default_source() -> Path | None:
    """The first of [`search_paths`][empirical.images.cifar10.search_paths] that exists, or None."""
    return next((p for p in search_paths() if p.exists()), None)


def not_found_message() -> str:
    """One line: where CIFAR-10 was looked for and how to get it."""
    return f"CIFAR-10 not found (looked in {', '.join(map(str, search_paths()))}); {DOWNLOAD_HINT}"


def _missing(path: Path) -> ValueError:
    return ValueError(f"CIFAR-10 not found at {path}. Pass --data PATH (a cifar-10-batches-py folder or the "
                      f"cifar10-jpeg.tar.gz archive) or set CIFAR10_SOURCE; {DOWNLOAD_HINT}")


def download_cifar10(root, url: str = URL, md5: str = MD5, timeout: float = 60.0, progress: bool = False) -> Path:
    """Download the CIFAR-10 python archive from ``url``, check its ``md5``, unpack it to
    ``root``/cifar-10-batches-py and return that folder (at once if it is already complete).

    Everything is written inside a temporary folder in ``root`` and renamed into place only when the archive
    passed its checksum and every batch file is there: a wrong checksum, a broken download or a damaged
    archive raises ValueError and leaves no half-written folder (nor ``root`` itself if it was created here).
    The md5 is checked before anything is unpacked: the batches are pickles, which run code when read.
    """
    root = Path(root)
    target = root / BATCHES
    if all((target / f).is_file() for f in BATCH_FILES):
        return target
    if target.exists():
        raise ValueError(f"{target} exists but is not a complete {BATCHES} folder; remove it and rerun")
    if len(md5) != 32 or any(c not in "0123456789abcdefABCDEF" for c in md5):
        raise ValueError(f"--md5 must be 32 hexadecimal digits, got {md5!r}")
    made_root = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".cifar10-download-", dir=root))
    try:
        archive = tmp / "cifar-10-python.tar.gz"
        got = _fetch(url, archive, timeout, progress)
        if got != md5.lower():
            raise ValueError(f"the archive from {url} has md5 {got}, expected {md5.lower()}: a broken download "
                             "or another file; nothing was unpacked")
        _unpack(archive, tmp)
        os.replace(tmp / BATCHES, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if made_root:
            shutil.rmtree(root, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return target


def _fetch(url: str, dest: Path, timeout: float, progress: bool) -> str:
    """Stream ``url`` into ``dest``; returns the md5 of what arrived. A failed connection, an HTTP error or a
    short read is a ValueError naming the URL."""
    from tqdm import tqdm
    h = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(dest, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc="cifar-10", disable=None if progress else True) \
                    as bar:
                n = 0
                while chunk := r.read(1 << 20):
                    h.update(chunk)
                    f.write(chunk)
                    n += len(chunk)
                    bar.update(len(chunk))
    except (OSError, http.client.HTTPException) as e:     # URLError, HTTPError, timeouts, resets, short reads
        why = f"HTTP {e.code} {e.reason}" if isinstance(e, urllib.error.HTTPError) else getattr(e, "reason", e)
        raise ValueError(f"download from {url} failed: {why}") from None
    if total is not None and n != total:
        raise ValueError(f"the download from {url} stopped after {n} of {total} bytes; rerun")
    return h.hexdigest()


def _unpack(archive: Path, into: Path) -> None:
    """Extract the regular files of cifar-10-batches-py/ only (no links, no paths outside it)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [m for m in tar.getmembers()
                       if m.isfile() and m.name.startswith(f"{BATCHES}/") and ".." not in Path(m.name).parts]
            for m in members:
                src = tar.extractfile(m)
                assert src is not None, f"{m.name} is a regular file"
                dest = into / m.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                with open(dest, "wb") as f:
                    shutil.copyfileobj(src, f)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ValueError(f"the archive {archive.name} is damaged ({e}); rerun the download") from None
    missing = [f for f in BATCH_FILES if not (into / BATCHES / f).is_file()]
    if missing:
        raise ValueError(f"the archive lacks {', '.join(missing)}: not the CIFAR-10 python archive")


def _from_archive(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image
    imgs: list = []
    try:
        with tarfile.open(path, "r:gz") as tar:
            for m in tar:
                parts = m.name.split("/")
                if not m.isfile() or len(parts) != 4 or parts[1] != split or not parts[3].endswith(".jpg"):
                    continue
                f = tar.extractfile(m)
                assert f is not None, f"{m.name} is a regular file"
                data = f.read()
                imgs.append((parts[2], parts[3], np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))))
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ValueError(f"the archive {path} is corrupt or unreadable ({e}); re-copy it or pass --data") from None
    if len(imgs) != SPLIT_SIZES[split]:
        raise ValueError(f"the archive {path} holds {len(imgs)} {split} images, expected {SPLIT_SIZES[split]}: "
                         "incomplete or corrupt")
    imgs.sort(key=lambda t: (CLASSES.index(t[0]), t[1]))
    labels = np.array([CLASSES.index(c) for c, _, _ in imgs], dtype=np.int64)
    x = np.stack([a for _, _, a in imgs]).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x), labels


def _from_batches(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    xs, ys = [], []
    for n in names:
        f = folder / n
        if not f.exists():
            raise ValueError(f"{f} is missing: {folder} is not a complete cifar-10-batches-py folder")
        with open(f, "rb") as fh:
            d = pickle.load(fh, encoding="bytes")
        xs.append(np.asarray(d[b"data"], np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(d[b"labels"], np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def _digest(x: np.ndarray, y: np.ndarray) -> str:
    return hashlib.sha1(x.tobytes() + y.tobytes()).hexdigest()


def load_cifar10(split: str = "train", source: str | Path | None = None,
                 cache_dir: Path | None = CACHE) -> tuple[np.ndarray, np.ndarray]:
    """All images (uint8, N x 3 x 32 x 32) and labels of ``split`` ('train' or 'test'), decoded once and
    cached (the cache is keyed by the source's path, size and mtime and verified by a content checksum).

    ``source`` None searches [`search_paths`][empirical.images.cifar10.search_paths]; finding nothing raises
    [`Cifar10NotFound`][empirical.images.cifar10.Cifar10NotFound]."""
    if split not in SPLIT_SIZES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if source is None:
        src = default_source()
        if src is None:
            raise Cifar10NotFound(not_found_message())
    else:
        src = Path(source)
    if not src.exists():
        raise _missing(src)
    st = src.stat()
    key = hashlib.sha1(f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    cache = None if cache_dir is None else Path(cache_dir) / f"cifar10-{split}-{key}.npz"
    if cache is not None and cache.exists():
        with np.load(cache) as z:
            x, y, digest = z["x"], z["y"], str(z["sha1"])
        if _digest(x, y) == digest:
            return x, y
    x, y = _from_batches(src, split) if src.is_dir() else _from_archive(src, split)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, x=x, y=y, sha1=_digest(x, y))
        atomic_write(cache, buf.getvalue())
    return x, y


def class_indices(classes) -> list[int]:
    """Indices of class names (or all ten for None); an unknown name is a ValueError that lists the names."""
    if classes is None:
        return list(range(10))
    out = []
    for c in classes:
        if c not in CLASSES:
            raise ValueError(f"unknown class name {c!r}; CIFAR-10 classes are {', '.join(CLASSES)}")
        out.append(CLASSES.index(c))
    return out


def downsample(x: np.ndarray, resolution: int) -> np.ndarray:
    """Area (box-mean) downsampling of uint8 NCHW images from 32 to ``resolution`` (32, 16, 8, 4), rounded."""
    s = x.shape[-1]
    if resolution == s:
        return x
    if resolution <= 0 or s % resolution:
        raise ValueError(f"resolution must divide {s}, got {resolution}")
    f = s // resolution
    m = x.reshape(*x.shape[:2], resolution, f, resolution, f).astype(np.float32).mean(axis=(3, 5))
    return np.clip(np.rint(m), 0, 255).astype(np.uint8)


def prepare(x: np.ndarray, y: np.ndarray, resolution: int = 32, classes=None, subset: int | None = None,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Select classes (labels re-indexed 0..C-1 in the given order), keep a fixed seeded subset, downsample."""
    idx = class_indices(classes)
    lut = np.full(10, -1, np.int64)
    lut[idx] = np.arange(len(idx))
    keep = lut[y] >= 0
    x, y = x[keep], lut[y[keep]]
    if subset is not None:
        if subset > x.shape[0]:
            raise ValueError(f"subset {subset} exceeds the {x.shape[0]} images available")
        pick = np.sort(np.random.default_rng(seed).permutation(x.shape[0])[:subset])
        x, y = x[pick], y[pick]
    return downsample(x, resolution), y


def dataset(split: str = "train", resolution: int = 32, classes=None, subset: int | None = None, seed: int = 0,
            source=None) -> tuple[np.ndarray, np.ndarray]:
    """load_cifar10 followed by prepare."""
    x, y = load_cifar10(split, source)
    return prepare(x, y, resolution, classes, subset, seed)
