r"""Distribution shifting with negative guidance (Alemohammad et al. 2024): the product form's class masses
p_base^(1+w) / p_aux^w for mixtures that share their components, its inverse (the auxiliary's class proportions
that reach a target), and the masses the guided ODE actually reaches (Monte Carlo in any dimension, exact in 1-D).
"""
from __future__ import annotations

import numpy as np
from scipy import special

from .. import validate
from ..metrics import mode_proportions
from .sampler import check_w, guided_denoiser, heun_sample


def product_form_masses(base_weights, aux_weights, w: float) -> np.ndarray:
    r"""Class masses p_base^(1+w)/p_aux^w predicts for well-separated shared components:
    q_j proportional to pi_j^(1+w) rho_j^(-w)."""
    pi = validate.probability(base_weights, "base_weights")
    rho = validate.probability(aux_weights, "aux_weights")
    w = check_w(w)
    if np.any((rho == 0) & (pi > 0)):
        raise ValueError("aux_weights must be > 0 wherever base_weights are")
    with np.errstate(divide="ignore"):
        lq = np.where(pi > 0, (1 + w) * np.log(pi) - w * np.log(np.where(rho > 0, rho, 1.0)), -np.inf)
    q = np.exp(lq - lq.max())
    return q / q.sum()


def aux_weights_for_target(base_weights, target, w: float) -> np.ndarray:
    r"""The auxiliary's class proportions rho that make the product form reach the target q (inverting
    [`product_form_masses`][simtheory.diffusion.shifting.product_form_masses]): q_j proportional to pi_j^(1+w) / rho_j^w
    gives

    $$
    \rho_j \propto (\pi_j^{1+w} / q_j)^{1/w} = \pi_j (\pi_j / q_j)^{1/w},\qquad w > 0,
    $$

    normalised (q = pi gives rho = pi, an unshifted auxiliary). A heuristic for networks, whose class masses follow
    their training sets' proportions only approximately: the achieved masses are measured, never assumed. Every
    class of base_weights and target must be > 0; a w so small that (pi / q)^(1/w) leaves the float range is a
    ValueError."""
    pi = validate.probability(base_weights, "base_weights")
    q = validate.probability(target, "target")
    w = check_w(w)
    if w == 0:
        raise ValueError("w must be > 0 to shift the distribution (w = 0 ignores the auxiliary)")
    if q.shape != pi.shape:
        raise ValueError(f"target has {q.size} classes, base_weights {pi.size}")
    if np.any(q <= 0) or np.any(pi <= 0):
        raise ValueError("base_weights and target must be > 0 in every class")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lr = np.log(pi) + (np.log(pi) - np.log(q)) / w
        r = np.exp(lr - lr.max())
    if not np.all(np.isfinite(r)):
        raise ValueError(f"w = {w!r} is too small for the product form: (base / target)^(1/w) overflows; use a "
                         "larger w")
    return r / r.sum()


def shifted_masses(means, covs, base_weights, aux_weights, w: float, latents, *, num_steps: int = 256,
                   sigma_max: float = 80.0) -> np.ndarray:
    """Class masses of the guided ODE's output (Heun with ``num_steps``) for base and auxiliary mixtures that
    share components (means, covs) but not weights; each output point is labelled by the nearest mean.
    Monte Carlo over ``latents`` (n, d): the standard error is sqrt(q (1 - q) / n)."""
    base = {"weights": base_weights, "means": means, "covs": covs}
    aux = {"weights": aux_weights, "means": means, "covs": covs}
    out = heun_sample(guided_denoiser(base, aux, w), latents, num_steps, sigma_max=sigma_max)
    return mode_proportions(out, means)


def shifted_masses_1d(means, variances, base_weights, aux_weights, w: float, *, num_steps: int = 256,
                      sigma_max: float = 80.0, z_max: float = 9.0, grid: int = 2001) -> np.ndarray:
    """Exact (no sampling noise) class masses of the 1-D guided ODE's output: the flow map z -> x(0) is
    increasing (1-D flows keep order), so each class's latent set is an interval; its ends are located on a
    latent grid and refined by bisection on the Heun map, and the mass is Phi(right) - Phi(left). Labels by the
    nearest mean; latents beyond +-z_max (mass < 3e-19) are dropped."""
    mu = validate.finite_array(means, "means").reshape(-1)
    order = np.argsort(mu)
    covs = np.asarray(variances, float).reshape(-1, 1, 1)
    base = {"weights": base_weights, "means": mu[:, None], "covs": covs}
    aux = {"weights": aux_weights, "means": mu[:, None], "covs": covs}
    f = guided_denoiser(base, aux, w)
    rank = np.empty_like(order)
    rank[order] = np.arange(mu.size)

    def label(z):
        x = heun_sample(f, z[:, None], num_steps, sigma_max=sigma_max)[:, 0]
        return rank[np.argmin(np.abs(x[:, None] - mu[None]), axis=1)]     # position in sorted order

    z = np.linspace(-z_max, z_max, grid)
    lab = label(z)
    if np.any(np.diff(lab) < 0):
        raise RuntimeError("the Heun map is not monotone on the latent grid; increase num_steps")
    cut = np.nonzero(np.diff(lab))[0]
    lo, hi = z[cut].copy(), z[cut + 1].copy()
    target = lab[cut + 1]
    for _ in range(32):          # grid step 2 z_max / (grid - 1) halved 32 times: < 1e-11
        mid = 0.5 * (lo + hi)
        right = label(mid) >= target
        hi = np.where(right, mid, hi)
        lo = np.where(right, lo, mid)
    edges = np.concatenate([[-np.inf], 0.5 * (lo + hi), [np.inf]])
    cdf = special.ndtr(edges)
    masses_sorted = np.zeros(mu.size)
    labels = np.concatenate([[lab[0]], target])
    for j, l in enumerate(labels):
        masses_sorted[l] += cdf[j + 1] - cdf[j]
    return masses_sorted[rank]


def aux_weights_exact_1d(means, variances, base_weights, target, w: float, *, iterations: int = 6,
                         **shift_options) -> tuple[np.ndarray, np.ndarray]:
    """Auxiliary weights whose exact 1-D guided ODE output reaches ``target``: start from the product-form
    recipe and correct by the fixed point rho <- rho (q(rho) / target)^(1/w), normalised (the product form's
    sensitivity, q_j proportional to rho_j^-w, applied to the exact masses q(rho) of
    [`shifted_masses_1d`][simtheory.diffusion.shifting.shifted_masses_1d]). Returns (rho, q(rho)) after ``iterations``
    corrections."""
    q = validate.probability(target, "target")
    rho = aux_weights_for_target(base_weights, q, w)
    got = shifted_masses_1d(means, variances, base_weights, rho, w, **shift_options)
    for _ in range(validate.count(iterations, "iterations", 0)):
        rho = rho * (got / q) ** (1.0 / w)
        rho = rho / rho.sum()
        got = shifted_masses_1d(means, variances, base_weights, rho, w, **shift_options)
    return rho, got
