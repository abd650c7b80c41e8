"""Exact guided Gaussian law against w: the guided probability-flow ODE (sigma_max = 80 and the limit) against
the product-form heuristic p_base^(1+w) / p_aux^w; and distribution shifting, class masses against w (exact 1-D
ODE vs product form) with auxiliary weights from the product-form recipe."""
from __future__ import annotations

import numpy as np

from simtheory.diffusion import experiments as ex
from simtheory.diffusion import sims

from .common import cached_arrays, plt, run_dir, save

PI = np.array([1 / 3, 1 / 3, 1 / 3])
TARGET = np.array([0.5, 0.3, 0.2])


def make(out, quick: bool = False) -> list:
    ws = np.linspace(0, 4, 9 if quick else 81)
    fig, ax = plt.subplots(1, 4, figsize=(15, 3.4))
    for (vb, va), c in (((1.0, 0.5), "C0"), ((1.0, 2.0), "C1")):
        d = cached_arrays(run_dir(out, f"diffusion-guided-vb{vb}-va{va}-n{ws.size}"),
                          {"kind": "guided_vs_product", "vb": vb, "va": va, "mb": 0.0, "ma": 0.5, "w": ws.tolist()},
                          lambda: ex.guided_vs_product(vb, va, 0.0, 0.5, ws))
        lab = f"b={vb}, a={va}"
        ax[0].semilogy(d["w"], d["ode_var"], color=c, label=f"{lab}: ODE, sigma_max=80")
        ax[0].semilogy(d["w"], d["inf_var"], color=c, ls=":", lw=2, label=f"{lab}: ODE limit b (b/a)^w")
        ax[0].semilogy(d["w"], d["prod_var"], color=c, ls="--", label=f"{lab}: product form")
        ax[1].plot(d["w"], d["ode_mean"], color=c, label=f"{lab}: ODE")
        ax[1].plot(d["w"], d["prod_mean"], color=c, ls="--", label=f"{lab}: product form")
    ax[0].axvline(1.0, color="0.6", lw=0.6)
    ax[0].set(xlabel="w", ylabel="variance of the guided law", title="base N(0, b), aux N(0.5, a)")
    ax[0].legend(fontsize=6)
    ax[1].set(xlabel="w", ylabel="mean of the guided law", title="mean (m_b = 0, m_a = 0.5)")
    ax[1].legend(fontsize=6)
    wsh = np.array([0.25, 0.5, 1.0, 2.0, 4.0]) if quick else np.array([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
    steps, grid = (32, 101) if quick else (128, 801)
    for i, (name, rho_of_w) in enumerate((("recipe", lambda w: sims.aux_weights_for_target(PI, TARGET, w)),
                                          ("fixed", lambda w: np.array([0.2, 0.3, 0.5])))):
        d = cached_arrays(run_dir(out, f"diffusion-shift-{name}-s{steps}-g{grid}-n{wsh.size}"),
                          {"kind": "shift_curve", "aux": name, "w": wsh.tolist(), "steps": steps, "grid": grid},
                          lambda: ex.shift_curve(PI, rho_of_w, wsh, num_steps=steps, grid=grid))
        a = ax[2 + i]
        for j in range(3):
            a.plot(d["w"], d["ode"][:, j], "o-", color=f"C{j}", ms=3, label=f"class {j}: exact ODE")
            a.plot(d["w"], d["product"][:, j], "--", color=f"C{j}", label=f"class {j}: product form")
            if name == "recipe":
                a.axhline(TARGET[j], color=f"C{j}", lw=0.6, ls=":")
        a.set(xlabel="w", ylabel="class mass",
              title="aux from the recipe for target (.5, .3, .2)" if name == "recipe" else "aux weights (.2, .3, .5)")
        a.legend(fontsize=6)
    fig.suptitle("exact guided ODE vs product form (1-D; shifting: base weights 1/3, components N(-3|0|3, 0.25))",
                 fontsize=9)
    return save(fig, out, "diffusion_guided")
