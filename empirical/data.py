"""CIFAR-10 from the shipped JPEG archive (default) or an original ``cifar-10-batches-py`` folder.

Decoded once and cached as arrays with a content checksum; options for resolution (32, or 16 / 8 by area
downsampling), a class subset and a fixed subset size. Images are uint8 NCHW, labels int64 class indices.
Results on the JPEG copy are "CIFAR-10 (JPEG copy)" results: compare FIDs only with statistics from it.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from simtheory.runs import atomic_write

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SPLIT_SIZES = {"train": 50_000, "test": 10_000}
REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
CACHE = REPO / ".cache"


def default_source() -> Path:
    """$CIFAR10_SOURCE if set, else ../shared/data/cifar10-jpeg.tar.gz beside the repository."""
    return Path(os.environ.get("CIFAR10_SOURCE", DEFAULT_SOURCE))


def _missing(path: Path) -> ValueError:
    return ValueError(f"CIFAR-10 not found at {path}. Pass --data PATH (the cifar10-jpeg.tar.gz archive or a "
                      f"cifar-10-batches-py folder) or set CIFAR10_SOURCE.")


def _from_archive(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image
    imgs, labels = [], []
    try:
        with tarfile.open(path, "r:gz") as tar:
            for m in tar:
                parts = m.name.split("/")
                if not m.isfile() or len(parts) != 4 or parts[1] != split or not parts[3].endswith(".jpg"):
                    continue
                data = tar.extractfile(m).read()
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
    cached (the cache is keyed by the source's size and mtime and verified by a content checksum)."""
    if split not in SPLIT_SIZES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    src = Path(source) if source is not None else default_source()
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
