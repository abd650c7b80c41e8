r"""The curated retraining loop on an image-shaped Gaussian mixture: the U-Net measured against a law with an exact
answer.

The loop is the fold of [`empirical.fold.run_fold`][empirical.fold.run_fold] with the low-rank mixture of
[`simtheory.diffusion.lowrank`][simtheory.diffusion.lowrank] as its data kind (`MixtureData`): by default the CIFAR-10
law, one component per class fitted at the run's resolution (the committed 8 x 8 law, or at other resolutions a fit of
CIFAR-10 cached on first use, `cifar_law`), or any law saved by
[`LowRankMixture.save`][simtheory.diffusion.lowrank.LowRankMixture.save] (``law``).
Everything the image loop approximates is exact here:

- real data: N exact draws of the law, kept as float samples in the law's [-1, 1]-scaled space (never quantised or
  clipped, so the law stays exact); the U-Net takes them in its float data mode (``UNetConfig.float_data``);
- reward: the law's own Bayes posterior, $r = \gamma P(\mathrm{target} \mid x)$ (``reward='class'``) or
  $r = \gamma \max_c P(c \mid x)$ (``'confidence'``), either tempered by ``temperature`` (softmax of
  $\log P / T$, `simtheory.diffusion.class_reward`); labels: the Bayes classifier's argmax, the same
  function on the law's exact draws and on model samples;
- the law's exact curated trajectory $p_t$
([`simtheory.predict.law_trajectory`][simtheory.predict.multistep.law_trajectory] on ``n_law`` exact
  draws), so each model has a law error beside its fit error, and class shares beside their exact values
  (``class_share_error``);
- a distance to the exact law with a closed form: the Frechet distance of the evaluation samples' mean and
  covariance to the law's exact moments ([`LowRankMixture.mean`][simtheory.diffusion.lowrank.LowRankMixture.mean],
  [`LowRankMixture.covariance`][simtheory.diffusion.lowrank.LowRankMixture.covariance]) and to
  $p_t$'s (the trajectory's reweighted exact draws), each beside its noise floor, the same distance for
  n_eval exact draws of that law (mean and SD over ``fd_floor_reps`` replicates);
- the sampler's own share: the exact denoiser through the same Heun sampler (``exact_sampler_*``), and at generation
  0 the U-Net's RMS error against the exact denoiser at a few noise levels.

Run folder, resume, the refusal of a changed config and the metrics keys are the image loop's
(docs/empirical/compare.md); ``python -m empirical compare`` reads the folders. Presets: ``tiny`` (tests), ``cpu``
(8 x 8, one thread) and ``gpu`` (32 x 32, a fit of CIFAR-10 cached on first use). Run from Python with
`run_mixture_loop` or as ``python -m empirical mixture``.

    config   MixtureLoopConfig and its presets (tiny, cpu, gpu)
    inputs   the law (saved, or fitted to CIFAR-10 and cached), its seeded draws, the posterior reward and labels
    measure  the exact trajectory's weights, the Frechet distance and its floor, the exact denoiser's samples and
             a network's error against it
    kind     MixtureData (the DataKind), run_mixture_loop, exact_sampler_steps
"""
from __future__ import annotations

from .config import MIXTURE_PRESETS, REWARDS, MixtureLoopConfig, mixture_preset
from .inputs import (cifar_law, draw_law, law_draws, law_sha1, load_law, log_posteriors, resolve,
                     reward_of_posterior)
from .kind import MixtureData, exact_sampler_steps, run_mixture_loop
from .measure import (curated_weights, denoiser_error, exact_samples, frechet_reference, frechet_to)

__all__ = ["MIXTURE_PRESETS", "REWARDS", "MixtureLoopConfig", "mixture_preset", "cifar_law", "draw_law", "law_draws",
           "law_sha1", "load_law", "log_posteriors", "resolve", "reward_of_posterior", "MixtureData",
           "exact_sampler_steps", "run_mixture_loop", "curated_weights", "denoiser_error", "exact_samples",
           "frechet_reference", "frechet_to"]
