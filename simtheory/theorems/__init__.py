"""The papers' predictions, bounds and closed forms, one module per paper; every function is re-exported here.

ferbach: Ferbach et al. 2024 (curated retraining: Lemma 2.1/2.2, Theorems 2.1-2.4);
bertrand: Bertrand et al. 2024 (stability with real data; the Gaussian retraining map);
shumailov: Shumailov et al. 2024 (Gaussian refit on its own samples);
gerstgrasser: Gerstgrasser et al. 2024 (linear regression, replace vs accumulate).
"""
from .bertrand import bertrand_rate, gaussian_contraction_factor, gaussian_mixed_map
from .ferbach import (kinf_closed_form, kinf_kl_to_limit, lemma22_bound, limit_distribution,
                      mixed_fixed_point)
from .gerstgrasser import expected_error, regression_loop
from .shumailov import (chi2_chain, log_variance_drift, log_variance_sd, mean_walk_msd,
                        variance_mean)

__all__ = ["bertrand_rate", "gaussian_contraction_factor", "gaussian_mixed_map", "kinf_closed_form",
           "kinf_kl_to_limit", "lemma22_bound", "limit_distribution", "mixed_fixed_point", "expected_error",
           "regression_loop", "chi2_chain", "log_variance_drift", "log_variance_sd", "mean_walk_msd",
           "variance_mean"]
