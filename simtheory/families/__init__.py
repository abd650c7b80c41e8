"""Finite-sample model families, each with the same small interface:

    init(config_options) ... fit(x, rng, warm=None) -> params (dict of arrays); sample(params, n, rng) -> x;
    logpdf(params, x) -> per-point log density.

``params`` are plain dicts of numpy arrays, so they go into run folders as they are.
"""
from . import gaussian, gmm, histogram, kde

FAMILIES = {"gaussian": gaussian, "gmm": gmm, "histogram": histogram, "kde": kde}

__all__ = ["FAMILIES", "gaussian", "gmm", "histogram", "kde"]
