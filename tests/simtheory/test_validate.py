import math

import numpy as np
import pytest

import simtheory

P, R = np.array([0.5, 0.5]), np.array([0.0, 1.0])

BAD = [
    (lambda: simtheory.curated([-0.1, 1.1], R, 2), "p"),
    (lambda: simtheory.curated([np.nan, 1.0], R, 2), "p"),
    (lambda: simtheory.curated([0.5, 0.6], R, 2), "p"),
    (lambda: simtheory.curated([], [], 2), "p"),
    (lambda: simtheory.curated(P, [0.0, 1.0, 2.0], 2), "r"),
    (lambda: simtheory.curated(P, [0.0, np.nan], 2), "r"),
    (lambda: simtheory.curated(P, [0.0, np.inf], 2), "r"),
    (lambda: simtheory.curated(P, R, 0), "K"),
    (lambda: simtheory.curated(P, R, 2.5), "K"),
    (lambda: simtheory.curated(P, R, float("nan")), "K"),
    (lambda: simtheory.curated(P, R, "4"), "K"),
    (lambda: simtheory.retrain(P, R, 2, 3, lam=-1.0, p_data=P), "lam"),
    (lambda: simtheory.retrain(P, R, 2, 3, lam=float("nan"), p_data=P), "lam"),
    (lambda: simtheory.retrain(P, R, 2, 3, lam=1.0), "p_data"),
    (lambda: simtheory.retrain(P, R, 2, 3, lam=1.0, p_data=[1.0]), "p_data"),
    (lambda: simtheory.retrain(P, R, 2, -1), "steps"),
    (lambda: simtheory.retrain([0.5, -0.5, 1.0], [0, 0, 0], 2, 1), "p0"),
]


@pytest.mark.parametrize("call,name", BAD)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call()


def test_tolerated_rounding_in_sum():
    out = simtheory.curated([0.5, 0.5 + 5e-10], R, 2)
    assert abs(out.sum() - 1) < 1e-15


def test_integral_float_and_numpy_K_accepted():
    a = simtheory.curated(P, R, 4)
    np.testing.assert_array_equal(simtheory.curated(P, R, 4.0), a)
    np.testing.assert_array_equal(simtheory.curated(P, R, np.int64(4)), a)
    assert np.all(np.isfinite(simtheory.curated(P, R, math.inf)))
