r"""Exact diffusion on Gaussian mixtures: an infinite-capacity EDM diffusion model.

The noised law of a Gaussian mixture at noise level sigma is again a mixture (covariances S_k + sigma^2 I), so
the EDM denoiser D(x; sigma) = E[x_0 | x_0 + sigma n = x] has a closed form and the probability-flow ODE
dx/dsigma = (x - D(x; sigma)) / sigma can be integrated to any accuracy. On it SIMS (Alemohammad et al. 2024:
D_w = (1 + w) D_base - w D_aux) and curated retraining loops run exactly up to sampling noise.

    denoiser    exact GMM denoiser and direct score (Numba kernel beside the numpy reference); PSD components
    sampler     EDM rho-schedule, deterministic Heun sampler (the rule of empirical.edm.sampler), guided denoisers
    gaussian    exact output law of the guided ODE for Gaussian base/aux; the product-form heuristic
    sims        SIMS on the Gaussian refit loop and on GMM loops (with curation), on simtheory.fold
    shifting    distribution shifting: the product form's class masses, its inverse, the guided ODE's masses
    systematic  SIMS with a systematic fit error: the guided law's bias and spread in closed form, the best w,
                the synthetic-augmentation loop's fixed points
    chi2        expectations over a scaled chi^2 law (the quadrature behind systematic)
    lowrank     mixtures with low-rank-plus-floor covariances in image dimensions (Woodbury): exact draws,
                denoiser, score, Bayes posterior
    lowrank_fit the fit to labelled data; the committed CIFAR-10 law (cifar_mixture), its reward and facts
"""
from .denoiser import gmm_denoiser, gmm_denoiser_reference, gmm_score, gmm_score_reference, noised_logpdf
from .gaussian import guided_gaussian, product_gaussian
from .lowrank import DenseMixture, LowRankMixture
from .lowrank_fit import bayes_facts, cifar_mixture, class_reward, fit_lowrank_mixture
from .sampler import guided_denoiser, heun_sample, sigma_steps

__all__ = ["gmm_denoiser", "gmm_denoiser_reference", "gmm_score", "gmm_score_reference", "noised_logpdf", "heun_sample", "sigma_steps",
           "guided_denoiser", "guided_gaussian", "product_gaussian", "LowRankMixture", "DenseMixture",
           "fit_lowrank_mixture", "cifar_mixture", "class_reward", "bayes_facts"]
