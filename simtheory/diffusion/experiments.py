"""The exact-diffusion experiments behind the figures and paper checks, as pure functions returning arrays
(figures cache them in run folders with figures.common.cached_arrays)."""
from __future__ import annotations

import math

import numpy as np

from .. import densities
from ..families import gmm
from . import sims
from .gaussian import guided_gaussian, product_gaussian

SQUARE = {"weights": np.full(4, 0.25), "means": np.array([[-2.0, -2.0], [-2.0, 2.0], [2.0, -2.0], [2.0, 2.0]]),
          "covs": np.repeat(0.3 * np.eye(2)[None], 4, axis=0)}
DATASETS = {"mixture": {"components": 4, "lo": -4.5, "hi": 4.5},
            "moons": {"components": 8, "lo": -1.6, "hi": 2.6}}


def guided_vs_product(vb: float, va: float, mb: float, ma: float, ws: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and variance against w of the exact ODE law (sigma_max = 80 and inf) and of the product form
    (NaN where it is not normalisable), 1-D."""
    out = {k: np.full(len(ws), np.nan) for k in ("ode_mean", "ode_var", "inf_mean", "inf_var", "prod_mean", "prod_var")}
    for i, w in enumerate(ws):
        m, v = guided_gaussian(mb, vb, ma, va, w)
        out["ode_mean"][i], out["ode_var"][i] = m[0], v[0, 0]
        m, v = guided_gaussian(mb, vb, ma, va, w, sigma_max=math.inf)
        out["inf_mean"][i], out["inf_var"][i] = m[0], v[0, 0]
        try:
            m, v = product_gaussian(mb, vb, ma, va, w)
            out["prod_mean"][i], out["prod_var"][i] = m[0], v[0, 0]
        except ValueError:
            pass
    return {"w": np.asarray(ws, float), **out}


def gaussian_sims_chains(w: float, M: int, n_s: int, T: int, chains: int, seed: int, sigma_max: float = math.inf,
                         scheme: str = "replace", lam: float = math.inf) -> dict[str, np.ndarray]:
    """sigma^2_t / sigma^2_0 of ``chains`` SIMS Gaussian loops (real data N(0, 1))."""
    cfg = sims.GaussianSimsConfig(w=w, n_samples=M, n_s=n_s, generations=T, sigma_max=sigma_max, scheme=scheme,
                                  lam=lam)
    out = sims.run_gaussian_sims(cfg, chains, seed=seed)
    return {"ratio": out["var"] / out["var"][:, :1], "mean": out["mean"]}


def dataset(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points of the 2-D mixture on a square ('mixture') or of two moons ('moons')."""
    if name == "mixture":
        return gmm.sample(SQUARE, n, rng)
    if name == "moons":
        return sims.two_moons(n, rng)
    raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {name!r}")


def data_law(name: str, n_grid: int) -> tuple[np.ndarray, np.ndarray]:
    """(grid points (n, n, 2), the data law discretised on them)."""
    spec = DATASETS[name]
    pts = densities.grid(spec["lo"], spec["hi"], n_grid).points
    if name == "mixture":
        dens = densities.gaussian_mixture_pdf(pts, SQUARE["means"], math.sqrt(0.3))
    else:
        dens = densities.two_moons_pdf(pts)
    return pts, densities.to_probabilities(dens)


def modes(name: str) -> tuple:
    """Mode centres for mode proportions: the mixture's means; the two moons' arc midpoints."""
    return tuple(map(tuple, SQUARE["means"])) if name == "mixture" else ((0.0, 1.0), (1.0, -0.5))


def gmm_sims_runs(name: str, w: float, seeds, *, M: int = 400, n_s: int = 400, T: int = 30, num_steps: int = 64,
                  K: int = 1, reward=None, n_grid: int = 91, lam: float = math.inf,
                  scheme: str = "replace", reg: float = 1e-6) -> dict[str, np.ndarray]:
    """SIMS GMM loops on a 2-D data set, one per seed: per generation the TV and KL of the base fit to the data
    law on a grid, the synthetic sets' mode proportions, and the fitted densities on the grid (first seed).
    ``reg``: the EM covariance regularisation (a large one is the biased fit of the systematic-error rows)."""
    spec = DATASETS[name]
    pts, data = data_law(name, n_grid)
    cfg = sims.GmmSimsConfig(w=w, n_samples=M, n_s=n_s, components=int(spec["components"]), K=K, generations=T,
                             num_steps=num_steps, modes=modes(name), lam=lam, scheme=scheme, reg=reg)
    tv, kl, props, dens = [], [], [], None
    for i, seed in enumerate(seeds):
        x = dataset(name, cfg.n_real, np.random.default_rng(1000 + seed))
        recs = sims.run_gmm_sims(cfg, x, reward, seed=seed)
        div = np.array([sims.grid_divergences(r, pts, data) for r in recs])
        kl.append(div[:, 0])
        tv.append(div[:, 1])
        props.append(np.array([r.get("mode_proportions", np.full(len(cfg.modes), np.nan)) for r in recs]))
        if i == 0:
            flat = pts.reshape(-1, 2)
            dens = np.array([np.exp(gmm.logpdf(r, flat)).reshape(pts.shape[:-1]) for r in recs])
    if dens is None:
        raise ValueError("seeds is empty: at least one loop is needed")
    return {"tv": np.array(tv), "kl": np.array(kl), "props": np.array(props), "density": dens, "data": data}


def shift_curve(pi, rho_of_w, ws, *, means=(-3.0, 0.0, 3.0), var: float = 0.25, num_steps: int = 128,
                grid: int = 801) -> dict[str, np.ndarray]:
    """Class masses of the 1-D guided ODE (exact: [`sims.shifted_masses_1d`][simtheory.diffusion.shifting.shifted_masses_1d]) and of the product form, for
    shared components (means, var) with base weights pi and auxiliary weights rho_of_w(w), against w."""
    k = len(means)
    ode, prod, rhos = np.empty((len(ws), k)), np.empty((len(ws), k)), np.empty((len(ws), k))
    for i, w in enumerate(ws):
        rho = np.asarray(rho_of_w(w), float)
        rhos[i] = rho
        ode[i] = sims.shifted_masses_1d(means, [var] * k, pi, rho, w, num_steps=num_steps, grid=grid)
        prod[i] = sims.product_form_masses(pi, rho, w)
    return {"w": np.asarray(ws, float), "ode": ode, "product": prod, "rho": rhos}


def systematic_curves(ws, M: int, n_s: int, smoothing: float, shift: float = 0.0, chains: int = 20000,
                      seed: int = 0) -> dict[str, np.ndarray]:
    """One generation of SIMS with a systematic fit error ([`systematic`][simtheory.diffusion.systematic]), against w: the exact E[W2^2],
    the bias and SD of the guided variance and of the mean, the first-order E[W2^2], and the same W2^2 and
    variance simulated on ``chains`` chains (mean and SE; the chains of every w share their seed)."""
    from . import systematic as sy
    ws = np.asarray(ws, float)
    keys = ("w2sq", "var_bias", "var_sd", "mean_bias", "mean_sd")
    out = {f"exact_{k}": np.array([sy.moments(w, M, n_s, smoothing, shift)[k] for w in ws]) for k in keys}
    out["first_order_w2sq"] = np.array([sy.first_order(w, M, n_s, smoothing, shift)["w2sq"] for w in ws])
    sim, sim_se, var, var_se = (np.empty(ws.size) for _ in range(4))
    for i, w in enumerate(ws):
        cfg = sims.GaussianSimsConfig(w=w, n_samples=M, n_s=n_s, generations=1, sigma_max=math.inf,
                                      smoothing=smoothing, shift=shift)
        o = sims.run_gaussian_sims(cfg, chains, seed=seed)
        m, v = o["guided_mean"][:, 0], o["guided_var"][:, 0]
        d = m**2 + (np.sqrt(v) - 1) ** 2
        sim[i], sim_se[i] = d.mean(), d.std(ddof=1) / math.sqrt(chains)
        var[i], var_se[i] = v.mean() - 1.0, v.std(ddof=1) / math.sqrt(chains)
    w_opt = sy.optimal_w(M, n_s, smoothing, shift)
    return {"w": ws, **out, "sim_w2sq": sim, "sim_w2sq_se": sim_se, "sim_var_bias": var, "sim_var_bias_se": var_se,
            "w_opt": np.array(w_opt), "w2sq_opt": np.array(sy.moments(w_opt, M, n_s, smoothing, shift)["w2sq"]),
            "w_first_order": np.array(sy.optimal_w_first_order(n_s, smoothing, shift))}


def optimal_w_map(M: int, smoothings, n_ss) -> dict[str, np.ndarray]:
    """The exact optimal w ([`systematic.optimal_w`][simtheory.diffusion.systematic.optimal_w]) on a grid of smoothing b and n_s, with n_s B."""
    from . import systematic as sy
    b, n = np.meshgrid(np.asarray(smoothings, float), np.asarray(n_ss, float), indexing="ij")
    w = np.array([[sy.optimal_w(M, int(nn), bb) for bb, nn in zip(rb, rn)] for rb, rn in zip(b, n)])
    return {"b": b, "n_s": n, "nsB": n * b * b / 4, "w_opt": w}


def augmentation_chains(w: float, smoothing: float, M: int, n_s: int, lam: float, T: int, chains: int,
                        seed: int) -> dict[str, np.ndarray]:
    """Gaussian synthetic-augmentation loops (fixed real set of M points, lam M synthetic ones per generation,
    each generation guided by its own auxiliary, sigma_max -> inf): per generation the mean and SE over chains of
    the guided law's W2^2 to the data, the base variance, and the base mean's square."""
    cfg = sims.GaussianSimsConfig(w=w, n_samples=M, n_s=n_s, generations=T, lam=lam, sigma_max=math.inf,
                                  smoothing=smoothing)
    o = sims.run_gaussian_sims(cfg, chains, seed=seed)
    d = o["guided_mean"] ** 2 + (np.sqrt(o["guided_var"]) - 1) ** 2
    se = lambda a: a.std(0, ddof=1) / math.sqrt(chains)      # noqa: E731
    return {"w2sq": d.mean(0), "w2sq_se": se(d), "base_var": o["var"].mean(0), "mean_sq": (o["mean"] ** 2).mean(0),
            "mean_sq_se": se(o["mean"] ** 2)}
