"""The distance to a known law shared by both halves (simtheory.metrics.mmd2): unbiased, its SE matches the spread
of repeated draws (at the law and away from it), exact on weighted atoms and between mixtures."""
import math

import numpy as np
import pytest

from simtheory import datasets, scenarios
from simtheory.families import gmm
from simtheory.metrics import default_bandwidth, mmd2, mmd2_laws

from tolerances import N_SE

LAW = datasets.make("mixture2d", 2, 0).law
SHIFTED = dict(LAW, weights=np.r_[0.2, np.full(7, 0.8 / 7)])


@pytest.mark.parametrize("law,name", [(LAW, "at the law"), (SHIFTED, "away from it")])
def test_u_statistic_is_unbiased_and_its_se_matches_the_spread(law, name):
    """400 replicates of n = 300: the mean estimate is the exact MMD^2 within N_SE SEs of the mean, and the mean
    reported SE is within 25% of the replicates' SD (the SD of an SD from 400 draws is ~3.5%; at the law the SE,
    estimated from second-order terms, is conservative by ~15%)."""
    rng = np.random.default_rng(3)
    est = np.array([mmd2(gmm.sample(law, 300, rng), LAW) for _ in range(400)])
    exact = mmd2_laws(law, LAW)
    sd = est[:, 0].std(ddof=1)
    assert abs(est[:, 0].mean() - exact) <= N_SE * sd / math.sqrt(len(est)), (name, est[:, 0].mean(), exact)
    assert 0.8 <= est[:, 1].mean() / sd <= 1.25, (name, est[:, 1].mean(), sd)


def test_exact_on_atoms_and_between_mixtures():
    """A fine grid's discretised law has the continuous law's MMD^2 (0 to itself, the shifted mixture's to the
    law); two mixtures' MMD^2 is symmetric, zero for equal laws, and grows with a shift."""
    sc = scenarios.mixture2d(81)
    pts = sc.points.reshape(-1, 2)
    v, se = mmd2(pts, LAW, weights=sc.p0.ravel())
    assert se == 0 and abs(v) < 1e-9
    from simtheory.densities import gaussian_mixture_pdf, to_probabilities
    q = to_probabilities(gaussian_mixture_pdf(pts, SHIFTED["means"], 0.35, SHIFTED["weights"]))
    assert mmd2(pts, LAW, weights=q)[0] == pytest.approx(mmd2_laws(SHIFTED, LAW), rel=1e-4)   # the grid: 5e-6
    assert mmd2_laws(LAW, LAW) == pytest.approx(0, abs=1e-14)
    h = default_bandwidth(LAW)
    assert mmd2_laws(SHIFTED, LAW, h) == pytest.approx(mmd2_laws(LAW, SHIFTED, h), rel=1e-12)
    moved = dict(LAW, means=LAW["means"] + [0.3, 0.0])
    assert mmd2_laws(moved, LAW) > mmd2_laws(dict(LAW, means=LAW["means"] + [0.1, 0.0]), LAW) > 0


def test_bandwidth_and_bad_input():
    assert default_bandwidth(LAW) == pytest.approx(0.35)
    assert default_bandwidth({"weights": [1.0], "means": [[0.0]], "covs": [[[4.0]]]}) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="shape"):
        mmd2(np.zeros((10, 3)), LAW)
    with pytest.raises(ValueError, match="n >= 3"):
        mmd2(np.zeros((2, 2)), LAW)
    with pytest.raises(ValueError, match="bandwidth"):
        mmd2(np.zeros((5, 2)), LAW, bandwidth=0.0)
    with pytest.raises(ValueError, match="weights"):
        mmd2(np.zeros((5, 2)), LAW, weights=np.full(5, 0.3))
    with pytest.raises(ValueError, match="NaN"):
        mmd2(np.full((5, 2), np.nan), LAW)
