"""Bertrand et al. 2024: retraining on real data mixed at ratio lam contracts locally to theta*; checked on the
Gaussian family with an independent numerical argmax of the retraining objective (not the closed-form map),
with data inside the family (eps = 0) and outside it (eps = W2(p_theta*, p_data) > 0), and on the
finite-sample loop engine."""
from __future__ import annotations

import numpy as np
from scipy import optimize, stats

from simtheory import theorems
from simtheory.loops import LoopConfig, run_loop

from .core import Check, passes, rounding_level, verdict

X = np.linspace(-15.0, 15.0, 6001)          # quadrature grid: the integrands are smooth and negligible beyond
FD = 1e-3                                   # finite-difference step of the Jacobian
RATE_TOL = 1e-6   # the Gaussian map is quadratic in theta, so central differences are exact up to the root
                  # finder's error (~1e-14) / FD: 1e-6 leaves four orders of margin

DATA = {
    "N(0, 1) (in the family, eps = 0)": stats.norm(0, 1).pdf(X),
    "0.5 N(-1, .5^2) + 0.5 N(1, .5^2) (outside, eps > 0)": 0.5 * stats.norm(-1, 0.5).pdf(X) + 0.5 * stats.norm(1, 0.5).pdf(X),
}


def _argmax_map(theta, p_data: np.ndarray, lam: float) -> np.ndarray:
    """theta' = argmax_theta int (p_data + lam p_theta_t) log p_theta (Bertrand et al.'s retraining step with
    infinite samples), as the root of the expected score int q grad_theta log p_theta = 0 over trapezoid
    quadrature (scipy root finder): independent of the closed-form moment match."""
    q = p_data + lam * stats.norm(theta[0], np.sqrt(theta[1])).pdf(X)

    def score(v):            # the expected score times var and 2 var^2 (same roots, better scaled)
        mu, var = v
        return [np.trapezoid(q * (X - mu), X), np.trapezoid(q * ((X - mu) ** 2 - var), X)]

    res = optimize.root(score, [theta[0], theta[1]], method="hybr", tol=1e-14)
    return np.asarray(res.x)


def _fixed_point(p_data: np.ndarray, lam: float) -> np.ndarray:
    th = np.array([0.3, 1.5])
    for _ in range(200):
        nxt = _argmax_map(th, p_data, lam)
        if np.abs(nxt - th).max() < 1e-12:
            return nxt
        th = nxt
    return th


def _local_rate(p_data: np.ndarray, lam: float) -> tuple[float, np.ndarray]:
    """Spectral radius of the Jacobian of the numerical map at its fixed point theta* (central differences)."""
    star = _fixed_point(p_data, lam)
    J = np.empty((2, 2))
    for j in range(2):
        e = np.zeros(2)
        e[j] = FD
        J[:, j] = (_argmax_map(star + e, p_data, lam) - _argmax_map(star - e, p_data, lam)) / (2 * FD)
    return float(np.max(np.abs(np.linalg.eigvals(J)))), star


def _w2_to_gaussian(p_data: np.ndarray, mu: float, var: float) -> float:
    """W2(N(mu, var), p_data) in 1-D through the quantile functions."""
    cdf = np.cumsum(p_data) * (X[1] - X[0])
    u = np.linspace(1e-6, 1 - 1e-6, 20001)
    q_data = np.interp(u, cdf / cdf[-1], X)
    return float(np.sqrt(np.trapezoid((q_data - stats.norm(mu, np.sqrt(var)).ppf(u)) ** 2, u)))


def _loop_distances(x: np.ndarray, star: np.ndarray, lam: float, N: int) -> np.ndarray:
    recs = run_loop(LoopConfig("gaussian", n_samples=N, lam=lam, generations=6, n_eval=2, n_holdout=0), x, seed=1,
                    start={"mean": [star[0] + 1.0], "cov": [[2.0 * star[1]]]})
    return np.array([np.hypot(r["mean"][0] - star[0], r["cov"][0, 0] - star[1]) for r in recs])


def run(quick: bool = False) -> list[Check]:
    lams = (0.1, 0.25, 0.4, 0.49) if not quick else (0.1, 0.4)
    out = []
    (name0, pd0), (name1, pd1) = DATA.items()
    meas = {l: _local_rate(pd0, l)[0] for l in lams}
    exact = {l: theorems.gaussian_contraction_factor(l) for l in lams}
    stated = {l: theorems.bertrand_rate(l, 1.0, 1.0, 0.0) for l in lams}
    dev = max(abs(meas[l] - exact[l]) for l in lams)
    slack = min(stated[l] - meas[l] for l in lams)
    out.append(Check(
        "C6.1", "Retraining on real + own data contracts locally when lam (1 + L eps/alpha) < 1/2, at a rate at "
        "most lam(alpha+eps L)/(alpha - lam(alpha+eps L)); for the Gaussian family the exact local rate is lam/(1+lam)",
        "Bertrand et al. 2024, Theorem 1 [as restated; constants unverified]; lam/(1+lam) [derived]",
        "rate = lam/(1+lam) = " + ", ".join(f"{exact[l]:.4f}" for l in lams) + " <= stated lam/(1-lam) = "
        + ", ".join(f"{stated[l]:.3f}" for l in lams),
        f"data {name0}: Jacobian of a numerical argmax of the retraining objective at theta*, spectral radius "
        + ", ".join(f"{meas[l]:.6f}" for l in lams) + f" at lam = {lams}",
        f"|measured - lam/(1+lam)| <= {RATE_TOL:g} (finite differences and optimiser tolerance); measured <= stated",
        verdict(passes(dev, "<=", RATE_TOL) & passes(slack, ">=", 0)),
        f"max |measured - lam/(1+lam)| = {rounding_level(dev)}; the condition lam < 1/2 is sufficient, not necessary: the "
        "Gaussian map contracts for every lam", figures=("bertrand_contraction.png",), kind="paper"))
    # the finite-sample loop, started away from theta*, contracts to the noise floor
    N = 5000 if quick else 40000
    lam = 0.3
    x = np.random.default_rng(7).standard_normal((N + 10, 1))
    d = _loop_distances(x, np.array([0.0, 1.0]), lam, N)
    floor = 4 * np.sqrt(3.0 / N)          # 4 standard errors of (mean, var) estimated from ~N points
    rate = theorems.bertrand_rate(lam, 1.0, 1.0, 0.0)
    excess = float(np.max(d - (d[0] * rate ** np.arange(d.size) + floor)))
    out.append(Check("C6.2", "The finite-sample loop with real data follows the contraction", "Bertrand et al. 2024 [paper]",
                     "|theta_t - theta*| <= rate^t |theta_0 - theta*| + sampling noise",
                     "distances " + ", ".join(f"{v:.3f}" for v in d) + f" (lam = {lam}, N = {N})",
                     f"noise floor 4 sqrt(3/N) = {floor:.3f}", verdict(passes(excess, "<=", 0)),
                     figures=("bertrand_contraction.png",), kind="paper"))
    # data outside the family: eps = W2(p_theta*, p_data) > 0
    lam1 = (0.25, 0.45)
    rates, stars = zip(*(_local_rate(pd1, l) for l in lam1))
    star = stars[0]
    eps = _w2_to_gaussian(pd1, star[0], star[1])
    dev1 = max(abs(r - theorems.gaussian_contraction_factor(l)) for r, l in zip(rates, lam1))
    rng = np.random.default_rng(8)
    xs = np.where(rng.random(N + 10) < 0.5, -1.0, 1.0) + 0.5 * rng.standard_normal(N + 10)
    d1 = _loop_distances(xs[:, None], star, lam, N)
    mu, var = star[0] + 1.0, 2.0 * star[1]              # the loop's start
    ex = [np.hypot(mu - star[0], var - star[1])]
    for _ in range(d1.size - 1):
        mu, var = theorems.gaussian_mixed_map(mu, var, star[0], star[1], lam)
        ex.append(np.hypot(mu - star[0], var - star[1]))
    # 4 SE of (mean, var) from N points (Var x = 1.25, Var x^2 = E x^4 - (E x^2)^2 = 2.6875 - 1.5625), times
    # sqrt(2): the fixed real sample's error plus the synthetic points' accumulated one (variance
    # lam / (1 + 2 lam) <= 1 of it)
    floor1 = 4 * np.sqrt(2 * (1.25 + 1.125) / N)
    excess1 = float(np.max(np.abs(d1 - np.array(ex)) - floor1))
    out.append(Check(
        "C6.3", "With the data outside the model family (eps > 0) retraining still contracts to theta*, the best "
        "fit in the family", "Bertrand et al. 2024, Theorem 1 (eps > 0) [as restated; constants unverified]",
        "local contraction to theta* = (E_data x, Var_data x) at rate lam/(1+lam); the loop follows it",
        f"data {name1}: theta* = ({star[0]:.4f}, {star[1]:.4f}), eps = W2(N(theta*), p_data) = {eps:.4f}; "
        f"numerical-argmax rate at lam = {lam1}: " + ", ".join(f"{r:.6f}" for r in rates)
        + f"; loop (N = {N}, lam = {lam}) distances " + ", ".join(f"{v:.3f}" for v in d1),
        f"rate within {RATE_TOL:g} of lam/(1+lam); loop distance within {floor1:.3f} (4 sqrt(2) SE of (mean, var) "
        "at N) of the exact map's from the same start",
        verdict(passes(dev1, "<=", RATE_TOL) & passes(excess1, "<=", 0)),
        "eps does not slow this family: the stated rate grows with eps L / alpha, the measured one does not "
        "(the Gaussian score is not Lipschitz in x, so the theorem's L is infinite here and its condition never "
        "holds for eps > 0; the contraction is observed anyway)", figures=("bertrand_contraction.png",), kind="paper"))
    return out
