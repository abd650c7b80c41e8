"""SIMS (Alemohammad et al. 2024) in the torch half: self-improving negative guidance from an auxiliary model.

    auxiliary  the auxiliary: a copy of a base fine-tuned on its own samples; a loop generation's SIMS sampler
    sweep      the w sweep (and over B, n_s) on one base, picked on one seed set and reported on the others
    shift      distribution shifting toward a target class proportion
    explore    the auxiliary's hyperparameters (lr, EMA, n_s, B) searched on the pick set only

The guidance itself, D_base + w (D_base - D_aux) with the denoiser's signature, is
[`empirical.edm.guidance`][empirical.edm.guidance] (re-exported here, where the SIMS experiments have always found it).
"""
from __future__ import annotations

import warnings

import numpy as np

from simtheory.diffusion.sampler import check_w
from simtheory.diffusion.shifting import aux_weights_for_target, product_form_masses

from ..edm.guidance import (GuidedDenoiser, PairedDenoiser, check_interval, check_same_architecture, default_batched,
                            guided_denoiser, guided_generate, num_classes, one_hot, same_architecture, seed_labels)
from .auxiliary import (AUX_EMA, MEASURED, SYNTHETIC_KEYS, SimsSampling, base_folder, base_train_config,
                        class_quotas, compose_by_class, damaged_base, finetune_auxiliary, generation_sampler,
                        load_auxiliary, load_base, sha1_array, synthetic_seed0, weight_distances)

__all__ = ["AUX_EMA", "GuidedDenoiser", "MEASURED", "PairedDenoiser", "SYNTHETIC_KEYS", "SimsSampling",
           "auxiliary_proportions", "base_folder", "base_train_config", "check_interval", "check_same_architecture",
           "check_w", "class_quotas", "compose_by_class", "damaged_base", "default_batched", "finetune_auxiliary",
           "generation_sampler", "guided_class_proportions", "guided_denoiser", "guided_generate", "load_auxiliary",
           "load_base", "num_classes", "one_hot", "same_architecture", "seed_labels", "sha1_array",
           "synthetic_seed0", "weight_distances"]


def auxiliary_proportions(target, base, w: float) -> np.ndarray:
    """Deprecated: [`simtheory.diffusion.shifting.aux_weights_for_target`][simtheory.diffusion.shifting.aux_weights_for_target] (base, target, w), the one product
    form of the project."""
    warnings.warn("empirical.sims.auxiliary_proportions(target, base, w) is "
                  "simtheory.diffusion.shifting.aux_weights_for_target(base, target, w)", DeprecationWarning, stacklevel=2)
    return aux_weights_for_target(base, target, w)


def guided_class_proportions(base, aux, w: float) -> np.ndarray:
    """Deprecated: [`simtheory.diffusion.shifting.product_form_masses`][simtheory.diffusion.shifting.product_form_masses] (base, aux, w)."""
    warnings.warn("empirical.sims.guided_class_proportions is simtheory.diffusion.shifting.product_form_masses",
                  DeprecationWarning, stacklevel=2)
    return product_form_masses(base, aux, w)
