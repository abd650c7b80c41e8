import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from empirical import fid as fidmod
from empirical.networks.classifier import ClassifierConfig, SmallCNN
from empirical.metrics import (classifier_features, frechet_of_features, knn_radii, precision_recall, reference,
                               sample_set_metrics)


def brute_force_pr(real, fake, k):
    """Kynkaanniemi et al. 2019 by plain loops: radius = distance to the k-th nearest other point."""
    def radii(a):
        out = []
        for i in range(len(a)):
            d = sorted(np.linalg.norm(a[i] - a[j]) for j in range(len(a)) if j != i)
            out.append(d[k - 1])
        return out

    def cover(points, centers, r):
        return np.mean([any(np.linalg.norm(p - c) <= rc + 1e-12 for c, rc in zip(centers, r)) for p in points])
    return cover(fake, real, radii(real)), cover(real, fake, radii(fake))


@pytest.mark.parametrize("seed,k,shift", list(itertools.product([0, 1, 2], [1, 3, 5], [0.0, 0.7])))
def test_precision_recall_matches_brute_force(seed, k, shift):
    rng = np.random.default_rng(seed)
    real = rng.normal(0, 1, (40, 5))
    fake = rng.normal(shift, 1.3, (33, 5))
    p, r = precision_recall(real, fake, k)
    bp, br = brute_force_pr(real, fake, k)
    assert p == pytest.approx(bp, abs=1e-12) and r == pytest.approx(br, abs=1e-12)


@given(st.integers(0, 10**6), st.integers(6, 30), st.integers(1, 4))
def test_identical_sets_give_one_one(seed, n, k):
    x = np.random.default_rng(seed).normal(size=(n, 3))
    assert precision_recall(x, x.copy(), k) == (1.0, 1.0)


def test_far_apart_sets_give_zero_and_radii_exclude_self():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(20, 4)), rng.normal(size=(20, 4)) + 100
    assert precision_recall(a, b) == (0.0, 0.0)
    pts = np.array([[0.0], [1.0], [3.0], [7.0]])
    np.testing.assert_allclose(knn_radii(pts, 1), [1, 1, 4, 16])
    np.testing.assert_allclose(knn_radii(pts, 2), [9, 4, 9, 36])


@pytest.mark.parametrize("args,match", [((np.zeros((5, 2)), np.zeros((5, 3)), 3), "dimensions"),
                                        ((np.zeros((5, 2)), np.zeros((5, 2)), 0), "k must be"),
                                        ((np.zeros((3, 2)), np.zeros((5, 2)), 3), "more than k"),
                                        ((np.full((5, 2), np.nan), np.zeros((5, 2)), 3), "NaN"),
                                        ((np.zeros(5), np.zeros((5, 2)), 3), "real_feats")])
def test_precision_recall_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        precision_recall(*args)


def _clf(num_classes=3):
    torch.manual_seed(0)
    return SmallCNN(ClassifierConfig(resolution=8, num_classes=num_classes, width=8)).eval()


def test_frechet_of_features_and_classifier_features():
    rng = np.random.default_rng(0)
    f, g = rng.normal(size=(200, 4)), rng.normal(0.5, 1, (300, 4))
    mu, s = fidmod.statistics(g)
    assert frechet_of_features(f, mu, s) == pytest.approx(fidmod.frechet_distance(*fidmod.statistics(f), mu, s))
    assert frechet_of_features(g, mu, s) == pytest.approx(0, abs=1e-6)
    clf = _clf()
    imgs = rng.integers(0, 256, (10, 3, 8, 8), dtype=np.uint8)
    feats = classifier_features(clf, imgs, batch=3)
    with torch.no_grad():
        ref = clf.features(torch.as_tensor(imgs).float() / 127.5 - 1).mean(dim=(2, 3)).double().numpy()
    np.testing.assert_allclose(feats, ref, rtol=1e-5, atol=1e-6)


def test_sample_set_metrics_records_everything():
    rng = np.random.default_rng(1)
    clf = _clf(2)
    real = rng.integers(0, 256, (12, 3, 8, 8), dtype=np.uint8)
    fake = rng.integers(0, 256, (10, 3, 8, 8), dtype=np.uint8)
    ref = reference(real, clf, inception_n=6)
    rec = sample_set_metrics(fake, range(100, 110), clf, ref, ("airplane", "automobile"), "class", "airplane",
                             5.0, inception_n=6)
    assert rec["n"] == 10 and rec["seeds"] == [100, 109] and rec["fid_n"] == 6 and rec["fid_seeds"] == [100, 105]
    assert abs(sum(rec["class_proportions"]) - 1) < 1e-12 and 0 <= rec["mean_reward"] <= 5
    assert 0 <= rec["precision"] <= 1 and 0 <= rec["recall"] <= 1 and rec["fid"] > 0 and rec["fd_classifier"] > 0
    assert rec["fid_detector_sha1"] == fidmod.DETECTOR_SHA1 and len(rec["images_sha1"]) == 40
    again = sample_set_metrics(fake, range(100, 110), clf, ref, ("airplane", "automobile"), "class", "airplane")
    assert again["fd_classifier"] == rec["fd_classifier"] and "fid" not in again
    with pytest.raises(ValueError, match="seeds"):
        sample_set_metrics(fake, range(3), clf, ref, ("airplane", "automobile"))
    with pytest.raises(ValueError, match="Inception"):
        sample_set_metrics(fake, range(10), clf, reference(real, clf), ("airplane", "automobile"), "class",
                           "airplane", inception_n=4)
    with pytest.raises(ValueError, match="target"):
        sample_set_metrics(fake, range(10), clf, ref, ("airplane", "automobile"), "class", "cat")


def test_fid_precision_recall_matches_fid_and_pr():
    from empirical.metrics import fid_precision_recall
    rng = np.random.default_rng(2)
    real = rng.integers(0, 256, (5, 3, 8, 8), dtype=np.uint8)
    fake = rng.integers(0, 256, (5, 3, 8, 8), dtype=np.uint8)
    rf = fidmod.inception_features(real)
    mu, sigma = fidmod.statistics(rf)
    ref = {"mu": mu, "sigma": sigma, "n": np.array(5), "sha1": np.array("x")}
    rec = fid_precision_recall(fake, ref, rf, seeds=range(3, 8))
    ff = fidmod.inception_features(fake)
    assert rec["fid"] == pytest.approx(fidmod.frechet_distance(*fidmod.statistics(ff), mu, sigma), rel=1e-9)
    assert rec["fid_seeds"] == [3, 7] and rec["fid_n"] == 5 and rec["fid_ref_sha1"] == "x"
    assert (rec["precision"], rec["recall"]) == precision_recall(rf, ff)
