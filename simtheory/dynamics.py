r"""Population retraining on curated samples, with real data (Ferbach et al. 2024, Sec. 2-3).

With infinite samples and capacity, generation t+1 is fitted exactly to

$$
p_{t+1} = \frac{p_{data} + \lambda\, \hat p_t}{1 + \lambda},\qquad \hat p_t = p_t H_K,
$$

lambda the synthetic-to-real ratio (lambda = inf: fully synthetic, $p_{t+1} = \hat p_t$). A run is a fold of
[`step`][simtheory.dynamics.step] over generations.
"""
from __future__ import annotations

import math

import numpy as np

from . import validate
from .curation import curate

ROUNDING_TOL = 1e-12   # largest mass defect a step may correct: more means a numerical fault, not rounding
BYTES_PER_ATOM = 512   # working memory of one step per atom (as simtheory.scenarios.BYTES_PER_ATOM)


def step(p: np.ndarray, r: np.ndarray, K, lam: float, p_data: np.ndarray | None) -> np.ndarray:
    """One generation of the mixed map (validated inputs): curate, mix with p_data at ratio lam, renormalise.

    The map is homogeneous of degree K in p, so a mass defect e grows like K^t e; renormalising each step
    keeps it at rounding level, and a defect above ROUNDING_TOL raises instead of being hidden.
    """
    c = curate(p, r, K)
    if lam == math.inf:
        q = c
    elif p_data is None:
        raise ValueError(f"lam = {lam:g} mixes in real data: pass p_data")
    else:
        q = (p_data + lam * c) / (1.0 + lam)
    s = float(q.sum())
    if abs(s - 1.0) > ROUNDING_TOL:
        raise FloatingPointError(f"mass {s!r} after a step: beyond rounding (tolerance {ROUNDING_TOL:g})")
    return q / s


def _inputs(p0, r, K, lam, p_data):
    p = validate.probability(p0, "p0")
    ra = validate.rewards(r, p.shape, "r")
    k = validate.group_size(K, "K")
    la = validate.ratio(lam, "lam")
    pd = None
    if la != math.inf:
        if p_data is None:
            raise ValueError("p_data is required when lam is finite (real data are mixed in)")
        pd = validate.probability(p_data, "p_data")
        if pd.shape != p.shape:
            raise ValueError(f"p_data has shape {pd.shape}, expected {p.shape} (the shape of p0)")
    return p, ra, k, la, pd


def retrain(p0, r, K, steps: int, lam: float = math.inf, p_data=None) -> np.ndarray:
    r"""Trajectory p_0..p_steps of curated retraining (Ferbach et al. 2024, Eq. 7 and Sec. 3).

    Parameters
    ----------
    p0 : array_like, any shape
        the initial model (probabilities).
    r : array_like, shape of p0
        rewards.
    K : int >= 1 or math.inf
        samples per kept sample.
    steps : int >= 0
        generations.
    lam : float in [0, inf]
        synthetic-to-real ratio; inf (default) is the fully synthetic loop.
    p_data : array_like, shape of p0
        the real data distribution, required when lam is finite.

    Returns
    -------
    numpy.ndarray of shape (steps + 1, *p0.shape).

    Raises
    ------
    ValueError naming the argument: bad inputs, or a trajectory that needs more than half of the memory
    available (simtheory.validate.fits_memory).
    """
    p, ra, k, la, pd = _inputs(p0, r, K, lam, p_data)
    steps = validate.count(steps, "steps", minimum=0)
    validate.fits_memory(8 * (steps + 1) * p.size + BYTES_PER_ATOM * p.size, "steps", steps,
                         f"a trajectory of {steps} steps on {p.size} atoms")
    out = np.empty((steps + 1,) + p.shape)
    out[0] = p
    for t in range(steps):
        out[t + 1] = step(out[t], ra, k, la, pd)
    return out


def fixed_point(p_data, r, K, lam: float, *, tol: float = 1e-14, max_iter: int = 200_000) -> np.ndarray:
    r"""The fixed point q = (p_data + lam q H_K) / (1 + lam) of the mixed map (Sec. 3), by iteration from p_data.

    Raises RuntimeError if the L1 change has not fallen below ``tol`` within ``max_iter`` steps.
    """
    pd, ra, k, la, _ = _inputs(p_data, r, K, lam, p_data)
    if la == math.inf:
        raise ValueError("lam = inf has no interior fixed point; see theorems.limit_distribution")
    q = pd
    for _ in range(max_iter):
        nxt = step(q, ra, k, la, pd)
        if np.abs(nxt - q).sum() < tol:
            return nxt
        q = nxt
    raise RuntimeError(f"fixed point not reached to {tol:g} in {max_iter} iterations (lam={la}, K={k})")
