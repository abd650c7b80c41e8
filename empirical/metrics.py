r"""Metrics of a set of generated images beside FID: Frechet distance in the reward classifier's feature space,
precision and recall by k-NN manifolds (Kynkaanniemi et al. 2019) in Inception features, class proportions and
mean reward. [`sample_set_metrics`][empirical.metrics.sample_set_metrics] computes them all and records n, seeds and
hashes as empirical.fid does.

Precision / recall (Kynkaanniemi et al. 2019, Sec. 3): each real feature phi_r has the radius
r_k(phi_r) = distance to its k-th nearest other real feature; the real manifold is the union of those balls.
precision = share of fake features inside the real manifold, recall = share of real features inside the fake
manifold (radii from the fake set). k = 3 as in the paper.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from simtheory import validate

from . import fid as fidmod
from .networks.unet import to_float
from .images.score import reward_from_probs


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (float64), clipped at 0 against cancellation."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0)


def _check_feats(x, name: str) -> np.ndarray:
    a = np.asarray(x, np.float64)
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (n, d) array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or infinite entries")
    return a


def knn_radii(feats: np.ndarray, k: int = 3, chunk: int = 1024) -> np.ndarray:
    """Squared distance of every row to its k-th nearest other row (the point itself excluded once)."""
    f = np.asarray(feats, np.float64)
    out = np.empty(len(f))
    for s in range(0, len(f), chunk):
        d = _sq_dists(f[s:s + chunk], f)
        d[np.arange(d.shape[0]), s + np.arange(d.shape[0])] = -1.0     # self sorts first, then is skipped
        out[s:s + chunk] = np.partition(d, k, axis=1)[:, k]
    return out


def _coverage(points: np.ndarray, centers: np.ndarray, radii: np.ndarray, chunk: int = 1024) -> float:
    """Share of ``points`` within distance sqrt(radii[j]) of some center j (boundary included)."""
    inside = np.zeros(len(points), bool)
    for s in range(0, len(points), chunk):
        inside[s:s + chunk] = (_sq_dists(points[s:s + chunk], centers) <= radii[None, :]).any(1)
    return float(inside.mean())


def precision_recall(real_feats, fake_feats, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of Kynkaanniemi et al. 2019 with k-NN balls (k = 3): precision is the share of fake
    features inside some real k-NN ball, recall the share of real features inside some fake k-NN ball."""
    k = validate.count(k, "k", minimum=1)
    real, fake = _check_feats(real_feats, "real_feats"), _check_feats(fake_feats, "fake_feats")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: real {real.shape[1]}, fake {fake.shape[1]}")
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"each set needs more than k = {k} features (real {len(real)}, fake {len(fake)})")
    precision = _coverage(fake, real, knn_radii(real, k))
    recall = _coverage(real, fake, knn_radii(fake, k))
    return precision, recall


@torch.no_grad()
def classifier_features(clf, images: np.ndarray, device="cpu", batch: int = 512) -> np.ndarray:
    """(n, d) float64 penultimate features of the reward classifier (global-average-pooled conv features)."""
    clf.eval()
    out = [clf.features(to_float(images[s:s + batch], device)).mean(dim=(2, 3)).double().cpu().numpy()
           for s in range(0, len(images), batch)]
    return np.concatenate(out) if out else np.zeros((0, clf.head.in_features))


def frechet_of_features(fake: np.ndarray, mu_ref: np.ndarray, sigma_ref: np.ndarray) -> float:
    """Frechet distance between the Gaussian fit of ``fake`` features and reference statistics (as FID)."""
    mu, sigma = fidmod.statistics(fake)
    return fidmod.frechet_distance(mu, sigma, mu_ref, sigma_ref)


def _stats_sha1(mu: np.ndarray, sigma: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(mu).tobytes() + np.ascontiguousarray(sigma).tobytes()).hexdigest()


def reference(real_images: np.ndarray, clf, device="cpu", inception_n: int = 0, progress: bool = False) -> dict:
    """Reference arrays for [`sample_set_metrics`][empirical.metrics.sample_set_metrics]: classifier-feature statistics of all ``real_images`` and,
    when inception_n > 0, Inception features of the first inception_n of them (FID statistics and P/R manifold)."""
    cf = classifier_features(clf, real_images, device)
    mu, sigma = fidmod.statistics(cf)
    ref = {"clf_mu": mu, "clf_sigma": sigma, "clf_n": np.array(len(real_images)),
           "clf_sha1": np.array(_stats_sha1(mu, sigma)),
           "images_sha1": np.array(hashlib.sha1(np.ascontiguousarray(real_images).tobytes()).hexdigest())}
    if inception_n:
        if inception_n > len(real_images):
            raise ValueError(f"inception_n {inception_n} exceeds the {len(real_images)} reference images")
        f = fidmod.inception_features(real_images[:inception_n], device=device, progress=progress)
        imu, isig = fidmod.statistics(f)
        ref.update({"inc_feats": f, "inc_mu": imu, "inc_sigma": isig, "inc_n": np.array(inception_n),
                    "inc_sha1": np.array(_stats_sha1(imu, isig))})
    return ref


def sample_set_metrics(images: np.ndarray, seeds, clf, ref: dict, class_names, reward: str = "class",
                       target: str | None = None, gamma: float = 5.0, inception_n: int = 0, k: int = 3,
                       device="cpu") -> dict:
    """Every metric of one sample set: FD in classifier features, class proportions (classifier argmax) and mean
    reward (with its standard error) on all images; FID and precision/recall (k-NN, k) in Inception features on
    the first ``inception_n`` (0: skipped). Records n, the seed range, the images' sha1 and the references' sha1."""
    from .networks.classifier import predict_proba
    images = np.asarray(images)
    seeds = np.asarray(list(seeds))
    if len(seeds) != len(images):
        raise ValueError(f"{len(images)} images but {len(seeds)} seeds")
    if reward == "class" and target not in class_names:
        raise ValueError(f"the 'class' reward needs a target among {list(class_names)}, got {target!r}")
    if inception_n:
        if "inc_feats" not in ref:
            raise ValueError("the reference has no Inception features: build it with inception_n > 0")
        if inception_n > len(images):
            raise ValueError(f"inception_n {inception_n} exceeds the {len(images)} images")
    probs = predict_proba(clf, images, device)
    counts = np.bincount(probs.argmax(1), minlength=len(class_names))
    tgt = list(class_names).index(target) if reward == "class" else 0
    r = reward_from_probs(probs, reward, tgt, gamma)
    rec = {"n": int(len(images)), "seeds": [int(seeds.min()), int(seeds.max())],
           "images_sha1": hashlib.sha1(np.ascontiguousarray(images).tobytes()).hexdigest(),
           "fd_classifier": frechet_of_features(classifier_features(clf, images, device), ref["clf_mu"], ref["clf_sigma"]),
           "fd_classifier_ref_n": int(ref["clf_n"]), "fd_classifier_ref_sha1": str(ref["clf_sha1"]),
           "class_proportions": (counts / counts.sum()).tolist(), "classes": list(class_names),
           "mean_reward": float(r.mean()), "reward_se": float(r.std(ddof=1) / np.sqrt(len(r))) if len(r) > 1 else 0.0}
    if inception_n:
        f = fidmod.inception_features(images[:inception_n], device=device)
        p, rc = precision_recall(ref["inc_feats"], f, k)
        rec.update({"fid": frechet_of_features(f, ref["inc_mu"], ref["inc_sigma"]), "fid_n": int(inception_n),
                    "fid_ref_n": int(ref["inc_n"]), "fid_ref_sha1": str(ref["inc_sha1"]),
                    "fid_detector_sha1": fidmod.detector_id(), "fid_seeds": [int(seeds[:inception_n].min()),
                                                                              int(seeds[:inception_n].max())],
                    "fid_uint8": "x * 127.5 + 128, clipped", "precision": p, "recall": rc, "pr_k": k})
    return rec


def fid_precision_recall(images: np.ndarray, ref_stats: dict, real_feats: np.ndarray, seeds=None, k: int = 3,
                         device="cpu") -> dict:
    """FID (empirical.fid's record: n, seeds, hashes) and k-NN precision/recall against ``real_feats`` from one
    pass of the Inception network over ``images``."""
    f = fidmod.inception_features(images, device=device)
    mu, sigma = fidmod.statistics(f)
    p, r = precision_recall(real_feats, f, k)
    return {"fid": fidmod.frechet_distance(mu, sigma, ref_stats["mu"], ref_stats["sigma"]), "fid_n": int(len(images)),
            "fid_ref_n": int(ref_stats["n"]), "fid_ref_sha1": str(ref_stats.get("sha1", ref_stats.get("images_sha1"))),
            "fid_detector_sha1": fidmod.detector_id(),
            "fid_seeds": None if seeds is None else [int(np.min(seeds)), int(np.max(seeds))],
            "fid_uint8": "x * 127.5 + 128, clipped", "precision": p, "recall": r, "pr_k": k,
            "pr_real_n": int(len(real_feats))}
